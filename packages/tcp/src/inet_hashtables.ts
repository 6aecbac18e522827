/**
 * The socket tables of one stack: the established hash (4-tuple → connection, request sock or
 * TIME_WAIT sock), the listening hash (port → listeners) and the bind hash (port → every sock
 * bound to it), with ephemeral port allocation.
 * @see net/ipv4/inet_hashtables.c, net/ipv4/inet_connection_sock.c inet_csk_get_port()
 * @packageDocumentation
 */
import { ERRNO, type SockCommon } from "@skbuff/core";
import { TCP_LISTEN, TCP_TIME_WAIT } from "./tcp_states.js";

/**
 * `inet_ehashfn`: a 32-bit hash of a 4-tuple keyed by `secret` (murmur3-style mixing; addresses
 * may be given as u32 or as int32, both hash alike). As Linux keys it with `inet_ehash_secret`,
 * the stack keys it with its per-stack secret, so that a peer cannot pick ports that all land in
 * one bucket; one seed gives one layout, so a seeded stack still runs the same every time.
 */
export function inetEhashfn(
  laddr: number,
  lport: number,
  raddr: number,
  rport: number,
  secret = 0,
): number {
  let h = Math.imul(laddr ^ secret ^ 0x9e3779b9, 0xcc9e2d51);
  h = Math.imul((h << 15) | (h >>> 17), 0x1b873593) ^ raddr;
  h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  h ^= (lport << 16) | rport;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Buckets the established hash starts with (a power of two); it doubles as it fills. */
const EHASH_MIN_BUCKETS = 64;

/**
 * The established hash (`inet_hashinfo.ehash`): an array of buckets, each a chain of socks
 * linked through {@link SockCommon.ehashNext}, as Linux chains them through `skc_nulls_node`.
 * Entries cost no allocation; a lookup computes one number and walks one short chain. The table
 * doubles when it holds more socks than buckets.
 */
export class InetEhash {
  private buckets: (SockCommon | null)[] = new Array(EHASH_MIN_BUCKETS).fill(null);
  private mask = EHASH_MIN_BUCKETS - 1;
  private count = 0;
  /** The hash key (`inet_ehash_secret`); set while the table is empty. */
  private secret = 0;

  /** Keys the hash with `secret`; only an empty table can be rekeyed. */
  setSecret(secret: number): void {
    if (this.count === 0) this.secret = secret | 0;
  }

  /** Socks in the table. */
  get size(): number {
    return this.count;
  }

  /** The sock bound to this 4-tuple, if any (`__inet_lookup_established`). */
  lookup(laddr: number, lport: number, raddr: number, rport: number): SockCommon | undefined {
    const h = inetEhashfn(laddr, lport, raddr, rport, this.secret);
    let sk = this.buckets[h & this.mask] ?? null;
    while (sk !== null) {
      if (
        ((sk.rcvSaddr ^ laddr) | (sk.daddr ^ raddr)) === 0 &&
        sk.num === lport &&
        sk.dport === rport
      ) {
        return sk;
      }
      sk = sk.ehashNext;
    }
    return undefined;
  }

  /** Adds `sk` under its 4-tuple, replacing any sock already there (`inet_ehash_insert`). */
  insert(sk: SockCommon): void {
    const old = this.lookup(sk.rcvSaddr, sk.num, sk.daddr, sk.dport);
    if (old !== undefined) this.remove(old);
    if (this.count >= this.buckets.length) this.grow();
    const i = this.bucketOf(sk);
    sk.ehashNext = this.buckets[i] ?? null;
    this.buckets[i] = sk;
    this.count++;
  }

  /** Removes `sk` if it is the sock stored under its 4-tuple; returns whether it was. */
  remove(sk: SockCommon): boolean {
    const i = this.bucketOf(sk);
    let prev: SockCommon | null = null;
    for (let s = this.buckets[i] ?? null; s !== null; prev = s, s = s.ehashNext) {
      if (s !== sk) continue;
      if (prev === null) this.buckets[i] = sk.ehashNext;
      else prev.ehashNext = sk.ehashNext;
      sk.ehashNext = null;
      this.count--;
      return true;
    }
    return false;
  }

  /** Every sock in the table (read ahead: the loop may remove the sock it is given). */
  *values(): Generator<SockCommon, void, undefined> {
    for (const head of this.buckets) {
      for (let sk = head; sk !== null; ) {
        const next: SockCommon | null = sk.ehashNext;
        yield sk;
        sk = next;
      }
    }
  }

  private bucketOf(sk: SockCommon): number {
    return inetEhashfn(sk.rcvSaddr, sk.num, sk.daddr, sk.dport, this.secret) & this.mask;
  }

  /** Doubles the buckets and re-chains every sock. */
  private grow(): void {
    const old = this.buckets;
    this.buckets = new Array(old.length * 2).fill(null);
    this.mask = this.buckets.length - 1;
    for (const head of old) {
      for (let sk = head; sk !== null; ) {
        const next: SockCommon | null = sk.ehashNext;
        const i = this.bucketOf(sk);
        sk.ehashNext = this.buckets[i] ?? null;
        this.buckets[i] = sk;
        sk = next;
      }
    }
  }
}

/** `struct inet_hashinfo`. */
export class InetHashinfo {
  /** Established, request (NEW_SYN_RECV) and TIME_WAIT socks by 4-tuple. */
  readonly ehash = new InetEhash();
  /** Listeners by port. */
  readonly lhash = new Map<number, SockCommon[]>();
  /**
   * Bind buckets (`inet_bind_bucket`): per port, the first of the socks bound to it, the rest
   * chained through {@link SockCommon.bindNext} / {@link SockCommon.bindPrev}.
   */
  readonly bhash = new Map<number, SockCommon>();
  /** Next ephemeral port offset (`table_perturb`). */
  private portHint = 0;

  /** `__inet_lookup_established`. */
  lookupEstablished(
    laddr: number,
    lport: number,
    raddr: number,
    rport: number,
  ): SockCommon | undefined {
    return this.ehash.lookup(laddr, lport, raddr, rport);
  }

  /**
   * `__inet_lookup_listener`: a listener on `lport` bound to `laddr` wins over one bound to
   * INADDR_ANY (`compute_score`).
   */
  lookupListener(laddr: number, lport: number): SockCommon | undefined {
    const list = this.lhash.get(lport);
    if (!list) return undefined;
    let any: SockCommon | undefined;
    for (const sk of list) {
      if (sk.rcvSaddr === laddr) return sk;
      if (sk.rcvSaddr === 0) any ??= sk;
    }
    return any;
  }

  /** `inet_ehash_insert`. */
  ehashInsert(sk: SockCommon): void {
    this.ehash.insert(sk);
  }

  /** Removes `sk` from the established hash (only if it is the one stored). */
  ehashRemove(sk: SockCommon): void {
    this.ehash.remove(sk);
  }

  /** `inet_csk_listen_start` → `__inet_hash`. */
  listenHash(sk: SockCommon): void {
    const list = this.lhash.get(sk.num) ?? [];
    if (!list.includes(sk)) list.push(sk);
    this.lhash.set(sk.num, list);
  }

  listenUnhash(sk: SockCommon): void {
    const list = (this.lhash.get(sk.num) ?? []).filter((s) => s !== sk);
    if (list.length) this.lhash.set(sk.num, list);
    else this.lhash.delete(sk.num);
  }

  /** Puts `sk` in the bind bucket of `port` (`inet_bind_hash`), leaving any other it was in. */
  bindHash(sk: SockCommon, port: number): void {
    if (this.isBound(sk)) {
      if (sk.num === port) return;
      this.bindUnhash(sk);
    }
    const head = this.bhash.get(port) ?? null;
    sk.num = port;
    sk.bindPrev = null;
    sk.bindNext = head;
    if (head !== null) head.bindPrev = sk;
    this.bhash.set(port, sk);
  }

  /** `inet_put_port`. */
  bindUnhash(sk: SockCommon): void {
    if (!this.isBound(sk)) return;
    const { bindPrev: prev, bindNext: next } = sk;
    if (next !== null) next.bindPrev = prev;
    if (prev !== null) prev.bindNext = next;
    else if (next !== null) this.bhash.set(sk.num, next);
    else this.bhash.delete(sk.num);
    sk.bindPrev = sk.bindNext = null;
  }

  /** Whether `sk` is in the bind bucket of its port (`sk->sk_bind_node` hashed). */
  private isBound(sk: SockCommon): boolean {
    return sk.bindPrev !== null || this.bhash.get(sk.num) === sk;
  }

  /** The socks bound to `port`. */
  private *bindBucket(port: number): Generator<SockCommon, void, undefined> {
    for (let sk = this.bhash.get(port) ?? null; sk !== null; ) {
      const next: SockCommon | null = sk.bindNext;
      yield sk;
      sk = next;
    }
  }

  /**
   * `inet_csk_bind_conflict`: whether `sk` may not share `port`. Two socks on one port conflict
   * when their addresses overlap (equal, or either is INADDR_ANY) unless both set SO_REUSEADDR
   * and the other is not listening. A TIME_WAIT sock conflicts only without SO_REUSEADDR.
   */
  bindConflict(sk: SockCommon, port: number): boolean {
    for (const sk2 of this.bindBucket(port)) {
      if (sk2 === sk) continue;
      if (sk.rcvSaddr !== 0 && sk2.rcvSaddr !== 0 && sk.rcvSaddr !== sk2.rcvSaddr) continue;
      if (sk2.state === TCP_TIME_WAIT) {
        if (!sk.reuse) return true;
        continue;
      }
      if (sk.reuse && sk2.reuse && sk2.state !== TCP_LISTEN) continue;
      return true;
    }
    return false;
  }

  /** A second listener on an overlapping address is refused even with SO_REUSEADDR. */
  bindConflictListen(sk: SockCommon): boolean {
    for (const sk2 of this.bindBucket(sk.num)) {
      if (sk2 === sk || sk2.state !== TCP_LISTEN) continue;
      if (sk.rcvSaddr === 0 || sk2.rcvSaddr === 0 || sk.rcvSaddr === sk2.rcvSaddr) return true;
    }
    return false;
  }

  /**
   * `inet_csk_get_port`: binds `sk` to `port`, or to a free ephemeral port from `range` when
   * `port` is 0. Returns 0 or `-EADDRINUSE`.
   */
  getPort(sk: SockCommon, port: number, range: readonly number[]): number {
    if (port !== 0) {
      if (this.bindConflict(sk, port)) return -ERRNO.EADDRINUSE;
      this.bindHash(sk, port);
      return 0;
    }
    const low = range[0] ?? 32768;
    const high = range[1] ?? 60999;
    const n = high - low + 1;
    for (let i = 0; i < n; i++) {
      // `| 0`: the sum may be a double (portHint is a u32); a port stays a small integer.
      const p = (low + ((this.portHint + i) % n)) | 0;
      if (this.bhash.has(p)) continue;
      this.portHint = (this.portHint + i + 1) % n;
      this.bindHash(sk, p);
      return 0;
    }
    return -ERRNO.EADDRINUSE;
  }

  /** Seeds where the ephemeral port search starts, and keys the established hash. */
  perturb(seed: number): void {
    this.portHint = seed >>> 0;
    this.ehash.setSecret(Math.imul(seed, 0x85ebca6b) ^ (seed >>> 13));
  }
}
