/**
 * The Forwarding Information Base: Linux's `local` and `main` tables with longest-prefix match.
 * Lookups try every prefix length present, longest first, with one hash lookup each, so a
 * lookup costs at most 33 map reads whatever the number of routes.
 * @see net/ipv4/fib_frontend.c, net/ipv4/fib_trie.c
 * @packageDocumentation
 */
import { inetMakeMask, type NetDevice } from "@skbuff/core";

/** Route types (`RTN_*`). */
export const RTN = {
  UNICAST: 1,
  LOCAL: 2,
  BROADCAST: 3,
  BLACKHOLE: 6,
  UNREACHABLE: 7,
  PROHIBIT: 8,
} as const;
/** One of {@link RTN}. */
export type RtnType = (typeof RTN)[keyof typeof RTN];

/** Route scopes (`RT_SCOPE_*`): how far the destination is. */
export const RT_SCOPE = { UNIVERSE: 0, LINK: 253, HOST: 254 } as const;

/** Where a route came from (`RTPROT_*`). */
export type RouteProto = "kernel" | "boot" | "static";

/** One route (`struct fib_alias` + `fib_info` + one nexthop). */
export interface FibEntry {
  readonly table: "local" | "main";
  /** Network address (masked), u32. */
  readonly dst: number;
  readonly prefixLen: number;
  readonly type: RtnType;
  readonly scope: number;
  /** Output device; null for blackhole/unreachable/prohibit. */
  readonly dev: NetDevice | null;
  /** Gateway (u32), 0 for directly connected. */
  readonly gateway: number;
  /** Preferred source address (u32), 0 for none. */
  readonly prefsrc: number;
  readonly metric: number;
  readonly proto: RouteProto;
  /**
   * @internal cached route objects, made on first use (the nexthop's dst cache); stale once
   * the FIB's generation moved on.
   */
  cache: unknown;
}

/** One routing table (`struct fib_table`). */
/** One routing table (`local` or `main`): prefixes by length, longest first. */
export class FibTable {
  /** byLen[len]: masked prefix → entries by ascending metric. */
  private readonly byLen: Map<number, FibEntry[]>[] = Array.from({ length: 33 }, () => new Map());
  /** Prefix lengths that have routes, longest first. */
  private lens: number[] = [];

  insert(e: FibEntry): void {
    const m = this.byLen[e.prefixLen]!;
    const list = m.get(e.dst) ?? [];
    list.push(e);
    list.sort((a, b) => a.metric - b.metric);
    m.set(e.dst, list);
    this.refreshLens();
  }

  remove(pred: (e: FibEntry) => boolean): FibEntry[] {
    const removed: FibEntry[] = [];
    for (const m of this.byLen) {
      for (const [k, list] of m) {
        const keep = list.filter((e) => {
          if (pred(e)) {
            removed.push(e);
            return false;
          }
          return true;
        });
        if (keep.length) m.set(k, keep);
        else m.delete(k);
      }
    }
    this.refreshLens();
    return removed;
  }

  private refreshLens(): void {
    this.lens = [];
    for (let len = 32; len >= 0; len--) if (this.byLen[len]!.size > 0) this.lens.push(len);
  }

  /**
   * Whether the last {@link FibTable.lookup} passed over a matching entry (its device down, or
   * not the interface asked for): its answer then depends on device state, not only on routes.
   */
  skipped = false;

  lookup(daddr: number, oif: number): FibEntry | null {
    const lens = this.lens;
    this.skipped = false;
    for (let i = 0; i < lens.length; i++) {
      const len = lens[i]!;
      const list = this.byLen[len]!.get(len === 0 ? 0 : (daddr & MASKS[len]!) >>> 0);
      if (list === undefined) continue;
      for (let j = 0; j < list.length; j++) {
        const e = list[j]!;
        // A nexthop on a device that is down is dead (RTNH_F_DEAD): skip it.
        if (
          (e.dev !== null && !e.dev.isUp) ||
          (oif !== 0 && e.dev !== null && e.dev.ifindex !== oif && e.type !== RTN.LOCAL)
        ) {
          this.skipped = true;
          continue;
        }
        return e;
      }
    }
    return null;
  }

  /** The entries for exactly `dst/prefixLen`, by ascending metric (`fib_find_alias`). */
  exact(dst: number, prefixLen: number): readonly FibEntry[] {
    return this.byLen[prefixLen]?.get((dst & MASKS[prefixLen]!) >>> 0) ?? [];
  }

  all(): FibEntry[] {
    const out: FibEntry[] = [];
    for (let len = 32; len >= 0; len--)
      for (const list of this.byLen[len]!.values()) out.push(...list);
    return out;
  }
}

const MASKS = Array.from({ length: 33 }, (_, len) => inetMakeMask(len));

/** The routing tables of one stack. */
export class Fib {
  readonly local = new FibTable();
  readonly main = new FibTable();
  /** Bumped on every change; route caches compare it to know they are stale. */
  genid = 0;

  /** Adds a route. */
  add(e: Omit<FibEntry, "cache">): FibEntry {
    const entry: FibEntry = { ...e, dst: (e.dst & MASKS[e.prefixLen]!) >>> 0, cache: null };
    (entry.table === "local" ? this.local : this.main).insert(entry);
    this.changed();
    return entry;
  }

  /** Removes the routes that match; returns them. */
  remove(pred: (e: FibEntry) => boolean): FibEntry[] {
    const r = [...this.local.remove(pred), ...this.main.remove(pred)];
    if (r.length) this.changed();
    return r;
  }

  /**
   * A change invalidates every cached route (`rt_genid_bump_ipv4`): caches compare their
   * generation with {@link Fib.genid} when read, so a change costs O(1), not a walk of every
   * route (adding n routes stays O(n)).
   */
  private changed(): void {
    this.genid++;
  }

  /**
   * `fib_lookup`: the local table first, then main. `oif` restricts to routes through that
   * device (0: any).
   */
  lookup(daddr: number, oif = 0): FibEntry | null {
    // Packets of one flow in a row ask the same question: the last answer stands while no
    // route changed (genid) and its device is still up, provided the lookup that found it
    // passed over no matching entry (whose device might have come up since).
    if (daddr === this.lastDaddr && oif === this.lastOif && this.genid === this.lastGenid) {
      const e = this.lastEntry;
      if (e !== null && (e.dev === null || e.dev.isUp)) return e;
    }
    const local = this.local;
    const main = this.main;
    let e = local.lookup(daddr, oif);
    let skipped = local.skipped;
    if (e === null) {
      e = main.lookup(daddr, oif);
      skipped ||= main.skipped;
    }
    if (e !== null && !skipped) {
      this.lastDaddr = daddr;
      this.lastOif = oif;
      this.lastGenid = this.genid;
      this.lastEntry = e;
    } else {
      this.lastGenid = -1;
    }
    return e;
  }

  /** The one-entry lookup cache of {@link Fib.lookup}: valid while `lastGenid === genid`. */
  private lastDaddr = 0;
  private lastOif = 0;
  private lastGenid = -1;
  private lastEntry: FibEntry | null = null;

  /** Every route, local table then main, longest prefix first. */
  routes(): FibEntry[] {
    return [...this.local.all(), ...this.main.all()];
  }
}
