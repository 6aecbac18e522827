import { type SkBuff, skbFromBytes } from "@skbuff/core";
import { IP_MF } from "@skbuff/ipv4";
import { describe, expect, it } from "vitest";
import { ICMP_TYPE, icmpChecksumValid, icmpSend } from "../src/index.js";
import {
  addr,
  capture,
  icmpMessage,
  inject,
  ipPacket,
  proto253,
  routed,
  sendRaw,
  settle,
  strictClock,
  twoHosts,
} from "./helpers.js";

const A = addr("192.0.2.1");
const B = addr("192.0.2.2");
const FAR_B = addr("198.51.100.1");
const IPPROTO_ICMP = 1;

describe("icmp_send", () => {
  it("answers a datagram for an unknown protocol with protocol unreachable from the address it was sent to", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    sendRaw(net.hosts.a!, B, 253, new Uint8Array(16));
    await settle(net);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]).toMatchObject({ type: ICMP_TYPE.DEST_UNREACH, code: 2, info: 0, from: B });
    expect(net.hosts.b!.counters()).toMatchObject({
      IpInUnknownProtos: 1,
      IcmpOutDestUnreachs: 1,
      IcmpOutMsgs: 1,
    });
    expect(net.hosts.a!.counters().IcmpInDestUnreachs).toBe(1);
    await net.close();
  });

  it("quotes the offending IP header and the start of its payload", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    const payload = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
    sendRaw(net.hosts.a!, B, 253, payload);
    await settle(net);
    const q = p.errors[0]!.quoted;
    expect(q).toHaveLength(36);
    expect([...q.subarray(12, 20)]).toEqual([192, 0, 2, 1, 192, 0, 2, 2]);
    expect([...q.subarray(20)]).toEqual([...payload]);
    await net.close();
  });

  it("quotes no more of a big datagram than fits in 576 bytes", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    sendRaw(net.hosts.a!, B, 253, new Uint8Array(1000));
    await settle(net);
    // 576 - 20 (IP) - 8 (ICMP) bytes of the datagram.
    expect(p.errors[0]!.quoted).toHaveLength(548);
    await net.close();
  });

  it("sends a well-formed error: checksum right, TTL the default, precedence internetwork control", async () => {
    const net = await twoHosts();
    const seen = capture(net.hosts.a!);
    sendRaw(net.hosts.a!, B, 253, new Uint8Array(8));
    await settle(net);
    const pkt = seen.find((x) => x.dir === "in")!.bytes;
    expect(pkt[1]! & 0xe0).toBe(0xc0);
    expect(pkt[8]).toBe(64);
    expect(pkt[9]).toBe(IPPROTO_ICMP);
    expect(icmpChecksumValid(pkt, 20, pkt.length - 20)).toBe(true);
    await net.close();
  });

  it("sends time exceeded from the router's address on the route back when it cannot forward for TTL", async () => {
    const net = await routed();
    const seen = capture(net.hosts.a!);
    sendRaw(net.hosts.a!, FAR_B, 253, new Uint8Array(8), { ttl: 1 });
    await settle(net);
    const pkt = seen.find((x) => x.dir === "in")!.bytes;
    expect([...pkt.subarray(12, 16)]).toEqual([192, 0, 2, 254]);
    expect([pkt[20], pkt[21]]).toEqual([ICMP_TYPE.TIME_EXCEEDED, 0]);
    // The quoted header is the one that arrived, TTL 1.
    expect(pkt[28 + 8]).toBe(1);
    await net.close();
  });

  it("sends time exceeded when a datagram's reassembly times out", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock });
    // The first fragment of a datagram whose rest never comes.
    inject(
      net.hosts.b!,
      "eth0",
      ipPacket(A, B, 253, new Uint8Array(64), { fragOff: IP_MF, id: 99 }),
    );
    await clock.advance(30_000);
    expect(net.hosts.b!.counters()).toMatchObject({ IpReasmTimeout: 1, IcmpOutTimeExcds: 1 });
    expect(net.hosts.a!.counters()).toMatchObject({ IcmpInTimeExcds: 1 });
    expect(net.hosts.a!.counters().IcmpMsgInType11).toBe(1);
    await net.close();
  });
});

describe("RFC 1122 3.2.2: when no ICMP error is sent", () => {
  it("sends none about an ICMP error message", async () => {
    const net = await routed();
    const quoted = ipPacket(FAR_B, A, 17, new Uint8Array(8));
    sendRaw(net.hosts.a!, FAR_B, IPPROTO_ICMP, icmpMessage(ICMP_TYPE.DEST_UNREACH, 3, 0, quoted), {
      ttl: 1,
    });
    await settle(net);
    expect(net.hosts.router!.counters()).toMatchObject({
      IpInHdrErrors: 1,
      IcmpOutTimeExcds: 0,
      IcmpOutMsgs: 0,
    });
    await net.close();
  });

  it("sends none about an ICMP message of unknown type, taken as an error", async () => {
    const net = await routed();
    sendRaw(net.hosts.a!, FAR_B, IPPROTO_ICMP, icmpMessage(99, 0, 0), { ttl: 1 });
    await settle(net);
    expect(net.hosts.router!.counters()).toMatchObject({ IpInHdrErrors: 1, IcmpOutMsgs: 0 });
    await net.close();
  });

  it("does send one about an ICMP query, such as an echo request", async () => {
    const net = await routed();
    sendRaw(net.hosts.a!, FAR_B, IPPROTO_ICMP, icmpMessage(ICMP_TYPE.ECHO, 0, 1), { ttl: 1 });
    await settle(net);
    expect(net.hosts.router!.counters().IcmpOutTimeExcds).toBe(1);
    await net.close();
  });

  it("sends none about a datagram sent to a broadcast address", async () => {
    const net = await twoHosts();
    sendRaw(net.hosts.a!, addr("192.0.2.255"), 253, new Uint8Array(8));
    await settle(net);
    expect(net.hosts.b!.counters()).toMatchObject({ IpInUnknownProtos: 1, IcmpOutMsgs: 0 });
    await net.close();
  });

  it("sends none about a non-initial fragment", async () => {
    const net = await routed();
    inject(
      net.hosts.router!,
      "eth0",
      ipPacket(A, FAR_B, 253, new Uint8Array(16), { ttl: 1, fragOff: 100 }),
    );
    await settle(net);
    expect(net.hosts.router!.counters()).toMatchObject({ IpInHdrErrors: 1, IcmpOutTimeExcds: 0 });
    await net.close();
  });

  it("does send one about an initial fragment", async () => {
    const net = await routed();
    inject(
      net.hosts.router!,
      "eth0",
      ipPacket(A, FAR_B, 253, new Uint8Array(16), { ttl: 1, fragOff: IP_MF }),
    );
    await settle(net);
    expect(net.hosts.router!.counters().IcmpOutTimeExcds).toBe(1);
    await net.close();
  });

  it.each([
    ["a broadcast address", "192.0.2.255"],
    ["a class E address", "240.0.0.1"],
  ])("sends none about a datagram whose source is %s", async (_what, source) => {
    // b could route an error back to any of them, through a.
    const net = await twoHosts({ routesB: [{ to: "default", via: "192.0.2.1" }] });
    sendRaw(net.hosts.a!, B, 253, new Uint8Array(8), { saddr: addr(source) });
    await settle(net);
    expect(net.hosts.b!.counters()).toMatchObject({ IpInUnknownProtos: 1, IcmpOutMsgs: 0 });
    await net.close();
  });

  /** A datagram as b's eth0 received it, handed straight to icmp_send. */
  function received(net: Awaited<ReturnType<typeof twoHosts>>, saddr: number): SkBuff {
    const b = net.hosts.b!;
    const skb = skbFromBytes(ipPacket(saddr, B, 253, new Uint8Array(8)));
    skb.dev = b.getDevice("eth0")!;
    skb.skbIif = skb.dev.ifindex;
    skb.resetNetworkHeader();
    return skb;
  }

  it("sends none about a datagram from a loopback address that came in on another device", async () => {
    const net = await twoHosts({ routesB: [{ to: "default", via: "192.0.2.1" }] });
    icmpSend(received(net, addr("127.0.0.1")), ICMP_TYPE.DEST_UNREACH, 2, 0);
    expect(net.hosts.b!.counters().IcmpOutMsgs).toBe(0);
    icmpSend(received(net, A), ICMP_TYPE.DEST_UNREACH, 2, 0);
    expect(net.hosts.b!.counters().IcmpOutMsgs).toBe(1);
    await net.close();
  });
});
