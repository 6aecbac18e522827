/**
 * Set lookups that stay fast with many elements: single values in a `Set<number>` (O(1)),
 * ranges and prefixes merged into sorted, disjoint intervals searched by bisection
 * (O(log n)). A named set is one object the compiled rules hold; adding or deleting elements
 * rebuilds its tables and swaps them in, so a lookup sees the old or the new contents.
 * @see net/netfilter/nft_set_hash.c, nft_set_rbtree.c (the kernel's equivalents)
 * @packageDocumentation
 */
import type { Elem, SetType } from "../nft/ast.js";
import { sortElems } from "../nft/values.js";

/** The lookup tables of a set's elements. */
export class ElemSet {
  private exact = new Set<number>();
  /** Starts and ends of the merged intervals, sorted. */
  private los: Float64Array = new Float64Array(0);
  private his: Float64Array = new Float64Array(0);
  /** The elements as given (sorted), for listing. */
  private elems: Elem[] = [];

  constructor(
    readonly name: string,
    readonly type: SetType | "anonymous",
    readonly interval: boolean,
    elements: readonly Elem[],
  ) {
    this.rebuild(sortElems(elements));
  }

  /** Whether `v` is in the set. */
  has(v: number): boolean {
    if (this.exact.has(v)) return true;
    const los = this.los;
    let lo = 0;
    let hi = los.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (los[mid]! <= v) lo = mid + 1;
      else hi = mid - 1;
    }
    // `hi` is the last interval starting at or below v.
    return hi >= 0 && v <= this.his[hi]!;
  }

  /** The elements, sorted. */
  elements(): readonly Elem[] {
    return this.elems;
  }

  get size(): number {
    return this.elems.length;
  }

  /** Adds elements (already there: no change). */
  add(elements: readonly Elem[]): void {
    const key = (e: Elem): string => `${e.lo}-${e.hi}`;
    const have = new Set(this.elems.map(key));
    const added = elements.filter((e) => !have.has(key(e)));
    if (added.length > 0) this.rebuild(sortElems([...this.elems, ...added]));
  }

  /** Deletes elements; returns those that were not in the set. */
  delete(elements: readonly Elem[]): Elem[] {
    const drop = new Set(elements.map((e) => `${e.lo}-${e.hi}`));
    const kept = this.elems.filter((e) => !drop.has(`${e.lo}-${e.hi}`));
    const have = new Set(this.elems.map((e) => `${e.lo}-${e.hi}`));
    const missing = elements.filter((e) => !have.has(`${e.lo}-${e.hi}`));
    this.rebuild(kept);
    return missing;
  }

  private rebuild(sorted: Elem[]): void {
    const exact = new Set<number>();
    const los: number[] = [];
    const his: number[] = [];
    for (const e of sorted) {
      if (e.lo === e.hi) {
        exact.add(e.lo);
        continue;
      }
      const last = his.length - 1;
      if (last >= 0 && e.lo <= his[last]! + 1) {
        if (e.hi > his[last]!) his[last] = e.hi;
      } else {
        los.push(e.lo);
        his.push(e.hi);
      }
    }
    // One swap: a lookup sees the old tables or the new ones.
    this.exact = exact;
    this.los = Float64Array.from(los);
    this.his = Float64Array.from(his);
    this.elems = sorted;
  }
}
