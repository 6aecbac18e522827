import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { isClock, RealClock, type Timer, VirtualClock } from "../src/clock.js";

/** A clock that moves only by hand, and which rethrows callback errors. */
function manualClock(startMs = 0): VirtualClock {
  return new VirtualClock({
    autoAdvance: false,
    startMs,
    onError: (e) => {
      throw e;
    },
  });
}

/** A timer that records `[name, now]` into `log` each time it fires. */
function recorder(clock: VirtualClock, log: [string, number][], name: string): Timer {
  return clock.createTimer(() => log.push([name, clock.now()]));
}

const macrotask = () => new Promise<void>((resolve) => setImmediate(resolve));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

afterEach(() => {
  vi.restoreAllMocks();
});

describe("VirtualClock ordering", () => {
  it("fires timers in order of expiry, each at its own expiry time", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    recorder(clock, log, "c").arm(30);
    recorder(clock, log, "a").arm(10);
    recorder(clock, log, "b").arm(20);
    clock.advanceSync(100);
    expect(log).toEqual([
      ["a", 10],
      ["b", 20],
      ["c", 30],
    ]);
  });

  it("fires timers that expire at the same time in the order they were armed", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    for (const name of ["first", "second", "third", "fourth"]) recorder(clock, log, name).arm(5);
    clock.advanceSync(5);
    expect(log.map(([name]) => name)).toEqual(["first", "second", "third", "fourth"]);
  });

  it("re-arming a timer moves it to its new expiry, behind timers armed before it", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const a = recorder(clock, log, "a");
    a.arm(1);
    recorder(clock, log, "b").arm(10);
    a.arm(10);
    clock.advanceSync(20);
    expect(log).toEqual([
      ["b", 10],
      ["a", 10],
    ]);
  });

  it("re-arming a pending timer to its current expiry keeps its place, as mod_timer does", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const a = recorder(clock, log, "a");
    a.arm(10);
    recorder(clock, log, "b").arm(10);
    a.armAt(10);
    clock.advanceSync(10);
    expect(log.map(([name]) => name)).toEqual(["a", "b"]);
  });

  it("reports expires while pending and NaN once fired or cancelled", () => {
    const clock = manualClock(100);
    const t = clock.createTimer(() => {});
    expect(t.pending).toBe(false);
    expect(t.expires).toBeNaN();
    t.arm(25);
    expect(t.pending).toBe(true);
    expect(t.expires).toBe(125);
    clock.advanceSync(25);
    expect(t.pending).toBe(false);
    expect(t.expires).toBeNaN();
  });

  it("cancel returns whether the timer was pending", () => {
    const clock = manualClock();
    const fired = vi.fn();
    const t = clock.createTimer(fired);
    expect(t.cancel()).toBe(false);
    t.arm(10);
    expect(t.cancel()).toBe(true);
    expect(t.cancel()).toBe(false);
    clock.advanceSync(20);
    expect(fired).not.toHaveBeenCalled();
  });

  it("counts armed timers in pendingTimers", () => {
    const clock = manualClock();
    const a = clock.createTimer(() => {});
    const b = clock.createTimer(() => {});
    a.arm(1);
    b.arm(2);
    a.arm(3);
    expect(clock.pendingTimers).toBe(2);
    b.cancel();
    expect(clock.pendingTimers).toBe(1);
    clock.advanceSync(3);
    expect(clock.pendingTimers).toBe(0);
  });

  it("rejects a delay that is not a finite number", () => {
    const t = manualClock().createTimer(() => {});
    expect(() => t.arm(Number.NaN)).toThrow(RangeError);
    expect(() => t.armAt(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(t.pending).toBe(false);
  });
});

describe("VirtualClock callbacks", () => {
  it("lets a callback re-arm its own timer to make it periodic", () => {
    const clock = manualClock();
    const times: number[] = [];
    const t = clock.createTimer(() => {
      times.push(clock.now());
      t.arm(10);
    });
    t.arm(10);
    clock.advanceSync(45);
    expect(times).toEqual([10, 20, 30, 40]);
    expect(t.expires).toBe(50);
  });

  it("lets a callback cancel another timer due at the same time", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const victim = recorder(clock, log, "victim");
    clock.createTimer(() => victim.cancel()).arm(10);
    victim.arm(10);
    clock.advanceSync(10);
    expect(log).toEqual([]);
  });

  it("lets a callback push another pending timer to a later time", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const later = recorder(clock, log, "later");
    clock.createTimer(() => later.arm(50)).arm(10);
    later.arm(20);
    clock.advanceSync(100);
    expect(log).toEqual([["later", 60]]);
  });

  it("fires a timer armed at the current time during an advance within that same advance", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const now = recorder(clock, log, "now");
    clock.createTimer(() => now.arm(0)).arm(10);
    clock.advanceSync(10);
    expect(log).toEqual([["now", 10]]);
  });

  it("fires a timer that deferred work arms at the target time within the same advance", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const t = recorder(clock, log, "t");
    clock.createTimer(() => clock.defer(() => t.armAt(20))).arm(20);
    clock.advanceSync(20);
    expect(log).toEqual([["t", 20]]);
  });

  it("reports a throwing timer callback to onError and keeps firing the others", () => {
    const errors: unknown[] = [];
    const clock = new VirtualClock({ autoAdvance: false, onError: (e) => errors.push(e) });
    const boom = new Error("boom");
    const after = vi.fn();
    const t = clock.createTimer(() => {
      throw boom;
    });
    t.arm(5);
    clock.createTimer(after).arm(6);
    clock.advanceSync(10);
    expect(errors).toEqual([boom]);
    expect(after).toHaveBeenCalledOnce();
    expect(t.pending).toBe(false);
    expect(clock.now()).toBe(10);
  });

  it("reports a throwing callback as a process warning when there is no onError", () => {
    const warn = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
    const clock = new VirtualClock({ autoAdvance: false });
    clock.defer(() => {
      throw new Error("deferred boom");
    });
    clock.advanceSync(0);
    expect(warn).toHaveBeenCalledOnce();
    expect(String(warn.mock.calls[0]![0])).toContain("deferred boom");
  });
});

describe("VirtualClock time", () => {
  it("advanceSync moves time by exactly the amount given, fractions included", () => {
    const clock = manualClock(1000);
    clock.advanceSync(0.25);
    clock.advanceSync(2.5);
    expect(clock.now()).toBe(1002.75);
  });

  it("advanceSync stops short of a timer due just after the target", () => {
    const clock = manualClock();
    const fired = vi.fn();
    clock.createTimer(fired).arm(10.5);
    clock.advanceSync(10);
    expect(fired).not.toHaveBeenCalled();
    clock.advanceSync(0.5);
    expect(fired).toHaveBeenCalledOnce();
  });

  it("never moves time backwards: a timer armed in the past fires at the current time", () => {
    const clock = manualClock(500);
    const log: [string, number][] = [];
    const t = recorder(clock, log, "late");
    t.armAt(100);
    expect(t.expires).toBe(500);
    t.arm(-50);
    expect(t.expires).toBe(500);
    clock.advanceSync(0);
    expect(log).toEqual([["late", 500]]);
    expect(clock.now()).toBe(500);
  });

  it("refuses to advance by a negative amount", () => {
    const clock = manualClock(10);
    expect(() => clock.advanceSync(-1)).toThrow(RangeError);
    expect(clock.now()).toBe(10);
  });

  it("refuses to advance by NaN or an infinite amount", () => {
    const clock = manualClock(10);
    expect(() => clock.advanceSync(Number.NaN)).toThrow(RangeError);
    expect(() => clock.advanceSync(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(clock.now()).toBe(10);
  });

  it("runUntilIdleSync stops at the limit when a periodic timer keeps re-arming itself", () => {
    const clock = manualClock(100);
    const t = clock.createTimer(() => t.arm(1000));
    t.arm(1000);
    expect(clock.runUntilIdleSync(10_000)).toBe(10);
    expect(clock.now()).toBe(10_100);
    expect(t.pending).toBe(true);
  });

  it("runUntilIdleSync returns at the last event once no timer or deferred work remains", () => {
    const clock = manualClock();
    const a = clock.createTimer(() => clock.defer(() => b.arm(40)));
    const b = clock.createTimer(() => {});
    a.arm(10);
    expect(clock.runUntilIdleSync()).toBe(2);
    expect(clock.now()).toBe(50);
    expect(clock.pendingTimers).toBe(0);
  });

  it("runUntilIdle resolves with the number of timers fired", async () => {
    const clock = manualClock();
    let n = 0;
    const t = clock.createTimer(() => {
      if (++n < 3) t.arm(100);
    });
    t.arm(100);
    await expect(clock.runUntilIdle()).resolves.toBe(3);
    expect(clock.now()).toBe(300);
  });
});

describe("VirtualClock deferred work", () => {
  it("runs deferred work before timers that are already due", () => {
    const clock = manualClock();
    const log: string[] = [];
    clock.createTimer(() => log.push("timer")).arm(0);
    clock.defer(() => log.push("deferred"));
    clock.advanceSync(0);
    expect(log).toEqual(["deferred", "timer"]);
  });

  it("runs each deferred callback once, in FIFO order, including work deferred meanwhile", () => {
    const clock = manualClock();
    const log: number[] = [];
    clock.defer(() => {
      log.push(1);
      clock.defer(() => log.push(4));
    });
    clock.defer(() => log.push(2));
    clock.defer(() => log.push(3));
    clock.advanceSync(0);
    clock.advanceSync(0);
    expect(log).toEqual([1, 2, 3, 4]);
  });

  it("keeps FIFO order and runs each callback once when drained queues are refilled", () => {
    const clock = manualClock();
    const log: number[] = [];
    // Small batches reuse the drained queue; one of 3000 outgrows what a drained queue keeps.
    for (const size of [3, 1, 3000, 2, 5]) {
      const start = log.length;
      for (let i = 0; i < size; i++) clock.defer(() => log.push(start + i));
      clock.advanceSync(0);
      expect(log.length).toBe(start + size);
    }
    expect(log).toEqual(Array.from({ length: 3011 }, (_, i) => i));
    clock.advanceSync(0);
    expect(log.length).toBe(3011);
  });

  it("runs each deferred callback once, in order and without errors, when one of them drains the queue itself", () => {
    const errors: unknown[] = [];
    const clock = new VirtualClock({ autoAdvance: false, onError: (e) => errors.push(e) });
    const log: string[] = [];
    clock.defer(() => {
      log.push("a");
      clock.defer(() => log.push("c"));
      clock.advanceSync(0); // a driver nested in deferred work (e.g. a test helper)
    });
    clock.defer(() => log.push("b"));
    clock.advanceSync(0);
    expect(errors).toEqual([]);
    expect(log).toEqual(["a", "b", "c"]);
  });

  it("does not move time while draining deferred work", () => {
    const clock = manualClock(42);
    const seen: number[] = [];
    clock.defer(() => seen.push(clock.now()));
    clock.advanceSync(8);
    expect(seen).toEqual([42]);
  });

  it("runs deferred work from the event loop even when nobody advances the clock", async () => {
    const clock = manualClock();
    const ran = vi.fn();
    clock.defer(ran);
    expect(ran).not.toHaveBeenCalled();
    await macrotask();
    await macrotask();
    expect(ran).toHaveBeenCalledOnce();
    expect(clock.now()).toBe(0);
  });
});

describe("VirtualClock advance", () => {
  it("lets a microtask chain that re-arms a timer run between events", async () => {
    const clock = manualClock();
    const times: number[] = [];
    const t = clock.createTimer(() => {
      times.push(clock.now());
      // The re-arm happens a few promise hops later, as application code would do it.
      void Promise.resolve()
        .then(() => Promise.resolve())
        .then(() => t.arm(10));
    });
    t.arm(10);
    await clock.advance(50);
    expect(times).toEqual([10, 20, 30, 40, 50]);
  });

  it("advanceSync, by contrast, runs no microtasks between events", () => {
    const clock = manualClock();
    const times: number[] = [];
    const t = clock.createTimer(() => {
      times.push(clock.now());
      void Promise.resolve().then(() => t.arm(10));
    });
    t.arm(10);
    clock.advanceSync(50);
    expect(times).toEqual([10]);
  });

  it("advance ends with time at the target", async () => {
    const clock = manualClock();
    clock.createTimer(() => {}).arm(7);
    await clock.advance(12.5);
    expect(clock.now()).toBe(12.5);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe("VirtualClock autoAdvance", () => {
  it("resolves a promise waiting on a 5 s virtual timer in well under a second", async () => {
    const clock = new VirtualClock();
    const started = performance.now();
    await new Promise<void>((resolve) => clock.createTimer(resolve).arm(5000));
    expect(clock.now()).toBe(5000);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it("lets application promises settle between auto-advanced timers", async () => {
    const clock = new VirtualClock();
    const sleepVirtual = (ms: number) =>
      new Promise<void>((resolve) => clock.createTimer(resolve).arm(ms));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await sleepVirtual(100);
      times.push(clock.now());
    }
    expect(times).toEqual([100, 200, 300]);
  });

  it("does not move time with autoAdvance: false", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const fired = vi.fn();
    clock.createTimer(fired).arm(5);
    await sleep(20);
    expect(clock.now()).toBe(0);
    expect(fired).not.toHaveBeenCalled();
    expect(clock.pendingTimers).toBe(1);
  });

  it("stands still while paused and carries on after resume", async () => {
    const clock = new VirtualClock();
    clock.pause();
    const fired = vi.fn();
    clock.createTimer(fired).arm(5);
    await sleep(10);
    expect(fired).not.toHaveBeenCalled();
    clock.resume();
    await vi.waitFor(() => expect(fired).toHaveBeenCalledOnce());
    expect(clock.now()).toBe(5);
  });

  it("stands aside while an async advance drives the clock, so time stops at its target", async () => {
    const clock = new VirtualClock();
    const fired = vi.fn();
    clock.createTimer(fired).arm(100);
    clock.defer(() => {});
    await clock.advance(10);
    expect(clock.now()).toBe(10);
    expect(fired).not.toHaveBeenCalled();
    await vi.waitFor(() => expect(fired).toHaveBeenCalledOnce());
  });

  it("stops scheduling event-loop turns once no timer is armed", async () => {
    const clock = new VirtualClock();
    await new Promise<void>((resolve) => clock.createTimer(resolve).arm(1000));
    await macrotask();
    const immediate = vi.spyOn(globalThis, "setImmediate");
    await sleep(20);
    expect(immediate).not.toHaveBeenCalled();
    expect(clock.now()).toBe(1000);
  });
});

describe("VirtualClock heap", () => {
  type Op =
    | { readonly kind: "arm"; readonly timer: number; readonly delay: number }
    | { readonly kind: "armAt"; readonly timer: number; readonly at: number }
    | { readonly kind: "cancel"; readonly timer: number }
    | { readonly kind: "advance"; readonly ms: number };
  const opsFor = (TIMERS: number): fc.Arbitrary<Op> => {
    const timer = fc.integer({ min: 0, max: TIMERS - 1 });
    return fc.oneof(
      { weight: 4, arbitrary: fc.record({ kind: fc.constant("arm"), timer, delay: fc.nat(40) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("armAt"), timer, at: fc.nat(200) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel"), timer }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("advance"), ms: fc.nat(30) }) },
    );
  };

  /** Runs random operations on `TIMERS` timers against a sorted model, checking every step. */
  const checkAgainstModel = (TIMERS: number, maxLength: number, numRuns?: number): void => {
    fc.assert(
      fc.property(fc.array(opsFor(TIMERS), { maxLength }), (ops) => {
        const clock = manualClock();
        const fired: [number, number][] = [];
        const timers = Array.from({ length: TIMERS }, (_, i) =>
          clock.createTimer(() => fired.push([i, clock.now()])),
        );
        // The model: every pending timer's (expires, arming sequence), sorted on demand.
        const model = new Map<number, { expires: number; seq: number }>();
        let now = 0;
        let seq = 0;
        const expected: [number, number][] = [];
        const armModel = (i: number, at: number) => {
          const when = Math.max(at, now);
          if (model.get(i)?.expires === when) return;
          model.set(i, { expires: when, seq: seq++ });
        };
        const advanceModel = (ms: number) => {
          const target = now + ms;
          const due = [...model.entries()]
            .filter(([, m]) => m.expires <= target)
            .sort(([, x], [, y]) => x.expires - y.expires || x.seq - y.seq);
          for (const [i, m] of due) {
            expected.push([i, m.expires]);
            model.delete(i);
          }
          now = target;
        };
        for (const o of ops) {
          switch (o.kind) {
            case "arm":
              timers[o.timer]!.arm(o.delay);
              armModel(o.timer, now + o.delay);
              break;
            case "armAt":
              timers[o.timer]!.armAt(o.at);
              armModel(o.timer, o.at);
              break;
            case "cancel":
              expect(timers[o.timer]!.cancel()).toBe(model.delete(o.timer));
              break;
            case "advance":
              clock.advanceSync(o.ms);
              advanceModel(o.ms);
              break;
          }
          expect(clock.pendingTimers).toBe(model.size);
          const first = [...model.values()].reduce<number | undefined>(
            (min, m) => (min === undefined || m.expires < min ? m.expires : min),
            undefined,
          );
          expect(clock.nextTimerAt()).toBe(first);
          timers.forEach((t, i) => {
            expect(t.expires).toBe(model.get(i)?.expires ?? Number.NaN);
            expect(t.pending).toBe(model.has(i));
          });
        }
        clock.advanceSync(1000);
        advanceModel(1000);
        expect(fired).toEqual(expected);
        expect(clock.now()).toBe(now);
      }),
      { numRuns },
    );
  };

  it("fires random arm/cancel/re-arm sequences in the same order as a sorted model", () => {
    checkAgainstModel(8, 120);
  });

  it("keeps that order, nextTimerAt() and pendingTimers with many timers and many cancels", () => {
    checkAgainstModel(150, 600, 60);
  });

  it("moves a re-armed timer later without disturbing the order of the others", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const a = recorder(clock, log, "a");
    const b = recorder(clock, log, "b");
    const c = recorder(clock, log, "c");
    a.arm(10);
    b.arm(20);
    c.arm(20);
    a.arm(20); // later, equal expiry: armed last, so fires after b and c
    expect(clock.nextTimerAt()).toBe(20);
    a.arm(30);
    a.arm(5); // and earlier again
    expect(clock.nextTimerAt()).toBe(5);
    clock.advanceSync(40);
    expect(log).toEqual([
      ["a", 5],
      ["b", 20],
      ["c", 20],
    ]);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.nextTimerAt()).toBeUndefined();
  });

  it("does not count or fire a cancelled timer, and re-arming it arms it afresh", () => {
    const clock = manualClock();
    const log: [string, number][] = [];
    const a = recorder(clock, log, "a");
    const b = recorder(clock, log, "b");
    a.arm(10);
    b.arm(15);
    expect(a.cancel()).toBe(true);
    expect(a.cancel()).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt()).toBe(15);
    a.arm(15); // after b: armed later
    expect(clock.pendingTimers).toBe(2);
    clock.advanceSync(20);
    expect(log).toEqual([
      ["b", 15],
      ["a", 15],
    ]);
  });

  it("lets go of cancelled timers once they outnumber the armed ones", async () => {
    v8.setFlagsFromString("--expose-gc");
    const gc = vm.runInNewContext("gc") as () => void;
    const clock = manualClock();
    clock.createTimer(() => {}).arm(1_000_000);
    const refs = (() => {
      const out: WeakRef<object>[] = [];
      for (let i = 0; i < 1000; i++) {
        const payload = { i };
        const t = clock.createTimer(() => void payload);
        t.arm(1_000_000 - i);
        t.cancel();
        out.push(new WeakRef(payload));
      }
      return out;
    })();
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBeLessThan(100);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt()).toBe(1_000_000);
    expect(clock.runUntilIdleSync(2_000_000)).toBe(1);
  });
});

describe("RealClock", () => {
  it("starts near zero and never goes backwards", () => {
    const clock = new RealClock();
    const a = clock.now();
    const b = clock.now();
    expect(a).toBeGreaterThanOrEqual(0);
    expect(a).toBeLessThan(100);
    expect(b).toBeGreaterThanOrEqual(a);
  });

  it("fires a timer roughly on time and never before its expiry", async () => {
    const clock = new RealClock();
    const t0 = clock.now();
    const firedAt = await new Promise<number>((resolve) => {
      const t = clock.createTimer(() => resolve(clock.now()));
      t.arm(20);
    });
    expect(firedAt - t0).toBeGreaterThanOrEqual(20);
    expect(firedAt - t0).toBeLessThan(500);
  });

  it("fires a lazily re-armed timer once, at the later expiry and not the earlier one", async () => {
    const clock = new RealClock();
    let expiresAt = 0;
    const calls: number[] = [];
    await new Promise<void>((resolve) => {
      const t = clock.createTimer(() => {
        calls.push(clock.now());
        resolve();
      });
      t.arm(10);
      t.arm(60);
      expiresAt = t.expires;
    });
    await sleep(20);
    expect(calls).toHaveLength(1);
    expect(calls[0]!).toBeGreaterThanOrEqual(expiresAt);
    expect(calls[0]!).toBeLessThan(expiresAt + 500);
  });

  it("fires a timer re-armed to an earlier expiry at the earlier time", async () => {
    const clock = new RealClock();
    const t0 = clock.now();
    const firedAt = await new Promise<number>((resolve) => {
      const t = clock.createTimer(() => resolve(clock.now()));
      t.arm(5000);
      t.arm(10);
    });
    expect(firedAt - t0).toBeLessThan(1000);
  });

  it("does not fire a cancelled timer", async () => {
    const clock = new RealClock();
    const fired = vi.fn();
    const t = clock.createTimer(fired);
    t.arm(10);
    expect(t.cancel()).toBe(true);
    expect(t.pending).toBe(false);
    await sleep(40);
    expect(fired).not.toHaveBeenCalled();
    expect(t.cancel()).toBe(false);
  });

  it("runs deferred callbacks once each, in FIFO order, after the current synchronous work", async () => {
    const clock = new RealClock();
    const log: number[] = [];
    clock.defer(() => {
      log.push(1);
      clock.defer(() => log.push(4));
    });
    clock.defer(() => log.push(2));
    clock.defer(() => log.push(3));
    expect(log).toEqual([]);
    await vi.waitFor(() => expect(log).toEqual([1, 2, 3, 4]));
  });

  it("reports a throwing timer callback to onError", async () => {
    const boom = new Error("boom");
    const error = await new Promise<unknown>((resolve) => {
      const clock = new RealClock({ unref: true, onError: resolve });
      clock
        .createTimer(() => {
          throw boom;
        })
        .arm(1);
    });
    expect(error).toBe(boom);
  });
});

describe("isClock", () => {
  it("recognises both clocks and rejects look-alikes", () => {
    expect(isClock(new RealClock())).toBe(true);
    expect(isClock(new VirtualClock())).toBe(true);
    expect(isClock({ kind: "real", now: () => 0 })).toBe(false);
    expect(isClock(null)).toBe(false);
    expect(isClock("real")).toBe(false);
  });
});
