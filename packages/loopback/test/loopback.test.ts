import {
  ARPHRD,
  CHECKSUM_NONE,
  CHECKSUM_UNNECESSARY,
  ConfigError,
  consumeSkb,
  createNetwork,
  createStack,
  definePlugin,
  devQueueXmit,
  ETH_P_IP,
  IFF,
  isPlugin,
  NET_RX_SUCCESS,
  type NetDevice,
  type NetdevEvent,
  PACKET_HOST,
  PACKET_LOOPBACK,
  type Plugin,
  SkbDropReason,
  type Stack,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import defaultExport, { loopback, loopbackXmit } from "../src/index.js";

/** What the test's ETH_P_IP handler saw of one packet. */
interface Received {
  readonly dev: NetDevice;
  readonly bytes: Uint8Array;
  readonly protocol: number;
  readonly pktType: number;
  readonly ipSummed: number;
  readonly sk: unknown;
  readonly dst: unknown;
  readonly tstamp: number;
}

/** A plugin that takes every IPv4 packet at the device layer and records it. */
function sink(received: Received[]): Plugin {
  return definePlugin({
    name: "test:sink",
    register(ctx) {
      ctx.devAddPack({
        type: ETH_P_IP,
        func(skb, dev) {
          received.push({
            dev,
            bytes: skb.head.slice(skb.data, skb.tail),
            protocol: skb.protocol,
            pktType: skb.pktType,
            ipSummed: skb.ipSummed,
            sk: skb.sk,
            dst: skb.dst,
            tstamp: skb.tstamp,
          });
          consumeSkb(skb);
          return NET_RX_SUCCESS;
        },
      });
    },
  });
}

const PAYLOAD = new Uint8Array([0x45, 0x00, 0x00, 0x1c, 1, 2, 3, 4, 5, 6, 7, 8]);

/** Sends `bytes` as an IPv4 packet on `dev`, from a pretend socket with a pretend route. */
function send(dev: NetDevice, bytes: Uint8Array = PAYLOAD): void {
  const skb = skbFromBytes(bytes);
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  skb.sk = { socket: true };
  skb.dst = { route: true };
  skb.tstamp = 12345;
  skb.ipSummed = CHECKSUM_NONE;
  devQueueXmit(skb);
}

const stacks: Stack[] = [];

async function makeStack(
  options: Parameters<typeof createStack>[0] = {},
): Promise<{ stack: Stack; clock: VirtualClock; received: Received[] }> {
  const clock = new VirtualClock({ autoAdvance: false });
  const received: Received[] = [];
  const stack = await createStack({
    devices: [loopback()],
    ...options,
    plugins: [sink(received), ...(options.plugins ?? [])],
    clock,
  });
  stacks.push(stack);
  return { stack, clock, received };
}

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

describe("loopback()", () => {
  it("is the default export too", () => {
    expect(defaultExport).toBe(loopback);
  });

  it("is a frozen plugin named skbuff:loopback", () => {
    const lo = loopback();
    expect(isPlugin(lo)).toBe(true);
    expect(lo.name).toBe("skbuff:loopback");
    expect(Object.isFrozen(lo)).toBe(true);
  });

  it("is also the device spec { driver: 'loopback' } carrying its plugin", () => {
    const lo = loopback();
    expect(lo.driver).toBe("loopback");
    expect(isPlugin(lo.plugin)).toBe(true);
    expect(lo.plugin.name).toBe("skbuff:loopback");
  });

  it("adds its plugin to the stack when it is only listed as a device", async () => {
    const { stack } = await makeStack();
    expect(stack.plugins.map((p) => p.name)).toContain("skbuff:loopback");
    expect(stack.driver("loopback")).toBeDefined();
  });

  it("may be listed as a plugin and as a device at once", async () => {
    const { stack } = await makeStack({ plugins: [loopback()] });
    expect(stack.plugins.filter((p) => p.name === "skbuff:loopback")).toHaveLength(1);
    expect(stack.devices.map((d) => d.name)).toEqual(["lo"]);
  });

  it("registers the loopback driver for plain device specs when listed as a plugin", async () => {
    const { stack } = await makeStack({ plugins: [loopback()], devices: [{ driver: "loopback" }] });
    expect(stack.getDevice("lo")?.kind).toBe("loopback");
  });
});

describe("the lo device", () => {
  it("is named lo and gets ifindex 1 when it is the first device", async () => {
    const { stack } = await makeStack();
    const lo = stack.devices[0]!;
    expect(lo.name).toBe("lo");
    expect(lo.ifindex).toBe(1);
  });

  it("has MTU 65536, the LOOPBACK flag and the loopback link type", async () => {
    const { stack } = await makeStack();
    const lo = stack.getDevice("lo")!;
    expect(lo.mtu).toBe(65536);
    expect(lo.flags & IFF.LOOPBACK).toBe(IFF.LOOPBACK);
    expect(lo.type).toBe(ARPHRD.LOOPBACK);
  });

  it("is up, with carrier and without a qdisc", async () => {
    const { stack } = await makeStack();
    const lo = stack.getDevice("lo")!;
    expect(lo.isUp).toBe(true);
    expect(lo.isRunning).toBe(true);
    expect(lo.noQueue).toBe(true);
    expect(lo.qdisc).toBeNull();
  });

  it("offloads checksums and segmentation", async () => {
    const { stack } = await makeStack();
    expect(stack.getDevice("lo")!.features).toEqual({ hwCsum: true, rxCsum: true, tso: true });
  });

  it("has 127.0.0.1/8 when its spec gives no address", async () => {
    const { stack } = await makeStack();
    expect(stack.getDevice("lo")!.addresses).toEqual([
      { family: "inet", address: "127.0.0.1", prefixLen: 8 },
    ]);
  });

  it("gets 127.0.0.1/8 after it comes up, so protocols see up before addr-add", async () => {
    const events: string[] = [];
    const watcher = definePlugin({
      name: "test:watcher",
      register(ctx) {
        ctx.stack.registerNotifier((event: NetdevEvent, dev) =>
          events.push(`${event} ${dev.name}`),
        );
      },
    });
    await makeStack({ plugins: [watcher] });
    expect(events).toEqual(["register lo", "up lo", "addr-add lo"]);
  });

  it("has only the addresses its spec gives when it gives some", async () => {
    const { stack } = await makeStack({
      devices: [{ driver: "loopback", address: "127.0.0.2/8" }],
      plugins: [loopback()],
    });
    expect(stack.getDevice("lo")!.addresses.map((a) => a.address)).toEqual(["127.0.0.2"]);
  });

  it("stays down without an address when its spec says up: false, and gets one when brought up", async () => {
    const { stack } = await makeStack({
      devices: [{ driver: "loopback", up: false }],
      plugins: [loopback()],
    });
    const lo = stack.getDevice("lo")!;
    expect(lo.isUp).toBe(false);
    expect(lo.addresses).toEqual([]);
    stack.devOpen(lo);
    expect(lo.addresses.map((a) => `${a.address}/${a.prefixLen}`)).toEqual(["127.0.0.1/8"]);
  });

  it("keeps a single 127.0.0.1/8 when it goes down and up again", async () => {
    const { stack } = await makeStack();
    const lo = stack.getDevice("lo")!;
    stack.devClose(lo);
    stack.devOpen(lo);
    expect(lo.addresses).toHaveLength(1);
  });

  it("takes the name and MTU its spec gives", async () => {
    const { stack } = await makeStack({
      devices: [{ driver: "loopback", name: "lo0", mtu: 16384 }],
      plugins: [loopback()],
    });
    const lo = stack.getDevice("lo0")!;
    expect(lo.mtu).toBe(16384);
    expect(lo.flags & IFF.LOOPBACK).toBe(IFF.LOOPBACK);
  });

  it("refuses a spec key it does not know, naming its path", async () => {
    const attempt = createStack({
      plugins: [loopback()],
      devices: [{ driver: "loopback", speed: 1000 }],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toMatchObject({ path: "devices[0].speed", value: 1000 });
  });

  it("refuses a name that is not a valid interface name", async () => {
    const attempt = createStack({
      plugins: [loopback()],
      devices: [{ driver: "loopback", name: "lo/1" }],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toMatchObject({ path: "devices[0].name", value: "lo/1" });
  });

  it("is created in each host of a network that lists it", async () => {
    const net = await createNetwork({
      hosts: { a: { devices: [loopback()] }, b: { devices: [loopback()] } },
      clock: new VirtualClock({ autoAdvance: false }),
    });
    try {
      for (const host of Object.values(net.hosts)) {
        expect(host.getDevice("lo")?.addresses.map((a) => a.address)).toEqual(["127.0.0.1"]);
      }
    } finally {
      await net.close();
    }
  });

  it("names the host in the path of a refused key inside a network", async () => {
    const attempt = createNetwork({
      plugins: [loopback()],
      hosts: { a: { devices: [{ driver: "loopback", bogus: true }] } },
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toMatchObject({ path: "hosts.a.devices[0].bogus" });
  });
});

describe("loopbackXmit", () => {
  it("does not deliver inside devQueueXmit: the packet waits on the backlog", async () => {
    const { stack, received } = await makeStack();
    send(stack.getDevice("lo")!);
    expect(received).toHaveLength(0);
    expect(stack.softnet.backlog.qlen).toBe(1);
  });

  it("delivers the packet back in on lo once the receive softirq runs", async () => {
    const { stack, clock, received } = await makeStack();
    const lo = stack.getDevice("lo")!;
    send(lo);
    clock.advanceSync(0);
    expect(received).toHaveLength(1);
    expect(received[0]!.dev).toBe(lo);
    expect(received[0]!.bytes).toEqual(PAYLOAD);
    expect(received[0]!.protocol).toBe(ETH_P_IP);
  });

  it("marks the packet PACKET_LOOPBACK with CHECKSUM_UNNECESSARY", async () => {
    const { stack, clock, received } = await makeStack();
    send(stack.getDevice("lo")!);
    clock.advanceSync(0);
    expect(received[0]!.pktType).toBe(PACKET_LOOPBACK);
    expect(received[0]!.ipSummed).toBe(CHECKSUM_UNNECESSARY);
  });

  it("orphans the packet from its socket, drops its route and stamps it on receive", async () => {
    const { stack, clock, received } = await makeStack();
    clock.advanceSync(500);
    send(stack.getDevice("lo")!);
    clock.advanceSync(0);
    expect(received[0]!.sk).toBeNull();
    expect(received[0]!.dst).toBeNull();
    expect(received[0]!.tstamp).toBe(500);
  });

  it("counts each packet once, as both transmitted and received", async () => {
    const { stack, clock } = await makeStack();
    const lo = stack.getDevice("lo")!;
    send(lo);
    send(lo, new Uint8Array(100));
    clock.advanceSync(0);
    expect(lo.stats).toMatchObject({
      tx_packets: 2,
      rx_packets: 2,
      tx_bytes: PAYLOAD.length + 100,
      rx_bytes: PAYLOAD.length + 100,
      rx_dropped: 0,
      tx_dropped: 0,
    });
  });

  it("drops with CPU_BACKLOG, uncounted as traffic, when the backlog is full", async () => {
    const { stack, clock, received } = await makeStack({
      sysctl: { "net.core.netdev_max_backlog": 2 },
    });
    const lo = stack.getDevice("lo")!;
    for (let i = 0; i < 3; i++) send(lo);
    clock.advanceSync(0);
    expect(received).toHaveLength(2);
    expect(stack.dropReasons()).toEqual({ [SkbDropReason.CPU_BACKLOG]: 1 });
    expect(lo.stats).toMatchObject({ tx_packets: 2, rx_packets: 2, rx_dropped: 1 });
  });

  it("returns NETDEV_TX_OK and leaves the packet's protocol as the sender set it", async () => {
    const { stack, clock, received } = await makeStack();
    const lo = stack.getDevice("lo")!;
    const skb = skbFromBytes(PAYLOAD);
    skb.dev = lo;
    skb.protocol = ETH_P_IP;
    skb.pktType = PACKET_HOST;
    expect(loopbackXmit(skb, lo)).toBe(0);
    clock.advanceSync(0);
    expect(received[0]!.protocol).toBe(ETH_P_IP);
  });
});
