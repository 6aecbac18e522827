import {
  ETH_P_IP,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_HOOK_NAMES,
  NF_INET_LOCAL_IN,
  NF_INET_PRE_ROUTING,
  NFPROTO_IPV4,
  netifRx,
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_OTHERHOST,
  type PktType,
  type SkBuff,
  SkbDropReason,
  skbFromBytes,
} from "@skbuff/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ipDaddr, ipProtocol, ipv4Net } from "../src/index.js";
import {
  addr,
  buildIpv4,
  closeStacks,
  counterDelta,
  dropDelta,
  inject,
  makeStack,
  run,
  type TestStack,
} from "./helpers.js";

afterEach(closeStacks);

/** What happened to one injected packet. */
interface Rx {
  readonly skb: SkBuff;
  /** IP counters that moved (IpInReceives, IpInHdrErrors, …). */
  readonly ip: Record<string, number>;
  /** Drops per reason that moved. */
  readonly drops: Record<string, number>;
}

/** Injects `bytes` on eth0, runs the softirq, and says what moved. */
function rx(t: TestStack, bytes: Uint8Array, pktType?: PktType): Rx {
  const counters = t.stack.counters();
  const drops = t.stack.dropReasons();
  const skb = inject(t.stack, "eth0", bytes, pktType !== undefined ? { pktType } : {});
  run(t.clock);
  const ip = Object.fromEntries(
    Object.entries(counterDelta(t.stack, counters)).filter(([k]) => k.startsWith("Ip")),
  );
  return { skb, ip, drops: dropDelta(t.stack, drops) };
}

/** The packet ended in exactly one kfree_skb with `reason`, and nothing was delivered or sent. */
function expectDropped(t: TestStack, r: Rx, reason: SkbDropReason): void {
  expect(t.delivered.map((d) => d.payload)).toEqual([]);
  expect(t.sent.map((p) => p.dev)).toEqual([]);
  expect(r.skb.dropReason).toBe(reason);
  expect(t.rec.endsOf(r.skb)).toEqual([{ kind: "kfree", skb: r.skb, reason }]);
  expect(r.drops).toEqual({ [reason]: 1 });
}

/** Replaces the stack's icmp_send with a spy that notes what the IP header said at the call. */
function spyIcmp(t: TestStack) {
  const calls: { type: number; code: number; info: number; protocol: number; daddr: number }[] = [];
  const fn = vi.fn((skb: SkBuff, type: number, code: number, info: number) => {
    calls.push({
      type,
      code,
      info,
      protocol: ipProtocol(skb.head, skb.networkHeader),
      daddr: ipDaddr(skb.head, skb.networkHeader),
    });
  });
  ipv4Net(t.stack).icmpSend = fn;
  return { fn, calls };
}

describe("ip_rcv_core", () => {
  it("leaves skb.cb to the next layer, which may reuse the object (IPv4 keeps nothing in it)", async () => {
    const t = await makeStack();
    const skb = skbFromBytes(buildIpv4({ payload: Uint8Array.of(1) }));
    skb.dev = t.stack.getDevice("eth0")!;
    skb.protocol = ETH_P_IP;
    const cb = { seq: 1, endSeq: 2 };
    skb.cb = cb;
    netifRx(skb);
    run(t.clock);
    expect(t.delivered.map((d) => d.skb)).toEqual([skb]);
    expect(skb.cb).toBe(cb);
    expect(cb).toEqual({ seq: 1, endSeq: 2 });
  });

  it("delivers a valid packet to its protocol and counts IpInReceives and IpInDelivers", async () => {
    const t = await makeStack();
    const bytes = buildIpv4({ payload: Uint8Array.of(9, 8, 7) });
    const r = rx(t, bytes);
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.header).toEqual(bytes.subarray(0, 20));
    expect(t.delivered[0]!.payload).toEqual(Uint8Array.of(9, 8, 7));
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 23, IpInDelivers: 1 });
    expect(t.rec.endsOf(r.skb)).toEqual([{ kind: "consume", skb: r.skb, reason: null }]);
    expect(r.drops).toEqual({});
  });

  it("drops a packet for another host (PACKET_OTHERHOST) without counting it received, like Linux", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4(), PACKET_OTHERHOST);
    expectDropped(t, r, SkbDropReason.OTHERHOST);
    expect(r.ip).toEqual({});
  });

  it("drops a version other than 4 as IP_INHDR and counts IpInHdrErrors", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ version: 6 }));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 28, IpInHdrErrors: 1 });
  });

  it("drops an IHL below 5 as IP_INHDR and counts IpInHdrErrors", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ ihl: 4 }));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpInHdrErrors: 1 });
  });

  it("drops a packet shorter than 20 bytes as IP_INHDR and counts IpInHdrErrors", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4().subarray(0, 19));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 19, IpInHdrErrors: 1 });
  });

  it("drops an empty packet as IP_INHDR", async () => {
    const t = await makeStack();
    const r = rx(t, new Uint8Array(0));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toEqual({ IpInReceives: 1, IpInHdrErrors: 1 });
  });

  it("drops a packet shorter than its IHL says as IP_INHDR and counts IpInHdrErrors", async () => {
    const t = await makeStack();
    // IHL 15 (60 bytes of header) in a 28-byte packet.
    const r = rx(t, buildIpv4({ ihl: 15 }));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpInHdrErrors: 1 });
  });

  it("drops a total length shorter than the header as IP_INHDR and counts IpInHdrErrors", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ totLen: 19 }));
    expectDropped(t, r, SkbDropReason.IP_INHDR);
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 28, IpInHdrErrors: 1 });
  });

  it("drops a bad header checksum as IP_CSUM and counts IpExtInCsumErrors and IpInHdrErrors", async () => {
    const t = await makeStack();
    const good = buildIpv4();
    const bad = buildIpv4({ check: (good[10]! << 8) ^ good[11]! ^ 0x0100 });
    const r = rx(t, bad);
    expectDropped(t, r, SkbDropReason.IP_CSUM);
    expect(r.ip).toEqual({
      IpInReceives: 1,
      IpExtInOctets: 28,
      IpExtInCsumErrors: 1,
      IpInHdrErrors: 1,
    });
  });

  it("checks the checksum over the options too", async () => {
    const t = await makeStack();
    const bytes = buildIpv4({ options: Uint8Array.of(1, 1, 1, 0) });
    bytes[22] = 0x44; // an option byte changed after the checksum was computed
    const r = rx(t, bytes);
    expectDropped(t, r, SkbDropReason.IP_CSUM);
  });

  it("drops a total length beyond the packet as PKT_TOO_SMALL and counts IpExtInTruncatedPkts", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ totLen: 29 }));
    expectDropped(t, r, SkbDropReason.PKT_TOO_SMALL);
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 28, IpExtInTruncatedPkts: 1 });
  });

  it("trims link-layer padding beyond the total length and delivers the datagram", async () => {
    const t = await makeStack();
    const bytes = buildIpv4({ payload: Uint8Array.of(1, 2, 3) });
    const padded = new Uint8Array(bytes.length + 23).fill(0xaa);
    padded.set(bytes);
    const r = rx(t, padded);
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.payload).toEqual(Uint8Array.of(1, 2, 3));
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpInDelivers: 1 });
    expect(r.drops).toEqual({});
  });

  it("delivers a header with options, the payload starting after them", async () => {
    const t = await makeStack();
    const bytes = buildIpv4({ options: Uint8Array.of(1, 1, 1, 0), payload: Uint8Array.of(5, 6) });
    rx(t, bytes);
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.header).toEqual(bytes.subarray(0, 24));
    expect(t.delivered[0]!.payload).toEqual(Uint8Array.of(5, 6));
  });

  it("records the drop on the skb and in the stack's per-reason counters", async () => {
    const t = await makeStack();
    rx(t, buildIpv4({ version: 5 }));
    rx(t, buildIpv4({ totLen: 100 }));
    rx(t, buildIpv4({ check: 0 }));
    rx(t, buildIpv4({ version: 0 }));
    expect(t.stack.dropReasons()).toEqual({ IP_INHDR: 2, PKT_TOO_SMALL: 1, IP_CSUM: 1 });
    expect(t.rec.drops.map((d) => d.skb.dropReason)).toEqual([
      "IP_INHDR",
      "PKT_TOO_SMALL",
      "IP_CSUM",
      "IP_INHDR",
    ]);
  });
});

describe("local delivery", () => {
  it("drops an unknown protocol as IP_NOPROTO, counts IpInUnknownProtos and sends protocol unreachable", async () => {
    const t = await makeStack();
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ protocol: 254 }));
    expectDropped(t, r, SkbDropReason.IP_NOPROTO);
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpInUnknownProtos: 1 });
    expect(r.ip.IpInDelivers).toBeUndefined();
    expect(icmp.fn).toHaveBeenCalledTimes(1);
    expect(icmp.fn).toHaveBeenCalledWith(r.skb, 3, 2, 0);
    // The offending packet is handed over with its IP header still findable.
    expect(icmp.calls[0]).toMatchObject({ protocol: 254, daddr: addr("192.0.2.1") });
  });

  it("drops a packet not for us when not forwarding as IP_INADDRERRORS, counting IpInAddrErrors, with no ICMP", async () => {
    const t = await makeStack();
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ dst: "198.51.100.7" }));
    expectDropped(t, r, SkbDropReason.IP_INADDRERRORS);
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpInAddrErrors: 1 });
    expect(icmp.fn).not.toHaveBeenCalled();
  });

  it("drops a packet for another host on our subnet the same way when not forwarding", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ dst: "192.0.2.77" }));
    expectDropped(t, r, SkbDropReason.IP_INADDRERRORS);
    expect(r.ip).toMatchObject({ IpInAddrErrors: 1 });
  });

  it("delivers a subnet broadcast locally and counts IpExtInBcastPkts", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ dst: "192.0.2.255" }));
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.pktType).toBe(PACKET_BROADCAST);
    expect(r.ip).toMatchObject({ IpInReceives: 1, IpExtInBcastPkts: 1, IpInDelivers: 1 });
  });

  it("delivers the limited broadcast 255.255.255.255 locally and counts IpExtInBcastPkts", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ dst: "255.255.255.255" }));
    expect(t.delivered).toHaveLength(1);
    expect(r.ip).toMatchObject({ IpExtInBcastPkts: 1, IpInDelivers: 1 });
  });

  it("accepts source 0.0.0.0 to the limited broadcast (a DHCP client), like Linux", async () => {
    const t = await makeStack();
    rx(t, buildIpv4({ src: "0.0.0.0", dst: "255.255.255.255" }));
    expect(t.delivered).toHaveLength(1);
  });

  it("never forwards a broadcast, even as a router", async () => {
    const t = await makeStack({ sysctl: { "net.ipv4.ip_forward": 1 } });
    rx(t, buildIpv4({ dst: "192.0.2.255" }));
    expect(t.delivered).toHaveLength(1);
    expect(t.sent).toEqual([]);
  });

  it.each([["0.0.0.0"], ["0.1.2.3"], ["224.0.0.1"], ["239.255.255.250"], ["255.255.255.255"]])(
    "drops a packet from the martian source %s and delivers nothing",
    async (src) => {
      const t = await makeStack();
      const r = rx(t, buildIpv4({ src }));
      expectDropped(t, r, SkbDropReason.IP_INVALID_SOURCE);
      expect(r.ip).toMatchObject({ IpInAddrErrors: 1 });
    },
  );

  it("drops a packet from a loopback source that arrived on a real device (RFC 1122 3.2.1.3)", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ src: "127.0.0.1" }));
    expectDropped(t, r, SkbDropReason.IP_INVALID_SOURCE);
  });

  it("drops a packet to a loopback address that arrived on a real device, even with lo up", async () => {
    const t = await makeStack({
      devices: [
        { driver: "test", name: "lo", address: "127.0.0.1/8", loopback: true },
        { driver: "test", name: "eth0", address: "192.0.2.1/24" },
      ],
    });
    const r = rx(t, buildIpv4({ dst: "127.0.0.1" }));
    expectDropped(t, r, SkbDropReason.IP_INVALID_DEST);
  });

  it("drops a packet to a multicast group it does not handle", async () => {
    const t = await makeStack();
    const r = rx(t, buildIpv4({ dst: "224.0.0.1" }));
    expect(t.delivered).toEqual([]);
    expect(t.rec.endsOf(r.skb)).toHaveLength(1);
    expect(t.rec.endsOf(r.skb)[0]!.kind).toBe("kfree");
  });

  it("drops a packet to 0.0.0.0/8 (a martian destination)", async () => {
    const t = await makeStack({
      sysctl: { "net.ipv4.ip_forward": 1 },
      routes: [{ to: "default", via: "192.0.2.254" }],
    });
    const r = rx(t, buildIpv4({ dst: "0.0.0.7" }));
    expectDropped(t, r, SkbDropReason.IP_INVALID_DEST);
  });
});

describe("netfilter hooks on the receive path", () => {
  /** Registers a hook at `hooknum` that notes what it saw and returns `verdict`. */
  function watch(t: TestStack, hooknum: number, seen: object[], verdict = NF_ACCEPT): void {
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum,
      priority: 0,
      hook(skb, state) {
        seen.push({
          hook: NF_INET_HOOK_NAMES[state.hook],
          routed: skb.dst !== null,
          in: state.in?.name ?? null,
          out: state.out?.name ?? null,
          atIpHeader: skb.data === skb.networkHeader,
        });
        return verdict;
      },
    });
  }

  it("runs PRE_ROUTING before the route lookup and LOCAL_IN after it", async () => {
    const t = await makeStack();
    const seen: object[] = [];
    watch(t, NF_INET_PRE_ROUTING, seen);
    watch(t, NF_INET_LOCAL_IN, seen);
    rx(t, buildIpv4());
    expect(seen).toEqual([
      { hook: "PRE_ROUTING", routed: false, in: "eth0", out: null, atIpHeader: true },
      { hook: "LOCAL_IN", routed: true, in: "eth0", out: null, atIpHeader: true },
    ]);
    expect(t.delivered).toHaveLength(1);
  });

  it("does not run the hooks for a packet ip_rcv_core refused", async () => {
    const t = await makeStack();
    const seen: object[] = [];
    watch(t, NF_INET_PRE_ROUTING, seen);
    rx(t, buildIpv4({ check: 0 }));
    expect(seen).toEqual([]);
  });

  it("drops a packet that PRE_ROUTING drops, as NETFILTER_DROP, and delivers nothing", async () => {
    const t = await makeStack();
    const seen: object[] = [];
    watch(t, NF_INET_PRE_ROUTING, seen, NF_DROP);
    watch(t, NF_INET_LOCAL_IN, seen);
    const r = rx(t, buildIpv4());
    expectDropped(t, r, SkbDropReason.NETFILTER_DROP);
    expect(seen).toHaveLength(1);
    expect(r.ip).toEqual({ IpInReceives: 1, IpExtInOctets: 28 });
  });

  it("drops a packet that LOCAL_IN drops after it was routed, and delivers nothing", async () => {
    const t = await makeStack();
    const seen: object[] = [];
    watch(t, NF_INET_LOCAL_IN, seen, NF_DROP);
    const r = rx(t, buildIpv4());
    expectDropped(t, r, SkbDropReason.NETFILTER_DROP);
  });

  it("delivers a packet whose route PRE_ROUTING already set, without looking it up again", async () => {
    const t = await makeStack();
    const r0 = rx(t, buildIpv4());
    const rt = r0.skb.dst;
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_PRE_ROUTING,
      priority: 0,
      hook(skb) {
        skb.dst = rt;
        return NF_ACCEPT;
      },
    });
    // Not for us, but the hook routed it to local delivery (like a TPROXY/early-demux route).
    rx(t, buildIpv4({ dst: "198.51.100.9" }));
    expect(t.delivered).toHaveLength(2);
    expect(t.delivered[1]!.pktType).toBe(PACKET_HOST);
  });
});
