/**
 * The netem qdisc: delays, drops, duplicates, corrupts, reorders and rate-limits the packets a
 * device sends, with seeded random numbers on the stack's clock.
 * @see net/sched/sch_netem.c
 * @packageDocumentation
 */
import {
  CHECKSUM_COMPLETE,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  kfreeSkb,
  NET_XMIT_DROP,
  NET_XMIT_SUCCESS,
  type NetDevice,
  type Qdisc,
  QdiscStats,
  type SkBuff,
  SkBuffHead,
  SkbDropReason,
  skbChecksumHelp,
  type Timer,
} from "@skbuff/core";
import type { NetemConfig } from "./config.js";
import { CorrelatedRandom, GilbertElliott, Prng, tabledist } from "./random.js";
import { Tfifo } from "./tfifo.js";

/** What netem did, beyond the generic {@link QdiscStats}. */
export class NetemStats {
  /** Packets handed to the device. */
  sent = 0;
  /** Packets dropped: lost on purpose (`loss`) or over the queue limit (`limit`). */
  dropped = 0;
  /**
   * Packets sent twice (each counts once here, when the copy is made; the copy then goes
   * through loss, corruption, the limit and the delay on its own).
   */
  duplicated = 0;
  /** Packets sent at once, ahead of delayed ones. */
  reordered = 0;
  /** Packets with one bit flipped. */
  corrupted = 0;
}

/**
 * `sch_netem`: a qdisc that impairs a device's egress like a long, lossy, slow link.
 *
 * Per packet, in Linux's order ({@link NetemQdisc.enqueue}): maybe duplicated, maybe lost,
 * maybe corrupted, dropped if `limit` packets are already held, then either sent at once ahead
 * of the others (reordered) or given a time to send: now + delay ± jitter, and with a rate, no
 * earlier than the previous packet's time to send plus this one's time on the link. The queue
 * is ordered by time to send; {@link NetemQdisc.dequeue} hands out a packet once its time has
 * come and otherwise arms a watchdog timer for it.
 *
 * Every random choice comes from one generator seeded with `seed`: the same settings, seed and
 * traffic give the same trace, on the virtual clock and the real one.
 */
export class NetemQdisc implements Qdisc {
  readonly kind = "netem";
  readonly stats = new QdiscStats();
  /** netem's own counters. */
  readonly netemStats = new NetemStats();
  watchdog: (() => void) | null = null;
  /** The settings, normalized. */
  readonly config: NetemConfig;

  /** `sch->q`: packets to send at once (reordered or requeued), before the tfifo's. */
  private readonly head = new SkBuffHead();
  private readonly tfifo = new Tfifo();
  private readonly prng: Prng;
  private readonly delayCor: CorrelatedRandom;
  private readonly lossCor: CorrelatedRandom;
  private readonly dupCor: CorrelatedRandom;
  private readonly reorderCor: CorrelatedRandom;
  private readonly corruptCor: CorrelatedRandom;
  private readonly gilbertElliott: GilbertElliott | null;
  /** Packets delayed since the last reordered one (`q->counter`). */
  private counter = 0;
  private timer: Timer | null = null;
  private destroyed = false;

  /** Use `stack.qdiscReplace(dev, "netem", options)` or `netemAttach` rather than this. */
  constructor(
    readonly dev: NetDevice,
    config: NetemConfig,
  ) {
    this.config = config;
    this.prng = new Prng(config.seed);
    // init_crandom for each correlated source, in Linux's order.
    this.delayCor = new CorrelatedRandom(config.delayCorrelation, this.prng);
    this.lossCor = new CorrelatedRandom(
      config.loss?.model === "random" ? config.loss.correlation : 0,
      this.prng,
    );
    this.dupCor = new CorrelatedRandom(config.duplicate?.correlation ?? 0, this.prng);
    this.reorderCor = new CorrelatedRandom(config.reorder?.correlation ?? 0, this.prng);
    this.corruptCor = new CorrelatedRandom(config.corrupt?.correlation ?? 0, this.prng);
    const l = config.loss;
    this.gilbertElliott = l?.model === "gemodel" ? new GilbertElliott(l.p, l.r, l.h, l.k) : null;
  }

  /** Packets held. */
  get qlen(): number {
    return this.head.qlen + this.tfifo.size;
  }

  /**
   * `netem_enqueue`. Takes ownership of `skb`. A packet lost on purpose is freed with
   * `QDISC_DROP` and reported as sent (`NET_XMIT_SUCCESS`): it was lost on the wire, not
   * refused by the device. One over the limit is refused (`NET_XMIT_DROP`).
   * @see net/sched/sch_netem.c netem_enqueue()
   */
  enqueue(skb: SkBuff): number {
    return this.enqueueOne(skb, this.config.duplicate !== null);
  }

  private enqueueOne(skb: SkBuff, mayDuplicate: boolean): number {
    const cfg = this.config;
    const net = this.dev.net;
    if (this.destroyed) {
      kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, net);
      return NET_XMIT_DROP;
    }
    // Random duplication: two copies instead of one.
    let count = 1;
    if (mayDuplicate && this.dupCor.chance(cfg.duplicate!.probability)) count++;
    // Drop packet? A duplicated packet that is also lost goes out once.
    if (this.lossEvent()) count--;
    if (count === 0) {
      this.stats.drops++;
      this.netemStats.dropped++;
      kfreeSkb(skb, SkbDropReason.QDISC_DROP, net);
      return NET_XMIT_SUCCESS;
    }
    // The duplicate goes through netem again, as Linux re-enqueues it at the root qdisc with
    // duplication off: it may be lost, corrupted and delayed on its own.
    const dup = count > 1 ? skb.clone() : null;
    if (dup !== null) this.netemStats.duplicated++;
    if (cfg.corrupt !== null && this.corruptCor.chance(cfg.corrupt.probability)) {
      this.corrupt(skb);
    }
    if (this.qlen >= cfg.limit) {
      this.limitDrop(skb);
      if (dup !== null) this.limitDrop(dup);
      return NET_XMIT_DROP;
    }
    const now = net.clock.now();
    const r = cfg.reorder;
    if (r === null || this.counter < r.gap - 1 || !this.reorderCor.chance(r.probability)) {
      this.tfifo.enqueue(skb, now + this.delayFor(skb, now));
      this.counter++;
    } else {
      // Do reordering by putting one out of N packets at the front of the queue.
      this.counter = 0;
      this.head.queueHead(skb);
      this.netemStats.reordered++;
      this.stats.requeues++; // as Linux counts it
    }
    if (dup !== null) this.enqueueOne(dup, false);
    return NET_XMIT_SUCCESS;
  }

  /** `loss_event`: whether this packet is lost, by the loss model in use. */
  private lossEvent(): boolean {
    const loss = this.config.loss;
    if (loss === null) return false;
    if (loss.model === "random") return this.lossCor.chance(loss.probability);
    return this.gilbertElliott!.lost(this.prng);
  }

  /**
   * Flips one random bit of the packet, anywhere from `skb.data` on. A checksum the device was
   * to fill in is filled in first, so the receiver can tell.
   */
  private corrupt(skb: SkBuff): void {
    if (skb.len === 0) return;
    if (skb.ipSummed === CHECKSUM_PARTIAL) skbChecksumHelp(skb);
    else if (skb.ipSummed === CHECKSUM_COMPLETE) skb.ipSummed = CHECKSUM_NONE;
    skb.cow(0);
    const byte = this.prng.below(skb.len);
    const bit = this.prng.below(8);
    skb.head[skb.data + byte] ^= 1 << bit;
    this.netemStats.corrupted++;
  }

  private limitDrop(skb: SkBuff): void {
    this.stats.drops++;
    this.netemStats.dropped++;
    this.dev.stats.tx_dropped++;
    kfreeSkb(skb, SkbDropReason.QDISC_DROP, this.dev.net);
  }

  /**
   * The packet's delay from `now`: the delay and its jitter, and with a rate, the wait for the
   * packets ahead to leave plus this one's own time on the link.
   */
  private delayFor(skb: SkBuff, now: number): number {
    const cfg = this.config;
    let delay = Math.max(0, tabledist(cfg.delay, cfg.jitter, this.delayCor, cfg.distribution));
    if (cfg.rate > 0) {
      const last = this.tfifo.lastTimeToSend;
      let from = now;
      if (last !== null) {
        // The last packet in the queue is the reference point: its lateness eats the delay.
        delay = Math.max(0, delay - (last - now));
        from = last;
      }
      return from - now + delay + this.packetTime(skb.len);
    }
    return delay;
  }

  /** `packet_time_ns`: how long `len` bytes (plus the overhead) take on the link, in ms. */
  private packetTime(len: number): number {
    return (Math.max(0, len + this.config.packetOverhead) * 1000) / this.config.rate;
  }

  /**
   * `netem_dequeue`: a packet to send now, reordered and requeued ones first, or null. When the
   * earliest packet is not due yet, the watchdog is armed for it; when it fires the core runs
   * the qdisc again.
   * @see net/sched/sch_netem.c netem_dequeue()
   */
  dequeue(): SkBuff | null {
    const skb = this.head.dequeue();
    if (skb !== null) return this.deliver(skb);
    const e = this.tfifo.peek();
    if (e === null) return null;
    if (e.timeToSend <= this.dev.net.clock.now()) {
      this.tfifo.shift();
      return this.deliver(e.skb);
    }
    this.timer ??= this.dev.net.createTimer(() => this.watchdog?.());
    this.timer.armAt(e.timeToSend);
    return null;
  }

  private deliver(skb: SkBuff): SkBuff {
    this.stats.packets++;
    this.stats.bytes += skb.len;
    this.netemStats.sent++;
    return skb;
  }

  /**
   * Puts back a packet the driver refused; it goes out first next time.
   * @see net/sched/sch_generic.c dev_requeue_skb()
   */
  requeue(skb: SkBuff): void {
    this.stats.requeues++;
    this.stats.packets--;
    this.stats.bytes -= skb.len;
    this.netemStats.sent--;
    this.head.queueHead(skb);
  }

  /**
   * `netem_reset`: frees every packet held with `QUEUE_PURGE` and gives the watchdog timer back
   * to the stack (a new one is made when needed).
   * @see net/sched/sch_netem.c netem_reset()
   */
  reset(): void {
    const net = this.dev.net;
    this.head.purge((skb) => kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, net));
    this.tfifo.purge((skb) => kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, net));
    if (this.timer !== null) {
      net.deleteTimer(this.timer);
      this.timer = null;
    }
  }

  /**
   * `netem_destroy`: {@link NetemQdisc.reset}, and packets that still come are dropped.
   * @see net/sched/sch_netem.c netem_destroy()
   */
  destroy(): void {
    this.destroyed = true;
    this.reset();
  }
}
