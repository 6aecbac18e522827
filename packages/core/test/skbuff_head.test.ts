import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allocSkb, type SkBuff } from "../src/skbuff.js";
import { SkBuffHead } from "../src/skbuff_head.js";

/** n distinct skbs, each tagged with its index in `mark`. */
const skbs = (n: number): SkBuff[] =>
  Array.from({ length: n }, (_, i) => {
    const skb = allocSkb(0);
    skb.mark = i;
    return skb;
  });

const marks = (q: SkBuffHead): number[] => [...q].map((skb) => skb.mark);

function queueOf(list: SkBuff[]): SkBuffHead {
  const q = new SkBuffHead();
  for (const skb of list) q.queueTail(skb);
  return q;
}

/** Whether two lists hold the same skbs (by identity) in the same order. */
const sameSkbs = (a: SkBuff[], b: SkBuff[]): boolean =>
  a.length === b.length && a.every((skb, i) => skb === b[i]);

/** Walks the links both ways and checks they agree with each other and with qlen. */
function expectConsistent(q: SkBuffHead): void {
  const forward: SkBuff[] = [];
  for (let skb = q.peek(); skb !== null; skb = skb.next) forward.push(skb);
  const backward: SkBuff[] = [];
  for (let skb = q.peekTail(); skb !== null; skb = skb.prev) backward.push(skb);
  expect(sameSkbs(backward.reverse(), forward)).toBe(true);
  expect(forward.length).toBe(q.qlen);
  expect(q.isEmpty()).toBe(q.qlen === 0);
}

describe("SkBuffHead", () => {
  it("starts empty", () => {
    const q = new SkBuffHead();
    expect(q.qlen).toBe(0);
    expect(q.isEmpty()).toBe(true);
    expect([q.peek(), q.peekTail(), q.dequeue(), q.dequeueTail()]).toEqual([
      null,
      null,
      null,
      null,
    ]);
    expect([...q]).toEqual([]);
  });

  it("queueTail and dequeue are first in, first out", () => {
    const q = queueOf(skbs(3));
    expect(q.qlen).toBe(3);
    expect(q.dequeue()?.mark).toBe(0);
    expect(q.dequeue()?.mark).toBe(1);
    expect(q.dequeue()?.mark).toBe(2);
    expect(q.dequeue()).toBeNull();
    expect(q.qlen).toBe(0);
  });

  it("queueHead puts an skb in front", () => {
    const [a, b] = skbs(2);
    const q = new SkBuffHead();
    q.queueTail(a!);
    q.queueHead(b!);
    expect(marks(q)).toEqual([1, 0]);
    expectConsistent(q);
  });

  it("dequeueTail takes from the back", () => {
    const q = queueOf(skbs(3));
    expect(q.dequeueTail()?.mark).toBe(2);
    expect(marks(q)).toEqual([0, 1]);
    expectConsistent(q);
  });

  it("peek and peekTail look without removing", () => {
    const q = queueOf(skbs(3));
    expect(q.peek()?.mark).toBe(0);
    expect(q.peekTail()?.mark).toBe(2);
    expect(q.qlen).toBe(3);
  });

  it("links queued skbs through next and prev, and clears them when taken off", () => {
    const [a, b] = skbs(2) as [SkBuff, SkBuff];
    const q = queueOf([a, b]);
    expect(a.prev).toBeNull();
    expect(a.next).toBe(b);
    expect(b.prev).toBe(a);
    expect(b.next).toBeNull();
    q.dequeue();
    expect([a.prev, a.next]).toEqual([null, null]);
    expect(b.prev).toBeNull();
  });

  it("unlink removes an skb from the middle, the head or the tail", () => {
    const list = skbs(5);
    const q = queueOf(list);
    q.unlink(list[2]!);
    expect(marks(q)).toEqual([0, 1, 3, 4]);
    q.unlink(list[0]!);
    expect(marks(q)).toEqual([1, 3, 4]);
    q.unlink(list[4]!);
    expect(marks(q)).toEqual([1, 3]);
    expect([list[2]!.next, list[2]!.prev]).toEqual([null, null]);
    expectConsistent(q);
  });

  it("purge empties the queue and hands each skb, head first, to the callback", () => {
    const list = skbs(3);
    const q = queueOf(list);
    const seen: SkBuff[] = [];
    q.purge((skb) => {
      expect([skb.next, skb.prev]).toEqual([null, null]);
      seen.push(skb);
    });
    expect(sameSkbs(seen, list)).toBe(true);
    expect(q.qlen).toBe(0);
    expectConsistent(q);
  });

  it("purge without a callback just empties the queue", () => {
    const q = queueOf(skbs(2));
    q.purge();
    expect(q.isEmpty()).toBe(true);
  });

  it("purge leaves queued whatever a callback queues during it", () => {
    const q = queueOf(skbs(2));
    const [late] = skbs(1);
    late!.mark = 99;
    let once = false;
    q.purge(() => {
      if (!once) q.queueTail(late!);
      once = true;
    });
    expect(marks(q)).toEqual([99]);
  });

  it("spliceTailInit moves all of another queue to the tail and empties it", () => {
    const list = skbs(5);
    const q = queueOf(list.slice(0, 2));
    const other = queueOf(list.slice(2));
    q.spliceTailInit(other);
    expect(marks(q)).toEqual([0, 1, 2, 3, 4]);
    expect(other.qlen).toBe(0);
    expect([other.peek(), other.peekTail()]).toEqual([null, null]);
    expectConsistent(q);
    expectConsistent(other);
  });

  it("spliceTailInit into an empty queue, from an empty queue, or into itself", () => {
    const q = new SkBuffHead();
    q.spliceTailInit(queueOf(skbs(2)));
    expect(marks(q)).toEqual([0, 1]);
    q.spliceTailInit(new SkBuffHead());
    expect(marks(q)).toEqual([0, 1]);
    q.spliceTailInit(q);
    expect(marks(q)).toEqual([0, 1]);
    expectConsistent(q);
  });

  it("iteration tolerates unlinking the current skb", () => {
    const list = skbs(4);
    const q = queueOf(list);
    const visited: number[] = [];
    for (const skb of q) {
      visited.push(skb.mark);
      if (skb.mark % 2 === 0) q.unlink(skb);
    }
    expect(visited).toEqual([0, 1, 2, 3]);
    expect(marks(q)).toEqual([1, 3]);
    expectConsistent(q);
  });

  it("behaves like an array under any sequence of operations", () => {
    type Cmd =
      | { kind: "queueTail" }
      | { kind: "queueHead" }
      | { kind: "dequeue" }
      | { kind: "dequeueTail" }
      | { kind: "unlink"; at: number }
      | { kind: "splice"; n: number }
      | { kind: "purge" };
    const cmd: fc.Arbitrary<Cmd> = fc.oneof(
      fc.constant({ kind: "queueTail" as const }),
      fc.constant({ kind: "queueHead" as const }),
      fc.constant({ kind: "dequeue" as const }),
      fc.constant({ kind: "dequeueTail" as const }),
      fc.record({ kind: fc.constant("unlink" as const), at: fc.nat() }),
      fc.record({ kind: fc.constant("splice" as const), n: fc.nat({ max: 4 }) }),
      fc.constant({ kind: "purge" as const }),
    );
    fc.assert(
      fc.property(fc.array(cmd, { maxLength: 80 }), (cmds) => {
        const q = new SkBuffHead();
        const model: SkBuff[] = [];
        let next = 0;
        const fresh = (): SkBuff => {
          const skb = allocSkb(0);
          skb.mark = next++;
          return skb;
        };
        for (const c of cmds) {
          switch (c.kind) {
            case "queueTail": {
              const skb = fresh();
              q.queueTail(skb);
              model.push(skb);
              break;
            }
            case "queueHead": {
              const skb = fresh();
              q.queueHead(skb);
              model.unshift(skb);
              break;
            }
            case "dequeue":
              expect(q.dequeue()).toBe(model.shift() ?? null);
              break;
            case "dequeueTail":
              expect(q.dequeueTail()).toBe(model.pop() ?? null);
              break;
            case "unlink":
              if (model.length > 0) {
                const [skb] = model.splice(c.at % model.length, 1);
                q.unlink(skb!);
              }
              break;
            case "splice": {
              const added = Array.from({ length: c.n }, fresh);
              q.spliceTailInit(queueOf(added));
              model.push(...added);
              break;
            }
            case "purge": {
              const freed: SkBuff[] = [];
              q.purge((skb) => freed.push(skb));
              expect(sameSkbs(freed, model)).toBe(true);
              model.length = 0;
              break;
            }
          }
          expect(sameSkbs([...q], model)).toBe(true);
          expect(q.peek()).toBe(model[0] ?? null);
          expect(q.peekTail()).toBe(model.at(-1) ?? null);
          expectConsistent(q);
        }
      }),
    );
  });
});
