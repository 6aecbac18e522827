/**
 * ICMP rate limiting, as Linux does it: a global budget of `icmp_msgs_per_sec` messages with a
 * burst of `icmp_msgs_burst`, and a per-destination token bucket (`inet_peer`) that lets one
 * message through every `icmp_ratelimit` ms with a burst of six. Only the types set in
 * `icmp_ratemask` are limited (by default destination unreachable, source quench, time exceeded
 * and parameter problem), and never "fragmentation needed", which path MTU discovery relies on.
 *
 * Time is the stack's clock in milliseconds (Linux counts jiffies; with HZ=1000 they are the
 * same).
 *
 * RFC 1812 (4.3.2.8): "Routers MUST take steps to limit the rate at which they send ICMP error
 * messages" (with a rate limit settable by the network manager); RFC 1122 (3.2.2) asks the same of
 * hosts for responses to broadcasts.
 * @see net/ipv4/icmp.c icmpv4_mask_allow(), icmp_global_allow(), icmpv4_xrlim_allow(),
 *   net/ipv4/inetpeer.c inet_peer_xrlim_allow()
 * @packageDocumentation
 */
import { ICMP_TYPE, ICMP_UNREACH, NR_ICMP_TYPES } from "./wire/icmphdr.js";

/** `XRLIM_BURST_FACTOR`: a peer's bucket holds six messages' worth of tokens. */
export const XRLIM_BURST_FACTOR = 6;

/** `HZ / 50`: the global budget is refilled at most every 20 ms. */
const GLOBAL_REFILL_MIN_MS = 20;
/** `HZ`: one second's worth of refill at most. */
const ONE_SECOND_MS = 1000;

/** How many peers are remembered before the oldest are forgotten (inet_peer's GC, simplified). */
const MAX_PEERS = 4096;

/**
 * `icmpv4_mask_allow`: true when a message of `type`/`code` is never rate limited.
 * @see net/ipv4/icmp.c icmpv4_mask_allow()
 */
export function icmpMaskAllow(ratemask: number, type: number, code: number): boolean {
  if (type > NR_ICMP_TYPES) return true;
  // "Don't limit PMTU discovery."
  if (type === ICMP_TYPE.DEST_UNREACH && code === ICMP_UNREACH.FRAG_NEEDED) return true;
  // "Limit if icmp type is enabled in ratemask."
  return ((1 << type) & ratemask) === 0;
}

/**
 * The global budget (`net->ipv4.icmp_global_credit` / `icmp_global_stamp`). Linux spends a random
 * 0, 1 or 2 credits per message ("a credit of one in average"); here every message spends
 * exactly one, so that runs are deterministic.
 */
export class IcmpGlobalLimit {
  /** Credits left; may not go below zero here. */
  credit = 0;
  /** When the budget was last refilled (ms); -Infinity so the first call refills it fully. */
  stamp = Number.NEGATIVE_INFINITY;

  /**
   * `icmp_global_allow`: whether one more message may go now. Refills the budget by
   * `msgsPerSec` per second elapsed (at most one second's worth, at most `burst`) when it is
   * empty and at least 20 ms passed since the last refill.
   * @see net/ipv4/icmp.c icmp_global_allow()
   */
  allow(now: number, msgsPerSec: number, burst: number): boolean {
    if (this.credit > 0) return true;
    const delta = Math.min(now - this.stamp, ONE_SECOND_MS);
    if (delta < GLOBAL_REFILL_MIN_MS) return false;
    const incr = Math.floor((msgsPerSec * delta) / ONE_SECOND_MS);
    if (incr === 0) return false;
    this.stamp = now;
    this.credit = Math.min(this.credit + incr, burst);
    return true;
  }

  /** `icmp_global_consume`: a message went out. */
  consume(): void {
    if (this.credit > 0) this.credit--;
  }
}

/** `struct inet_peer`'s rate-limit state for one destination. */
interface PeerBucket {
  tokens: number;
  last: number;
}

/** The per-destination token buckets (`net->ipv4.peers`). */
export class IcmpPeerLimit {
  private readonly peers = new Map<number, PeerBucket>();

  /**
   * `inet_peer_xrlim_allow`: whether one more message to `daddr` may go now, with one token
   * earned per ms and `timeoutMs` tokens spent per message, up to six messages' worth banked.
   * A new peer starts full ("60*HZ is arbitrary, but chosen enough high so that the first
   * calculation of tokens is at its maximum").
   * @see net/ipv4/inetpeer.c inet_peer_xrlim_allow(), inet_getpeer()
   */
  allow(daddr: number, now: number, timeoutMs: number): boolean {
    let p = this.peers.get(daddr);
    if (p === undefined) {
      if (this.peers.size >= MAX_PEERS) this.peers.delete(this.peers.keys().next().value!);
      p = { tokens: 0, last: now - 60 * ONE_SECOND_MS };
      this.peers.set(daddr, p);
    }
    let token = p.tokens + (now - p.last);
    p.last = now;
    if (token > XRLIM_BURST_FACTOR * timeoutMs) token = XRLIM_BURST_FACTOR * timeoutMs;
    let rc = false;
    if (token >= timeoutMs) {
      token -= timeoutMs;
      rc = true;
    }
    p.tokens = token;
    return rc;
  }

  /** Forgets every peer. */
  clear(): void {
    this.peers.clear();
  }
}
