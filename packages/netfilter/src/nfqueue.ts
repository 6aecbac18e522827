/**
 * NFQUEUE: hands packets that a hook queued (`NF_QUEUE_NR(n)`) to an application handler and
 * applies its verdict, as `nfnetlink_queue` hands them to a userspace program over netlink.
 * Here the "program" is an async function: it gets a copy of the packet, and returns (or
 * resolves to) a verdict — accept, drop or repeat, optionally with a new packet and a new mark.
 *
 * What the kernel module does, and so does this one:
 * - a queue holds at most `maxLen` packets (`queue_maxlen`, default 1024); a packet that finds
 *   it full is dropped (`SkbDropReason.NFQUEUE_FULL`), or accepted when the queue fails open
 *   (`NFQA_CFG_F_FAIL_OPEN`);
 * - packet ids are a per-queue sequence (`id_sequence`); a verdict for an id no longer queued is
 *   ignored (the kernel answers `-ENOENT`);
 * - a modified packet replaces the queued one from the network header on (`nfqnl_mangle`); the
 *   handler owns its checksums: nothing is recomputed, and `ipSummed` becomes `CHECKSUM_NONE`;
 * - unbinding a queue drops what it still holds (`nfqnl_flush`).
 *
 * skbuff adds a verdict timeout: a packet whose verdict does not come within `timeoutMs` is
 * dropped (`SkbDropReason.NFQUEUE_TIMEOUT`), and a verdict arriving after that is ignored. One
 * timer per queue, on the stack's clock, is armed for the oldest packet's deadline.
 *
 * Ownership: from the moment a queued packet reaches the queue until its verdict, the queue owns
 * the skb; the handler only ever sees a copy of its bytes ({@link NfqueuePacket.bytes}).
 * @see net/netfilter/nfnetlink_queue.c, net/netfilter/nf_queue.c
 * @packageDocumentation
 */
import {
  CHECKSUM_NONE,
  definePlugin,
  NF_ACCEPT,
  NF_DROP,
  NF_REPEAT,
  type NfQueueEntry,
  type Plugin,
  type SkBuff,
  SkbDropReason,
  type Stack,
  type Timer,
} from "@skbuff/core";

/** A queued packet, as the handler sees it (`NFQA_*` attributes of an `NFQNL_MSG_PACKET`). */
export interface NfqueuePacket {
  /** Per-queue packet id (`NFQA_PACKET_HDR.packet_id`), 1, 2, 3, … */
  readonly id: number;
  /** The queue number the hook's verdict named. */
  readonly queueNum: number;
  /** A copy of the packet from its network header on (`NFQA_PAYLOAD`): the handler may keep it. */
  readonly bytes: Uint8Array;
  /** The protocol family of the hook (`NFPROTO_IPV4`, …). */
  readonly pf: number;
  /** The hook that queued it (`NF_INET_LOCAL_IN`, …; `NFQA_PACKET_HDR.hook`). */
  readonly hook: number;
  /** The link-layer protocol, host order (`NFQA_PACKET_HDR.hw_protocol`: 0x0800 for IPv4). */
  readonly protocol: number;
  /** The name of the device it arrived on (`NFQA_IFINDEX_INDEV`), or null. */
  readonly indev: string | null;
  /** The name of the device it leaves through (`NFQA_IFINDEX_OUTDEV`), or null. */
  readonly outdev: string | null;
  /** The packet's mark (`NFQA_MARK`). */
  readonly mark: number;
  /** When it was queued, in ms of the stack's clock. */
  readonly timestamp: number;
}

/** A handler's verdict on a queued packet (`NFQNL_MSG_VERDICT`). */
export interface NfqueueVerdict {
  /**
   * `accept`: go on with the next hook; `drop`: free it (`NETFILTER_DROP`); `repeat`: run the
   * queueing hook again (which may queue it again).
   */
  readonly verdict: "accept" | "drop" | "repeat";
  /**
   * The packet to continue with instead, from the network header on (`NFQA_PAYLOAD` in a
   * verdict). Nothing is recomputed: the handler fixes lengths and checksums itself.
   */
  readonly bytes?: Uint8Array;
  /** A new mark for the packet (`NFQA_MARK`). */
  readonly mark?: number;
}

/** A queue's handler: the userspace program's part. It may be async. */
export type NfqueueHandler = (pkt: NfqueuePacket) => Promise<NfqueueVerdict> | NfqueueVerdict;

/** Options of {@link nfqueueBind}. */
export interface NfqueueOptions {
  /** Packets the queue holds waiting for a verdict (`queue_maxlen`); default 1024. */
  readonly maxLen?: number;
  /** How long a packet waits for its verdict before it is dropped, ms; default 1000. */
  readonly timeoutMs?: number;
  /** Accept packets that find the queue full instead of dropping them (`NFQA_CFG_F_FAIL_OPEN`). */
  readonly failOpen?: boolean;
}

/**
 * A queue's counters (like a line of `/proc/net/netfilter/nfnetlink_queue`). `dropped` counts
 * every packet the queue dropped, for whatever reason; `full`, `timedOut` and `errors` say why.
 */
export class NfqueueStats {
  /** Packets handed to the handler. */
  queued = 0;
  /** Packets accepted: by the handler's verdict, or because a fail-open queue was full. */
  accepted = 0;
  /** Packets the handler asked to see again (`repeat`). */
  repeated = 0;
  /** Packets dropped: by verdict, full, timed out, handler errors, or unbinding. */
  dropped = 0;
  /** Packets whose bytes the handler replaced. */
  modified = 0;
  /** Packets dropped because no verdict came within `timeoutMs`. */
  timedOut = 0;
  /** Packets that found the queue full (`queue_dropped`; accepted instead with `failOpen`). */
  full = 0;
  /** Handlers that threw or rejected, or gave a verdict that could not be applied. */
  errors = 0;
  /** Verdicts that came for a packet no longer queued (after its timeout), ignored. */
  late = 0;
  /** Packets waiting for a verdict now. */
  pending = 0;
}

/** A bound queue: {@link nfqueueBind}'s result. */
export interface NfqueueBinding {
  /** The queue number. */
  readonly queueNum: number;
  /** The queue's counters, live. */
  readonly stats: NfqueueStats;
  /** Unbinds the queue (`NFQNL_CFG_CMD_UNBIND`), dropping the packets it holds. Idempotent. */
  unbind(): void;
}

/** The largest IPv4 packet a verdict may carry (`nfqnl_mangle` refuses more than 0xffff). */
const IP_MAX_PACKET = 0xffff;

/** One packet waiting for its verdict. */
interface Pending {
  readonly entry: NfQueueEntry;
  readonly deadline: number;
}

const bindings = new WeakMap<Stack, Map<number, NfqueueBinding>>();

/**
 * Binds an application handler to NF_QUEUE number `queueNum` of a stack (`nfqnl_recv_config`
 * with `NFQNL_CFG_CMD_BIND`): packets that hooks queue there go to `handler`, and its verdicts
 * are reinjected (`nf_reinject`). A packet queued to a number nobody has bound is dropped by the
 * core, or passed on when the hook's verdict has the bypass flag.
 *
 * The handler runs synchronously when the packet is queued; a verdict it returns directly is
 * applied from the stack's deferred work (as if it had come back over netlink), a promised one
 * when the promise settles. Verdicts are applied in the order they come, so a handler that
 * answers in order keeps the packets in order.
 * @see net/netfilter/nfnetlink_queue.c nfqnl_enqueue_packet(), nfqnl_recv_verdict()
 * @throws SkbuffError (EBUSY) when the queue is bound already; RangeError for bad options
 */
export function nfqueueBind(
  net: Stack,
  queueNum: number,
  handler: NfqueueHandler,
  options: NfqueueOptions = {},
): NfqueueBinding {
  const { maxLen = 1024, timeoutMs = 1000, failOpen = false } = options;
  if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
    throw new RangeError(`nfqueue: queue number must be an integer 0..65535, got ${queueNum}`);
  }
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new RangeError(`nfqueue ${queueNum}: maxLen must be a positive integer, got ${maxLen}`);
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`nfqueue ${queueNum}: timeoutMs must be positive, got ${timeoutMs}`);
  }
  if (typeof handler !== "function") {
    throw new TypeError(`nfqueue ${queueNum}: the handler must be a function`);
  }

  const stats = new NfqueueStats();
  const pending = new Map<number, Pending>();
  let idSequence = 0;
  let bound = true;

  /** Gives a packet back to the core with a verdict; the queue no longer owns it. */
  const reinject = (entry: NfQueueEntry, verdict: number): void => {
    net.nf.reinject(entry, verdict);
  };

  const drop = (entry: NfQueueEntry, reason: SkbDropReason): void => {
    stats.dropped++;
    entry.skb.dropReason = reason;
    reinject(entry, NF_DROP);
  };

  /** The one timer: fires at the oldest packet's deadline and drops whatever is overdue. */
  const onTimeout = (): void => {
    const now = net.clock.now();
    for (const [id, p] of pending) {
      if (p.deadline > now) {
        timer.armAt(p.deadline);
        return;
      }
      pending.delete(id);
      stats.pending = pending.size;
      stats.timedOut++;
      drop(p.entry, SkbDropReason.NFQUEUE_TIMEOUT);
    }
  };
  const timer: Timer = net.createTimer(onTimeout);

  /** Takes a packet out of the queue: null when it is not there (timed out, or unbound). */
  const dequeue = (id: number): NfQueueEntry | null => {
    const p = pending.get(id);
    if (p === undefined) return null;
    pending.delete(id);
    stats.pending = pending.size;
    if (pending.size === 0) timer.cancel();
    return p.entry;
  };

  /** `nfqnl_recv_verdict`: applies a handler's verdict to packet `id`. */
  const applyVerdict = (id: number, v: NfqueueVerdict): void => {
    const entry = dequeue(id);
    if (entry === null) {
      stats.late++;
      return;
    }
    const kind = v?.verdict;
    if (kind === "drop") {
      drop(entry, SkbDropReason.NETFILTER_DROP);
      return;
    }
    if (kind !== "accept" && kind !== "repeat") {
      stats.errors++;
      drop(entry, SkbDropReason.NETFILTER_DROP);
      return;
    }
    if (v.bytes !== undefined) {
      if (!(v.bytes instanceof Uint8Array) || !nfqnlMangle(entry.skb, v.bytes)) {
        // nfqnl_recv_verdict: a payload that cannot be applied turns the verdict into NF_DROP.
        stats.errors++;
        drop(entry, SkbDropReason.NETFILTER_DROP);
        return;
      }
      stats.modified++;
    }
    if (v.mark !== undefined) entry.skb.mark = v.mark >>> 0;
    if (kind === "accept") stats.accepted++;
    else stats.repeated++;
    reinject(entry, kind === "accept" ? NF_ACCEPT : NF_REPEAT);
  };

  const failHandler = (id: number): void => {
    const entry = dequeue(id);
    if (entry === null) {
      stats.late++;
      return;
    }
    stats.errors++;
    drop(entry, SkbDropReason.NF_HOOK_EXCEPTION);
  };

  /** `nfqnl_enqueue_packet`: the core hands us a packet. */
  const enqueue = (entry: NfQueueEntry): void => {
    if (pending.size >= maxLen) {
      stats.full++;
      if (failOpen) {
        stats.accepted++;
        reinject(entry, NF_ACCEPT);
      } else {
        drop(entry, SkbDropReason.NFQUEUE_FULL);
      }
      return;
    }
    idSequence = (idSequence + 1) >>> 0 || 1;
    const id = idSequence;
    const now = net.clock.now();
    const pkt = packetOf(entry, id, now);
    pending.set(id, { entry, deadline: now + timeoutMs });
    stats.pending = pending.size;
    stats.queued++;
    if (!timer.pending) timer.armAt(now + timeoutMs);
    let result: Promise<NfqueueVerdict> | NfqueueVerdict;
    try {
      result = handler(pkt);
    } catch {
      net.clock.defer(() => failHandler(id));
      return;
    }
    if (isThenable(result)) {
      result.then(
        (v) => applyVerdict(id, v),
        () => failHandler(id),
      );
    } else {
      net.clock.defer(() => applyVerdict(id, result));
    }
  };

  let unregister: () => void;
  try {
    unregister = net.nf.registerQueueHandler(queueNum, enqueue);
  } catch (error) {
    net.deleteTimer(timer);
    throw error;
  }

  const binding: NfqueueBinding = {
    queueNum,
    stats,
    unbind() {
      if (!bound) return;
      bound = false;
      unregister();
      net.deleteTimer(timer);
      if (bindings.get(net)?.get(queueNum) === binding) bindings.get(net)!.delete(queueNum);
      // nfqnl_flush: what the queue still holds is dropped.
      for (const id of [...pending.keys()]) {
        const entry = dequeue(id)!;
        drop(entry, SkbDropReason.QUEUE_PURGE);
      }
    },
  };
  let perNet = bindings.get(net);
  if (perNet === undefined) {
    perNet = new Map();
    bindings.set(net, perNet);
  }
  perNet.set(queueNum, binding);
  net.onClose(() => binding.unbind());
  return binding;
}

/** The binding of queue `queueNum` in a stack, if one is bound (for counters and tests). */
export function nfqueueOf(net: Stack, queueNum: number): NfqueueBinding | undefined {
  return bindings.get(net)?.get(queueNum);
}

/** Options of {@link nfqueuePlugin}. */
export interface NfqueuePluginOptions extends NfqueueOptions {
  /** The queue number to bind. */
  readonly queueNum: number;
  /** The handler packets queued there go to. */
  readonly handler: NfqueueHandler;
}

/**
 * A plugin that binds an NFQUEUE handler in each stack it is given to: `skbuff:nfqueue-<n>`.
 * The hooks that queue packets to it (a rule's `queue num n`, or a hook returning
 * `NF_QUEUE_NR(n)`) come from elsewhere. Read its counters with {@link nfqueueOf}.
 *
 * @example
 * ```ts
 * const stack = await createStack({ plugins: [ipv4(), nfqueuePlugin({ queueNum: 1,
 *   handler: async (pkt) => ({ verdict: (await inspect(pkt.bytes)) ? "accept" : "drop" }) })] });
 * ```
 */
export function nfqueuePlugin(options: NfqueuePluginOptions): Plugin {
  const { queueNum, handler, ...queueOptions } = options;
  if (!Number.isInteger(queueNum) || queueNum < 0 || queueNum > 0xffff) {
    throw new RangeError(`nfqueuePlugin: queueNum must be an integer 0..65535, got ${queueNum}`);
  }
  if (typeof handler !== "function") {
    throw new TypeError(`nfqueuePlugin: handler must be a function, got ${typeof handler}`);
  }
  return definePlugin({
    name: `skbuff:nfqueue-${queueNum}`,
    requires: ["skbuff:ipv4"],
    register(ctx) {
      nfqueueBind(ctx.stack, queueNum, handler, queueOptions);
    },
    stop(ctx) {
      nfqueueOf(ctx.stack, queueNum)?.unbind();
    },
  });
}

/** The handler's view of a queued packet: a copy, so the handler may keep it. */
function packetOf(entry: NfQueueEntry, id: number, now: number): NfqueuePacket {
  const { skb, state } = entry;
  const nh = skb.networkHeader >= 0 ? skb.networkHeader : skb.data;
  return {
    id,
    queueNum: entry.queueNum,
    bytes: skb.head.slice(nh, skb.tail),
    pf: state.pf,
    hook: state.hook,
    protocol: skb.protocol,
    indev: state.in?.name ?? null,
    outdev: state.out?.name ?? null,
    mark: skb.mark,
    timestamp: now,
  };
}

/**
 * `nfqnl_mangle()`: replaces the packet from its network header on with `bytes`, growing or
 * shrinking the skb (and unsharing it from clones) as needed. Anything before the network header
 * (a link-layer header) stays. The transport header moves to just after the new IPv4 header.
 * Nothing is recomputed: the checksum state becomes `CHECKSUM_NONE` (the stack verifies what it
 * must), and lengths are what the handler wrote. Returns false when `bytes` cannot be a packet.
 * @see net/netfilter/nfnetlink_queue.c nfqnl_mangle()
 */
function nfqnlMangle(skb: SkBuff, bytes: Uint8Array): boolean {
  if (bytes.length === 0 || bytes.length > IP_MAX_PACKET) return false;
  if (skb.networkHeader < 0) skb.setNetworkHeader();
  const nhOff = skb.networkHeader - skb.data;
  if (nhOff < 0) return false;
  const need = skb.networkHeader + bytes.length;
  if (need > skb.end) skb.expandHead(0, need - skb.end);
  else skb.cow();
  const nh = skb.networkHeader;
  skb.head.set(bytes, nh);
  skb.tail = nh + bytes.length;
  if (skb.transportHeader >= 0 && bytes[0]! >> 4 === 4) {
    skb.transportHeader = Math.min(nh + (bytes[0]! & 0x0f) * 4, skb.tail);
  }
  skb.ipSummed = CHECKSUM_NONE;
  skb.csumValid = false;
  return true;
}

function isThenable<T>(x: Promise<T> | T): x is Promise<T> {
  return (
    x !== null &&
    (typeof x === "object" || typeof x === "function") &&
    typeof (x as { then?: unknown }).then === "function"
  );
}
