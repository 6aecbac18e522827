/**
 * IPv4 fragmentation and reassembly.
 *
 * Reassembly (`ip_defrag` → `ip_frag_queue` → `ip_frag_reasm`) keeps one queue per datagram,
 * keyed as RFC 791 (3.2) says: "The internet identification field (ID) is used together with
 * the source and destination address, and the protocol fields, to identify datagram fragments
 * for reassembly." Queues live in a per-stack {@link IpFragState}: their memory is accounted in
 * bytes against `net.ipv4.ipfrag_high_thresh`, they are kept in least-recently-used order for
 * eviction, and they expire after `net.ipv4.ipfrag_time` seconds on the stack's clock.
 *
 * Fragmentation (`ip_fragment` → `ip_do_fragment`) splits a datagram bigger than the MTU into
 * linear fragments and hands each to an output function.
 * @see net/ipv4/ip_fragment.c, net/ipv4/inet_fragment.c, net/ipv4/ip_output.c ip_do_fragment()
 * @packageDocumentation
 */
import {
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  CHECKSUM_UNNECESSARY,
  consumeSkb,
  kfreeSkb,
  NET_SKB_PAD,
  SkBuff,
  SkbDropReason,
  type Stack,
  skbChecksumHelp,
  type Timer,
  traceable,
} from "@skbuff/core";
import { ipSendCheck } from "./ip_output.js";
import {
  ICMP_DEST_UNREACH,
  ICMP_EXC_FRAGTIME,
  ICMP_FRAG_NEEDED,
  ICMP_TIME_EXCEEDED,
  ipv4Net,
  type NetnsIpv4,
} from "./netns.js";
import {
  IP_DF,
  IP_MF,
  IP_OFFSET,
  IPHDR,
  ipDaddr,
  ipFragOff,
  ipId,
  ipIhl,
  ipProtocol,
  ipSaddr,
  ipTos,
  setIpFragOff,
  setIpTos,
  setIpTotLen,
  setIpVerIhl,
} from "./wire/iphdr.js";

const EMSGSIZE = 90;

/** Largest IPv4 datagram: the Total Length field is 16 bits (RFC 791 3.1). */
const IP_MAX_LEN = 0xffff;

/**
 * What a buffer costs beyond its bytes, as Linux's `SKB_TRUESIZE()` adds
 * `sizeof(struct sk_buff)` and `sizeof(struct skb_shared_info)` (x86-64: 256 + 320).
 */
const SKB_TRUESIZE_OVERHEAD = 576;

/** Queue flags (`INET_FRAG_FIRST_IN`, `INET_FRAG_LAST_IN`). */
const FIRST_IN = 1;
const LAST_IN = 2;

/** One fragment held by a queue: the skb (data at its IP header) and its payload range. */
export interface IpFragEntry {
  readonly skb: SkBuff;
  /** Payload offset in the datagram, bytes. */
  readonly offset: number;
  /** One past the payload's last byte in the datagram. */
  readonly end: number;
  /** `skb_truesize`, as charged to the state's memory. */
  readonly truesize: number;
}

/**
 * A source's fragment counter (`struct inet_peer`'s `rid`), shared by that source's queues for
 * the `ipfrag_max_dist` check.
 */
export interface InetPeer {
  rid: number;
  refcnt: number;
}

/**
 * One datagram being reassembled (`struct ipq`).
 * @see net/ipv4/ip_fragment.c struct ipq
 */
export interface IpFragQueue {
  readonly key: string;
  readonly saddr: number;
  readonly daddr: number;
  readonly id: number;
  readonly protocol: number;
  /** Fragments, sorted by offset, never overlapping. */
  readonly frags: IpFragEntry[];
  /** FIRST_IN | LAST_IN. */
  flags: number;
  /** Datagram payload length known so far (final once LAST_IN). */
  len: number;
  /** Payload bytes received (`meat`); the datagram is complete when `meat === len`. */
  meat: number;
  /** Bytes charged to the state for this queue's fragments. */
  mem: number;
  /** OR of `1 << ECN` of every fragment (RFC 3168 combinations). */
  ecn: number;
  /** Largest fragment seen (header included), and largest one with DF set. */
  maxSize: number;
  maxDfSize: number;
  /** Clock time (ms) at which the queue expires. */
  expires: number;
  /** The source's counter, when `ipfrag_max_dist` was on at creation. */
  peer: InetPeer | null;
  /** The peer's counter when this queue last got a fragment. */
  rid: number;
  /** Still in the table (false once reassembled, expired, evicted or invalidated). */
  alive: boolean;
}

/** A pending expiry in the timer heap; stale once its queue is gone or was re-armed. */
export interface ExpiryEntry {
  readonly expires: number;
  readonly q: IpFragQueue;
}

/**
 * Reassembly state of one stack (`struct fqdir`): the queues, their memory and the one timer
 * that expires them.
 * @see include/net/inet_frag.h struct fqdir
 */
export interface IpFragState {
  /** Queues by key, least recently used first (`lru_list`). */
  readonly queues: Map<string, IpFragQueue>;
  /** Bytes held by queued fragments (`fqdir->mem`). */
  mem: number;
  /** Fragment counters per source address (`inet_peer`), only while a queue uses them. */
  readonly peers: Map<number, InetPeer>;
  /** Pending expiries, a binary min-heap on `expires`. */
  readonly expiries: ExpiryEntry[];
  /** Fires at the earliest pending expiry. */
  readonly timer: Timer;
}

/** The queue's key: RFC 791's (source, destination, protocol, identification). */
function fragKey(saddr: number, daddr: number, id: number, protocol: number): string {
  return `${saddr}:${daddr}:${id}:${protocol}`;
}

/**
 * Creates the reassembly state of a stack and its expiry timer (on the stack's clock, so
 * cancelled when the stack closes). Queued fragments are freed with QUEUE_PURGE at close.
 * @see net/ipv4/ip_fragment.c ipv4_frags_init_net()
 */
export function ipFragInit(ns: NetnsIpv4): IpFragState {
  const st: IpFragState = {
    queues: new Map(),
    mem: 0,
    peers: new Map(),
    expiries: [],
    timer: ns.net.createTimer(() => ipFragTimer(ns)),
  };
  ns.net.onClose(() => {
    // Deleting the current entry while iterating a Map is safe.
    for (const q of st.queues.values()) ipqKill(ns, q, SkbDropReason.QUEUE_PURGE);
  });
  return st;
}

// --- the expiry heap ----------------------------------------------------------------------

function heapPush(h: ExpiryEntry[], e: ExpiryEntry): void {
  h.push(e);
  let i = h.length - 1;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]!.expires <= e.expires) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = e;
}

function heapPop(h: ExpiryEntry[]): ExpiryEntry | undefined {
  const top = h[0];
  const last = h.pop();
  if (h.length === 0 || last === undefined) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= h.length) break;
    const r = l + 1;
    const c = r < h.length && h[r]!.expires < h[l]!.expires ? r : l;
    if (h[c]!.expires >= last.expires) break;
    h[i] = h[c]!;
    i = c;
  }
  h[i] = last;
  return top;
}

/** `mod_timer(&q->timer, jiffies + fqdir->timeout)`: (re)arms the queue's expiry. */
function ipqArmTimer(ns: NetnsIpv4, q: IpFragQueue): void {
  const st = ns.frags;
  const h = st.expiries;
  q.expires = ns.net.clock.now() + ns.sysctl.ipfragTime.value * 1000;
  // Entries of finished or re-armed queues stay in the heap until their time; rebuild it from
  // the live queues when they outnumber them, so it stays O(queues).
  if (h.length > 2 * st.queues.size + 64) {
    h.length = 0;
    for (const lq of st.queues.values())
      if (lq !== q && lq.expires > 0) heapPush(h, { expires: lq.expires, q: lq });
  }
  heapPush(h, { expires: q.expires, q });
  if (!st.timer.pending || q.expires < st.timer.expires) st.timer.armAt(q.expires);
}

/** Whether a heap entry is its queue's current expiry. */
function isLive(e: ExpiryEntry): boolean {
  return e.q.alive && e.q.expires === e.expires;
}

/** Expires every queue whose time has come, then re-arms for the next one. */
function ipFragTimer(ns: NetnsIpv4): void {
  const st = ns.frags;
  const h = st.expiries;
  const now = ns.net.clock.now();
  try {
    while (h.length > 0 && h[0]!.expires <= now) {
      const e = heapPop(h)!;
      if (isLive(e)) ipExpire(ns, e.q);
    }
  } finally {
    // Drop stale entries at the top so the timer is not armed for nothing.
    while (h.length > 0 && !isLive(h[0]!)) heapPop(h);
    if (h.length > 0) st.timer.armAt(h[0]!.expires);
  }
}

// --- queues -------------------------------------------------------------------------------

/** `inet_frag_find` → `inet_frag_create`: the datagram's queue, created when new. */
function ipFind(
  ns: NetnsIpv4,
  saddr: number,
  daddr: number,
  id: number,
  protocol: number,
): IpFragQueue {
  const st = ns.frags;
  const key = fragKey(saddr, daddr, id, protocol);
  const found = st.queues.get(key);
  if (found !== undefined) return found;
  let peer: InetPeer | null = null;
  // ip4_frag_init: "qp->peer = q->fqdir->max_dist ? inet_getpeer_v4(…) : NULL".
  if (ns.sysctl.ipfragMaxDist.value !== 0) {
    peer = st.peers.get(saddr) ?? null;
    if (peer === null) {
      peer = { rid: 0, refcnt: 0 };
      st.peers.set(saddr, peer);
    }
    peer.refcnt++;
  }
  const q: IpFragQueue = {
    key,
    saddr,
    daddr,
    id,
    protocol,
    frags: [],
    flags: 0,
    len: 0,
    meat: 0,
    mem: 0,
    ecn: 0,
    maxSize: 0,
    maxDfSize: 0,
    expires: 0,
    peer,
    rid: 0,
    alive: true,
  };
  st.queues.set(key, q);
  ipqArmTimer(ns, q);
  return q;
}

/** Frees every fragment of a queue with `reason` and returns the memory to the state. */
function ipqPurge(ns: NetnsIpv4, q: IpFragQueue, reason: SkbDropReason): void {
  for (const f of q.frags) kfreeSkb(f.skb, reason, ns.net);
  ns.frags.mem -= q.mem;
  q.frags.length = 0;
  q.mem = 0;
}

/** Takes a queue out of the table (`inet_frag_kill`), dropping its peer reference. */
function ipqUnlink(ns: NetnsIpv4, q: IpFragQueue): void {
  if (!q.alive) return;
  q.alive = false;
  const st = ns.frags;
  st.queues.delete(q.key);
  if (q.peer !== null && --q.peer.refcnt === 0 && st.peers.get(q.saddr) === q.peer)
    st.peers.delete(q.saddr);
}

/** `ipq_kill` + `inet_frag_destroy`: unlinks a queue and frees its fragments with `reason`. */
function ipqKill(ns: NetnsIpv4, q: IpFragQueue, reason: SkbDropReason): void {
  ipqUnlink(ns, q);
  ipqPurge(ns, q, reason);
}

/**
 * `ip_expire`: reassembly did not complete within `ipfrag_time`.
 *
 * RFC 1122 (3.3.2): "If this timeout expires, the partially-reassembled datagram MUST be
 * discarded and an ICMP Time Exceeded message sent to the source host (if fragment zero has
 * been received)." RFC 792 (Time Exceeded): "If fragment zero is not available then no time
 * exceeded need be sent at all."
 * @see net/ipv4/ip_fragment.c ip_expire()
 */
function ipExpire(ns: NetnsIpv4, q: IpFragQueue): void {
  ipqUnlink(ns, q);
  ns.mib.IpReasmFails++;
  ns.mib.IpReasmTimeout++;
  try {
    if ((q.flags & FIRST_IN) !== 0 && q.frags.length > 0 && q.frags[0]!.offset === 0) {
      // The sender does not take ownership: the head is freed below with the others.
      ns.icmpSend(q.frags[0]!.skb, ICMP_TIME_EXCEEDED, ICMP_EXC_FRAGTIME, 0);
    }
  } finally {
    ipqPurge(ns, q, SkbDropReason.FRAG_REASM_TIMEOUT);
  }
}

/**
 * Evicts least recently used queues until the memory is down to `ipfrag_low_thresh`
 * (`inet_frag_evictor`, as Linux did before 4.17). Each evicted datagram is a reassembly
 * failure.
 */
function ipFragEvict(ns: NetnsIpv4): void {
  const st = ns.frags;
  const low = ns.sysctl.ipfragLowThresh.value;
  for (const q of st.queues.values()) {
    if (st.mem <= low) break;
    ipqKill(ns, q, SkbDropReason.NOMEM);
    ns.mib.IpReasmFails++;
  }
}

/**
 * `ip_frag_too_far`: whether more than `ipfrag_max_dist` fragments from the same source arrived
 * since this queue's previous fragment ("… the fragment is probably from a datagram whose other
 * fragments were lost, and its ID was reused"). Counts a reassembly failure when so.
 * @see net/ipv4/ip_fragment.c ip_frag_too_far()
 */
function ipFragTooFar(ns: NetnsIpv4, q: IpFragQueue): boolean {
  const peer = q.peer;
  const max = ns.sysctl.ipfragMaxDist.value;
  if (peer === null || max === 0) return false;
  const start = q.rid;
  peer.rid = (peer.rid + 1) >>> 0;
  const end = peer.rid;
  q.rid = end;
  const rc = q.frags.length > 0 && (end - start) >>> 0 > max;
  if (rc) ns.mib.IpReasmFails++;
  return rc;
}

/**
 * `ip_frag_reinit`: empties a queue that fell too far behind (its fragments freed with
 * FRAG_TOO_FAR) and restarts its timer; the queue then starts over with the current fragment.
 * @see net/ipv4/ip_fragment.c ip_frag_reinit()
 */
function ipFragReinit(ns: NetnsIpv4, q: IpFragQueue): void {
  ipqPurge(ns, q, SkbDropReason.FRAG_TOO_FAR);
  q.flags = 0;
  q.len = 0;
  q.meat = 0;
  q.ecn = 0;
  q.maxSize = 0;
  q.maxDfSize = 0;
  ipqArmTimer(ns, q);
}

/** Outcome of {@link fragInsert}. */
const INSERTED = 0;
const IPFRAG_DUP = 1;
const IPFRAG_OVERLAP = 2;

/**
 * `inet_frag_queue_insert`: inserts `[offset, end)` in offset order. A fragment whose bytes are
 * all already queued is a duplicate (dropped, the queue kept); one that overlaps queued bytes
 * only in part is an overlap, which invalidates the datagram. Linux applies RFC 5722 (4) to
 * IPv4 too: "… if one or more its constituent fragments is determined to be an overlapping
 * fragment, the entire datagram (and any constituent fragments) MUST be silently discarded."
 * Linux calls a fragment a duplicate when it lies within one run of adjacent fragments received
 * in order; here any fragment fully covered by queued bytes is one.
 * @see net/ipv4/inet_fragment.c inet_frag_queue_insert()
 */
function fragInsert(q: IpFragQueue, f: IpFragEntry): number {
  const frags = q.frags;
  const n = frags.length;
  // The common case: in order, after the last fragment.
  if (n === 0 || frags[n - 1]!.end <= f.offset) {
    frags.push(f);
    return INSERTED;
  }
  // First fragment ending after our start.
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (frags[mid]!.end <= f.offset) lo = mid + 1;
    else hi = mid;
  }
  const i = lo;
  if (frags[i]!.offset >= f.end) {
    frags.splice(i, 0, f);
    return INSERTED;
  }
  // It touches queued bytes: a duplicate if they cover it all.
  let pos = f.offset;
  for (let j = i; j < n && frags[j]!.offset <= pos && pos < f.end; j++) pos = frags[j]!.end;
  return pos >= f.end ? IPFRAG_DUP : IPFRAG_OVERLAP;
}

/**
 * `ip_frag_ecn_table`: the ECN field of the whole datagram from the OR of `1 << ECN` of its
 * fragments, or 0xff when it must be dropped. RFC 3168 (5.3): "Reassembly of a fragmented
 * packet MUST NOT lose indications of congestion. In other words, if any fragment of an IP
 * packet to be reassembled has the CE codepoint set, then one of two actions MUST be taken:
 * Set the CE codepoint on the reassembled packet. However, this MUST NOT occur if any of the
 * other fragments contributing to this reassembly carries the Not-ECT codepoint. [Or] The
 * packet is dropped …" Linux drops every mix of Not-ECT with ECT or CE.
 * @see net/ipv4/inet_fragment.c ip_frag_ecn_table
 */
const IP_FRAG_ECN_TABLE: readonly number[] = (() => {
  const NOT_ECT = 1;
  const ECT_1 = 2;
  const ECT_0 = 4;
  const CE = 8;
  const t = new Array<number>(16).fill(0);
  t[CE | ECT_0] = 3;
  t[CE | ECT_1] = 3;
  t[CE | ECT_0 | ECT_1] = 3;
  for (const m of [CE, ECT_0, ECT_1, ECT_0 | ECT_1, CE | ECT_0, CE | ECT_1, CE | ECT_0 | ECT_1])
    t[NOT_ECT | m] = 0xff;
  return t;
})();

/**
 * `ip_defrag`: takes ownership of a fragment (`skb.data` and `skb.networkHeader` at its IP
 * header, `skb.dev` set). Returns the whole datagram as one new linear skb when this fragment
 * completed it, else null (queued, or dropped with a reason and counted).
 * @see net/ipv4/ip_fragment.c ip_defrag()
 */
export const ipDefrag = traceable(
  "ip_defrag",
  function ipDefrag(net: Stack, skb: SkBuff): SkBuff | null {
    const ns = ipv4Net(net);
    const st = ns.frags;
    ns.mib.IpReasmReqds++;
    // skb_orphan: a fragment belongs to no socket while queued.
    skb.sk = null;
    // inet_frag_find: "if (!high_thresh || frag_mem_limit(fqdir) > high_thresh) return NULL;"
    const high = ns.sysctl.ipfragHighThresh.value;
    if (high === 0 || st.mem > high) {
      ipFragEvict(ns);
      ns.mib.IpReasmFails++;
      kfreeSkb(skb, SkbDropReason.NOMEM, net);
      return null;
    }
    const b = skb.head;
    const nh = skb.networkHeader;
    const q = ipFind(ns, ipSaddr(b, nh), ipDaddr(b, nh), ipId(b, nh), ipProtocol(b, nh));
    return ipFragQueue(ns, q, skb);
  },
);

/**
 * `ip_frag_queue`: adds a fragment to its queue, and reassembles when the datagram is complete.
 * @see net/ipv4/ip_fragment.c ip_frag_queue()
 */
function ipFragQueue(ns: NetnsIpv4, q: IpFragQueue, skb: SkBuff): SkBuff | null {
  const net = ns.net;
  const st = ns.frags;
  if (ipFragTooFar(ns, q)) ipFragReinit(ns, q);

  const b = skb.head;
  const nh = skb.networkHeader;
  const ihl = ipIhl(b, nh) * 4;
  const fo = ipFragOff(b, nh);
  const offset = (fo & IP_OFFSET) << 3;
  let end = offset + skb.tail - nh - ihl;
  const bad = SkbDropReason.IP_INHDR;

  // RFC 791 (3.1) Total Length: "This field allows the length of a datagram to be up to 65,535
  // octets." A fragment reaching beyond that can never be part of a valid datagram.
  if (end + ihl > IP_MAX_LEN) return ipqDiscard(ns, q, skb, bad);
  if ((fo & IP_MF) === 0) {
    // The final fragment: "If we already have some bits beyond end or have different end, the
    // segment is corrupted."
    if (end < q.len || ((q.flags & LAST_IN) !== 0 && end !== q.len))
      return ipqDiscard(ns, q, skb, bad);
    q.flags |= LAST_IN;
    q.len = end;
  } else {
    // RFC 791 (3.2): "If an internet datagram is fragmented, its data portion must be broken on
    // 8 octet boundaries." Like Linux, a non-final fragment whose length is not a multiple of 8
    // is cut down to the boundary rather than refused.
    end &= ~7;
    if (end > q.len) {
      // "Some bits beyond end -> corruption."
      if ((q.flags & LAST_IN) !== 0) return ipqDiscard(ns, q, skb, bad);
      q.len = end;
    }
  }
  if (end === offset) return ipqDiscard(ns, q, skb, bad);

  skb.trim(ihl + end - offset);
  const entry: IpFragEntry = { skb, offset, end, truesize: skb.end + SKB_TRUESIZE_OVERHEAD };
  const ins = fragInsert(q, entry);
  if (ins === IPFRAG_DUP) {
    kfreeSkb(skb, SkbDropReason.DUP_FRAG, net);
    return null;
  }
  if (ins === IPFRAG_OVERLAP) return ipqDiscard(ns, q, skb, SkbDropReason.DUP_FRAG);

  q.meat += end - offset;
  q.ecn |= 1 << (ipTos(b, nh) & 3);
  q.mem += entry.truesize;
  st.mem += entry.truesize;
  if (offset === 0) q.flags |= FIRST_IN;
  const fragsize = skb.len;
  if (fragsize > q.maxSize) q.maxSize = fragsize;
  if ((fo & IP_DF) !== 0 && fragsize > q.maxDfSize) q.maxDfSize = fragsize;

  if (q.flags === (FIRST_IN | LAST_IN) && q.meat === q.len) return ipFragReasm(ns, q, skb);

  // Most recently used last.
  st.queues.delete(q.key);
  st.queues.set(q.key, q);
  return null;
}

/**
 * `discard_qp` in `ip_frag_queue`: the datagram can no longer be reassembled. Frees its queued
 * fragments and `skb` with `reason`; a reassembly failure.
 */
function ipqDiscard(ns: NetnsIpv4, q: IpFragQueue, skb: SkBuff, reason: SkbDropReason): null {
  ipqKill(ns, q, reason);
  ns.mib.IpReasmFails++;
  kfreeSkb(skb, reason, ns.net);
  return null;
}

/**
 * `ip_frag_reasm`: builds the datagram from a complete queue: the first fragment's header (with
 * its options), then every payload at its offset, in a fresh linear skb. The fragments are
 * consumed. `skb` is the fragment that completed the datagram; the route is taken from it.
 * @see net/ipv4/ip_fragment.c ip_frag_reasm()
 */
function ipFragReasm(ns: NetnsIpv4, q: IpFragQueue, skb: SkBuff): SkBuff | null {
  const net = ns.net;
  const first = q.frags[0]!.skb;
  const fb = first.head;
  const fnh = first.networkHeader;
  const ihl = ipIhl(fb, fnh) * 4;
  const len = ihl + q.len;
  const ecn = IP_FRAG_ECN_TABLE[q.ecn]!;
  // RFC 791 (3.1): "This field allows the length of a datagram to be up to 65,535 octets."
  // The first fragment's header may be longer than the others' (Linux: "Oversized IP packet").
  if (len > IP_MAX_LEN || ecn === 0xff) {
    ipqKill(ns, q, SkbDropReason.IP_INHDR);
    ns.mib.IpReasmFails++;
    return null;
  }
  const whole = new SkBuff(new Uint8Array(NET_SKB_PAD + len));
  whole.reserve(NET_SKB_PAD);
  const o = whole.put(len);
  const b = whole.head;
  b.set(fb.subarray(fnh, fnh + ihl), o);
  let allUnnecessary = true;
  for (const f of q.frags) {
    const fs = f.skb;
    const p = fs.networkHeader + ipIhl(fs.head, fs.networkHeader) * 4;
    b.set(fs.head.subarray(p, p + (f.end - f.offset)), o + ihl + f.offset);
    if (fs.ipSummed !== CHECKSUM_UNNECESSARY) allUnnecessary = false;
  }
  whole.resetNetworkHeader();
  whole.transportHeader = o + ihl;
  setIpTotLen(b, o, len);
  setIpTos(b, o, ipTos(b, o) | ecn);
  // "We only set DF/IPSKB_FRAG_PMTU if such DF fragment was the largest frag seen to avoid
  // sending tiny DF-fragments in case skb was built from one very small df-fragment and one
  // large non-df frag."
  setIpFragOff(b, o, q.maxDfSize === q.maxSize ? IP_DF : 0);
  ipSendCheck(b, o);

  whole.protocol = first.protocol;
  whole.pktType = first.pktType;
  whole.dev = first.dev;
  whole.skbIif = first.skbIif;
  whole.mark = first.mark;
  whole.priority = first.priority;
  whole.tstamp = first.tstamp;
  whole.dst = skb.dst;
  whole.ipSummed = allUnnecessary ? CHECKSUM_UNNECESSARY : CHECKSUM_NONE;

  ipqUnlink(ns, q);
  ns.frags.mem -= q.mem;
  q.mem = 0;
  for (const f of q.frags) consumeSkb(f.skb, net);
  q.frags.length = 0;
  ns.mib.IpReasmOKs++;
  return whole;
}

// --- fragmentation ------------------------------------------------------------------------

/**
 * RFC 791 (3.1): "The option-type octet is viewed as having 3 fields: 1 bit copied flag, 2 bits
 * option class, 5 bits option number."
 */
const IPOPT_COPY = 0x80;
const IPOPT_END = 0;
const IPOPT_NOOP = 1;

/**
 * The options a non-first fragment carries. RFC 791 (3.2): "When fragmentation occurs, some
 * options are copied, but others remain with the first fragment only." (3.1): "The copied flag
 * indicates that this option is copied into all fragments on fragmentation." Padded with zeros to a 32-bit boundary
 * (RFC 791 3.1 Padding: "The internet header padding is used to ensure that the internet header
 * ends on a 32 bit boundary. The padding is zero."). Linux (`ip_options_fragment`) overwrites
 * the others with NOPs in place instead; both are valid. A malformed option ends the copy.
 * @see net/ipv4/ip_options.c ip_options_fragment()
 */
export function ipOptionsFragment(opts: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < opts.length) {
    const t = opts[i]!;
    if (t === IPOPT_END) break;
    if (t === IPOPT_NOOP) {
      i++;
      continue;
    }
    const l = opts[i + 1];
    if (l === undefined || l < 2 || i + l > opts.length) break;
    if ((t & IPOPT_COPY) !== 0) for (let k = 0; k < l; k++) out.push(opts[i + k]!);
    i += l;
  }
  const padded = new Uint8Array((out.length + 3) & ~3);
  padded.set(out);
  return padded;
}

/**
 * `ip_fragment`: sends a datagram bigger than `mtu` as fragments, each through `output`.
 * Takes ownership of `skb` (`data` and `networkHeader` at a complete IP header with total length
 * and checksum set, `dst` and `dev` set). Returns 0 or the first error of `output`; with DF set,
 * -EMSGSIZE.
 *
 * RFC 791 (3.2): "If the Don't Fragment flag (DF) bit is set, then internet fragmentation of
 * this datagram is NOT permitted, although it may be discarded." RFC 1191 (4): "When a router is
 * unable to forward a datagram because it exceeds the MTU of the next-hop network and its Don't
 * Fragment bit is set, the router is required to return an ICMP Destination Unreachable message
 * to the source of the datagram, with the Code indicating 'fragmentation needed and DF set'"
 * and the next-hop MTU. A local sender (`sk` set) learns it from the error instead.
 * @see net/ipv4/ip_output.c ip_fragment()
 */
export const ipFragment = traceable(
  "ip_fragment",
  function ipFragment(
    net: Stack,
    sk: unknown,
    skb: SkBuff,
    mtu: number,
    output: (net: Stack, sk: unknown, skb: SkBuff) => number,
  ): number {
    const ns = ipv4Net(net);
    if ((ipFragOff(skb.head, skb.networkHeader) & IP_DF) !== 0) {
      ns.mib.IpFragFails++;
      if (sk === null || sk === undefined)
        ns.icmpSend(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
      kfreeSkb(skb, SkbDropReason.PKT_TOO_BIG, net);
      return -EMSGSIZE;
    }
    return ipDoFragment(net, sk, skb, mtu, output);
  },
);

/**
 * `ip_do_fragment` (its slow path; buffers here are always linear): copies the header and up
 * to `mtu - hlen` bytes of payload, a multiple of 8 but for the last, into each new fragment.
 * @see net/ipv4/ip_output.c ip_do_fragment(), ip_frag_next()
 */
function ipDoFragment(
  net: Stack,
  sk: unknown,
  skb: SkBuff,
  mtu: number,
  output: (net: Stack, sk: unknown, skb: SkBuff) => number,
): number {
  const ns = ipv4Net(net);
  // "for offloaded checksums cleanup checksum before fragmentation": the transport checksum
  // covers the whole datagram, so it must be complete before the datagram is cut.
  if (skb.ipSummed === CHECKSUM_PARTIAL) skbChecksumHelp(skb);
  const b = skb.head;
  const nh = skb.networkHeader;
  const hlen = ipIhl(b, nh) * 4;
  const restOpts =
    hlen > IPHDR.MIN_LEN
      ? ipOptionsFragment(b.subarray(nh + IPHDR.MIN_LEN, nh + hlen))
      : new Uint8Array(0);
  const restHlen = IPHDR.MIN_LEN + restOpts.length;
  // RFC 791 (3.2): "Every internet module must be able to forward a datagram of 68 octets
  // without further fragmentation. This is because an internet header may be up to 60 octets,
  // and the minimum fragment is 8 octets." Below that, there is no way to make progress.
  if (mtu < hlen + 8) {
    ns.mib.IpFragFails++;
    kfreeSkb(skb, SkbDropReason.PKT_TOO_BIG, net);
    return -EMSGSIZE;
  }
  const fo = ipFragOff(b, nh);
  // "If we are fragmenting a fragment that's not the last fragment then keep MF on each bit."
  const notLastFrag = (fo & IP_MF) !== 0;
  const startOffset = (fo & IP_OFFSET) << 3;
  let offset = startOffset;
  let ptr = nh + hlen;
  let left = skb.tail - ptr;

  while (left > 0) {
    const isFirst = offset === startOffset;
    const fhlen = isFirst ? hlen : restHlen;
    let len = Math.min(left, mtu - fhlen);
    // "IF: we are not sending up to and including the packet end then align the next start on
    // an eight byte boundary."
    if (len < left) len &= ~7;
    const f = new SkBuff(new Uint8Array(NET_SKB_PAD + fhlen + len));
    f.reserve(NET_SKB_PAD);
    const o = f.put(fhlen + len);
    const fb = f.head;
    if (isFirst) {
      fb.set(b.subarray(nh, nh + hlen), o);
    } else {
      fb.set(b.subarray(nh, nh + IPHDR.MIN_LEN), o);
      fb.set(restOpts, o + IPHDR.MIN_LEN);
      setIpVerIhl(fb, o, fhlen >> 2);
    }
    fb.set(b.subarray(ptr, ptr + len), o + fhlen);
    left -= len;
    setIpFragOff(fb, o, (offset >> 3) | (left > 0 || notLastFrag ? IP_MF : 0));
    setIpTotLen(fb, o, fhlen + len);
    ipSendCheck(fb, o);
    ptr += len;
    offset += len;

    // ip_copy_metadata.
    f.resetNetworkHeader();
    f.transportHeader = o + fhlen;
    f.protocol = skb.protocol;
    f.pktType = skb.pktType;
    f.priority = skb.priority;
    f.skbIif = skb.skbIif;
    f.dst = skb.dst;
    f.dev = skb.dev;
    f.mark = skb.mark;
    f.sk = skb.sk;
    f.tstamp = skb.tstamp;

    const err = output(net, sk, f);
    if (err !== 0) {
      kfreeSkb(skb, SkbDropReason.NOT_SPECIFIED, net);
      ns.mib.IpFragFails++;
      return err;
    }
    ns.mib.IpFragCreates++;
  }
  consumeSkb(skb, net);
  ns.mib.IpFragOKs++;
  return 0;
}
