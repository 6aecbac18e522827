/**
 * `SkBuffHead`, a queue of skbs mirroring Linux's `struct sk_buff_head`.
 * @packageDocumentation
 */

import type { SkBuff } from "./skbuff.js";

/**
 * A doubly linked FIFO of skbs, linked through `skb.next` and `skb.prev`: every operation is O(1)
 * except {@link SkBuffHead.purge} and iteration, and none allocates. An skb is on at most one
 * queue at a time; the caller guarantees it (as in Linux, nothing checks), and an skb taken off a
 * queue has `next` and `prev` set back to null. Queuing an skb hands it to the queue; taking it
 * off hands it to the caller.
 *
 * Not locked: everything runs on one thread, so this is Linux's `__skb_queue_*` family.
 * @see include/linux/skbuff.h struct sk_buff_head
 */
export class SkBuffHead {
  private first: SkBuff | null = null;
  private last: SkBuff | null = null;
  private count = 0;

  /**
   * Number of skbs queued.
   * @see include/linux/skbuff.h skb_queue_len()
   */
  get qlen(): number {
    return this.count;
  }

  /**
   * Whether the queue holds no skb.
   * @see include/linux/skbuff.h skb_queue_empty()
   */
  isEmpty(): boolean {
    return this.count === 0;
  }

  /**
   * Appends `skb` at the tail. Takes ownership of `skb`, which must not be on any queue.
   * @see include/linux/skbuff.h __skb_queue_tail()
   * @param skb - the skb to queue
   */
  queueTail(skb: SkBuff): void {
    const last = this.last;
    skb.next = null;
    skb.prev = last;
    if (last === null) {
      this.first = skb;
    } else {
      last.next = skb;
    }
    this.last = skb;
    this.count++;
  }

  /**
   * Prepends `skb` at the head. Takes ownership of `skb`, which must not be on any queue.
   * @see include/linux/skbuff.h __skb_queue_head()
   * @param skb - the skb to queue
   */
  queueHead(skb: SkBuff): void {
    const first = this.first;
    skb.prev = null;
    skb.next = first;
    if (first === null) {
      this.last = skb;
    } else {
      first.prev = skb;
    }
    this.first = skb;
    this.count++;
  }

  /**
   * Removes and returns the skb at the head. The caller owns it.
   * @see include/linux/skbuff.h __skb_dequeue()
   * @returns the first skb, or null if the queue is empty
   */
  dequeue(): SkBuff | null {
    const skb = this.first;
    if (skb !== null) {
      this.unlink(skb);
    }
    return skb;
  }

  /**
   * Removes and returns the skb at the tail. The caller owns it.
   * @see include/linux/skbuff.h __skb_dequeue_tail()
   * @returns the last skb, or null if the queue is empty
   */
  dequeueTail(): SkBuff | null {
    const skb = this.last;
    if (skb !== null) {
      this.unlink(skb);
    }
    return skb;
  }

  /**
   * The skb at the head, left on the queue (the queue still owns it).
   * @see include/linux/skbuff.h skb_peek()
   * @returns the first skb, or null if the queue is empty
   */
  peek(): SkBuff | null {
    return this.first;
  }

  /**
   * The skb at the tail, left on the queue (the queue still owns it).
   * @see include/linux/skbuff.h skb_peek_tail()
   * @returns the last skb, or null if the queue is empty
   */
  peekTail(): SkBuff | null {
    return this.last;
  }

  /**
   * Removes `skb` from anywhere in this queue. `skb` must be on this queue (nothing checks). The
   * caller owns it afterwards.
   * @see include/linux/skbuff.h __skb_unlink()
   * @param skb - an skb queued here
   */
  unlink(skb: SkBuff): void {
    const next = skb.next;
    const prev = skb.prev;
    if (prev === null) {
      this.first = next;
    } else {
      prev.next = next;
    }
    if (next === null) {
      this.last = prev;
    } else {
      next.prev = prev;
    }
    skb.next = null;
    skb.prev = null;
    this.count--;
  }

  /**
   * Empties the queue, head first, handing each skb to `onEach` (typically to free it). The queue
   * is already empty when the first callback runs, so a callback may queue skbs here again; those
   * stay queued.
   * @see include/linux/skbuff.h __skb_queue_purge()
   * @param onEach - receives each removed skb, which it then owns
   */
  purge(onEach?: (skb: SkBuff) => void): void {
    let skb = this.first;
    this.first = null;
    this.last = null;
    this.count = 0;
    while (skb !== null) {
      const next = skb.next;
      skb.next = null;
      skb.prev = null;
      onEach?.(skb);
      skb = next;
    }
  }

  /**
   * Moves every skb of `other` to the tail of this queue, in order, and leaves `other` empty.
   * O(1). Splicing a queue into itself does nothing.
   * @see include/linux/skbuff.h skb_queue_splice_tail_init()
   * @param other - the queue to empty into this one
   */
  spliceTailInit(other: SkBuffHead): void {
    const first = other.first;
    if (other === this || first === null) {
      return;
    }
    const last = this.last;
    first.prev = last;
    if (last === null) {
      this.first = first;
    } else {
      last.next = first;
    }
    this.last = other.last;
    this.count += other.count;
    other.first = null;
    other.last = null;
    other.count = 0;
  }

  /**
   * Iterates head to tail; the queue keeps ownership. The next skb is read before the current
   * one is yielded, so the loop body may unlink (or dequeue) the current skb, as with Linux's
   * `skb_queue_walk_safe`. Unlinking any other skb, or re-queuing the current one here, during
   * the iteration is not supported.
   * @see include/linux/skbuff.h skb_queue_walk_safe()
   */
  *[Symbol.iterator](): Generator<SkBuff, void, undefined> {
    let skb = this.first;
    while (skb !== null) {
      const next = skb.next;
      yield skb;
      skb = next;
    }
  }
}
