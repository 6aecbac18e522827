import { SkbDropReason } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { ICMP_TYPE, icmpChecksumValid } from "../src/index.js";
import {
  addr,
  capture,
  icmpMessage,
  inject,
  ipPacket,
  loopbackStack,
  proto253,
  sendRaw,
  settle,
  strictClock,
  twoHosts,
} from "./helpers.js";

const A = addr("192.0.2.1");
const B = addr("192.0.2.2");
const IPPROTO_ICMP = 1;

/** An echo request as a ping socket would send it. */
function echoRequest(id = 0x4242, seq = 1): Uint8Array {
  return icmpMessage(ICMP_TYPE.ECHO, 0, (id << 16) | seq, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
}

describe("icmp_rcv", () => {
  it("drops a message with a bad checksum as ICMP_CSUM and counts it", async () => {
    const net = await twoHosts();
    const msg = echoRequest();
    msg[2]! ^= 0xff;
    sendRaw(net.hosts.a!, B, IPPROTO_ICMP, msg);
    await settle(net);
    const b = net.hosts.b!;
    expect(b.dropReasons()).toEqual({ [SkbDropReason.ICMP_CSUM]: 1 });
    expect(b.counters()).toMatchObject({
      IcmpInMsgs: 1,
      IcmpInCsumErrors: 1,
      IcmpInErrors: 1,
      IcmpInEchos: 0,
      IcmpOutMsgs: 0,
    });
    await net.close();
  });

  it("trusts loopback's CHECKSUM_UNNECESSARY and does not verify the checksum", async () => {
    const stack = await loopbackStack();
    const msg = echoRequest();
    msg[2]! ^= 0xff;
    sendRaw(stack, addr("127.0.0.1"), IPPROTO_ICMP, msg);
    await settle(stack);
    expect(stack.counters()).toMatchObject({
      IcmpInCsumErrors: 0,
      IcmpInEchos: 1,
      IcmpOutEchoReps: 1,
    });
    await stack.close();
  });

  it("drops a message shorter than its header as PKT_TOO_SMALL", async () => {
    const net = await twoHosts();
    // Four bytes whose checksum is right: 0x0800 + 0xf7ff = 0xffff.
    inject(
      net.hosts.b!,
      "eth0",
      ipPacket(A, B, IPPROTO_ICMP, Uint8Array.of(0x08, 0x00, 0xf7, 0xff)),
    );
    await settle(net);
    const b = net.hosts.b!;
    expect(b.dropReasons()).toEqual({ [SkbDropReason.PKT_TOO_SMALL]: 1 });
    expect(b.counters()).toMatchObject({ IcmpInMsgs: 1, IcmpInErrors: 1, IcmpInCsumErrors: 0 });
    await net.close();
  });

  it("drops a type above 18 as UNHANDLED_PROTO and counts it under its type", async () => {
    const net = await twoHosts();
    inject(net.hosts.b!, "eth0", ipPacket(A, B, IPPROTO_ICMP, icmpMessage(42, 0, 0)));
    await settle(net);
    const b = net.hosts.b!;
    expect(b.dropReasons()).toEqual({ [SkbDropReason.UNHANDLED_PROTO]: 1 });
    expect(b.counters()).toMatchObject({ IcmpInMsgs: 1, IcmpInErrors: 1, IcmpMsgInType42: 1 });
    await net.close();
  });

  it("consumes a known type it has nothing to do with", async () => {
    const net = await twoHosts();
    inject(
      net.hosts.b!,
      "eth0",
      ipPacket(A, B, IPPROTO_ICMP, icmpMessage(ICMP_TYPE.INFO_REQUEST, 0, 0)),
    );
    await settle(net);
    const b = net.hosts.b!;
    expect(b.dropReasons()).toEqual({});
    expect(b.counters()).toMatchObject({
      IcmpInMsgs: 1,
      IcmpInErrors: 0,
      IcmpMsgInType15: 1,
      IcmpOutMsgs: 0,
    });
    await net.close();
  });

  it("drops an echo reply no ping socket waits for as NO_SOCKET", async () => {
    const net = await twoHosts();
    inject(
      net.hosts.b!,
      "eth0",
      ipPacket(A, B, IPPROTO_ICMP, icmpMessage(ICMP_TYPE.ECHOREPLY, 0, 0x12340001)),
    );
    await settle(net);
    expect(net.hosts.b!.dropReasons()).toEqual({ [SkbDropReason.NO_SOCKET]: 1 });
    expect(net.hosts.b!.counters().IcmpInEchoReps).toBe(1);
    await net.close();
  });

  it("answers an echo request with the same identifier, sequence number and data", async () => {
    const net = await twoHosts();
    const seen = capture(net.hosts.a!);
    const request = echoRequest(0xbeef, 77);
    sendRaw(net.hosts.a!, B, IPPROTO_ICMP, request);
    await settle(net);
    const reply = seen.find((p) => p.dir === "in")!.bytes;
    expect([...reply.subarray(12, 20)]).toEqual([192, 0, 2, 2, 192, 0, 2, 1]);
    const icmp = reply.subarray(20);
    expect(icmp[0]).toBe(ICMP_TYPE.ECHOREPLY);
    expect(icmpChecksumValid(icmp, 0, icmp.length)).toBe(true);
    expect([...icmp.subarray(4)]).toEqual([...request.subarray(4)]);
    await net.close();
  });

  it("answers a timestamp request with the originate time copied and its own clock's time", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock });
    await clock.advance(5000);
    const seen = capture(net.hosts.a!);
    const times = new Uint8Array(12);
    new DataView(times.buffer).setUint32(0, 1234);
    sendRaw(
      net.hosts.a!,
      B,
      IPPROTO_ICMP,
      icmpMessage(ICMP_TYPE.TIMESTAMP, 0, (7 << 16) | 1, times),
    );
    await clock.advance(0);
    const icmp = seen.find((p) => p.dir === "in")!.bytes.subarray(20);
    const v = new DataView(icmp.buffer, icmp.byteOffset);
    expect(icmp[0]).toBe(ICMP_TYPE.TIMESTAMPREPLY);
    expect([v.getUint16(4), v.getUint16(6)]).toEqual([7, 1]);
    expect([v.getUint32(8), v.getUint32(12), v.getUint32(16)]).toEqual([1234, 5000, 5000]);
    expect(net.hosts.b!.counters()).toMatchObject({ IcmpInTimestamps: 1, IcmpOutTimestampReps: 1 });
    expect(net.hosts.a!.counters().IcmpInTimestampReps).toBe(1);
    await net.close();
  });

  it("ignores an echo request sent to a broadcast address, by default", async () => {
    const net = await twoHosts();
    sendRaw(net.hosts.a!, addr("192.0.2.255"), IPPROTO_ICMP, echoRequest());
    await settle(net);
    const b = net.hosts.b!;
    expect(b.dropReasons()).toEqual({ [SkbDropReason.INVALID_PROTO]: 1 });
    expect(b.counters()).toMatchObject({ IcmpInEchos: 1, IcmpOutEchoReps: 0 });
    await net.close();
  });

  it("answers an echo request sent to a broadcast address from its own address when told to", async () => {
    const net = await twoHosts({ b: { "net.ipv4.icmp_echo_ignore_broadcasts": 0 } });
    const seen = capture(net.hosts.a!);
    sendRaw(net.hosts.a!, addr("192.0.2.255"), IPPROTO_ICMP, echoRequest());
    await settle(net);
    // (a hears its own broadcast too, and ignores it.)
    const reply = seen.find((p) => p.dir === "in" && p.bytes[20] === ICMP_TYPE.ECHOREPLY)!.bytes;
    expect([...reply.subarray(12, 16)]).toEqual([192, 0, 2, 2]);
    expect(net.hosts.b!.counters().IcmpOutEchoReps).toBe(1);
    await net.close();
  });
});

describe("icmp_unreach", () => {
  /** An ICMP error from b to a quoting a protocol-253 datagram a sent to b. */
  function errorAbout253(type: number, code: number, rest = 0, quoteLen = 28): Uint8Array {
    const quoted = ipPacket(A, B, 253, new Uint8Array(64)).subarray(0, quoteLen);
    return ipPacket(B, A, IPPROTO_ICMP, icmpMessage(type, code, rest, quoted));
  }

  it("hands destination unreachable to the protocol of the quoted datagram", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.DEST_UNREACH, 3));
    await settle(net);
    expect(p.errors).toHaveLength(1);
    expect(p.errors[0]).toMatchObject({ type: 3, code: 3, info: 0, from: B });
    expect(p.errors[0]!.quoted[9]).toBe(253);
    expect(net.hosts.a!.counters()).toMatchObject({ IcmpInDestUnreachs: 1, IcmpInErrors: 0 });
    expect(net.hosts.a!.dropReasons()).toEqual({});
    await net.close();
  });

  it("gives the protocol the next-hop MTU of fragmentation needed as info", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.DEST_UNREACH, 4, 1280));
    await settle(net);
    expect(p.errors[0]).toMatchObject({ type: 3, code: 4, info: 1280 });
    await net.close();
  });

  it("gives the protocol the pointer of parameter problem as info", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.PARAMETERPROB, 0, 20 << 24));
    await settle(net);
    expect(p.errors[0]).toMatchObject({ type: 12, code: 0, info: 20 });
    expect(net.hosts.a!.counters().IcmpInParmProbs).toBe(1);
    await net.close();
  });

  it("hands time exceeded in transit to the protocol but not reassembly time exceeded", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.TIME_EXCEEDED, 0));
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.TIME_EXCEEDED, 1));
    await settle(net);
    expect(p.errors.map((e) => [e.type, e.code])).toEqual([[11, 0]]);
    expect(net.hosts.a!.counters().IcmpInTimeExcds).toBe(2);
    await net.close();
  });

  it("drops an error whose quoted IP header is cut short and counts it", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.DEST_UNREACH, 1, 0, 12));
    await settle(net);
    expect(p.errors).toEqual([]);
    expect(net.hosts.a!.dropReasons()).toEqual({ [SkbDropReason.PKT_TOO_SMALL]: 1 });
    expect(net.hosts.a!.counters().IcmpInErrors).toBe(1);
    await net.close();
  });

  it("counts an error quoting less than 8 bytes of transport header as an error and passes it to nobody", async () => {
    const p = proto253();
    const net = await twoHosts({ extraA: [p.plugin] });
    inject(net.hosts.a!, "eth0", errorAbout253(ICMP_TYPE.DEST_UNREACH, 1, 0, 24));
    await settle(net);
    expect(p.errors).toEqual([]);
    expect(net.hosts.a!.counters().IcmpInErrors).toBe(1);
    await net.close();
  });
});
