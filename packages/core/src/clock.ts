/**
 * Time for the stack. Every timer in every package goes through a {@link Clock}: `RealClock`
 * runs on Node's event loop, `VirtualClock` is discrete-event time for deterministic tests.
 *
 * A {@link Timer} is the stack's `timer_list`: created once (per socket, per reassembly queue),
 * then armed and re-armed many times, as `mod_timer()` / `del_timer()` use it.
 * {@link Clock.defer} is how the stack raises its NET_RX softirq.
 *
 * Callbacks (timer or deferred) that throw never break a clock: the error is caught and handed
 * to the `onError` option, or reported with `process.emitWarning` when there is none. An
 * `onError` that throws itself (`(e) => { throw e }` is handy in tests) lets the error escape:
 * out of `advanceSync()` / `advance()` / `runUntilIdle*()`, or as an uncaught exception when the
 * callback ran from the event loop. The clock's own state is updated before any callback runs,
 * so it stays consistent either way.
 * @see include/linux/timer.h, kernel/time/timer.c
 * @packageDocumentation
 */
import { performance } from "node:perf_hooks";

/** A source of time and timers. The stack and every protocol take all their time from one. */
export interface Clock {
  /** `"real"` for wall-clock time on the event loop, `"virtual"` for simulated time. */
  readonly kind: "real" | "virtual";
  /** Milliseconds (float) since the clock was created; monotonic. */
  now(): number;
  /** A timer_list: created once (e.g. per socket), armed and re-armed many times. */
  createTimer(callback: () => void): Timer;
  /**
   * Run `cb` once, soon, after the current synchronous work: how the stack raises its NET_RX
   * softirq. Many defer() calls before it runs are fine; each callback runs once, in FIFO order.
   * @see kernel/softirq.c raise_softirq()
   */
  defer(cb: () => void): void;
}

/**
 * A re-armable one-shot timer, like Linux's `struct timer_list`. It is not pending while its
 * callback runs, so the callback may re-arm it (a periodic timer) or leave it idle.
 */
export interface Timer {
  /**
   * Arm (or re-arm) to fire `delayMs` from now (mod_timer). A negative delay counts as 0.
   * @throws RangeError when `delayMs` is not a finite number.
   * @see kernel/time/timer.c mod_timer()
   */
  arm(delayMs: number): void;
  /**
   * Arm at an absolute clock time in ms. A time already past fires as soon as possible.
   * @throws RangeError when `timeMs` is not a finite number.
   */
  armAt(timeMs: number): void;
  /**
   * Disarm (del_timer); returns whether it was pending.
   * @see kernel/time/timer.c del_timer()
   */
  cancel(): boolean;
  /** Whether the timer is armed and has not fired yet (timer_pending). */
  readonly pending: boolean;
  /** Absolute expiry time in ms while pending, else NaN. */
  readonly expires: number;
}

/** Options common to both clocks. */
export interface ClockOptions {
  /**
   * Receives whatever a timer or deferred callback threw. Default: report it with
   * `process.emitWarning` (type `SkbuffClockWarning`) and carry on.
   */
  readonly onError?: (error: unknown) => void;
}

/** Options of {@link RealClock}. */
export interface RealClockOptions extends ClockOptions {
  /** Unref the Node timers so that armed timers do not keep the process alive (default false). */
  readonly unref?: boolean;
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions extends ClockOptions {
  /**
   * Let time jump to the next timer by itself whenever nothing else is happening (default true).
   * With `false`, time moves only through `advance*()` and `runUntilIdle*()`.
   */
  readonly autoAdvance?: boolean;
  /** The virtual time, in ms, that `now()` starts at (default 0). */
  readonly startMs?: number;
}

/** Whether `x` looks like a {@link Clock} (a `kind` and the three methods). */
export function isClock(x: unknown): x is Clock {
  if (typeof x !== "object" || x === null) return false;
  const c = x as { readonly [K in keyof Clock]?: unknown };
  return (
    (c.kind === "real" || c.kind === "virtual") &&
    typeof c.now === "function" &&
    typeof c.createTimer === "function" &&
    typeof c.defer === "function"
  );
}

// ---------------------------------------------------------------------------------------------
// Shared helpers

type ErrorSink = (error: unknown) => void;

function warnOnError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.emitWarning(`A clock callback threw: ${message}`, {
    type: "SkbuffClockWarning",
    code: "ERR_SKB_CLOCK_CALLBACK",
    detail: error instanceof Error ? error.stack : undefined,
  });
}

function runGuarded(cb: () => void, onError: ErrorSink): void {
  try {
    cb();
  } catch (error) {
    onError(error);
  }
}

function checkFinite(name: string, value: number): void {
  if (!Number.isFinite(value)) {
    throw new RangeError(`${name} must be a finite number of milliseconds, got ${value}`);
  }
}

function checkDuration(name: string, value: number): void {
  checkFinite(name, value);
  if (value < 0) throw new RangeError(`${name} must not be negative, got ${value}`);
}

/** One macrotask: lets promises, `nextTick` and stream callbacks of the application settle. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * FIFO of deferred callbacks: O(1) push, batches that end where the queue ended when they began.
 * The array is kept and refilled from the start once a batch empties it (no new array per
 * softirq), unless it grew past {@link DEFER_KEEP_MAX} slots: then a fresh one lets it go.
 */
class DeferQueue {
  #items: ((() => void) | undefined)[] = [];
  #head = 0;
  /** One past the last queued callback; slots from here on are free. */
  #tail = 0;
  /** Batches running now: more than one when a callback drains the queue itself. */
  #running = 0;

  get size(): number {
    return this.#tail - this.#head;
  }

  push(cb: () => void): void {
    const items = this.#items;
    if (this.#tail < items.length) items[this.#tail] = cb;
    else items.push(cb);
    this.#tail++;
  }

  /** Runs the callbacks queued now; those they defer wait for the next batch. */
  runBatch(onError: ErrorSink): void {
    const end = this.#tail;
    this.#running++;
    try {
      while (this.#head < end) {
        const cb = this.#items[this.#head]!;
        this.#items[this.#head++] = undefined; // consumed before it runs: a throw cannot repeat it
        runGuarded(cb, onError);
      }
    } finally {
      this.#running--;
    }
    // Slots are reused only by the outermost batch: a nested one (a callback that advanced the
    // clock) must not move the slots the batch around it is still walking.
    if (this.#running === 0 && this.#head === this.#tail) {
      if (this.#items.length > DEFER_KEEP_MAX) this.#items = [];
      this.#head = 0;
      this.#tail = 0;
    }
  }
}

/** Slots a drained {@link DeferQueue} keeps for reuse; a bigger array is dropped. */
const DEFER_KEEP_MAX = 1024;

// ---------------------------------------------------------------------------------------------
// RealClock

/** Node refuses longer timeouts (and fires them after 1 ms); longer waits re-arm on expiry. */
const TIMEOUT_MAX = 2 ** 31 - 1;

/**
 * Wall-clock time: `now()` is `performance.now()` since construction, timers run on Node's
 * `setTimeout`, deferred work on `setImmediate`.
 *
 * Re-arming is cheap, as TCP needs (every ACK re-arms the retransmit timer): a Node timeout
 * already due at or before the new expiry is kept and, when it fires early, re-scheduled for the
 * remainder. Only an earlier expiry costs a new Node timeout. A timer never fires before
 * `now()` has reached its expiry.
 *
 * `defer()` queues into one FIFO drained by at most one pending `setImmediate`; callbacks
 * deferred while a batch runs go into the next `setImmediate`, so I/O is polled in between.
 */
export class RealClock implements Clock {
  /** Always `"real"`. */
  readonly kind = "real" as const;
  readonly #origin = performance.now();
  readonly #unref: boolean;
  readonly #onError: ErrorSink;
  readonly #deferred = new DeferQueue();
  #drainScheduled = false;

  /** @param options - `unref` the Node timers; `onError` for throwing callbacks. */
  constructor(options: RealClockOptions = {}) {
    this.#unref = options.unref ?? false;
    this.#onError = options.onError ?? warnOnError;
  }

  /** Milliseconds (float) since this clock was created; monotonic. */
  now(): number {
    return performance.now() - this.#origin;
  }

  /** A new, idle timer that runs `callback` when it expires. */
  createTimer(callback: () => void): Timer {
    return new RealTimer(this, callback, this.#unref, this.#onError);
  }

  /** Queue `cb` to run from the next `setImmediate`, after callbacks deferred before it. */
  defer(cb: () => void): void {
    this.#deferred.push(cb);
    this.#scheduleDrain();
  }

  #scheduleDrain(): void {
    if (this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(this.#drain);
  }

  readonly #drain = (): void => {
    this.#drainScheduled = false;
    try {
      this.#deferred.runBatch(this.#onError);
    } finally {
      if (this.#deferred.size > 0) this.#scheduleDrain();
    }
  };
}

/**
 * A {@link Timer} on Node's `setTimeout`, re-armed lazily.
 * @see net/ipv4/tcp_timer.c tcp_write_timer_handler() (fires early, re-arms for the remainder)
 */
class RealTimer implements Timer {
  #expires = Number.NaN;
  #handle: ReturnType<typeof setTimeout> | undefined = undefined;
  /** Clock time the Node timeout was set to fire at (it may run slightly earlier). */
  #handleAt = Number.NaN;

  constructor(
    private readonly clock: RealClock,
    private readonly callback: () => void,
    private readonly unref: boolean,
    private readonly onError: ErrorSink,
  ) {}

  get pending(): boolean {
    return !Number.isNaN(this.#expires);
  }

  get expires(): number {
    return this.#expires;
  }

  arm(delayMs: number): void {
    checkFinite("delayMs", delayMs);
    this.armAt(this.clock.now() + Math.max(0, delayMs));
  }

  armAt(timeMs: number): void {
    checkFinite("timeMs", timeMs);
    this.#expires = timeMs;
    // Lazy re-arm: a Node timeout due no later than the new expiry will re-check and re-schedule.
    if (this.#handle !== undefined && this.#handleAt <= timeMs) return;
    this.#schedule(timeMs - this.clock.now());
  }

  cancel(): boolean {
    const wasPending = this.pending;
    this.#expires = Number.NaN;
    // Cleared eagerly: a stale timeout must not keep the process alive after del_timer().
    if (this.#handle !== undefined) {
      clearTimeout(this.#handle);
      this.#handle = undefined;
    }
    return wasPending;
  }

  #schedule(delayMs: number): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    const ms = Math.min(TIMEOUT_MAX, Math.max(1, Math.ceil(delayMs)));
    this.#handleAt = this.clock.now() + ms;
    this.#handle = setTimeout(this.#onTimeout, ms);
    if (this.unref) this.#handle.unref();
  }

  readonly #onTimeout = (): void => {
    this.#handle = undefined;
    if (!this.pending) return;
    const remaining = this.#expires - this.clock.now();
    if (remaining > 0) {
      this.#schedule(remaining);
      return;
    }
    this.#expires = Number.NaN;
    runGuarded(this.callback, this.onError);
  };
}

// ---------------------------------------------------------------------------------------------
// VirtualClock

/**
 * Binary min-heap of virtual timers, ordered by (expiry, arming sequence), with lazy re-arming
 * as `mod_timer()` on a timer wheel is cheap: TCP moves its retransmit and delayed-ACK timers on
 * nearly every segment, almost always later.
 *
 * Each timer has its true key (`expiresAt`, `seq`) and the key the heap placed it by (`key`,
 * `keySeq`). The heap key is never later than the true key. Moving a timer later only updates
 * the true key; when the stale entry reaches the top it is re-placed under its true key. Moving
 * it earlier sifts it up at once. Cancelling only marks it (NaN expiry); the dead entry is dropped
 * when it reaches the top, or all dead entries at once when they outnumber the live ones. Hence
 * the top, once settled ({@link TimerHeap.peek}), is the live timer with the least true key,
 * and timers fire in exactly the order an eager heap would fire them.
 */
class TimerHeap {
  readonly #items: VirtualTimer[] = [];
  #seq = 0;
  /** Armed timers (entries minus the cancelled ones still in `#items`). */
  #armed = 0;

  /** How many timers are armed. */
  get size(): number {
    return this.#armed;
  }

  /** The armed timer due first (least expiry, then earliest arming), or undefined. */
  peek(): VirtualTimer | undefined {
    const items = this.#items;
    for (;;) {
      const t = items[0];
      if (t === undefined) return undefined;
      if (Number.isNaN(t.expiresAt)) {
        this.#removeTop(); // cancelled while queued
      } else if (t.key !== t.expiresAt || t.keySeq !== t.seq) {
        t.key = t.expiresAt; // re-armed later while queued: re-place under its true key
        t.keySeq = t.seq;
        this.#down(0);
      } else {
        return t;
      }
    }
  }

  /** Arm `t` (again), to fire at `expires` after every timer armed before. */
  schedule(t: VirtualTimer, expires: number): void {
    if (Number.isNaN(t.expiresAt)) this.#armed++;
    const seq = this.#seq++;
    t.expiresAt = expires;
    t.seq = seq;
    if (t.heapIndex < 0) {
      t.key = expires;
      t.keySeq = seq;
      t.heapIndex = this.#items.length;
      this.#items.push(t);
      this.#up(t.heapIndex);
    } else if (expires < t.key) {
      t.key = expires;
      t.keySeq = seq;
      this.#up(t.heapIndex);
    }
    // Otherwise the entry's heap key is earlier than the new expiry: it stays where it is.
  }

  /** Disarm `t`; returns whether it was armed. */
  cancel(t: VirtualTimer): boolean {
    if (Number.isNaN(t.expiresAt)) return false;
    t.expiresAt = Number.NaN;
    this.#armed--;
    const n = this.#items.length;
    if (n > 64 && n > 2 * this.#armed) this.#compact();
    return true;
  }

  /** Take out the top, which {@link TimerHeap.peek} just returned, and disarm it. */
  take(t: VirtualTimer): void {
    this.#removeTop();
    t.expiresAt = Number.NaN;
    this.#armed--;
  }

  #removeTop(): void {
    const items = this.#items;
    const top = items[0]!;
    const last = items.pop()!;
    top.heapIndex = -1;
    if (last !== top) {
      items[0] = last;
      last.heapIndex = 0;
      this.#down(0);
    }
  }

  /** Drops every cancelled entry and re-places the rest under their true keys. */
  #compact(): void {
    const items = this.#items;
    let n = 0;
    for (let i = 0; i < items.length; i++) {
      const t = items[i]!;
      if (Number.isNaN(t.expiresAt)) {
        t.heapIndex = -1;
        continue;
      }
      t.key = t.expiresAt;
      t.keySeq = t.seq;
      t.heapIndex = n;
      items[n++] = t;
    }
    items.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #less(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.key < b.key || (a.key === b.key && a.keySeq < b.keySeq);
  }

  #place(t: VirtualTimer, i: number): void {
    this.#items[i] = t;
    t.heapIndex = i;
  }

  #up(i: number): void {
    const items = this.#items;
    const t = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.#less(t, p)) break;
      this.#place(p, i);
      i = parent;
    }
    this.#place(t, i);
  }

  #down(i: number): void {
    const items = this.#items;
    const n = items.length;
    const t = items[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && this.#less(items[right]!, items[left]!) ? right : left;
      if (!this.#less(items[child]!, t)) break;
      this.#place(items[child]!, i);
      i = child;
    }
    this.#place(t, i);
  }
}

/** What a virtual timer needs from its clock. */
interface VirtualTimerHost {
  readonly heap: TimerHeap;
  now(): number;
  /** A timer was armed: start auto-advancing if the clock does. */
  armed(): void;
}

/** A {@link Timer} in a {@link VirtualClock}'s heap. */
class VirtualTimer implements Timer {
  /** When it fires; NaN while not pending. */
  expiresAt = Number.NaN;
  /** Arming sequence: breaks ties between equal expiries. */
  seq = 0;
  /** The expiry the heap placed it by: at most `expiresAt` (see {@link TimerHeap}). */
  key = Number.NaN;
  /** The arming sequence the heap placed it by. */
  keySeq = 0;
  /** Index in the heap, -1 while not in it (a cancelled timer may linger there). */
  heapIndex = -1;

  constructor(
    private readonly host: VirtualTimerHost,
    readonly callback: () => void,
  ) {}

  get pending(): boolean {
    return !Number.isNaN(this.expiresAt);
  }

  get expires(): number {
    return this.expiresAt;
  }

  arm(delayMs: number): void {
    if (!Number.isFinite(delayMs)) checkFinite("delayMs", delayMs);
    const now = this.host.now();
    this.#armAt(delayMs > 0 ? now + delayMs : now);
  }

  armAt(timeMs: number): void {
    if (!Number.isFinite(timeMs)) checkFinite("timeMs", timeMs);
    const now = this.host.now();
    this.#armAt(Math.max(timeMs, now)); // the past is now: time never runs backwards
  }

  #armAt(at: number): void {
    // mod_timer(): "if the timer is pending and expires unchanged, there is nothing to do".
    if (this.expiresAt === at) return;
    this.host.heap.schedule(this, at);
    this.host.armed();
  }

  cancel(): boolean {
    return this.host.heap.cancel(this);
  }
}

/**
 * Discrete-event time for deterministic tests: `now()` moves only when the clock is advanced,
 * and timers fire in order of expiry, then of arming (re-arming counts as arming; re-arming a
 * pending timer to its current expiry changes nothing, as with `mod_timer()`). Timers live in a
 * binary min-heap: arming is O(log n); moving a pending timer later and cancelling are O(1), the
 * entry being re-placed (or dropped) lazily when it reaches the top, as `mod_timer()` is cheap.
 *
 * Deferred work runs before any timer, and time never moves while it runs. It is drained by
 * `advance*()` / `runUntilIdle*()`, and also from a `setImmediate`, so it runs even when nobody
 * advances the clock.
 *
 * With `autoAdvance` (the default), time jumps to the next timer by itself when nothing else is
 * happening: each event-loop turn (`setImmediate`) runs one batch of deferred work or, when
 * there is none, fires the earliest timer. Application promises and streams therefore settle
 * between network events, and a promise waiting on a 5 s virtual timer resolves at once. The
 * loop stops when no timer is armed, while `pause()`d, and while an async `advance()` or
 * `runUntilIdle()` is driving the clock. It cannot see real I/O: while the application waits on
 * the file system or a real socket, armed virtual timers keep firing.
 */
export class VirtualClock implements Clock {
  /** Always `"virtual"`. */
  readonly kind = "virtual" as const;
  /** Whether time jumps to the next timer by itself (see {@link VirtualClock.pause}). */
  readonly autoAdvance: boolean;
  #now: number;
  readonly #heap = new TimerHeap();
  readonly #deferred = new DeferQueue();
  readonly #onError: ErrorSink;
  readonly #host: VirtualTimerHost;
  #pumpScheduled = false;
  #paused = false;
  /** Async advance() / runUntilIdle() calls in progress: auto-advance stands aside for them. */
  #driving = 0;

  /**
   * @param options - `autoAdvance` (default true), `startMs` (default 0), `onError`.
   * @throws RangeError when `startMs` is not a finite number.
   */
  constructor({ autoAdvance = true, startMs = 0, onError }: VirtualClockOptions = {}) {
    checkFinite("startMs", startMs);
    this.autoAdvance = autoAdvance;
    this.#now = startMs;
    this.#onError = onError ?? warnOnError;
    this.#host = {
      heap: this.#heap,
      now: () => this.#now,
      armed: () => {
        if (this.#canAutoAdvance()) this.#schedulePump();
      },
    };
  }

  /** The current virtual time in ms. */
  now(): number {
    return this.#now;
  }

  /** How many timers are armed. */
  get pendingTimers(): number {
    return this.#heap.size;
  }

  /** When the earliest armed timer is due (ms), or undefined when none is armed. */
  nextTimerAt(): number | undefined {
    return this.#heap.peek()?.expiresAt;
  }

  /** Whether auto-advance is paused by {@link VirtualClock.pause}. */
  get paused(): boolean {
    return this.#paused;
  }

  /** A new, idle timer that runs `callback` when virtual time reaches its expiry. */
  createTimer(callback: () => void): Timer {
    return new VirtualTimer(this.#host, callback);
  }

  /** Queue `cb`; it runs before the next timer fires and without moving time. */
  defer(cb: () => void): void {
    this.#deferred.push(cb);
    this.#schedulePump();
  }

  /** Stop auto-advancing; deferred work still runs. Advancing by hand works as usual. */
  pause(): void {
    this.#paused = true;
  }

  /** Undo {@link VirtualClock.pause}. */
  resume(): void {
    this.#paused = false;
    this.#kick();
  }

  /**
   * Move time forward by exactly `ms`, synchronously: drain deferred work, then fire every timer
   * due by the target in order (time is set to each one's expiry as it fires), draining deferred
   * work after each. Timers armed on the way, even at the current time, fire if due by the
   * target. Microtasks do not run in between; use {@link VirtualClock.advance} for that.
   * @throws RangeError when `ms` is negative or not finite.
   */
  advanceSync(ms: number): void {
    // Called once per event by drivers of the clock: validate without a call when it is fine.
    if (!(ms >= 0 && ms < Number.POSITIVE_INFINITY)) checkDuration("ms", ms);
    const target = this.#now + ms;
    for (;;) {
      this.#drainSync();
      const next = this.#heap.peek();
      if (next !== undefined && next.expiresAt <= target) {
        this.#fire(next);
        continue;
      }
      if (this.#now >= target) return;
      this.#now = target;
    }
  }

  /**
   * Like {@link VirtualClock.advanceSync}, but yields to the event loop after each fired timer
   * and each batch of deferred work, so the application's promises, `nextTick` callbacks and
   * streams run between network events as they would in real time.
   * @throws RangeError when `ms` is negative or not finite.
   */
  async advance(ms: number): Promise<void> {
    checkDuration("ms", ms);
    const target = this.#now + ms;
    this.#driving++;
    try {
      for (;;) {
        await this.#drainAsync();
        const next = this.#heap.peek();
        if (next !== undefined && next.expiresAt <= target) {
          this.#fire(next);
          await yieldToEventLoop();
          continue;
        }
        if (this.#now >= target) return;
        this.#now = target;
      }
    } finally {
      this.#driving--;
      this.#kick();
    }
  }

  /**
   * Fire timers one after another, moving time to each, until neither timers nor deferred work
   * remain, or until the next timer lies beyond `limitMs` from now: then time stops at that
   * limit and the remaining timers stay armed. Returns the number of timers fired.
   * @throws RangeError when `limitMs` is negative or not finite.
   */
  runUntilIdleSync(limitMs = 3_600_000): number {
    checkDuration("limitMs", limitMs);
    const limit = this.#now + limitMs;
    let fired = 0;
    for (;;) {
      this.#drainSync();
      const next = this.#heap.peek();
      if (next === undefined) return fired;
      if (next.expiresAt > limit) {
        this.#now = Math.max(this.#now, limit);
        return fired;
      }
      this.#fire(next);
      fired++;
    }
  }

  /**
   * Like {@link VirtualClock.runUntilIdleSync}, yielding to the event loop after each fired
   * timer and each batch of deferred work.
   * @throws RangeError when `limitMs` is negative or not finite.
   */
  async runUntilIdle(limitMs = 3_600_000): Promise<number> {
    checkDuration("limitMs", limitMs);
    const limit = this.#now + limitMs;
    let fired = 0;
    this.#driving++;
    try {
      for (;;) {
        await this.#drainAsync();
        const next = this.#heap.peek();
        if (next === undefined) return fired;
        if (next.expiresAt > limit) {
          this.#now = Math.max(this.#now, limit);
          return fired;
        }
        this.#fire(next);
        fired++;
        await yieldToEventLoop();
      }
    } finally {
      this.#driving--;
      this.#kick();
    }
  }

  /** Take the earliest timer out, move time to its expiry and run it. */
  #fire(t: VirtualTimer): void {
    const at = t.expiresAt;
    this.#heap.take(t);
    if (at > this.#now) this.#now = at;
    runGuarded(t.callback, this.#onError);
  }

  #drainSync(): void {
    while (this.#deferred.size > 0) this.#deferred.runBatch(this.#onError);
  }

  async #drainAsync(): Promise<void> {
    while (this.#deferred.size > 0) {
      this.#deferred.runBatch(this.#onError);
      await yieldToEventLoop();
    }
  }

  #canAutoAdvance(): boolean {
    return this.autoAdvance && !this.#paused && this.#driving === 0;
  }

  /** Schedule the pump if there is anything for it to do. */
  #kick(): void {
    if (this.#deferred.size > 0 || (this.#heap.size > 0 && this.#canAutoAdvance())) {
      this.#schedulePump();
    }
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    setImmediate(this.#pump);
  }

  /**
   * One event-loop turn of the clock: a batch of deferred work if there is any (time stands
   * still), else, when auto-advancing, the earliest timer. One event per turn keeps the order of
   * events the same as {@link VirtualClock.advance} and lets the application settle in between.
   */
  readonly #pump = (): void => {
    this.#pumpScheduled = false;
    try {
      if (this.#deferred.size > 0) {
        this.#deferred.runBatch(this.#onError);
      } else if (this.#canAutoAdvance()) {
        const next = this.#heap.peek();
        if (next !== undefined) this.#fire(next);
      }
    } finally {
      this.#kick();
    }
  };
}
