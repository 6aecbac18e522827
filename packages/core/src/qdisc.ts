/**
 * The queueing discipline contract (`struct Qdisc_ops`) and the default `pfifo`.
 * @see net/sched/sch_generic.c, net/sched/sch_fifo.c
 * @packageDocumentation
 */
import { kfreeSkb } from "./drop.js";
import { SkbDropReason } from "./drop_reason.js";
import type { NetDevice } from "./netdevice.js";
import type { SkBuff } from "./skbuff.js";
import { SkBuffHead } from "./skbuff_head.js";

/** The packet was queued. */
export const NET_XMIT_SUCCESS = 0x00;
/** The packet was dropped by the qdisc; the caller frees nothing (the qdisc did). */
export const NET_XMIT_DROP = 0x01;
/** The packet was queued but the qdisc is congested. */
export const NET_XMIT_CN = 0x02;

/** `struct gnet_stats_basic` + `gnet_stats_queue`, what `tc -s qdisc` prints. */
export class QdiscStats {
  packets = 0;
  bytes = 0;
  drops = 0;
  overlimits = 0;
  requeues = 0;
}

/**
 * A qdisc instance attached to a device's egress. `enqueue` takes ownership of the skb: on
 * `NET_XMIT_DROP` it has already freed it (with `QDISC_DROP` or its own reason). `dequeue` may
 * return null while packets wait (a delay); the qdisc then calls {@link Qdisc.watchdog} to be
 * run again at the right time.
 */
export interface Qdisc {
  readonly kind: string;
  readonly dev: NetDevice;
  readonly stats: QdiscStats;
  /** Packets held. */
  readonly qlen: number;
  enqueue(skb: SkBuff): number;
  dequeue(): SkBuff | null;
  /** Puts back a packet the driver refused (NETDEV_TX_BUSY); it goes out first next time. */
  requeue(skb: SkBuff): void;
  /** Frees every held packet (with QUEUE_PURGE: the device went down). */
  reset(): void;
  /** Releases timers; the qdisc is gone. */
  destroy(): void;
  /** Set by the core: call it to be run again (qdisc_watchdog → __netif_schedule). */
  watchdog: (() => void) | null;
}

/** A qdisc's options: an object, or the text `tc` takes after the kind (`"delay 5ms loss 1%"`). */
export type QdiscOptions = Readonly<Record<string, unknown>> | string;

/** Factory registered under a qdisc kind (`pfifo`, `netem`): `tc qdisc add … <kind> <opts>`. */
export interface QdiscOps {
  readonly kind: string;
  create(dev: NetDevice, options: QdiscOptions): Qdisc;
}

/** `pfifo`: a FIFO of at most `limit` packets (default the device's txqueuelen). */
export class PfifoQdisc implements Qdisc {
  readonly kind = "pfifo";
  readonly stats = new QdiscStats();
  watchdog: (() => void) | null = null;
  private readonly q = new SkBuffHead();
  private readonly limit: number;
  private readonly onDrop: (skb: SkBuff) => void;

  constructor(
    readonly dev: NetDevice,
    limit: number,
    onDrop: (skb: SkBuff) => void,
  ) {
    this.limit = limit;
    this.onDrop = onDrop;
  }

  get qlen(): number {
    return this.q.qlen;
  }

  enqueue(skb: SkBuff): number {
    if (this.q.qlen >= this.limit) {
      this.stats.drops++;
      this.onDrop(skb);
      return NET_XMIT_DROP;
    }
    this.q.queueTail(skb);
    return NET_XMIT_SUCCESS;
  }

  dequeue(): SkBuff | null {
    const skb = this.q.dequeue();
    if (skb) {
      this.stats.packets++;
      this.stats.bytes += skb.len;
    }
    return skb;
  }

  requeue(skb: SkBuff): void {
    this.stats.requeues++;
    this.stats.packets--;
    this.stats.bytes -= skb.len;
    this.q.queueHead(skb);
  }

  reset(): void {
    this.q.purge((skb) => kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, this.dev.net));
  }

  destroy(): void {
    this.reset();
  }
}
