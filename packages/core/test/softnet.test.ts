import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type Clock,
  createStack,
  definePlugin,
  devQueueXmit,
  ETH_P_ALL,
  ETH_P_IP,
  kfreeSkb,
  type NapiStruct,
  NET_RX_DROP,
  NET_RX_SUCCESS,
  NET_XMIT_DROP,
  NET_XMIT_SUCCESS,
  NETDEV_TX_BUSY,
  NETDEV_TX_OK,
  type NetDevice,
  type NetdevTx,
  NF_ACCEPT,
  NF_DROP,
  NF_NETDEV_EGRESS,
  NF_NETDEV_INGRESS,
  NFPROTO_NETDEV,
  netifRx,
  netifStopQueue,
  netifWakeQueue,
  PACKET_HOST,
  PACKET_OUTGOING,
  type SkBuff,
  SkbDropReason,
  type Stack,
  type StackOptions,
  skbFromBytes,
  type Timer,
  VirtualClock,
} from "../src/index.js";

/**
 * A clock whose deferred work (the softirqs) runs only when the test says so, one callback at a
 * time, and which counts the defer() calls.
 */
class StepClock implements Clock {
  readonly kind = "virtual" as const;
  readonly inner = new VirtualClock({ autoAdvance: false });
  readonly deferred: (() => void)[] = [];
  defers = 0;
  now(): number {
    return this.inner.now();
  }
  createTimer(callback: () => void): Timer {
    return this.inner.createTimer(callback);
  }
  defer(cb: () => void): void {
    this.defers++;
    this.deferred.push(cb);
  }
  /** Runs one raised softirq; false when none was raised. */
  step(): boolean {
    const cb = this.deferred.shift();
    cb?.();
    return cb !== undefined;
  }
  /** Runs softirqs until none is raised; returns how many ran. */
  drain(): number {
    let n = 0;
    while (this.step()) n++;
    return n;
  }
}

/** What the test driver's xmit does: by default, keep the packet and say it went out. */
type Xmit = (skb: SkBuff, dev: NetDevice) => NetdevTx;

/** A plugin with a driver `test` whose devices hand each transmitted packet to `xmit`. */
function testDriver(xmit: Xmit) {
  return definePlugin({
    name: "test:driver",
    register(ctx) {
      ctx.registerDriver({
        name: "test",
        create(stack, spec) {
          return stack.registerNetdev({
            name: spec.name ?? "t0",
            kind: "test",
            mtu: 1500,
            noQueue: spec.noqueue === true,
            txQueueLen: typeof spec.txqueuelen === "number" ? spec.txqueuelen : undefined,
            ops: { ndoStartXmit: (skb, dev) => xmit(skb, dev) },
          });
        },
      });
    },
  });
}

const stacks: Stack[] = [];

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

interface Rig {
  stack: Stack;
  dev: NetDevice;
  sent: SkBuff[];
}

/** A stack with one `test` device `t0`, up. */
async function rig(
  clock: Clock,
  options: { xmit?: Xmit; device?: Record<string, unknown>; sysctl?: StackOptions["sysctl"] } = {},
): Promise<Rig> {
  const sent: SkBuff[] = [];
  const xmit =
    options.xmit ??
    ((skb: SkBuff) => {
      sent.push(skb);
      return NETDEV_TX_OK;
    });
  const stack = await createStack({
    clock,
    plugins: [testDriver(xmit)],
    devices: [{ driver: "test", ...options.device }],
    sysctl: options.sysctl,
  });
  stacks.push(stack);
  return { stack, dev: stack.getDevice("t0")!, sent };
}

function manualClock(): VirtualClock {
  return new VirtualClock({ autoAdvance: false });
}

/** A received IPv4 packet on `dev`. */
function rxPacket(dev: NetDevice, protocol = ETH_P_IP, size = 20): SkBuff {
  const skb = skbFromBytes(new Uint8Array(size));
  skb.dev = dev;
  skb.protocol = protocol;
  return skb;
}

/** A packet to send out of `dev`. */
function txPacket(dev: NetDevice, tag = 0): SkBuff {
  const skb = skbFromBytes(new Uint8Array([tag]));
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  return skb;
}

/** Registers an IPv4 packet-type handler that keeps what it gets. */
function ipHandler(stack: Stack, fn?: (skb: SkBuff) => number): SkBuff[] {
  const got: SkBuff[] = [];
  stack.protocols.devAddPack({
    type: ETH_P_IP,
    func(skb) {
      got.push(skb);
      return fn ? fn(skb) : NET_RX_SUCCESS;
    },
  });
  return got;
}

describe("netifRx", () => {
  it("queues the packet on the stack's backlog and does not process it synchronously", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const got = ipHandler(stack);
    expect(netifRx(rxPacket(dev))).toBe(NET_RX_SUCCESS);
    expect(got).toHaveLength(0);
    expect(stack.softnet.backlog.qlen).toBe(1);
    clock.advanceSync(0);
    expect(got).toHaveLength(1);
    expect(stack.softnet.backlog.qlen).toBe(0);
  });

  it("drops with CPU_BACKLOG when the backlog holds net.core.netdev_max_backlog packets", async () => {
    const { stack, dev } = await rig(manualClock(), {
      sysctl: { "net.core.netdev_max_backlog": 5 },
    });
    const results = Array.from({ length: 7 }, () => netifRx(rxPacket(dev)));
    expect(results.filter((r) => r === NET_RX_DROP)).toHaveLength(2);
    expect(stack.softnet.backlog.qlen).toBe(5);
    expect(stack.dropReasons()).toEqual({ CPU_BACKLOG: 2 });
    expect(dev.stats.rx_dropped).toBe(2);
    expect(stack.softnetMib.SoftnetDropped).toBe(2);
  });

  it("drops with QUEUE_PURGE once the stack is closed", async () => {
    const { stack, dev } = await rig(manualClock());
    await stack.close();
    const skb = rxPacket(dev);
    expect(netifRx(skb)).toBe(NET_RX_DROP);
    expect(skb.dropReason).toBe(SkbDropReason.QUEUE_PURGE);
  });
});

describe("netRxAction", () => {
  it("raises the receive softirq once for many packets, not once per packet", async () => {
    const clock = new StepClock();
    const { dev } = await rig(clock);
    const before = clock.defers;
    for (let i = 0; i < 100; i++) netifRx(rxPacket(dev));
    expect(clock.defers - before).toBe(1);
  });

  it("processes at most net.core.netdev_budget (300) packets per run", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock);
    const got = ipHandler(stack);
    clock.drain();
    for (let i = 0; i < 1000; i++) netifRx(rxPacket(dev));
    clock.step();
    expect(got).toHaveLength(300);
  });

  it("re-raises itself when work remains, counting a time squeeze", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock);
    clock.drain();
    ipHandler(stack);
    for (let i = 0; i < 1000; i++) netifRx(rxPacket(dev));
    clock.step();
    expect(clock.deferred).toHaveLength(1);
    expect(stack.softnetMib.SoftnetTimeSqueeze).toBe(1);
  });

  it("drains 1000 packets in four runs, one defer per run", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock);
    clock.drain();
    const got = ipHandler(stack);
    const before = clock.defers;
    for (let i = 0; i < 1000; i++) netifRx(rxPacket(dev));
    expect(clock.drain()).toBe(4);
    expect(clock.defers - before).toBe(4);
    expect(got).toHaveLength(1000);
    expect(stack.softnetMib.SoftnetTimeSqueeze).toBe(3);
    expect(stack.softnetMib.SoftnetProcessed).toBe(1000);
  });

  it("follows a changed net.core.netdev_budget", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock, { sysctl: { "net.core.netdev_budget": 100 } });
    clock.drain();
    const got = ipHandler(stack);
    for (let i = 0; i < 250; i++) netifRx(rxPacket(dev));
    clock.step();
    expect(got).toHaveLength(100);
  });

  it("polls the backlog 64 packets at a time, round-robin with other NAPI contexts", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock);
    clock.drain();
    const got = ipHandler(stack);
    const polls: { budget: number; backlogDone: number }[] = [];
    const napi: NapiStruct = {
      weight: 64,
      poll(_napi, budget) {
        polls.push({ budget, backlogDone: got.length });
        return budget; // always more to do
      },
    };
    for (let i = 0; i < 1000; i++) netifRx(rxPacket(dev));
    stack.softnet.napiSchedule(napi);
    clock.step();
    // backlog 64, napi 64, backlog 64, napi 64, backlog 44: 300.
    expect(polls).toEqual([
      { budget: 64, backlogDone: 64 },
      { budget: 64, backlogDone: 128 },
    ]);
    expect(got).toHaveLength(300 - 128);
  });

  it("polls the backlog in slices of net.core.dev_weight", async () => {
    const clock = new StepClock();
    const { stack, dev } = await rig(clock, { sysctl: { "net.core.dev_weight": 16 } });
    clock.drain();
    const got = ipHandler(stack);
    const seen: number[] = [];
    const napi: NapiStruct = {
      weight: 64,
      poll(_napi, budget) {
        seen.push(got.length);
        return budget;
      },
    };
    for (let i = 0; i < 100; i++) netifRx(rxPacket(dev));
    stack.softnet.napiSchedule(napi);
    clock.step();
    expect(seen.slice(0, 2)).toEqual([16, 32]);
  });

  it("takes a NAPI context off the poll list once it does less than its budget", async () => {
    const clock = new StepClock();
    const { stack } = await rig(clock);
    clock.drain();
    const poll = vi.fn((_napi: NapiStruct, _budget: number) => 3);
    const napi: NapiStruct = { weight: 64, poll };
    stack.softnet.napiSchedule(napi);
    stack.softnet.napiSchedule(napi);
    clock.drain();
    expect(poll).toHaveBeenCalledOnce();
    expect(napi.scheduled).toBe(false);
  });
});

describe("netifReceiveSkb", () => {
  it("drops a packet whose handler throws with HANDLER_EXCEPTION and goes on with the next", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    let n = 0;
    const got = ipHandler(stack, () => {
      if (++n === 1) throw new Error("handler bug");
      return NET_RX_SUCCESS;
    });
    const first = rxPacket(dev);
    netifRx(first);
    netifRx(rxPacket(dev));
    clock.advanceSync(0);
    expect(got).toHaveLength(2);
    expect(first.dropReason).toBe(SkbDropReason.HANDLER_EXCEPTION);
    expect(stack.dropReasons()).toEqual({ HANDLER_EXCEPTION: 1 });
  });

  it("does not free a packet twice when its handler freed it and then threw", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    ipHandler(stack, (skb) => {
      kfreeSkb(skb, SkbDropReason.IP_CSUM, stack);
      throw new Error("bug after the free");
    });
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(skb.freed).toBe(true);
    expect(skb.dropReason).toBe(SkbDropReason.IP_CSUM);
    expect(stack.dropReasons()).toEqual({ IP_CSUM: 1 });
  });

  it("drops a packet of an unknown ethertype with UNHANDLED_PROTO and counts rx_nohandler", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    ipHandler(stack);
    const skb = rxPacket(dev, 0x88b5);
    netifRx(skb);
    clock.advanceSync(0);
    expect(skb.dropReason).toBe(SkbDropReason.UNHANDLED_PROTO);
    expect(dev.stats.rx_nohandler).toBe(1);
  });

  it("drops with UNHANDLED_PROTO when every handler of the ethertype is bound to another device", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const other = stack.registerNetdev({
      name: "other",
      mtu: 1500,
      ops: { ndoStartXmit: () => NETDEV_TX_OK },
    });
    const func = vi.fn(() => NET_RX_SUCCESS);
    stack.protocols.devAddPack({ type: ETH_P_IP, dev: other, func });
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(func).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.UNHANDLED_PROTO);
    expect(dev.stats.rx_nohandler).toBe(1);
  });

  it("gives the original packet to the last handler that matches, even when a later one is bound elsewhere", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const other = stack.registerNetdev({
      name: "other",
      mtu: 1500,
      ops: { ndoStartXmit: () => NETDEV_TX_OK },
    });
    const got = ipHandler(stack);
    stack.protocols.devAddPack({ type: ETH_P_IP, dev: other, func: () => NET_RX_SUCCESS });
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(got).toHaveLength(1);
    expect(got[0]).toBe(skb);
  });

  it("gives every handler of an ethertype the packet: clones first, the original last", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const first = ipHandler(stack);
    const last = ipHandler(stack);
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(first).toHaveLength(1);
    expect(first[0]).not.toBe(skb);
    expect(last).toHaveLength(1);
    expect(last[0]).toBe(skb);
  });

  it("gives taps (ETH_P_ALL) a clone and the handler the original", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const tapped: SkBuff[] = [];
    stack.protocols.devAddPack({
      type: ETH_P_ALL,
      func(skb) {
        tapped.push(skb);
        return NET_RX_SUCCESS;
      },
    });
    const got = ipHandler(stack);
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(tapped).toHaveLength(1);
    expect(tapped[0]).not.toBe(skb);
    expect(tapped[0]!.head).toBe(skb.head);
    expect(got).toHaveLength(1);
    expect(got[0]).toBe(skb);
  });

  it("frees the clone of a tap that throws with HANDLER_EXCEPTION and still delivers the packet", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    stack.protocols.devAddPack({
      type: ETH_P_ALL,
      func() {
        throw new Error("tap bug");
      },
    });
    const got = ipHandler(stack);
    netifRx(rxPacket(dev));
    clock.advanceSync(0);
    expect(got).toHaveLength(1);
    expect(stack.dropReasons()).toEqual({ HANDLER_EXCEPTION: 1 });
  });

  it("runs NF_NETDEV_INGRESS hooks before the packet-type handler", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const log: string[] = [];
    stack.nf.register({
      pf: NFPROTO_NETDEV,
      hooknum: NF_NETDEV_INGRESS,
      priority: 0,
      hook(_skb, state) {
        log.push(`ingress on ${state.in?.name}`);
        return NF_ACCEPT;
      },
    });
    ipHandler(stack, () => {
      log.push("handler");
      return NET_RX_SUCCESS;
    });
    netifRx(rxPacket(dev));
    clock.advanceSync(0);
    expect(log).toEqual(["ingress on t0", "handler"]);
  });

  it("does not deliver a packet an ingress hook dropped", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    stack.nf.register({
      pf: NFPROTO_NETDEV,
      hooknum: NF_NETDEV_INGRESS,
      priority: 0,
      hook: () => NF_DROP,
    });
    const got = ipHandler(stack);
    const skb = rxPacket(dev);
    netifRx(skb);
    clock.advanceSync(0);
    expect(got).toHaveLength(0);
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });

  it("runs an ingress hook bound to a device only on that device's packets", async () => {
    const clock = manualClock();
    const { stack, dev } = await rig(clock);
    const other = stack.registerNetdev({
      name: "other",
      mtu: 1500,
      ops: { ndoStartXmit: () => NETDEV_TX_OK },
    });
    const seen: (string | undefined)[] = [];
    stack.nf.register({
      pf: NFPROTO_NETDEV,
      hooknum: NF_NETDEV_INGRESS,
      priority: 0,
      dev: other,
      hook(_skb, state) {
        seen.push(state.in?.name);
        return NF_ACCEPT;
      },
    });
    ipHandler(stack);
    netifRx(rxPacket(dev));
    netifRx(rxPacket(other));
    clock.advanceSync(0);
    expect(seen).toEqual(["other"]);
  });

  it("stamps the arrival: the receiving ifindex and the clock's time", async () => {
    const clock = new VirtualClock({ autoAdvance: false, startMs: 1234 });
    const { stack, dev } = await rig(clock);
    const got = ipHandler(stack);
    netifRx(rxPacket(dev));
    clock.advanceSync(0);
    expect(got[0]!.skbIif).toBe(dev.ifindex);
    expect(got[0]!.tstamp).toBe(1234);
  });
});

describe("devQueueXmit", () => {
  it("sends a packet through the pfifo qdisc to the driver", async () => {
    const { dev, sent } = await rig(manualClock());
    expect(dev.qdisc?.kind).toBe("pfifo");
    const skb = txPacket(dev);
    expect(devQueueXmit(skb)).toBe(NET_XMIT_SUCCESS);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBe(skb);
    expect(dev.qdisc!.stats.packets).toBe(1);
  });

  it("keeps a packet the driver refused with NETDEV_TX_BUSY and sends it first once the queue is woken", async () => {
    const clock = manualClock();
    const sent: number[] = [];
    let busy = true;
    const { dev } = await rig(clock, {
      xmit(skb, d) {
        if (busy) {
          netifStopQueue(d);
          return NETDEV_TX_BUSY;
        }
        sent.push(skb.head[skb.data]!);
        return NETDEV_TX_OK;
      },
    });
    devQueueXmit(txPacket(dev, 1));
    devQueueXmit(txPacket(dev, 2));
    expect(sent).toEqual([]);
    expect(dev.qdisc!.qlen).toBe(2);
    expect(dev.qdisc!.stats.requeues).toBe(1);
    busy = false;
    netifWakeQueue(dev);
    expect(sent).toEqual([]); // resumes from the TX softirq, not synchronously
    clock.advanceSync(0);
    expect(sent).toEqual([1, 2]);
    expect(dev.qdisc!.qlen).toBe(0);
  });

  it("drops with DEV_READY when the device is down", async () => {
    const { stack, dev, sent } = await rig(manualClock());
    stack.devClose(dev);
    const skb = txPacket(dev);
    expect(devQueueXmit(skb)).toBe(NET_XMIT_DROP);
    expect(sent).toEqual([]);
    expect(skb.dropReason).toBe(SkbDropReason.DEV_READY);
    expect(dev.stats.tx_dropped).toBe(1);
  });

  it("drops with QDISC_DROP when the qdisc holds its limit", async () => {
    const { stack, dev } = await rig(manualClock(), { device: { txqueuelen: 3 } });
    netifStopQueue(dev);
    const rcs = Array.from({ length: 4 }, () => devQueueXmit(txPacket(dev)));
    expect(rcs).toEqual([NET_XMIT_SUCCESS, NET_XMIT_SUCCESS, NET_XMIT_SUCCESS, NET_XMIT_DROP]);
    expect(stack.dropReasons()).toEqual({ QDISC_DROP: 1 });
    expect(dev.qdisc!.stats.drops).toBe(1);
    expect(dev.stats.tx_dropped).toBe(1);
  });

  it("frees what the qdisc holds with QUEUE_PURGE when the device goes down", async () => {
    const { stack, dev } = await rig(manualClock());
    netifStopQueue(dev);
    devQueueXmit(txPacket(dev));
    devQueueXmit(txPacket(dev));
    stack.devClose(dev);
    expect(dev.qdisc!.qlen).toBe(0);
    expect(stack.dropReasons()).toEqual({ QUEUE_PURGE: 2 });
  });

  it("hands a qdisc run at most dev_weight × dev_weight_tx_bias packets, then continues from the TX softirq", async () => {
    const clock = new StepClock();
    const { stack, dev, sent } = await rig(clock);
    clock.drain();
    expect(stack.sysctl.get("net.core.dev_weight_tx_bias")).toBe(1);
    netifStopQueue(dev);
    for (let i = 0; i < 100; i++) devQueueXmit(txPacket(dev));
    netifWakeQueue(dev);
    clock.step();
    expect(sent).toHaveLength(64);
    clock.drain();
    expect(sent).toHaveLength(100);
  });

  it("sends straight to the driver on a device without a queue", async () => {
    const { dev, sent } = await rig(manualClock(), { device: { noqueue: true } });
    expect(dev.qdisc).toBeNull();
    const skb = txPacket(dev);
    expect(devQueueXmit(skb)).toBe(NET_XMIT_SUCCESS);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toBe(skb);
  });

  it("drops a packet a queueless device refuses with NETDEV_TX_BUSY", async () => {
    const { stack, dev } = await rig(manualClock(), {
      device: { noqueue: true },
      xmit: () => NETDEV_TX_BUSY,
    });
    const skb = txPacket(dev);
    expect(devQueueXmit(skb)).toBe(NET_XMIT_DROP);
    expect(skb.dropReason).not.toBeNull();
    expect(Object.values(stack.dropReasons())).toEqual([1]);
    expect(dev.stats.tx_dropped).toBe(1);
  });

  it("drops with HANDLER_EXCEPTION when the driver throws", async () => {
    const { stack, dev } = await rig(manualClock(), {
      xmit() {
        throw new Error("driver bug");
      },
    });
    const skb = txPacket(dev);
    devQueueXmit(skb);
    expect(skb.dropReason).toBe(SkbDropReason.HANDLER_EXCEPTION);
    expect(dev.stats.tx_errors).toBe(1);
    expect(stack.dropReasons()).toEqual({ HANDLER_EXCEPTION: 1 });
  });

  it("drops with DEV_CARRIER when the device has no carrier", async () => {
    const { dev, sent } = await rig(manualClock());
    dev.carrier = false;
    const skb = txPacket(dev);
    devQueueXmit(skb);
    expect(sent).toEqual([]);
    expect(skb.dropReason).toBe(SkbDropReason.DEV_CARRIER);
  });

  it("gives taps a clone marked PACKET_OUTGOING and leaves the sent packet as it was", async () => {
    const { stack, dev, sent } = await rig(manualClock());
    const tapped: SkBuff[] = [];
    stack.protocols.devAddPack({
      type: ETH_P_ALL,
      func(skb) {
        tapped.push(skb);
        return NET_RX_SUCCESS;
      },
    });
    const skb = txPacket(dev);
    devQueueXmit(skb);
    expect(tapped).toHaveLength(1);
    expect(tapped[0]).not.toBe(skb);
    expect(tapped[0]!.pktType).toBe(PACKET_OUTGOING);
    expect(sent[0]!.pktType).toBe(PACKET_HOST);
  });

  it("does not send a packet an NF_NETDEV_EGRESS hook dropped", async () => {
    const { stack, dev, sent } = await rig(manualClock());
    stack.nf.register({
      pf: NFPROTO_NETDEV,
      hooknum: NF_NETDEV_EGRESS,
      priority: 0,
      hook: () => NF_DROP,
    });
    const skb = txPacket(dev);
    expect(devQueueXmit(skb)).toBe(NET_XMIT_DROP);
    expect(sent).toEqual([]);
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });
});
