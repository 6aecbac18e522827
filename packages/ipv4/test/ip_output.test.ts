import {
  inetNtoa,
  ipFastCsum,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_HOOK_NAMES,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NFPROTO_IPV4,
  PACKET_LOOPBACK,
  SkbDropReason,
  Sock,
  skbFromBytes,
} from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  addRoute,
  IP_DF,
  ipBuildAndSendPkt,
  ipCheck,
  ipDaddr,
  ipFragOff,
  ipId,
  ipIhl,
  ipProtocol,
  ipQueueXmit,
  ipSaddr,
  ipTos,
  ipTotLen,
  ipTtl,
  ipVersion,
  ipv4Net,
} from "../src/index.js";
import {
  addr,
  closeStacks,
  counterDelta,
  makeStack,
  run,
  SINK_PROTO,
  type TestStack,
} from "./helpers.js";

afterEach(closeStacks);

const PAYLOAD = Uint8Array.of(0xde, 0xad, 0xbe, 0xef, 1, 2, 3);

/** Sends PAYLOAD to `daddr` with ip_build_and_send_pkt; returns its result. */
function send(
  t: TestStack,
  daddr: string,
  opts: Parameters<typeof ipBuildAndSendPkt>[5] = {},
  headroom = 64,
) {
  const skb = skbFromBytes(PAYLOAD, headroom);
  const ret = ipBuildAndSendPkt(skb, t.stack, 0, addr(daddr), SINK_PROTO, opts);
  return { skb, ret };
}

/** The IP header fields of a sent packet, readably. */
function header(b: Uint8Array) {
  return {
    version: ipVersion(b, 0),
    ihl: ipIhl(b, 0),
    tos: ipTos(b, 0),
    totLen: ipTotLen(b, 0),
    df: (ipFragOff(b, 0) & IP_DF) !== 0,
    fragOff: ipFragOff(b, 0) & ~IP_DF,
    ttl: ipTtl(b, 0),
    protocol: ipProtocol(b, 0),
    saddr: inetNtoa(ipSaddr(b, 0)),
    daddr: inetNtoa(ipDaddr(b, 0)),
    checksumOk: ipFastCsum(b, 0, ipIhl(b, 0)) === 0,
  };
}

/** eth0 192.0.2.1/24, eth1 198.51.100.1/24, default via 192.0.2.254. */
function twoNets(): Promise<TestStack> {
  return makeStack({
    devices: [
      { driver: "test", name: "eth0", address: "192.0.2.1/24" },
      { driver: "test", name: "eth1", address: "198.51.100.1/24" },
    ],
    routes: [{ to: "default", via: "192.0.2.254" }],
  });
}

describe("ip_build_and_send_pkt", () => {
  it("builds a correct header and sends the packet out of the routed device", async () => {
    const t = await makeStack({ sysctl: { "net.ipv4.ip_default_ttl": 42 } });
    const before = t.stack.counters();
    const { skb, ret } = send(t, "192.0.2.2", { df: true });
    expect(ret).toBe(0);
    expect(t.sent).toHaveLength(1);
    const p = t.sent[0]!;
    expect(p.dev).toBe("eth0");
    expect(header(p.bytes)).toEqual({
      version: 4,
      ihl: 5,
      tos: 0,
      totLen: 20 + PAYLOAD.length,
      df: true,
      fragOff: 0,
      ttl: 42,
      protocol: SINK_PROTO,
      saddr: "192.0.2.1",
      daddr: "192.0.2.2",
      checksumOk: true,
    });
    expect(p.bytes.subarray(20)).toEqual(PAYLOAD);
    expect(counterDelta(t.stack, before)).toMatchObject({
      IpOutRequests: 1,
      IpExtOutOctets: 27,
    });
    expect(t.rec.endsOf(skb)).toEqual([{ kind: "consume", skb, reason: null }]);
  });

  it("reads the default TTL when it sends, so a sysctl change applies at once", async () => {
    const t = await makeStack();
    send(t, "192.0.2.2");
    t.stack.sysctl.set("net.ipv4.ip_default_ttl", 7);
    send(t, "192.0.2.2");
    expect(t.sent.map((p) => ipTtl(p.bytes, 0))).toEqual([64, 7]);
  });

  it("leaves DF clear unless asked", async () => {
    const t = await makeStack();
    send(t, "192.0.2.2");
    expect(ipFragOff(t.sent[0]!.bytes, 0)).toBe(0);
  });

  it("gives each packet the next IP ID", async () => {
    const t = await makeStack();
    for (let i = 0; i < 4; i++) send(t, "192.0.2.2");
    const ids = t.sent.map((p) => ipId(p.bytes, 0));
    expect(ids.slice(1).map((id, i) => (id - ids[i]!) & 0xffff)).toEqual([1, 1, 1]);
  });

  it("takes TTL, TOS, mark and options from the caller", async () => {
    const t = await makeStack();
    const { skb } = send(t, "192.0.2.2", {
      ttl: 3,
      tos: 0x10,
      mark: 77,
      options: Uint8Array.of(0x94, 0x04, 0, 0),
    });
    const b = t.sent[0]!.bytes;
    expect(header(b)).toMatchObject({
      ihl: 6,
      tos: 0x10,
      ttl: 3,
      totLen: 24 + 7,
      checksumOk: true,
    });
    expect(b.subarray(20, 24)).toEqual(Uint8Array.of(0x94, 0x04, 0, 0));
    expect(b.subarray(24)).toEqual(PAYLOAD);
    expect(skb.mark).toBe(77);
  });

  it("takes the TTL of the socket when it has one", async () => {
    const t = await makeStack();
    const sk = new Sock(t.stack);
    sk.ttl = 9;
    const skb = skbFromBytes(PAYLOAD, 64);
    ipBuildAndSendPkt(skb, t.stack, 0, addr("192.0.2.2"), SINK_PROTO, {}, sk);
    expect(ipTtl(t.sent[0]!.bytes, 0)).toBe(9);
  });

  it("makes room for the header when the skb has no headroom", async () => {
    const t = await makeStack();
    const { ret } = send(t, "192.0.2.2", {}, 0);
    expect(ret).toBe(0);
    expect(t.sent[0]!.bytes.subarray(20)).toEqual(PAYLOAD);
  });

  it("picks the source address of the device facing the gateway", async () => {
    const t = await makeStack({
      devices: [
        { driver: "test", name: "eth0", address: "192.0.2.1/24" },
        { driver: "test", name: "eth1", address: "198.51.100.1/24" },
      ],
      routes: [{ to: "default", via: "198.51.100.254" }],
    });
    send(t, "203.0.113.5");
    expect(t.sent[0]!.dev).toBe("eth1");
    expect(header(t.sent[0]!.bytes).saddr).toBe("198.51.100.1");
  });

  it("returns -ENETUNREACH without a route, counts IpOutNoRoutes and drops as IP_OUTNOROUTES", async () => {
    const t = await makeStack();
    const before = t.stack.counters();
    const { skb, ret } = send(t, "203.0.113.5");
    expect(ret).toBe(-101);
    expect(t.sent).toEqual([]);
    expect(counterDelta(t.stack, before)).toEqual({ IpOutNoRoutes: 1 });
    expect(t.rec.endsOf(skb)).toEqual([
      { kind: "kfree", skb, reason: SkbDropReason.IP_OUTNOROUTES },
    ]);
    expect(t.stack.dropReasons()).toEqual({ IP_OUTNOROUTES: 1 });
  });

  it("loops a packet to our own address back to local delivery through the device owning it, without a loopback device", async () => {
    const t = await makeStack();
    const before = t.stack.counters();
    const { ret } = send(t, "192.0.2.1");
    expect(ret).toBe(0);
    run(t.clock);
    expect(t.sent).toEqual([]);
    expect(t.delivered).toHaveLength(1);
    const d = t.delivered[0]!;
    expect(d.dev).toBe("eth0");
    expect(d.pktType).toBe(PACKET_LOOPBACK);
    expect(d.payload).toEqual(PAYLOAD);
    expect(header(d.header)).toMatchObject({ saddr: "192.0.2.1", daddr: "192.0.2.1" });
    expect(counterDelta(t.stack, before)).toMatchObject({
      IpOutRequests: 1,
      IpInReceives: 1,
      IpInDelivers: 1,
    });
  });

  it("sends a packet to our own address through the loopback device when there is one", async () => {
    const t = await makeStack({
      devices: [
        { driver: "test", name: "lo", address: "127.0.0.1/8", loopback: true },
        { driver: "test", name: "eth0", address: "192.0.2.1/24" },
      ],
    });
    send(t, "192.0.2.1");
    send(t, "127.0.0.1");
    run(t.clock);
    expect(t.sent.map((p) => p.dev)).toEqual(["lo", "lo"]);
    expect(t.delivered.map((d) => [d.dev, inetNtoa(ipSaddr(d.header, 0))])).toEqual([
      ["lo", "192.0.2.1"],
      ["lo", "127.0.0.1"],
    ]);
  });

  it("sends a subnet broadcast out of its device and delivers a copy locally", async () => {
    const t = await makeStack();
    send(t, "192.0.2.255");
    run(t.clock);
    expect(t.sent.map((p) => [p.dev, header(p.bytes).daddr])).toEqual([["eth0", "192.0.2.255"]]);
    expect(t.delivered).toHaveLength(1);
    expect(t.delivered[0]!.payload).toEqual(PAYLOAD);
  });
});

describe("netfilter hooks on the output path", () => {
  it("runs LOCAL_OUT and then POST_ROUTING on a routed, finished packet", async () => {
    const t = await makeStack();
    const seen: object[] = [];
    for (const hooknum of [NF_INET_LOCAL_OUT, NF_INET_POST_ROUTING]) {
      t.stack.nf.register({
        pf: NFPROTO_IPV4,
        hooknum,
        priority: 0,
        hook(skb, state) {
          const b = skb.head;
          const nh = skb.networkHeader;
          seen.push({
            hook: NF_INET_HOOK_NAMES[state.hook],
            routed: skb.dst !== null,
            in: state.in?.name ?? null,
            out: state.out?.name ?? null,
            totLen: ipTotLen(b, nh),
            checksumOk: ipFastCsum(b, nh, ipIhl(b, nh)) === 0 && ipCheck(b, nh) !== 0,
          });
          return NF_ACCEPT;
        },
      });
    }
    send(t, "192.0.2.2");
    const common = { routed: true, in: null, out: "eth0", totLen: 27, checksumOk: true };
    expect(seen).toEqual([
      { hook: "LOCAL_OUT", ...common },
      { hook: "POST_ROUTING", ...common },
    ]);
    expect(t.sent).toHaveLength(1);
  });

  it("drops a packet LOCAL_OUT drops, sends nothing and returns -EPERM", async () => {
    const t = await makeStack();
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_LOCAL_OUT,
      priority: 0,
      hook: () => NF_DROP,
    });
    const { skb, ret } = send(t, "192.0.2.2");
    expect(ret).toBe(-1);
    expect(t.sent).toEqual([]);
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });
});

describe("ip_queue_xmit", () => {
  /** A connected socket's send: PAYLOAD through ip_queue_xmit. */
  function xmit(sk: Sock): number {
    return ipQueueXmit(sk, skbFromBytes(PAYLOAD, 64), SINK_PROTO);
  }

  it("caches the socket's route and uses it for the next packets", async () => {
    const t = await twoNets();
    const sk = new Sock(t.stack);
    sk.daddr = addr("203.0.113.9");
    sk.rcvSaddr = addr("192.0.2.1");
    expect(xmit(sk)).toBe(0);
    const rt = sk.dstCache;
    expect(rt).not.toBeNull();
    expect(rt!.dev.name).toBe("eth0");
    expect(xmit(sk)).toBe(0);
    expect(sk.dstCache).toBe(rt);
    expect(t.sent.map((p) => [p.dev, header(p.bytes).saddr, header(p.bytes).daddr])).toEqual([
      ["eth0", "192.0.2.1", "203.0.113.9"],
      ["eth0", "192.0.2.1", "203.0.113.9"],
    ]);
  });

  it("looks the route up again after the FIB changed", async () => {
    const t = await twoNets();
    const sk = new Sock(t.stack);
    sk.daddr = addr("203.0.113.9");
    sk.rcvSaddr = addr("192.0.2.1");
    xmit(sk);
    const old = sk.dstCache;
    addRoute(t.stack, ipv4Net(t.stack), { to: "203.0.113.0/24", via: "198.51.100.254" });
    xmit(sk);
    expect(sk.dstCache).not.toBe(old);
    expect(sk.dstCache!.dev.name).toBe("eth1");
    expect(t.sent.map((p) => p.dev)).toEqual(["eth0", "eth1"]);
  });

  it("looks the route up again when its device went down", async () => {
    const t = await makeStack({
      devices: [
        { driver: "test", name: "eth0", address: "192.0.2.1/24" },
        { driver: "test", name: "eth1", address: "198.51.100.1/24" },
      ],
      routes: [
        { to: "default", via: "198.51.100.254", metric: 1 },
        { to: "default", via: "192.0.2.254", metric: 2 },
      ],
    });
    const sk = new Sock(t.stack);
    sk.daddr = addr("203.0.113.9");
    xmit(sk);
    t.stack.devClose(t.dev("eth1"));
    xmit(sk);
    expect(t.sent.map((p) => [p.dev, header(p.bytes).saddr])).toEqual([
      ["eth1", "198.51.100.1"],
      ["eth0", "192.0.2.1"],
    ]);
  });

  it("returns -EHOSTUNREACH when no route is left, like Linux, and drops as IP_OUTNOROUTES", async () => {
    const t = await makeStack();
    const sk = new Sock(t.stack);
    sk.daddr = addr("203.0.113.9");
    const before = t.stack.counters();
    expect(xmit(sk)).toBe(-113);
    expect(counterDelta(t.stack, before)).toEqual({ IpOutNoRoutes: 1 });
    expect(t.stack.dropReasons()).toEqual({ IP_OUTNOROUTES: 1 });
    expect(sk.dstCache).toBeNull();
  });

  it("sends from a socket's TTL and mark", async () => {
    const t = await twoNets();
    const sk = new Sock(t.stack);
    sk.daddr = addr("192.0.2.2");
    sk.ttl = 5;
    xmit(sk);
    expect(header(t.sent[0]!.bytes)).toMatchObject({
      ttl: 5,
      saddr: "192.0.2.1",
      checksumOk: true,
    });
  });
});
