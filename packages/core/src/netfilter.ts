/**
 * The netfilter hook contract: hook points, verdicts, priorities, `NF_HOOK` and
 * `nf_hook_slow`'s semantics, and `NF_QUEUE` re-injection through a queue-handler registry.
 * @see include/linux/netfilter.h, include/uapi/linux/netfilter.h, net/netfilter/core.c
 * @packageDocumentation
 */
import { kfreeSkb } from "./drop.js";
import { SkbDropReason } from "./drop_reason.js";
import { SkbuffError } from "./errors.js";
import { funcGraphTracing, traceable } from "./ftrace.js";
import type { NetDevice } from "./netdevice.js";
import type { SkBuff } from "./skbuff.js";
import type { Stack } from "./stack.js";
import { tp } from "./trace.js";

/** Protocol families of hooks (`NFPROTO_*`). */
export const NFPROTO_UNSPEC = 0;
/** Hooks for IPv4 and IPv6 at once (nftables' `inet` family); here, IPv4. */
export const NFPROTO_INET = 1;
export const NFPROTO_IPV4 = 2;
export const NFPROTO_ARP = 3;
export const NFPROTO_NETDEV = 5;
export const NFPROTO_IPV6 = 10;
/** Number of protocol families. */
export const NFPROTO_NUMPROTO = 13;

/** After sanity checks, before routing. */
export const NF_INET_PRE_ROUTING = 0;
/** Routed to this host. */
export const NF_INET_LOCAL_IN = 1;
/** Routed through this host. */
export const NF_INET_FORWARD = 2;
/** Sent by this host, before routing decisions are final. */
export const NF_INET_LOCAL_OUT = 3;
/** Leaving the host, after routing. */
export const NF_INET_POST_ROUTING = 4;
/** Number of inet hooks. */
export const NF_INET_NUMHOOKS = 5;
/** `NFPROTO_NETDEV` hook: every packet a device receives, before the protocol handler. */
export const NF_NETDEV_INGRESS = 0;
/** `NFPROTO_NETDEV` hook: every packet a device sends. */
export const NF_NETDEV_EGRESS = 1;

/** The names of the inet hooks, for printing. */
export const NF_INET_HOOK_NAMES = [
  "PRE_ROUTING",
  "LOCAL_IN",
  "FORWARD",
  "LOCAL_OUT",
  "POST_ROUTING",
] as const;

/** Drop the packet; `nf_hook_slow` frees it (with `skb.dropReason` or `NETFILTER_DROP`). */
export const NF_DROP = 0;
/** Continue with the next hook. */
export const NF_ACCEPT = 1;
/** The hook took the packet: it owns it now; nothing more happens to it here. */
export const NF_STOLEN = 2;
/** Hand the packet to the queue handler of the queue number in the verdict's upper 16 bits. */
export const NF_QUEUE = 3;
/** Call the same hook again. */
export const NF_REPEAT = 4;
/** Accept, and skip the hooks after this one. */
export const NF_STOP = 5;
/** Largest verdict value. */
export const NF_MAX_VERDICT = NF_STOP;

/** The verdict part of a verdict word. */
export const NF_VERDICT_MASK = 0x000000ff;
/** With NF_QUEUE: accept when no handler listens on the queue, instead of dropping. */
export const NF_VERDICT_FLAG_QUEUE_BYPASS = 0x00008000;
/** Where the queue number sits in a verdict word. */
export const NF_VERDICT_QMASK = 0xffff0000;
export const NF_VERDICT_QBITS = 16;

/** `NF_QUEUE_NR(n)`: queue the packet to queue `n`. Add `NF_VERDICT_FLAG_QUEUE_BYPASS` to bypass. */
export function NF_QUEUE_NR(queueNum: number, bypass = false): number {
  return (
    ((queueNum << NF_VERDICT_QBITS) & NF_VERDICT_QMASK) |
    NF_QUEUE |
    (bypass ? NF_VERDICT_FLAG_QUEUE_BYPASS : 0)
  );
}

/** `NF_DROP_ERR(err)`: drop, and report `-err` to a local sender (for example EPERM). */
export function NF_DROP_ERR(errno: number): number {
  return (errno << NF_VERDICT_QBITS) | NF_DROP;
}

/** The errno carried by an NF_DROP verdict (0 when none). */
export function NF_DROP_GETERR(verdict: number): number {
  return verdict >>> NF_VERDICT_QBITS;
}

/**
 * `NF_DROP_REASON`: set why a hook drops a packet, and return NF_DROP.
 * @example `return nfDropReason(skb, SkbDropReason.IP_RPFILTER);`
 */
export function nfDropReason(skb: SkBuff, reason: SkbDropReason): number {
  skb.dropReason = reason;
  return NF_DROP;
}

/** Hook priorities (`enum nf_ip_hook_priorities`): lower runs first. */
export const NF_IP_PRI_FIRST = -2147483648;
export const NF_IP_PRI_RAW_BEFORE_DEFRAG = -450;
export const NF_IP_PRI_CONNTRACK_DEFRAG = -400;
export const NF_IP_PRI_RAW = -300;
export const NF_IP_PRI_SELINUX_FIRST = -225;
export const NF_IP_PRI_CONNTRACK = -200;
export const NF_IP_PRI_MANGLE = -150;
export const NF_IP_PRI_NAT_DST = -100;
export const NF_IP_PRI_FILTER = 0;
export const NF_IP_PRI_SECURITY = 50;
export const NF_IP_PRI_NAT_SRC = 100;
export const NF_IP_PRI_SELINUX_LAST = 225;
export const NF_IP_PRI_CONNTRACK_HELPER = 300;
export const NF_IP_PRI_CONNTRACK_CONFIRM = 2147483647;
export const NF_IP_PRI_LAST = 2147483647;

/** What a NF_HOOK continuation is: `okfn(net, sk, skb)`, like ip_rcv_finish. */
export type NfOkFn = (net: Stack, sk: unknown, skb: SkBuff) => number;

/**
 * `struct nf_hook_state`: where a packet is. It is valid only during the hook call (the core
 * reuses it); copy what you need to keep.
 */
export interface NfHookState {
  hook: number;
  pf: number;
  in: NetDevice | null;
  out: NetDevice | null;
  sk: unknown;
  net: Stack;
  okfn: NfOkFn;
}

/** A hook function: returns a verdict word. It must not free the skb it returns NF_DROP for. */
export type NfHookFn = (skb: SkBuff, state: NfHookState, priv: unknown) => number;

/** `struct nf_hook_ops`: one registration. */
export interface NfHookOps {
  readonly hook: NfHookFn;
  readonly pf: number;
  readonly hooknum: number;
  readonly priority: number;
  /** Passed to the hook as its third argument. */
  readonly priv?: unknown;
  /** For `NFPROTO_NETDEV`: the device; absent means every device. */
  readonly dev?: NetDevice;
}

/**
 * An NF_QUEUE'd packet (`struct nf_queue_entry`), owned by the queue handler until it calls
 * {@link NfHooks.reinject}.
 */
export interface NfQueueEntry {
  readonly skb: SkBuff;
  /** A copy of the hook state at the time of queueing. */
  readonly state: Readonly<NfHookState>;
  /** The queue number from the verdict. */
  readonly queueNum: number;
  /** Position of the queueing hook in the entries that were in force. */
  readonly hookIndex: number;
  /** @internal */
  readonly entries: readonly NfHookOps[];
}

/** `struct nf_queue_handler`: receives queued packets; must reinject or free each, later. */
export type NfQueueHandler = (entry: NfQueueEntry) => void;

const EPERM = 1;
/** A hook that repeats more than this in a row for one packet drops it (NF_REPEAT_LIMIT). */
export const NF_REPEAT_LIMIT = 64;

/**
 * One stack's hooks (`net->nf.hooks_ipv4[]` and friends) and queue handlers. Entries are kept
 * as immutable, priority-sorted arrays and replaced on change, like the kernel's RCU-protected
 * blobs: a traversal in progress keeps the array it started with, so a hook may register or
 * unregister hooks (itself included) while running; the change applies to the next packet.
 */
export class NfHooks {
  /** entries[pf][hooknum] — null when no hook is registered (the fast path). */
  private readonly entries: (readonly NfHookOps[] | null)[][] = [];
  private readonly queueHandlers = new Map<number, NfQueueHandler>();
  /** Queue entries already reinjected: each gets exactly one verdict. */
  private readonly reinjected = new WeakSet<NfQueueEntry>();
  private readonly states: NfHookState[] = [];
  private depth = 0;

  constructor(private readonly net: Stack) {
    for (let pf = 0; pf < NFPROTO_NUMPROTO; pf++) this.entries.push([null, null, null, null, null]);
  }

  /** `nf_register_net_hook`; returns a function that unregisters it. */
  register(ops: NfHookOps): () => void {
    checkOps(ops);
    const pf = ops.pf === NFPROTO_INET ? NFPROTO_IPV4 : ops.pf;
    const row = this.entries[pf]!;
    const old = row[ops.hooknum] ?? [];
    // Insert after every entry of lower or equal priority (nf_hook_entries_grow).
    let at = old.length;
    for (let i = 0; i < old.length; i++) {
      if (old[i]!.priority > ops.priority) {
        at = i;
        break;
      }
    }
    row[ops.hooknum] = Object.freeze([...old.slice(0, at), ops, ...old.slice(at)]);
    return () => this.unregister(ops);
  }

  /** `nf_unregister_net_hook`. Returns whether it was registered. */
  unregister(ops: NfHookOps): boolean {
    const pf = ops.pf === NFPROTO_INET ? NFPROTO_IPV4 : ops.pf;
    const row = this.entries[pf];
    const old = row?.[ops.hooknum];
    if (!old) return false;
    const i = old.indexOf(ops);
    if (i < 0) return false;
    const next = old.filter((_, j) => j !== i);
    row![ops.hooknum] = next.length ? Object.freeze(next) : null;
    return true;
  }

  /** The hooks in force at a hook point, in the order they run. */
  list(pf: number, hooknum: number): readonly NfHookOps[] {
    return this.entries[pf]?.[hooknum] ?? [];
  }

  /** Registers the handler for an NF_QUEUE number (nfnetlink_queue binding a queue). */
  registerQueueHandler(queueNum: number, handler: NfQueueHandler): () => void {
    if (this.queueHandlers.has(queueNum)) {
      throw new SkbuffError("EBUSY", `NF_QUEUE ${queueNum} already has a handler`);
    }
    this.queueHandlers.set(queueNum, handler);
    return () => {
      if (this.queueHandlers.get(queueNum) === handler) this.queueHandlers.delete(queueNum);
    };
  }

  /**
   * `NF_HOOK()`: runs the hooks of a hook point on a packet, then `okfn` if they let it through.
   * Returns okfn's result, or (like the kernel) a negative errno if the packet was dropped, or 0
   * if a hook stole or queued it.
   */
  hook(
    pf: number,
    hooknum: number,
    sk: unknown,
    skb: SkBuff,
    indev: NetDevice | null,
    outdev: NetDevice | null,
    okfn: NfOkFn,
  ): number {
    const entries = this.entries[pf]![hooknum];
    if (entries === null || entries === undefined) return okfn(this.net, sk, skb);
    const state = this.enter(pf, hooknum, indev, outdev, sk, okfn);
    let ret: number;
    try {
      ret = funcGraphTracing()
        ? tracedSlow(skb, this, state, entries)
        : this.slow(skb, state, entries, 0);
    } finally {
      this.depth--;
    }
    return ret === 1 ? okfn(this.net, sk, skb) : ret;
  }

  /**
   * `nf_hook()` without the continuation: 1 means "go on" (the caller runs its okfn),
   * otherwise the packet was dropped (negative) or stolen/queued (0).
   */
  run(
    pf: number,
    hooknum: number,
    sk: unknown,
    skb: SkBuff,
    indev: NetDevice | null,
    outdev: NetDevice | null,
    okfn: NfOkFn,
  ): number {
    const entries = this.entries[pf]![hooknum];
    if (entries === null || entries === undefined) return 1;
    const state = this.enter(pf, hooknum, indev, outdev, sk, okfn);
    try {
      return funcGraphTracing()
        ? tracedSlow(skb, this, state, entries)
        : this.slow(skb, state, entries, 0);
    } finally {
      this.depth--;
    }
  }

  /** Whether any hook is registered at a point (lets callers skip work, like nf_hook's check). */
  has(pf: number, hooknum: number): boolean {
    return this.entries[pf]![hooknum] != null;
  }

  private enter(
    pf: number,
    hooknum: number,
    indev: NetDevice | null,
    outdev: NetDevice | null,
    sk: unknown,
    okfn: NfOkFn,
  ): NfHookState {
    // States are reused per nesting depth: a hook may send a packet that re-enters NF_HOOK.
    let state = this.states[this.depth];
    if (state === undefined) {
      state = { hook: 0, pf: 0, in: null, out: null, sk: null, net: this.net, okfn };
      this.states.push(state);
    }
    this.depth++;
    state.hook = hooknum;
    state.pf = pf;
    state.in = indev;
    state.out = outdev;
    state.sk = sk;
    state.okfn = okfn;
    return state;
  }

  /**
   * `nf_hook_slow()`: runs entries from `start`. Returns 1 (accepted: run okfn), 0 (stolen or
   * queued) or a negative errno (dropped and freed).
   */
  /** @internal */
  slow(skb: SkBuff, state: NfHookState, entries: readonly NfHookOps[], start: number): number {
    const publish = tp.nfHook.hasSubscribers;
    let repeats = 0;
    // A live packet has no drop reason: whatever it carries in is stale (copied from the skb
    // it was cloned from). Only a reason a hook sets (nfDropReason) names an NF_DROP.
    skb.dropReason = null;
    for (let i = start; i < entries.length; i++) {
      const ops = entries[i]!;
      if (ops.dev !== undefined && ops.dev !== (state.in ?? state.out)) continue;
      let verdict: number;
      try {
        verdict = ops.hook(skb, state, ops.priv);
      } catch (error) {
        this.net.softnetMib.NfHookErrors++;
        if (tp.handlerError.hasSubscribers) {
          tp.handlerError.publish({ stack: this.net, error, hook: ops });
        }
        kfreeSkb(skb, SkbDropReason.NF_HOOK_EXCEPTION, this.net);
        return -EPERM;
      }
      if (publish) {
        tp.nfHook.publish({ skb, stack: this.net, pf: state.pf, hooknum: state.hook, verdict });
      }
      if (verdict === NF_ACCEPT) {
        repeats = 0;
        continue;
      }
      switch (verdict & NF_VERDICT_MASK) {
        case NF_ACCEPT:
          repeats = 0;
          break;
        case NF_DROP: {
          kfreeSkb(
            skb,
            (skb.dropReason as SkbDropReason | null) ?? SkbDropReason.NETFILTER_DROP,
            this.net,
          );
          const err = NF_DROP_GETERR(verdict);
          return err === 0 ? -EPERM : -err;
        }
        case NF_QUEUE: {
          const ret = this.queue(skb, state, entries, i, verdict);
          if (ret !== 1) return ret;
          repeats = 0; // bypass: no handler, go on with the next hook
          break;
        }
        case NF_STOLEN:
          return 0;
        case NF_REPEAT:
          if (++repeats > NF_REPEAT_LIMIT) {
            kfreeSkb(skb, SkbDropReason.NF_REPEAT_LIMIT, this.net);
            return -EPERM;
          }
          i--;
          break;
        case NF_STOP:
          return 1;
        default:
          // An unknown verdict is a bug in the hook: drop rather than guess.
          this.net.softnetMib.NfHookErrors++;
          kfreeSkb(skb, SkbDropReason.NF_HOOK_EXCEPTION, this.net);
          return -EPERM;
      }
    }
    return 1;
  }

  /** `nf_queue()`: 1 to continue (bypass), 0 when queued or dropped. */
  private queue(
    skb: SkBuff,
    state: NfHookState,
    entries: readonly NfHookOps[],
    index: number,
    verdict: number,
  ): number {
    const queueNum = verdict >>> NF_VERDICT_QBITS;
    const handler = this.queueHandlers.get(queueNum);
    if (handler === undefined) {
      if ((verdict & NF_VERDICT_FLAG_QUEUE_BYPASS) !== 0) return 1;
      kfreeSkb(skb, SkbDropReason.NETFILTER_DROP, this.net);
      return 0;
    }
    this.net.softnetMib.NfQueued++;
    const entry: NfQueueEntry = { skb, state: { ...state }, queueNum, hookIndex: index, entries };
    try {
      handler(entry);
    } catch (error) {
      this.net.softnetMib.NfHookErrors++;
      if (tp.handlerError.hasSubscribers) tp.handlerError.publish({ stack: this.net, error });
      // Unless the handler gave its verdict before throwing, the packet ends here; a later
      // reinject of this entry is refused.
      if (!this.reinjected.has(entry)) {
        this.reinjected.add(entry);
        kfreeSkb(skb, SkbDropReason.NF_HOOK_EXCEPTION, this.net);
      }
    }
    return 0;
  }

  /**
   * `nf_reinject()`: a queue handler's verdict on a queued packet. ACCEPT goes on with the next
   * hook and then the continuation; REPEAT runs the queueing hook again; STOP runs the
   * continuation at once; DROP frees; QUEUE queues again; STOLEN hands the packet over.
   * Call it exactly once per entry (a second call throws). A packet reinjected after its stack
   * closed is freed with QUEUE_PURGE, as a namespace's exit drops what its queues hold.
   * @see net/netfilter/nf_queue.c nf_reinject()
   */
  reinject(entry: NfQueueEntry, verdict: number): void {
    if (this.reinjected.has(entry)) {
      throw new SkbuffError(
        "EINVAL",
        `nf_reinject: queue ${entry.queueNum} entry was reinjected already`,
      );
    }
    this.reinjected.add(entry);
    const { skb, entries } = entry;
    if (this.net.closed) {
      kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, this.net);
      return;
    }
    const state = this.enter(
      entry.state.pf,
      entry.state.hook,
      entry.state.in,
      entry.state.out,
      entry.state.sk,
      entry.state.okfn,
    );
    let ret: number;
    try {
      switch (verdict & NF_VERDICT_MASK) {
        case NF_ACCEPT:
          ret = this.slow(skb, state, entries, entry.hookIndex + 1);
          break;
        case NF_REPEAT:
          ret = this.slow(skb, state, entries, entry.hookIndex);
          break;
        case NF_STOP:
          ret = 1;
          break;
        case NF_QUEUE:
          ret = this.queue(skb, state, entries, entry.hookIndex, verdict);
          if (ret === 1) ret = this.slow(skb, state, entries, entry.hookIndex + 1);
          break;
        case NF_STOLEN:
          ret = 0;
          break;
        default:
          kfreeSkb(
            skb,
            (skb.dropReason as SkbDropReason | null) ?? SkbDropReason.NETFILTER_DROP,
            this.net,
          );
          ret = 0;
      }
    } finally {
      this.depth--;
    }
    if (ret === 1) {
      try {
        entry.state.okfn(this.net, entry.state.sk, skb);
      } catch (error) {
        if (tp.handlerError.hasSubscribers) tp.handlerError.publish({ stack: this.net, error });
      }
    }
  }
}

function checkOps(ops: NfHookOps): void {
  if (typeof ops.hook !== "function") throw new TypeError("nf_hook_ops.hook must be a function");
  if (!Number.isInteger(ops.pf) || ops.pf < 0 || ops.pf >= NFPROTO_NUMPROTO) {
    throw new RangeError(`nf_hook_ops.pf ${ops.pf} is not an NFPROTO_* value`);
  }
  const max = ops.pf === NFPROTO_NETDEV ? 2 : NF_INET_NUMHOOKS;
  if (!Number.isInteger(ops.hooknum) || ops.hooknum < 0 || ops.hooknum >= max) {
    throw new RangeError(`nf_hook_ops.hooknum ${ops.hooknum} is not a hook of family ${ops.pf}`);
  }
  if (!Number.isInteger(ops.priority)) {
    throw new RangeError(`nf_hook_ops.priority must be an integer, got ${ops.priority}`);
  }
}

/** `nf_hook_slow` as the function-graph tracer sees it (only called while someone traces). */
const tracedSlow = traceable(
  "nf_hook_slow",
  (skb: SkBuff, hooks: NfHooks, state: NfHookState, entries: readonly NfHookOps[]): number =>
    hooks.slow(skb, state, entries, 0),
);
