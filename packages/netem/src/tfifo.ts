/**
 * netem's time-ordered queue ("tfifo"): packets leave in order of their time to send. As in
 * Linux, packets that come in order (the common case: no jitter) go on a plain list in O(1),
 * and only those that must overtake others go into a sorted structure (Linux: an rbtree; here
 * a binary heap).
 * @see net/sched/sch_netem.c tfifo_enqueue(), netem_peek(), netem_erase_head()
 * @packageDocumentation
 */
import type { SkBuff } from "@skbuff/core";

/** A queued packet and when it may leave (`struct netem_skb_cb`). */
export interface TfifoEntry {
  readonly skb: SkBuff;
  /** Clock time (ms) at which the packet may be sent. */
  readonly timeToSend: number;
  /** Order of arrival: ties in `timeToSend` leave first come, first served. */
  readonly seq: number;
}

function earlier(a: TfifoEntry, b: TfifoEntry): boolean {
  return a.timeToSend < b.timeToSend || (a.timeToSend === b.timeToSend && a.seq < b.seq);
}

/** The tfifo: the in-order list (`t_head`…`t_tail`) plus the heap (`t_root`). */
export class Tfifo {
  /** In-order packets; `list[listHead]` is the first. */
  private list: TfifoEntry[] = [];
  private listHead = 0;
  private readonly heap: TfifoEntry[] = [];
  private seq = 0;

  /** Packets held. */
  get size(): number {
    return this.list.length - this.listHead + this.heap.length;
  }

  /**
   * The latest time to send of any packet held, or null when empty. While the heap holds
   * anything the list does too, and its last entry is the latest (a packet goes into the heap
   * only when it is earlier than the list's last one, and leaves before it).
   */
  get lastTimeToSend(): number | null {
    return this.list.length > this.listHead ? this.list[this.list.length - 1]!.timeToSend : null;
  }

  /** `tfifo_enqueue`: on the list if not earlier than its last packet, else in the heap. */
  enqueue(skb: SkBuff, timeToSend: number): void {
    const e: TfifoEntry = { skb, timeToSend, seq: this.seq++ };
    const last = this.lastTimeToSend;
    if (last === null || timeToSend >= last) {
      this.list.push(e);
      return;
    }
    this.heapPush(e);
  }

  /** `netem_peek`: the packet to leave first (the heap's wins only if strictly earlier). */
  peek(): TfifoEntry | null {
    const l = this.list.length > this.listHead ? this.list[this.listHead]! : null;
    const h = this.heap.length > 0 ? this.heap[0]! : null;
    if (h === null) return l;
    if (l === null) return h;
    return h.timeToSend < l.timeToSend ? h : l;
  }

  /** `netem_erase_head`: takes out the packet {@link Tfifo.peek} returned. */
  shift(): TfifoEntry | null {
    const e = this.peek();
    if (e === null) return null;
    if (this.heap.length > 0 && e === this.heap[0]) {
      this.heapPop();
    } else {
      this.list[this.listHead++] = undefined as unknown as TfifoEntry;
      if (this.listHead === this.list.length) {
        this.list = [];
        this.listHead = 0;
      } else if (this.listHead > 1024 && this.listHead * 2 > this.list.length) {
        this.list = this.list.slice(this.listHead);
        this.listHead = 0;
      }
    }
    return e;
  }

  /** Takes every packet out (in no particular order) and hands each to `fn`. */
  purge(fn: (skb: SkBuff) => void): void {
    const all = [...this.list.slice(this.listHead), ...this.heap];
    this.list = [];
    this.listHead = 0;
    this.heap.length = 0;
    for (const e of all) fn(e.skb);
  }

  private heapPush(e: TfifoEntry): void {
    const h = this.heap;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!earlier(e, h[parent]!)) break;
      h[i] = h[parent]!;
      i = parent;
    }
    h[i] = e;
  }

  private heapPop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    let i = 0;
    const n = h.length;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && earlier(h[right]!, h[left]!) ? right : left;
      if (!earlier(h[child]!, last)) break;
      h[i] = h[child]!;
      i = child;
    }
    h[i] = last;
  }
}
