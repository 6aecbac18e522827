import {
  getU16,
  getU32,
  inetAton,
  NF_ACCEPT,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_FIRST,
  NF_IP_PRI_NAT_DST,
  NF_IP_PRI_NAT_SRC,
  NFPROTO_IPV4,
  type SkBuff,
  type Stack,
} from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  code,
  dstAddr,
  dstPort,
  echoId,
  expectIpv4,
  icmp,
  icmpChecksumValid,
  icmpEcho,
  ipv4Packet,
  quote,
  srcAddr,
  srcPort,
  type ThreeStacks,
  tcp,
  tcpChecksumValid,
  tcpSegment,
  threeStacks,
  type,
  udp,
  udpChecksumValid,
  udpDatagram,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { conntrackEntries, formatConntrack } from "../src/conntrack/index.js";
import { conntrackPlugin, natRange, sendRaw, type TestNatRule } from "./conntrack_helpers.js";

let topo: ThreeStacks | null = null;
afterEach(async () => {
  await topo?.close();
  topo = null;
});

/** Packets each host received, as their bytes at PRE_ROUTING (before anything changed them). */
type Captured = Record<string, Uint8Array[]>;

async function network(
  routerRules: readonly TestNatRule[],
  rulesOf: (stack: Stack) => readonly TestNatRule[] = (s) =>
    s.name === "router" ? routerRules : [],
): Promise<{ t: ThreeStacks; got: Captured }> {
  const got: Captured = { a: [], router: [], b: [] };
  const plugin = conntrackPlugin({
    nat: true,
    rules: rulesOf,
    onRegister(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_PRE_ROUTING,
        priority: NF_IP_PRI_FIRST,
        hook: (skb) => {
          got[ctx.stack.name]?.push(skb.head.slice(skb.data, skb.tail));
          return NF_ACCEPT;
        },
      });
    },
  });
  const t = await threeStacks({ plugins: [ipv4(), icmpPlugin(), plugin] });
  topo = t;
  return { t, got };
}

const isProto = (skb: SkBuff, p: number): boolean => skb.head[skb.networkHeader + 9] === p;
const daddrOf = (skb: SkBuff): number => getU32(skb.head, skb.networkHeader + 16);
const dportOf = (skb: SkBuff): number =>
  getU16(skb.head, skb.networkHeader + (skb.head[skb.networkHeader]! & 15) * 4 + 2);

/** Masquerade on the router's right interface (eth1), as `oifname "eth1" masquerade`. */
function masquerade(priority = NF_IP_PRI_NAT_SRC + 1): TestNatRule {
  return {
    hooknum: NF_INET_POST_ROUTING,
    priority,
    type: "masquerade",
    range: null,
    match: (_skb, state) => state.out?.name === "eth1",
  };
}

/** `iif "eth0" udp/tcp dport 8080 dnat to 198.51.100.1:80`. */
const portForward: TestNatRule = {
  hooknum: NF_INET_PRE_ROUTING,
  priority: NF_IP_PRI_NAT_DST + 1,
  type: "dnat",
  range: natRange("198.51.100.1", 80),
  match: (skb, state) =>
    state.in?.name === "eth0" &&
    (isProto(skb, 17) || isProto(skb, 6)) &&
    daddrOf(skb) === inetAton("192.0.2.254") &&
    dportOf(skb) === 8080,
};

const fromB = (bytes: Uint8Array[]): Uint8Array[] =>
  bytes.filter((p) => getU32(p, 12) === inetAton("198.51.100.1"));

describe("masquerade", () => {
  it("lets a client ping a server that sees the router's address, and de-NATs the reply", async () => {
    const { t, got } = await network([masquerade()]);
    const reply = await t.a.ping("198.51.100.1");
    expect(reply.from).toBe("198.51.100.1");
    expect(got.b).toHaveLength(1);
    expectIpv4(got.b[0]!, srcAddr("198.51.100.254"), dstAddr("198.51.100.1"), icmp(type(8)));
    const back = fromB(got.a);
    expect(back).toHaveLength(1);
    expectIpv4(back[0]!, dstAddr("192.0.2.1"), icmp(type(0), icmpChecksumValid));
  });

  it("works the same with the rule before the NAT hook", async () => {
    const { t, got } = await network([masquerade(NF_IP_PRI_NAT_SRC - 1)]);
    await t.a.ping("198.51.100.1");
    expectIpv4(got.b[0]!, srcAddr("198.51.100.254"), icmp(type(8)));
  });

  it("lists the translated connection on the router as conntrack -L does", async () => {
    const { t, got } = await network([masquerade()]);
    await t.a.ping("198.51.100.1");
    const id = getU16(got.b[0]!, 24);
    expect(conntrackEntries(t.router).map(formatConntrack)).toEqual([
      `icmp     1 30 src=192.0.2.1 dst=198.51.100.1 type=8 code=0 id=${id} ` +
        `src=198.51.100.1 dst=198.51.100.254 type=0 code=0 id=${id} mark=0 use=1`,
    ]);
  });

  it("keeps UDP checksums valid and translates the server's ICMP error back", async () => {
    const { t, got } = await network([masquerade()]);
    sendRaw(
      t.a,
      ipv4Packet({
        src: "192.0.2.1",
        dst: "198.51.100.1",
        inner: udpDatagram({ sport: 5000, dport: 53, payload: "query" }),
      }),
    );
    await t.clock.advance(10);
    expect(got.b).toHaveLength(1);
    expectIpv4(
      got.b[0]!,
      srcAddr("198.51.100.254"),
      udp(srcPort(5000), dstPort(53), udpChecksumValid),
    );
    // b has no UDP: it answers with an ICMP error quoting the translated datagram.
    const errors = fromB(got.a);
    expect(errors).toHaveLength(1);
    expectIpv4(
      errors[0]!,
      dstAddr("192.0.2.1"),
      icmp(
        type(3),
        icmpChecksumValid,
        quote(srcAddr("192.0.2.1"), dstAddr("198.51.100.1"), udp(srcPort(5000), dstPort(53))),
      ),
    );
  });

  it("gives two clients using the same source port different translated ports", async () => {
    const { t, got } = await network([masquerade()]);
    t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.7/24");
    for (const src of ["192.0.2.1", "192.0.2.7"]) {
      sendRaw(
        t.a,
        ipv4Packet({
          src,
          dst: "198.51.100.1",
          inner: udpDatagram({ sport: 5000, dport: 53, payload: src }),
        }),
      );
    }
    await t.clock.advance(10);
    expect(got.b).toHaveLength(2);
    for (const p of got.b) expectIpv4(p, srcAddr("198.51.100.254"), udp(udpChecksumValid));
    const ports = got.b.map((p) => getU16(p, 20));
    expect(ports[0]).toBe(5000);
    expect(ports[1]).not.toBe(5000);
    expect(ports[1]).toBeGreaterThanOrEqual(1024);
    // Each error finds its way back to its own client, with the client's port in the quote.
    const errors = fromB(got.a);
    expect(errors.map((p) => getU32(p, 16))).toEqual([
      inetAton("192.0.2.1"),
      inetAton("192.0.2.7"),
    ]);
    expectIpv4(errors[1]!, icmp(quote(srcAddr("192.0.2.7"), udp(srcPort(5000)))));
  });

  it("leaves a UDP checksum of zero (none sent) at zero", async () => {
    const { t, got } = await network([masquerade()]);
    t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.7/24");
    for (const src of ["192.0.2.1", "192.0.2.7"]) {
      sendRaw(
        t.a,
        ipv4Packet({
          src,
          dst: "198.51.100.1",
          inner: udpDatagram({ sport: 5000, dport: 53, checksum: 0 }),
        }),
      );
    }
    await t.clock.advance(10);
    expect(got.b.map((p) => getU16(p, 26))).toEqual([0, 0]);
    expect(getU16(got.b[1]!, 20)).not.toBe(5000);
  });

  it("gives two clients pinging with the same echo id different ids, and the replies back", async () => {
    const { t, got } = await network([masquerade()]);
    t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.7/24");
    for (const src of ["192.0.2.1", "192.0.2.7"]) {
      sendRaw(t.a, ipv4Packet({ src, dst: "198.51.100.1", inner: icmpEcho({ id: 7, seq: 1 }) }));
    }
    await t.clock.advance(10);
    expect(got.b).toHaveLength(2);
    for (const p of got.b) expectIpv4(p, srcAddr("198.51.100.254"), icmp(icmpChecksumValid));
    const ids = got.b.map((p) => getU16(p, 24));
    expect(ids[0]).toBe(7);
    expect(ids[1]).not.toBe(7);
    const replies = fromB(got.a);
    expect(replies.map((p) => getU32(p, 16))).toEqual([
      inetAton("192.0.2.1"),
      inetAton("192.0.2.7"),
    ]);
    for (const p of replies) expectIpv4(p, icmp(type(0), echoId(7), icmpChecksumValid));
  });

  it("forgets masqueraded connections when the output device goes down", async () => {
    const { t } = await network([masquerade()]);
    await t.a.ping("198.51.100.1");
    expect(conntrackEntries(t.router)).toHaveLength(1);
    t.router.devClose(t.router.getDevice("eth1")!);
    expect(conntrackEntries(t.router)).toHaveLength(0);
  });
});

describe("DNAT port forwarding", () => {
  it("delivers a datagram sent to router:8080 to the server at :80 and translates the error back", async () => {
    const { t, got } = await network([portForward]);
    sendRaw(
      t.a,
      ipv4Packet({
        src: "192.0.2.1",
        dst: "192.0.2.254",
        inner: udpDatagram({ sport: 40000, dport: 8080, payload: "GET /" }),
      }),
    );
    await t.clock.advance(10);
    expect(got.b).toHaveLength(1);
    expectIpv4(
      got.b[0]!,
      srcAddr("192.0.2.1"),
      dstAddr("198.51.100.1"),
      udp(srcPort(40000), dstPort(80), udpChecksumValid),
    );
    const errors = got.a.filter((p) => p[9] === 1);
    expect(errors).toHaveLength(1);
    expectIpv4(
      errors[0]!,
      srcAddr("192.0.2.254"),
      icmp(type(3), quote(dstAddr("192.0.2.254"), udp(dstPort(8080)))),
    );
  });

  it("forwards a TCP SYN to the server's port 80 with a valid checksum", async () => {
    const { t, got } = await network([portForward]);
    sendRaw(
      t.a,
      ipv4Packet({
        src: "192.0.2.1",
        dst: "192.0.2.254",
        inner: tcpSegment({ sport: 40000, dport: 8080, seq: 1, flags: "S" }),
      }),
    );
    await t.clock.advance(10);
    expectIpv4(got.b[0]!, dstAddr("198.51.100.1"), tcp(dstPort(80), tcpChecksumValid));
    expect(conntrackEntries(t.router).map(formatConntrack)).toEqual([
      "tcp      6 119 SYN_SENT src=192.0.2.1 dst=192.0.2.254 sport=40000 dport=8080 [UNREPLIED] " +
        "src=198.51.100.1 dst=192.0.2.1 sport=80 dport=40000 mark=0 use=1",
    ]);
  });

  it("leaves other ports alone", async () => {
    const { t, got } = await network([portForward]);
    sendRaw(
      t.a,
      ipv4Packet({
        src: "192.0.2.1",
        dst: "198.51.100.1",
        inner: udpDatagram({ sport: 40000, dport: 8081 }),
      }),
    );
    await t.clock.advance(10);
    expectIpv4(got.b[0]!, dstAddr("198.51.100.1"), udp(dstPort(8081)));
  });
});

describe("SNAT and redirect", () => {
  it("takes the source from the range and keeps the port when it is free", async () => {
    const snat: TestNatRule = {
      hooknum: NF_INET_POST_ROUTING,
      priority: NF_IP_PRI_NAT_SRC,
      type: "snat",
      range: natRange("198.51.100.254", 20000, 20001),
      match: (_skb, state) => state.out?.name === "eth1",
    };
    const { t, got } = await network([snat]);
    t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.7/24");
    t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.8/24");
    for (const src of ["192.0.2.1", "192.0.2.7", "192.0.2.8"]) {
      sendRaw(
        t.a,
        ipv4Packet({ src, dst: "198.51.100.1", inner: udpDatagram({ sport: 5000, dport: 53 }) }),
      );
    }
    await t.clock.advance(10);
    // Two ports in the range: the third flow finds no unique tuple and is dropped.
    expect(got.b.map((p) => getU16(p, 20)).sort()).toEqual([20000, 20001]);
    for (const p of got.b) expectIpv4(p, srcAddr("198.51.100.254"), udp(udpChecksumValid));
    expect(t.router.dropReasons()).toMatchObject({ NETFILTER_DROP: 1 });
  });

  it("redirects to the router itself, whose ICMP error comes back from the original destination", async () => {
    const redirect: TestNatRule = {
      hooknum: NF_INET_PRE_ROUTING,
      priority: NF_IP_PRI_NAT_DST,
      type: "redirect",
      range: natRange(null, 5353),
      match: (skb) => isProto(skb, 17) && dportOf(skb) === 53,
    };
    const { t, got } = await network([redirect]);
    sendRaw(
      t.a,
      ipv4Packet({
        src: "192.0.2.1",
        dst: "198.51.100.1",
        inner: udpDatagram({ sport: 5000, dport: 53, payload: "q" }),
      }),
    );
    await t.clock.advance(10);
    expect(got.b).toHaveLength(0);
    const errors = got.a.filter((p) => p[9] === 1);
    expect(errors).toHaveLength(1);
    expectIpv4(
      errors[0]!,
      srcAddr("198.51.100.1"),
      dstAddr("192.0.2.1"),
      icmp(type(3), quote(dstAddr("198.51.100.1"), udp(dstPort(53), udpChecksumValid))),
    );
  });
});

describe("DNAT of locally sent packets", () => {
  it("routes a packet again after LOCAL_OUT changed its destination", async () => {
    const toSelf: TestNatRule = {
      hooknum: NF_INET_LOCAL_OUT,
      priority: NF_IP_PRI_NAT_DST + 1,
      type: "dnat",
      range: natRange("192.0.2.1"),
      match: (skb) => daddrOf(skb) === inetAton("203.0.113.5"),
    };
    const { t, got } = await network([], (s) => (s.name === "a" ? [toSelf] : []));
    const reply = await t.a.ping("203.0.113.5");
    expect(reply.from).toBe("203.0.113.5");
    expect(got.router).toHaveLength(0);
    expectIpv4(
      got.a[0]!,
      dstAddr("192.0.2.1"),
      icmp(type(8), code(0), echoId(getU16(got.a[0]!, 24))),
    );
  });
});
