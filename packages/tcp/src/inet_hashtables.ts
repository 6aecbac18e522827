/**
 * The socket tables of one stack: the established hash (4-tuple → connection, request sock or
 * TIME_WAIT sock), the listening hash (port → listeners) and the bind hash (port → every sock
 * bound to it), with ephemeral port allocation.
 * @see net/ipv4/inet_hashtables.c, net/ipv4/inet_connection_sock.c inet_csk_get_port()
 * @packageDocumentation
 */
import { ERRNO, type SockCommon } from "@skbuff/core";
import { TCP_LISTEN, TCP_TIME_WAIT } from "./tcp_states.js";

/** `inet_ehashfn` key: local address/port, remote address/port. */
export function ehashKey(laddr: number, lport: number, raddr: number, rport: number): string {
  return `${laddr >>> 0}:${lport}:${raddr >>> 0}:${rport}`;
}

/** `struct inet_hashinfo`. */
export class InetHashinfo {
  /** Established, request (NEW_SYN_RECV) and TIME_WAIT socks by 4-tuple. */
  readonly ehash = new Map<string, SockCommon>();
  /** Listeners by port. */
  readonly lhash = new Map<number, SockCommon[]>();
  /** Every sock bound to a port (`inet_bind_bucket`). */
  readonly bhash = new Map<number, Set<SockCommon>>();
  /** Next ephemeral port offset (`table_perturb`). */
  private portHint = 0;

  /** `__inet_lookup_established`. */
  lookupEstablished(
    laddr: number,
    lport: number,
    raddr: number,
    rport: number,
  ): SockCommon | undefined {
    return this.ehash.get(ehashKey(laddr, lport, raddr, rport));
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
    this.ehash.set(ehashKey(sk.rcvSaddr, sk.num, sk.daddr, sk.dport), sk);
  }

  /** Removes `sk` from the established hash (only if it is the one stored). */
  ehashRemove(sk: SockCommon): void {
    const key = ehashKey(sk.rcvSaddr, sk.num, sk.daddr, sk.dport);
    if (this.ehash.get(key) === sk) this.ehash.delete(key);
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

  /** Puts `sk` in the bind bucket of `port` (`inet_bind_hash`). */
  bindHash(sk: SockCommon, port: number): void {
    sk.num = port;
    let set = this.bhash.get(port);
    if (!set) {
      set = new Set();
      this.bhash.set(port, set);
    }
    set.add(sk);
  }

  /** `inet_put_port`. */
  bindUnhash(sk: SockCommon): void {
    const set = this.bhash.get(sk.num);
    if (!set) return;
    set.delete(sk);
    if (set.size === 0) this.bhash.delete(sk.num);
  }

  /**
   * `inet_csk_bind_conflict`: whether `sk` may not share `port`. Two socks on one port conflict
   * when their addresses overlap (equal, or either is INADDR_ANY) unless both set SO_REUSEADDR
   * and the other is not listening. A TIME_WAIT sock conflicts only without SO_REUSEADDR.
   */
  bindConflict(sk: SockCommon, port: number): boolean {
    const set = this.bhash.get(port);
    if (!set) return false;
    for (const sk2 of set) {
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
    for (const sk2 of this.bhash.get(sk.num) ?? []) {
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
      const p = low + ((this.portHint + i) % n);
      if (this.bhash.has(p)) continue;
      this.portHint = (this.portHint + i + 1) % n;
      this.bindHash(sk, p);
      return 0;
    }
    return -ERRNO.EADDRINUSE;
  }

  /** Seeds where the ephemeral port search starts. */
  perturb(seed: number): void {
    this.portHint = seed >>> 0;
  }
}
