import diagnostics_channel from "node:diagnostics_channel";
import { describe, expect, it } from "vitest";
import { consumeSkb, kfreeSkb } from "../src/drop.js";
import { SkbDropReason } from "../src/drop_reason.js";
import {
  allocHead,
  freeHead,
  HEAD_POOL_MAX_BYTES,
  headPoolBytes,
  PAGE_FRAG_MAX,
} from "../src/head_alloc.js";
import { allocSkb, SkBuff } from "../src/skbuff.js";
import { TRACEPOINTS } from "../src/trace.js";

const BIG = 64 * 1024;

/** A big skb whose whole head is written with `byte` (as a sender fills a TSO segment). */
function dirtySkb(size: number, byte: number): SkBuff {
  const skb = allocSkb(size);
  skb.head.fill(byte, skb.put(size));
  return skb;
}

describe("the head allocator", () => {
  it("hands out zeroed heads of exactly the size asked for", () => {
    for (const size of [1, 100, PAGE_FRAG_MAX, PAGE_FRAG_MAX + 1, 9000, BIG, 3 * 1024 * 1024]) {
      const head = allocHead(size);
      expect(head.length).toBe(size);
      expect(head.every((b) => b === 0)).toBe(true);
    }
  });

  it.each([
    ["big", BIG],
    ["slab", 2176],
  ])("reuses the head of a freed %s skb, zeroed, so no old packet byte can leak", (_, size) => {
    const first = dirtySkb(size, 0xa5);
    const { buffer, byteOffset } = first.head;
    consumeSkb(first);
    const again = allocSkb(size);
    expect(again.head.buffer).toBe(buffer);
    expect(again.head.byteOffset).toBe(byteOffset);
    expect(again.head.length).toBe(size);
    expect(again.head.every((b) => b === 0)).toBe(true);
  });

  it("reuses a slab head for a size of the same 64-byte class, zeroed, and no longer", () => {
    const first = dirtySkb(2176, 0x77);
    const { buffer, byteOffset } = first.head;
    consumeSkb(first);
    const head = allocHead(2150);
    expect(head.buffer).toBe(buffer);
    expect(head.byteOffset).toBe(byteOffset);
    expect(head.length).toBe(2150);
    expect(head.every((b) => b === 0)).toBe(true);
  });

  it("does not recycle a slab head that a clone still shares", () => {
    const skb = dirtySkb(1000, 0x44);
    const clone = skb.clone();
    consumeSkb(skb);
    const other = allocSkb(1000);
    expect(
      other.head.buffer === clone.head.buffer && other.head.byteOffset === clone.head.byteOffset,
    ).toBe(false);
    expect(clone.head.every((b) => b === 0x44)).toBe(true);
  });

  it("never takes a slice of a buffer the caller made itself, even of a slab's size", () => {
    const mine = new Uint8Array(32 * 1024);
    const before = headPoolBytes();
    new SkBuff(mine.subarray(64, 64 + 1000)).release();
    expect(headPoolBytes()).toBe(before);
  });

  it("zeroes a recycled head for a smaller head of the same size class as well", () => {
    const first = dirtySkb(BIG, 0x5a);
    const buffer = first.head.buffer;
    first.release();
    const smaller = allocHead(40_000);
    expect(smaller.buffer).toBe(buffer);
    expect(smaller.length).toBe(40_000);
    expect(smaller.every((b) => b === 0)).toBe(true);
    // The bytes past the view, left from the old packet, are not reachable through the skb.
    const skb = new SkBuff(smaller);
    expect(skb.end).toBe(40_000);
  });

  it("does not recycle a head that a clone still shares", () => {
    const skb = dirtySkb(BIG, 0x11);
    const clone = skb.clone();
    consumeSkb(skb);
    const other = allocSkb(BIG);
    expect(other.head.buffer).not.toBe(clone.head.buffer);
    expect(clone.head.every((b) => b === 0x11)).toBe(true);
    // Once the clone goes too, the head is free for reuse.
    const buffer = clone.head.buffer;
    consumeSkb(clone);
    expect(allocSkb(BIG).head.buffer).toBe(buffer);
  });

  it("does not recycle a shared head when one sharer moves to a private copy (cow)", () => {
    const skb = dirtySkb(BIG, 0x22);
    const clone = skb.clone();
    const shared = clone.head;
    expect(skb.cow()).toBe(true);
    expect(skb.freed).toBe(false);
    expect(allocSkb(BIG).head.buffer).not.toBe(shared.buffer);
    expect(shared.every((b) => b === 0x22)).toBe(true);
  });

  it("does not pool a small head that cannot be a slab fragment", () => {
    const before = headPoolBytes();
    const mine = new Uint8Array(64 * 1024);
    freeHead(mine.subarray(1, 1001)); // not on a fragment boundary
    freeHead(mine.subarray(32 * 1024, 32 * 1024 + 1000)); // would end past a slab
    expect(headPoolBytes()).toBe(before);
  });

  it("never takes a buffer the caller made itself", () => {
    const mine = new Uint8Array(BIG);
    const before = headPoolBytes();
    new SkBuff(mine).release();
    expect(headPoolBytes()).toBe(before);
    expect(allocSkb(BIG).head.buffer).not.toBe(mine.buffer);
  });

  it("keeps the head out of the pool when the free was announced to a tracepoint subscriber", () => {
    const seen: SkBuff[] = [];
    const listener = (msg: unknown): void => {
      seen.push((msg as { skb: SkBuff }).skb);
    };
    diagnostics_channel.subscribe(TRACEPOINTS.kfreeSkb, listener);
    try {
      const skb = dirtySkb(BIG, 0x33);
      kfreeSkb(skb, SkbDropReason.NOT_SPECIFIED);
    } finally {
      diagnostics_channel.unsubscribe(TRACEPOINTS.kfreeSkb, listener);
    }
    const kept = seen[0]!;
    expect(allocSkb(BIG).head.buffer).not.toBe(kept.head.buffer);
    expect(kept.head.every((b) => b === 0x33)).toBe(true);
  });

  it("takes a freed head back only once even if an skb is released twice", () => {
    const skb = allocSkb(BIG);
    skb.release();
    const after = headPoolBytes();
    expect(after).toBeGreaterThanOrEqual(BIG);
    skb.release();
    expect(headPoolBytes()).toBe(after);
    const a = allocSkb(BIG);
    const b = allocSkb(BIG);
    expect(a.head.buffer).not.toBe(b.head.buffer);
  });
  it("keeps a shared head out of the pool when a clone's free was announced to a tracepoint subscriber", () => {
    const seen: SkBuff[] = [];
    const listener = (msg: unknown): void => {
      seen.push((msg as { skb: SkBuff }).skb);
    };
    const skb = dirtySkb(BIG, 0x44);
    const clone = skb.clone();
    diagnostics_channel.subscribe(TRACEPOINTS.kfreeSkb, listener);
    try {
      kfreeSkb(clone, SkbDropReason.NOT_SPECIFIED);
    } finally {
      diagnostics_channel.unsubscribe(TRACEPOINTS.kfreeSkb, listener);
    }
    consumeSkb(skb);
    const kept = seen[0]!;
    const next = allocSkb(BIG);
    expect(next.head.buffer).not.toBe(kept.head.buffer);
    expect(kept.head.subarray(kept.data, kept.tail).every((b) => b === 0x44)).toBe(true);
  });

  it("does not recycle a head a clone still shares when the other sharer is released twice", () => {
    const skb = dirtySkb(BIG, 0x55);
    const clone = skb.clone();
    skb.release();
    skb.release();
    const next = allocSkb(BIG);
    expect(next.head.buffer).not.toBe(clone.head.buffer);
    expect(clone.head.subarray(clone.data, clone.tail).every((b) => b === 0x55)).toBe(true);
  });

  it("holds at most HEAD_POOL_MAX_BYTES of freed heads", () => {
    const skbs = Array.from({ length: (2 * HEAD_POOL_MAX_BYTES) / BIG }, () => allocSkb(BIG));
    for (const skb of skbs) consumeSkb(skb);
    const small = Array.from({ length: 1000 }, () => allocSkb(2000));
    for (const skb of small) consumeSkb(skb);
    // Big heads up to HEAD_POOL_MAX_BYTES, slab heads up to 512 KiB.
    expect(headPoolBytes()).toBeLessThanOrEqual(HEAD_POOL_MAX_BYTES + 512 * 1024);
    expect(headPoolBytes()).toBeGreaterThan(HEAD_POOL_MAX_BYTES - BIG * 2);
  });
});
