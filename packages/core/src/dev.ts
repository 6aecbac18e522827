/**
 * The device layer: receive through a per-stack backlog drained by a NAPI-style softirq
 * (`netif_rx` → `net_rx_action` → `process_backlog` → `__netif_receive_skb`), and transmit
 * through the qdisc to the driver (`dev_queue_xmit` → `__qdisc_run` → `dev_hard_start_xmit`).
 * @see net/core/dev.c
 * @packageDocumentation
 */
import { kfreeSkb } from "./drop.js";
import { SkbDropReason } from "./drop_reason.js";
import { traceable } from "./ftrace.js";
import { NETDEV_TX_BUSY, type NetDevice } from "./netdevice.js";
import { NF_NETDEV_EGRESS, NF_NETDEV_INGRESS, NFPROTO_NETDEV } from "./netfilter.js";
import { NET_RX_DROP, NET_RX_SUCCESS } from "./protocol.js";
import { NET_XMIT_DROP, NET_XMIT_SUCCESS, type Qdisc } from "./qdisc.js";
import { skbChecksumHelp } from "./skb_checksum.js";
import { CHECKSUM_PARTIAL, PACKET_OUTGOING, type SkBuff } from "./skbuff.js";
import { SkBuffHead } from "./skbuff_head.js";
import type { Stack } from "./stack.js";
import { tp } from "./trace.js";

/**
 * A NAPI context: something the receive softirq polls. `poll` processes at most `budget`
 * packets and returns how many it did; when it returns less than `budget` it is done and must
 * be scheduled again ({@link Softnet.napiSchedule}) when new work arrives.
 */
export interface NapiStruct {
  readonly weight: number;
  poll(napi: NapiStruct, budget: number): number;
  /** @internal set while on the poll list. */
  scheduled?: boolean;
}

/**
 * `struct softnet_data`, one per stack: the input backlog, the NAPI poll list and the
 * transmit-side list of qdiscs to run. The softirq is raised through the stack's clock
 * (`clock.defer`), so one scheduled run drains many packets: never a macrotask per packet.
 */
export class Softnet {
  /** `input_pkt_queue`. */
  readonly backlog = new SkBuffHead();
  private readonly pollList: NapiStruct[] = [];
  private readonly outputQueue: Qdisc[] = [];
  private rxRaised = false;
  private txRaised = false;
  /** The backlog's own NAPI context (`process_backlog`), weight `net.core.dev_weight` (64). */
  readonly backlogNapi: NapiStruct;
  private readonly runRx = (): void => this.netRxAction();
  private readonly runTx = (): void => this.netTxAction();

  constructor(private readonly net: Stack) {
    const backlog = this.backlog;
    this.backlogNapi = {
      // Read at each poll, so `sysctl -w net.core.dev_weight=…` applies at once.
      get weight(): number {
        return net.core.devWeight.value;
      },
      poll: (_napi, budget) => processBacklog(backlog, budget),
    };
  }

  /** `napi_schedule`: put a NAPI context on the poll list and raise NET_RX. */
  napiSchedule(napi: NapiStruct): void {
    if (napi.scheduled) return;
    napi.scheduled = true;
    this.pollList.push(napi);
    this.raiseRx();
  }

  private raiseRx(): void {
    if (this.rxRaised || this.net.closed) return;
    this.rxRaised = true;
    this.net.clock.defer(this.runRx);
  }

  /**
   * `net_rx_action`: polls NAPI contexts round-robin, each up to its weight, until the list is
   * empty or `net.core.netdev_budget` packets were processed; leftover work re-raises the
   * softirq for later (time squeeze), so timers and applications get a turn.
   */
  netRxAction(): void {
    this.rxRaised = false;
    let budget = this.net.core.netdevBudget.value as number;
    const list = this.pollList;
    while (list.length > 0) {
      // Nearly always the only one (the backlog): pop, which V8 inlines, rather than shift.
      const napi = (list.length === 1 ? list.pop() : list.shift())!;
      const weight = Math.min(napi.weight, budget);
      let work: number;
      try {
        work = napi.poll(napi, weight);
      } catch (error) {
        work = weight;
        if (tp.handlerError.hasSubscribers) tp.handlerError.publish({ stack: this.net, error });
      }
      budget -= work;
      if (work >= weight) {
        list.push(napi); // more to do
      } else {
        napi.scheduled = false;
      }
      if (budget <= 0) {
        if (list.length > 0) {
          this.net.softnetMib.SoftnetTimeSqueeze++;
          this.raiseRx();
        }
        return;
      }
    }
  }

  /** `__netif_schedule`: run this qdisc from the TX softirq. */
  netifSchedule(q: Qdisc): void {
    if (!this.outputQueue.includes(q)) this.outputQueue.push(q);
    if (this.txRaised || this.net.closed) return;
    this.txRaised = true;
    this.net.clock.defer(this.runTx);
  }

  /** `net_tx_action`: runs the qdiscs that asked to be run. */
  netTxAction(): void {
    this.txRaised = false;
    const queues = this.outputQueue.splice(0);
    for (const q of queues) qdiscRun(q);
  }
}

/** `process_backlog`: dequeues up to `quota` packets into `__netif_receive_skb`. */
function processBacklog(backlog: SkBuffHead, quota: number): number {
  let work = 0;
  while (work < quota) {
    const skb = backlog.dequeue();
    if (skb === null) break;
    work++;
    netifReceiveSkb(skb);
  }
  return work;
}

/**
 * `netif_rx`: a driver hands a received packet to the stack. It is queued on the stack's
 * backlog and processed later by the receive softirq, never synchronously, so a driver's xmit
 * may call it for its peer (loopback, veth) without recursing into the stack. Takes ownership.
 * The caller sets `skb.dev` to the receiving device.
 * @see net/core/dev.c netif_rx()
 */
export function netifRx(skb: SkBuff): number {
  const dev = skb.dev as NetDevice;
  const net = dev.net;
  if (tp.netifRx.hasSubscribers) tp.netifRx.publish({ skb, dev });
  const sd = net.softnet;
  if (net.closed || sd.backlog.qlen >= (net.core.netdevMaxBacklog.value as number)) {
    net.softnetMib.SoftnetDropped++;
    dev.stats.rx_dropped++;
    kfreeSkb(skb, net.closed ? SkbDropReason.QUEUE_PURGE : SkbDropReason.CPU_BACKLOG, net);
    return NET_RX_DROP;
  }
  sd.backlog.queueTail(skb);
  sd.napiSchedule(sd.backlogNapi);
  return NET_RX_SUCCESS;
}

/**
 * `__netif_receive_skb_core`: taps, the netdev ingress hook, then the packet-type handler for
 * `skb.protocol`. Takes ownership. Never throws: a handler that throws is a counted drop.
 * @see net/core/dev.c __netif_receive_skb_core()
 */
export const netifReceiveSkb = traceable(
  "__netif_receive_skb",
  function netifReceiveSkb(skb: SkBuff): number {
    const dev = skb.dev as NetDevice;
    const net = dev.net;
    net.softnetMib.SoftnetProcessed++;
    if (tp.netifReceiveSkb.hasSubscribers) tp.netifReceiveSkb.publish({ skb, dev });
    skb.skbIif = dev.ifindex;
    if (skb.tstamp === 0) skb.tstamp = net.clock.now();
    skb.resetNetworkHeader();
    skb.resetTransportHeader();
    const reg = net.protocols;
    const taps = reg.taps;
    for (let i = 0; i < taps.length; i++) deliverToTap(taps[i]!, skb, dev, skb.pktType);
    const nf = net.nf;
    if (nf.has(NFPROTO_NETDEV, NF_NETDEV_INGRESS)) {
      if (nf.run(NFPROTO_NETDEV, NF_NETDEV_INGRESS, null, skb, dev, null, okIngress) !== 1) {
        return NET_RX_DROP;
      }
    }
    const handlers = reg.packetTypes(skb.protocol);
    // The last handler that takes packets from this device gets the original; the others clones.
    let last = -1;
    if (handlers !== undefined) {
      for (let i = handlers.length - 1; i >= 0; i--) {
        const pt = handlers[i]!;
        if (pt.dev === undefined || pt.dev === dev) {
          last = i;
          break;
        }
      }
    }
    if (last < 0) {
      dev.stats.rx_nohandler++;
      kfreeSkb(skb, SkbDropReason.UNHANDLED_PROTO, net);
      return NET_RX_DROP;
    }
    // Every handler but the last gets a clone (deliver_skb); the last takes the original.
    let ret = NET_RX_DROP;
    for (let i = 0; i <= last; i++) {
      const pt = handlers![i]!;
      if (pt.dev !== undefined && pt.dev !== dev) continue;
      const mine = i === last ? skb : skb.clone();
      try {
        ret = pt.func(mine, dev, pt);
      } catch (error) {
        // The handler owned the skb and failed mid-way: account for it and go on (unless it had
        // already freed it: then only the error is reported).
        if (tp.handlerError.hasSubscribers) {
          tp.handlerError.publish({ stack: net, error, handler: pt });
        }
        if (!mine.freed) kfreeSkb(mine, SkbDropReason.HANDLER_EXCEPTION, net);
        ret = NET_RX_DROP;
      }
    }
    return ret;
  },
);

function okIngress(): number {
  return 1;
}

/**
 * `deliver_skb` to a tap (`ptype_all`): the tap gets its own clone, marked `pktType`. A tap that
 * throws is a counted drop of its clone; the packet goes on.
 * @see net/core/dev.c deliver_skb(), dev_queue_xmit_nit()
 */
function deliverToTap(
  pt: PacketType_,
  skb: SkBuff,
  dev: NetDevice,
  pktType: SkBuff["pktType"],
): void {
  if (pt.dev !== undefined && pt.dev !== dev) return;
  const clone = skb.clone();
  clone.pktType = pktType;
  try {
    pt.func(clone, dev, pt);
  } catch (error) {
    if (tp.handlerError.hasSubscribers) {
      tp.handlerError.publish({ stack: dev.net, error, handler: pt });
    }
    kfreeSkb(clone, SkbDropReason.HANDLER_EXCEPTION, dev.net);
  }
}

type PacketType_ = import("./protocol.js").PacketType;

/**
 * `dev_queue_xmit`: sends a packet out of `skb.dev` through its qdisc. Takes ownership; the
 * packet is dropped (with a reason) when the device is down or the qdisc refuses it.
 * @see net/core/dev.c __dev_queue_xmit()
 */
export const devQueueXmit = traceable("dev_queue_xmit", function devQueueXmit(skb: SkBuff): number {
  const dev = skb.dev as NetDevice;
  const net = dev.net;
  if (!dev.isUp) {
    dev.stats.tx_dropped++;
    kfreeSkb(skb, SkbDropReason.DEV_READY, net);
    return NET_XMIT_DROP;
  }
  const nf = net.nf;
  if (nf.has(NFPROTO_NETDEV, NF_NETDEV_EGRESS)) {
    if (nf.run(NFPROTO_NETDEV, NF_NETDEV_EGRESS, null, skb, null, dev, okIngress) !== 1) {
      return NET_XMIT_DROP;
    }
  }
  const taps = net.protocols.taps;
  for (let i = 0; i < taps.length; i++) deliverToTap(taps[i]!, skb, dev, PACKET_OUTGOING);
  const q = dev.qdisc;
  if (q === null) {
    // noqueue: straight to the driver (loopback, veth). Such a driver has nowhere to keep a
    // packet it cannot take: a stopped queue or NETDEV_TX_BUSY drops it, as in Linux
    // ("Virtual device asks to queue packet!").
    if (!dev.queueStopped && devHardStartXmit(skb, dev) !== NETDEV_TX_BUSY) return NET_XMIT_SUCCESS;
    dev.stats.tx_dropped++;
    kfreeSkb(skb, SkbDropReason.DEV_READY, net);
    return NET_XMIT_DROP;
  }
  const rc = q.enqueue(skb);
  qdiscRun(q);
  return rc;
});

/**
 * `__qdisc_run`: dequeues packets and hands them to the driver until the qdisc is empty, has
 * nothing due yet, or the driver is busy.
 * @see net/sched/sch_generic.c __qdisc_run()
 */
export function qdiscRun(q: Qdisc): void {
  const dev = q.dev;
  // dev_tx_weight = dev_weight * dev_weight_tx_bias
  const core = dev.net.core;
  let quota = core.devWeight.value * core.devWeightTx.value;
  while (!dev.queueStopped) {
    const skb = q.dequeue();
    if (skb === null) return;
    if (devHardStartXmit(skb, dev) === NETDEV_TX_BUSY) {
      q.requeue(skb);
      return;
    }
    if (--quota <= 0) {
      // Let others run; continue from the TX softirq.
      dev.net.softnet.netifSchedule(q);
      return;
    }
  }
}

/**
 * `dev_hard_start_xmit` / `xmit_one`: hands one packet to the driver. On NETDEV_TX_BUSY the
 * caller still owns the skb.
 * @see net/core/dev.c dev_hard_start_xmit()
 */
export const devHardStartXmit = traceable(
  "dev_hard_start_xmit",
  function devHardStartXmit(skb: SkBuff, dev: NetDevice): number {
    if (!dev.isRunning) {
      dev.stats.tx_carrier_errors++;
      dev.stats.tx_dropped++;
      kfreeSkb(skb, dev.isUp ? SkbDropReason.DEV_CARRIER : SkbDropReason.DEV_READY, dev.net);
      return 0;
    }
    // validate_xmit_skb: a device without checksum offload gets finished checksums.
    if (skb.ipSummed === CHECKSUM_PARTIAL && !dev.features.hwCsum) skbChecksumHelp(skb);
    const len = skb.len;
    let rc: number;
    try {
      rc = dev.ops.ndoStartXmit(skb, dev);
    } catch (error) {
      if (tp.handlerError.hasSubscribers) tp.handlerError.publish({ stack: dev.net, error, dev });
      dev.stats.tx_errors++;
      kfreeSkb(skb, SkbDropReason.HANDLER_EXCEPTION, dev.net);
      return 0;
    }
    if (tp.netDevXmit.hasSubscribers) tp.netDevXmit.publish({ skb, dev, len, rc });
    return rc;
  },
);

/** `netif_wake_queue`: the driver can take packets again; runs its qdisc from the TX softirq. */
export function netifWakeQueue(dev: NetDevice): void {
  dev.queueStopped = false;
  if (dev.qdisc) dev.net.softnet.netifSchedule(dev.qdisc);
}

/** `netif_stop_queue`: the driver is full; the qdisc holds packets until woken. */
export function netifStopQueue(dev: NetDevice): void {
  dev.queueStopped = true;
}

/**
 * `netif_carrier_on`: the link came up (a veth peer appeared, a cable was plugged). Protocols
 * are told through the notifier chain (`change`).
 */
export function netifCarrierOn(dev: NetDevice): void {
  if (dev.carrier) return;
  dev.carrier = true;
  dev.net.callNetdevNotifiers("change", dev);
}

/** `netif_carrier_off`: the link went down; transmits now drop with DEV_CARRIER. */
export function netifCarrierOff(dev: NetDevice): void {
  if (!dev.carrier) return;
  dev.carrier = false;
  dev.net.callNetdevNotifiers("change", dev);
}
