/**
 * The connection table of one stack (`net->ct` and the global hash): a `Map` from each
 * direction's tuple to its connection, the entry count, early drop when full, lazy expiry on
 * lookup and one garbage-collection timer for the whole table.
 * @see net/netfilter/nf_conntrack_core.c
 * @packageDocumentation
 */
import type { Stack, Timer } from "@skbuff/core";
import { IPS, type NfConn } from "./nf_conn.js";
import { type IpCtDir, type NfConntrackTuple, tupleKey } from "./tuple.js";

/** `struct nf_conntrack_tuple_hash`: one direction of a connection, as the table holds it. */
export interface NfConntrackTupleHash {
  readonly ct: NfConn;
  readonly dir: IpCtDir;
}

/**
 * Entries the early-drop scan looks at, oldest first. Linux looks at up to 8 entries per
 * bucket in a few buckets (`NF_CT_EVICTION_RANGE`); here the oldest 64 entries are scanned.
 */
export const NF_CT_EVICTION_RANGE = 64;

/** The GC timer never fires more often than this (ms), whatever the earliest expiry. */
export const GC_MIN_INTERVAL_MS = 1000;

/** The connection table of one stack. */
export class NfConntrackTable {
  private readonly hash = new Map<string, NfConntrackTupleHash>();
  /** Confirmed connections, oldest first (insertion order). */
  private readonly conns = new Set<NfConn>();
  private readonly gcTimer: Timer;
  private lastGc = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly net: Stack,
    /** Called for each connection removed (by expiry, eviction or kill). */
    private readonly onDestroy: (ct: NfConn) => void = () => {},
  ) {
    this.gcTimer = net.createTimer(() => this.gc());
  }

  /** `nf_conntrack_count`: connections in the table. */
  get count(): number {
    return this.conns.size;
  }

  /** Whether `ct` has expired (`nf_ct_is_expired`). */
  isExpired(ct: NfConn): boolean {
    return ct.timeout <= this.net.clock.now();
  }

  /**
   * `__nf_conntrack_find_get`: the live connection one of whose tuples is `t`, and which
   * direction that is. An expired connection met on the way is removed (`nf_ct_gc_expired`).
   */
  find(t: NfConntrackTuple): NfConntrackTupleHash | null {
    const h = this.hash.get(tupleKey(t));
    if (h === undefined) return null;
    if (this.isExpired(h.ct)) {
      this.delete(h.ct);
      return null;
    }
    return h;
  }

  /** `nf_conntrack_tuple_taken`: whether a live connection other than `ignored` uses `t`. */
  taken(t: NfConntrackTuple, ignored: NfConn): boolean {
    const h = this.find(t);
    return h !== null && h.ct !== ignored;
  }

  /**
   * `__nf_conntrack_hash_insert`: adds a connection under both tuples. Returns false (and adds
   * nothing) when either tuple is already in use (the clash `insert_failed` counts).
   */
  insert(ct: NfConn): boolean {
    const ko = tupleKey(ct.tuplehash[0]);
    const kr = tupleKey(ct.tuplehash[1]);
    for (const k of [ko, kr]) {
      const h = this.hash.get(k);
      if (h === undefined) continue;
      if (!this.isExpired(h.ct)) return false;
      this.delete(h.ct);
    }
    this.hash.set(ko, { ct, dir: 0 });
    this.hash.set(kr, { ct, dir: 1 });
    this.conns.add(ct);
    ct.status |= IPS.CONFIRMED;
    this.scheduleGc(ct.timeout);
    return true;
  }

  /** `nf_ct_delete`: removes a connection (idempotent). */
  delete(ct: NfConn): void {
    if (!this.conns.delete(ct)) return;
    ct.status |= IPS.DYING;
    for (const t of ct.tuplehash) {
      const k = tupleKey(t);
      if (this.hash.get(k)?.ct === ct) this.hash.delete(k);
    }
    this.onDestroy(ct);
  }

  /**
   * Sets a connection's expiry (`nf_ct_refresh`: `timeout` ms from now) and makes sure the GC
   * timer fires by then.
   */
  refresh(ct: NfConn, timeoutMs: number): void {
    ct.timeout = this.net.clock.now() + timeoutMs;
    if (ct.confirmed) this.scheduleGc(ct.timeout);
  }

  /**
   * `early_drop`: frees room by removing an expired or unassured connection among the oldest
   * {@link NF_CT_EVICTION_RANGE}. Returns whether one went, and whether it was an eviction of
   * a live connection (`early_drop` counts those).
   */
  earlyDrop(): "expired" | "evicted" | null {
    let i = 0;
    for (const ct of this.conns) {
      if (i++ >= NF_CT_EVICTION_RANGE) break;
      if (this.isExpired(ct)) {
        this.delete(ct);
        return "expired";
      }
      if ((ct.status & IPS.ASSURED) === 0) {
        this.delete(ct);
        return "evicted";
      }
    }
    return null;
  }

  /** Every live connection, oldest first. */
  list(): NfConn[] {
    return [...this.conns].filter((ct) => !this.isExpired(ct));
  }

  /** `nf_ct_iterate_cleanup`: removes every connection `kill` says to. */
  cleanup(kill: (ct: NfConn) => boolean): number {
    let n = 0;
    for (const ct of [...this.conns]) {
      if (kill(ct)) {
        this.delete(ct);
        n++;
      }
    }
    return n;
  }

  /** Stops the GC timer and empties the table (the namespace goes away). */
  destroy(): void {
    this.net.deleteTimer(this.gcTimer);
    for (const ct of [...this.conns]) this.delete(ct);
  }

  private scheduleGc(at: number): void {
    const when = Math.max(at, this.lastGc + GC_MIN_INTERVAL_MS);
    const t = this.gcTimer;
    if (!t.pending || when < t.expires) t.armAt(when);
  }

  /**
   * `gc_worker`: removes expired connections and re-arms for the earliest expiry left. One
   * timer for the whole table, not one per connection.
   */
  private gc(): void {
    const now = this.net.clock.now();
    this.lastGc = now;
    let next = Number.POSITIVE_INFINITY;
    for (const ct of [...this.conns]) {
      if (ct.timeout <= now) this.delete(ct);
      else if (ct.timeout < next) next = ct.timeout;
    }
    if (next !== Number.POSITIVE_INFINITY) this.scheduleGc(next);
  }
}
