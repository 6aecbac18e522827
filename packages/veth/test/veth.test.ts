import {
  ARPHRD,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  CHECKSUM_UNNECESSARY,
  ConfigError,
  consumeSkb,
  createNetwork,
  createStack,
  csumFold,
  csumPartial,
  definePlugin,
  devQueueXmit,
  ETH_P_IP,
  IFF,
  NET_RX_SUCCESS,
  NETDEV_TX_OK,
  type NetDevice,
  type Network,
  PACKET_HOST,
  PACKET_OUTGOING,
  type Plugin,
  PluginError,
  SkbDropReason,
  type Stack,
  type StackOptions,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import defaultExport, { veth, vethLink, vethPair, vethPeer, vethXmit } from "../src/index.js";

/** What the test's ETH_P_IP handler saw of one packet. */
interface Received {
  readonly stack: string;
  readonly dev: NetDevice;
  readonly bytes: Uint8Array;
  readonly protocol: number;
  readonly pktType: number;
  readonly ipSummed: number;
  readonly sk: unknown;
  readonly dst: unknown;
  readonly mark: number;
  readonly cb: object | null;
  readonly tstamp: number;
  readonly skbIif: number;
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
            stack: dev.net.name,
            dev,
            bytes: skb.head.slice(skb.data, skb.tail),
            protocol: skb.protocol,
            pktType: skb.pktType,
            ipSummed: skb.ipSummed,
            sk: skb.sk,
            dst: skb.dst,
            mark: skb.mark,
            cb: skb.cb,
            tstamp: skb.tstamp,
            skbIif: skb.skbIif,
          });
          consumeSkb(skb);
          return NET_RX_SUCCESS;
        },
      });
    },
  });
}

const PAYLOAD = new Uint8Array([0x45, 0x00, 0x00, 0x1c, 1, 2, 3, 4, 5, 6, 7, 8]);

interface SendOptions {
  readonly ipSummed?: number;
  readonly csumStart?: number;
  readonly csumOffset?: number;
}

/** Sends `bytes` as an IPv4 packet on `dev`, with socket, route, mark and cb of a sender. */
function send(dev: NetDevice, bytes: Uint8Array = PAYLOAD, opts: SendOptions = {}): void {
  const skb = skbFromBytes(bytes);
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  skb.sk = { socket: true };
  skb.dst = { route: true };
  skb.mark = 7;
  skb.cb = { seq: 1 };
  skb.tstamp = 12345;
  skb.skbIif = 99;
  skb.pktType = PACKET_OUTGOING;
  skb.ipSummed = (opts.ipSummed ?? CHECKSUM_NONE) as typeof skb.ipSummed;
  if (opts.csumStart !== undefined) skb.csumStart = skb.data + opts.csumStart;
  if (opts.csumOffset !== undefined) skb.csumOffset = opts.csumOffset;
  devQueueXmit(skb);
}

const cleanups: (Stack | Network)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c.close();
});

async function makeStack(
  name: string,
  clock: VirtualClock,
  received: Received[],
  options: Omit<StackOptions, "name" | "clock"> = {},
): Promise<Stack> {
  const stack = await createStack({
    ...options,
    name,
    clock,
    plugins: [veth(), sink(received), ...(options.plugins ?? [])],
  });
  cleanups.push(stack);
  return stack;
}

/** Two stacks on one virtual clock, joined by a veth pair a:eth0 <-> b:eth0. */
async function twoStacks(
  opts: { a?: Omit<StackOptions, "name" | "clock">; b?: Omit<StackOptions, "name" | "clock"> } = {},
  pair: Parameters<typeof vethPair>[4] = {},
) {
  const clock = new VirtualClock({ autoAdvance: false });
  const received: Received[] = [];
  const a = await makeStack("a", clock, received, opts.a);
  const b = await makeStack("b", clock, received, opts.b);
  const [a0, b0] = vethPair(a, "eth0", b, "eth0", pair);
  return { clock, received, a, b, a0, b0 };
}

describe("veth()", () => {
  it("is the default export too", () => {
    expect(defaultExport).toBe(veth);
  });

  it("is a plugin named skbuff:veth that registers the veth driver", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, []);
    expect(veth().name).toBe("skbuff:veth");
    expect(stack.driver("veth")?.link).toBeTypeOf("function");
  });
});

describe("a veth device", () => {
  it("is named veth0, veth1, … by default, skipping names in use", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], {
      devices: [{ driver: "veth", name: "veth1" }, { driver: "veth" }, { driver: "veth" }],
    });
    expect(stack.devices.map((d) => d.name)).toEqual(["veth1", "veth0", "veth2"]);
  });

  it("is a point-to-point, NOARP device without link-layer header, MTU 1500 and no qdisc", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    const dev = stack.getDevice("eth0")!;
    expect(dev.kind).toBe("veth");
    expect(dev.mtu).toBe(1500);
    expect(dev.flags & (IFF.POINTOPOINT | IFF.NOARP)).toBe(IFF.POINTOPOINT | IFF.NOARP);
    expect(dev.flags & IFF.BROADCAST).toBe(0);
    expect(dev.type).toBe(ARPHRD.NONE);
    expect(dev.noQueue).toBe(true);
    expect(dev.qdisc).toBeNull();
  });

  it("has checksum offload off by default", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    expect(stack.getDevice("eth0")!.features).toEqual({ hwCsum: false, rxCsum: false, tso: false });
  });

  it("has checksum offload on when its spec says offload: true", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], {
      devices: [{ driver: "veth", name: "eth0", offload: true }],
    });
    expect(stack.getDevice("eth0")!.features).toMatchObject({ hwCsum: true, rxCsum: true });
  });

  it("is up but has no carrier while it has no peer", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    const dev = stack.getDevice("eth0")!;
    expect(dev.isUp).toBe(true);
    expect(dev.carrier).toBe(false);
    expect(vethPeer(dev)).toBeNull();
  });

  it("refuses a spec key it does not know, naming its path", async () => {
    const attempt = createStack({
      plugins: [veth()],
      devices: [
        { driver: "veth", name: "eth0" },
        { driver: "veth", peer: "eth0" },
      ],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toThrow(ConfigError);
    await expect(attempt).rejects.toMatchObject({ path: "devices[1].peer", value: "eth0" });
  });

  it("refuses a name that is not a valid interface name", async () => {
    const attempt = createStack({
      plugins: [veth()],
      devices: [{ driver: "veth", name: "a-name-much-too-long" }],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toMatchObject({ path: "devices[0].name" });
  });

  it("refuses an offload that is not a boolean", async () => {
    const attempt = createStack({
      plugins: [veth()],
      devices: [{ driver: "veth", offload: "yes" }],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toMatchObject({ path: "devices[0].offload", value: "yes" });
  });
});

describe("vethPair", () => {
  it("returns two paired, up devices with carrier, one in each stack", async () => {
    const { a, b, a0, b0 } = await twoStacks();
    expect(a0.net).toBe(a);
    expect(b0.net).toBe(b);
    expect(vethPeer(a0)).toBe(b0);
    expect(vethPeer(b0)).toBe(a0);
    expect([a0.isRunning, b0.isRunning]).toEqual([true, true]);
  });

  it("adds the addresses and MTU it is given", async () => {
    const { a0, b0 } = await twoStacks(
      {},
      { addressA: "192.0.2.1/24", addressB: "192.0.2.2/24", mtu: 9000 },
    );
    expect(a0.addresses.map((x) => x.address)).toEqual(["192.0.2.1"]);
    expect(b0.addresses.map((x) => x.address)).toEqual(["192.0.2.2"]);
    expect([a0.mtu, b0.mtu]).toEqual([9000, 9000]);
  });

  it("leaves both ends down, without carrier, with up: false", async () => {
    const { a0, b0 } = await twoStacks({}, { up: false });
    expect([a0.isUp, b0.isUp, a0.carrier, b0.carrier]).toEqual([false, false, false, false]);
  });

  it("refuses an invalid interface name before creating anything", async () => {
    const { a, b } = await twoStacks();
    expect(() => vethPair(a, "eth 1", b, "eth1")).toThrow(
      expect.objectContaining({ path: "nameA", value: "eth 1" }),
    );
    expect(a.getDevice("eth 1")).toBeUndefined();
  });

  it("fails naming the plugin to add when a stack has no veth driver", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const a = await makeStack("a", clock, []);
    const bare = await createStack({ name: "bare", clock });
    cleanups.push(bare);
    expect(() => vethPair(a, "eth0", bare, "eth0")).toThrow(PluginError);
    expect(() => vethPair(a, "eth1", bare, "eth0")).toThrow(/add the plugin veth\(\)/);
    expect(a.devices).toEqual([]);
  });
});

describe("vethLink", () => {
  it("refuses a device that already has a peer", async () => {
    const { a, a0 } = await twoStacks();
    const [c] = vethPair(a, "eth1", a, "eth2");
    expect(() => vethLink(a0, c)).toThrow(expect.objectContaining({ code: "EBUSY" }));
  });

  it("refuses to pair a device with itself", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    const dev = stack.getDevice("eth0")!;
    expect(() => vethLink(dev, dev)).toThrow(expect.objectContaining({ code: "EINVAL" }));
  });
});

describe("vethXmit", () => {
  it("does not deliver inside devQueueXmit: the packet waits on the peer's backlog", async () => {
    const { a, b, a0, received } = await twoStacks();
    send(a0);
    expect(received).toHaveLength(0);
    expect(b.softnet.backlog.qlen).toBe(1);
    expect(a.softnet.backlog.qlen).toBe(0);
  });

  it("delivers from the first stack to the second once the softirq runs", async () => {
    const { clock, a0, b0, received } = await twoStacks();
    send(a0);
    clock.advanceSync(0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({ stack: "b", dev: b0, bytes: PAYLOAD, protocol: ETH_P_IP });
  });

  it("delivers from the second stack to the first", async () => {
    const { clock, a0, b0, received } = await twoStacks();
    send(b0, new Uint8Array([0x45, 9, 9, 9]));
    clock.advanceSync(0);
    expect(received).toHaveLength(1);
    expect(received[0]).toMatchObject({
      stack: "a",
      dev: a0,
      bytes: new Uint8Array([0x45, 9, 9, 9]),
    });
  });

  it("scrubs the packet as it crosses into the other stack", async () => {
    const { clock, b0, a0, received } = await twoStacks();
    clock.advanceSync(250);
    send(a0);
    clock.advanceSync(0);
    expect(received[0]).toMatchObject({
      pktType: PACKET_HOST,
      sk: null,
      dst: null,
      mark: 0,
      cb: null,
      tstamp: 250,
      skbIif: b0.ifindex,
    });
  });

  it("counts tx on the sending end and rx on the receiving end", async () => {
    const { clock, a0, b0 } = await twoStacks();
    send(a0);
    send(a0, new Uint8Array(100));
    clock.advanceSync(0);
    const bytes = PAYLOAD.length + 100;
    expect(a0.stats).toMatchObject({ tx_packets: 2, tx_bytes: bytes, rx_packets: 0, rx_bytes: 0 });
    expect(b0.stats).toMatchObject({ rx_packets: 2, rx_bytes: bytes, tx_packets: 0, tx_bytes: 0 });
  });

  it("returns NETDEV_TX_OK, even for a packet it drops", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    const dev = stack.getDevice("eth0")!;
    const skb = skbFromBytes(PAYLOAD);
    skb.dev = dev;
    expect(vethXmit(skb, dev)).toBe(NETDEV_TX_OK);
    expect(skb.dropReason).toBe(SkbDropReason.DEV_CARRIER);
  });
});

describe("checksums across veth", () => {
  it("hands packets to a peer without offload as CHECKSUM_NONE, to be verified", async () => {
    const { clock, a0, received } = await twoStacks();
    send(a0, PAYLOAD, { ipSummed: CHECKSUM_UNNECESSARY });
    clock.advanceSync(0);
    expect(received[0]!.ipSummed).toBe(CHECKSUM_NONE);
  });

  it("fills in a CHECKSUM_PARTIAL checksum for a peer without offload", async () => {
    const { clock, a0, received } = await twoStacks();
    // 20 bytes of "IP header", then a UDP-like header whose checksum field (offset 6) is 0.
    const packet = new Uint8Array(40).map((_, i) => (i * 37 + 11) & 0xff);
    packet[26] = 0;
    packet[27] = 0;
    send(a0, packet, { ipSummed: CHECKSUM_PARTIAL, csumStart: 20, csumOffset: 6 });
    clock.advanceSync(0);
    const got = received[0]!.bytes;
    expect(received[0]!.ipSummed).toBe(CHECKSUM_NONE);
    expect(got.subarray(0, 26)).toEqual(packet.subarray(0, 26));
    expect(csumFold(csumPartial(got, 20, 20))).toBe(0);
  });

  it("delivers a CHECKSUM_PARTIAL packet as CHECKSUM_UNNECESSARY when offload is on", async () => {
    const { clock, a0, received } = await twoStacks({}, { offload: true });
    const packet = new Uint8Array(40);
    send(a0, packet, { ipSummed: CHECKSUM_PARTIAL, csumStart: 20, csumOffset: 6 });
    clock.advanceSync(0);
    expect(received[0]!.ipSummed).toBe(CHECKSUM_UNNECESSARY);
    expect(received[0]!.bytes).toEqual(packet);
  });
});

describe("carrier", () => {
  it("drops with DEV_CARRIER, in the sender's stack, what a device without peer sends", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const stack = await makeStack("s", clock, [], { devices: [{ driver: "veth", name: "eth0" }] });
    const dev = stack.getDevice("eth0")!;
    send(dev);
    clock.advanceSync(0);
    expect(stack.dropReasons()).toEqual({ [SkbDropReason.DEV_CARRIER]: 1 });
    expect(dev.stats).toMatchObject({ tx_dropped: 1, tx_packets: 0 });
  });

  it("goes off on both ends when one end goes down", async () => {
    const { b, a0, b0 } = await twoStacks();
    b.devClose(b0);
    expect([a0.carrier, b0.carrier]).toEqual([false, false]);
  });

  it("drops with DEV_CARRIER what is sent towards a peer that is down", async () => {
    const { clock, a, b, a0, b0, received } = await twoStacks();
    b.devClose(b0);
    send(a0);
    clock.advanceSync(0);
    expect(received).toHaveLength(0);
    expect(a.dropReasons()).toEqual({ [SkbDropReason.DEV_CARRIER]: 1 });
    expect(a0.stats.tx_dropped).toBe(1);
  });

  it("comes back on both ends when the peer comes back up", async () => {
    const { clock, b, a0, b0, received } = await twoStacks();
    b.devClose(b0);
    b.devOpen(b0);
    expect([a0.carrier, b0.carrier]).toEqual([true, true]);
    send(a0);
    clock.advanceSync(0);
    expect(received).toHaveLength(1);
  });

  it("comes on only when both ends are up", async () => {
    const { a, b, a0, b0 } = await twoStacks({}, { up: false });
    a.devOpen(a0);
    expect(a0.carrier).toBe(false);
    b.devOpen(b0);
    expect([a0.carrier, b0.carrier]).toEqual([true, true]);
  });

  it("goes off, and the peer is forgotten, when the other end's stack closes", async () => {
    const { b, a0 } = await twoStacks();
    await b.close();
    expect(a0.carrier).toBe(false);
    expect(vethPeer(a0)).toBeNull();
  });
});

describe("MTU", () => {
  it("drops a packet longer than the peer's MTU with PKT_TOO_BIG in the peer's stack", async () => {
    const { clock, a, b, a0, b0, received } = await twoStacks({}, { mtu: 1500 });
    a0.mtu = 9000;
    send(a0, new Uint8Array(1501));
    clock.advanceSync(0);
    expect(received).toHaveLength(0);
    expect(b.dropReasons()).toEqual({ [SkbDropReason.PKT_TOO_BIG]: 1 });
    expect(a.dropReasons()).toEqual({});
    expect(b0.stats.rx_dropped).toBe(1);
    expect(a0.stats).toMatchObject({ tx_dropped: 1, tx_packets: 0 });
  });

  it("delivers a packet exactly as long as the peer's MTU", async () => {
    const { clock, a0, received } = await twoStacks();
    send(a0, new Uint8Array(1500));
    clock.advanceSync(0);
    expect(received).toHaveLength(1);
  });
});

describe("createNetwork with veth links", () => {
  async function network(): Promise<{ net: Network; received: Received[]; clock: VirtualClock }> {
    const clock = new VirtualClock({ autoAdvance: false });
    const received: Received[] = [];
    const net = await createNetwork({
      plugins: [veth(), sink(received)],
      hosts: {
        a: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }] },
        b: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.2/24" }] },
      },
      links: [{ ends: ["a:eth0", "b:eth0"] }],
      clock,
    });
    cleanups.push(net);
    return { net, received, clock };
  }

  it("pairs the two ends of a link", async () => {
    const { net } = await network();
    const a0 = net.hosts.a!.getDevice("eth0")!;
    const b0 = net.hosts.b!.getDevice("eth0")!;
    expect(vethPeer(a0)).toBe(b0);
    expect(net.links).toEqual([[a0, b0]]);
    expect([a0.isRunning, b0.isRunning]).toEqual([true, true]);
  });

  it("carries packets between the hosts both ways", async () => {
    const { net, received, clock } = await network();
    send(net.hosts.a!.getDevice("eth0")!);
    send(net.hosts.b!.getDevice("eth0")!);
    clock.advanceSync(0);
    expect(received.map((r) => `${r.stack}:${r.dev.name}`).sort()).toEqual(["a:eth0", "b:eth0"]);
  });

  it("refuses a second link on a device that a link already uses", async () => {
    const attempt = createNetwork({
      plugins: [veth()],
      hosts: {
        a: { devices: [{ driver: "veth", name: "eth0" }] },
        b: { devices: [{ driver: "veth", name: "eth0" }] },
      },
      links: [{ ends: ["a:eth0", "b:eth0"] }, { ends: ["a:eth0", "b:eth0"] }],
      clock: new VirtualClock({ autoAdvance: false }),
    });
    await expect(attempt).rejects.toMatchObject({ path: "links[1].ends[0]" });
  });
});

describe("bursts", () => {
  it("delivers netdev_budget packets per softirq run and the rest in later runs", async () => {
    const { clock, a0, b, received } = await twoStacks({
      b: { sysctl: { "net.core.netdev_max_backlog": 20_000 } },
    });
    for (let i = 0; i < 10_000; i++) send(a0);
    expect(b.softnet.backlog.qlen).toBe(10_000);
    b.softnet.netRxAction();
    expect(received).toHaveLength(300);
    expect(b.softnetMib.SoftnetTimeSqueeze).toBe(1);
    clock.advanceSync(0);
    expect(received).toHaveLength(10_000);
    expect(b.softnetMib.SoftnetTimeSqueeze).toBeGreaterThan(1);
    expect(b.softnetMib.SoftnetProcessed).toBe(10_000);
    expect(b.dropReasons()).toEqual({});
  });

  it("drops with CPU_BACKLOG what exceeds net.core.netdev_max_backlog", async () => {
    const { clock, a0, b0, b, received } = await twoStacks();
    const max = b.sysctl.get("net.core.netdev_max_backlog") as number;
    for (let i = 0; i < max + 500; i++) send(a0);
    clock.advanceSync(0);
    expect(received).toHaveLength(max);
    expect(b.dropReasons()).toEqual({ [SkbDropReason.CPU_BACKLOG]: 500 });
    expect(b.softnetMib.SoftnetDropped).toBe(500);
    expect(b0.stats).toMatchObject({ rx_packets: max, rx_dropped: 500 });
    expect(a0.stats).toMatchObject({ tx_packets: max, tx_dropped: 500 });
  });
});
