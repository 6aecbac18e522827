import { describe, expect, it } from "vitest";
import {
  ackNum,
  checkIpv4,
  code,
  df,
  dstAddr,
  dstPort,
  echoId,
  echoSeq,
  expectIpv4,
  flags,
  icmp,
  icmpChecksumValid,
  icmpEcho,
  icmpError,
  id,
  ignoreChecksum,
  ipChecksumValid,
  ipv4Packet,
  mtu,
  option,
  optionsOrder,
  PacketCheckError,
  parsePacket,
  payload,
  payloadLength,
  protocol,
  quote,
  seqNum,
  srcAddr,
  srcPort,
  summarizePacket,
  tcp,
  tcpChecksumValid,
  tcpSegment,
  tos,
  totalLength,
  ttl,
  type,
  udp,
  udpChecksumValid,
  udpDatagram,
  urgentPointer,
  window,
} from "../src/index.js";

/** The SYN of the example: 192.0.2.1:80 > 192.0.2.2:40000, mss 1460, nop, wscale 7. */
const syn = ipv4Packet({
  src: "192.0.2.1",
  dst: "192.0.2.2",
  id: 1,
  inner: tcpSegment({
    sport: 80,
    dport: 40000,
    seq: 1000,
    flags: "S",
    options: [{ kind: "mss", value: 1460 }, "nop", { kind: "wscale", value: 7 }],
  }),
});
const SYN_SUMMARY =
  "IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 1 len 48: TCP 80 > 40000 [S] seq 1000 win 65535 <mss 1460,nop,wscale 7>";

/** A SYN-ACK with Linux's option layout (without timestamps), DF set. */
const synAck = ipv4Packet({
  src: "192.0.2.1",
  dst: "192.0.2.2",
  id: 1,
  df: true,
  inner: tcpSegment({
    sport: 80,
    dport: 40000,
    seq: 1000,
    ack: 2001,
    flags: "SA",
    win: 64240,
    options: [
      { kind: "mss", value: 1460 },
      "nop",
      "nop",
      "sackOK",
      "nop",
      { kind: "wscale", value: 7 },
    ],
  }),
});

const data = ipv4Packet({
  src: "192.0.2.2",
  dst: "192.0.2.1",
  ttl: 63,
  tos: 0x10,
  id: 77,
  inner: tcpSegment({
    sport: 40000,
    dport: 80,
    seq: 2001,
    ack: 1001,
    flags: "PA",
    win: 502,
    options: ["nop", "nop", { kind: "ts", val: 100, ecr: 200 }],
    payload: "hello",
  }),
});

const echoReply = ipv4Packet({
  src: "192.0.2.1",
  dst: "192.0.2.2",
  inner: icmpEcho({ id: 7, seq: 3, payload: "ping", reply: true }),
});

const dns = ipv4Packet({
  src: "192.0.2.2",
  dst: "192.0.2.1",
  inner: udpDatagram({ sport: 40000, dport: 53, payload: "abcd" }),
});

/** A protocol unreachable quoting the IP header and the first 8 bytes of `dns`. */
const protoUnreach = ipv4Packet({
  src: "192.0.2.1",
  dst: "192.0.2.2",
  inner: icmpError({ type: 3, code: 2, quote: dns.subarray(0, 28) }),
});

/** The message of the PacketCheckError that checking `packet` throws. */
function failure(...args: Parameters<typeof expectIpv4>): string {
  try {
    expectIpv4(...args);
  } catch (error) {
    expect(error).toBeInstanceOf(PacketCheckError);
    return (error as Error).message;
  }
  throw new Error("expected the check to fail, it passed");
}

/** The mismatch lines of a failure, without the packet summary. */
function mismatches(...args: Parameters<typeof expectIpv4>): string[] {
  return failure(...args)
    .split("\n")
    .filter((l) => !l.startsWith("  packet: "));
}

describe("expectIpv4", () => {
  it("passes a packet that matches every checker", () => {
    expect(() =>
      expectIpv4(
        synAck,
        srcAddr("192.0.2.1"),
        dstAddr("192.0.2.2"),
        ttl(64),
        id(1),
        df(),
        tos(0),
        protocol(6),
        totalLength(52),
        payloadLength(32),
        ipChecksumValid,
        tcp(
          srcPort(80),
          dstPort(40000),
          flags("SA"),
          seqNum(1000),
          ackNum(2001),
          window(64240),
          urgentPointer(0),
          tcpChecksumValid,
          option.mss(1460),
          option.sackPermitted(),
          option.wscale(7),
          optionsOrder(["mss", "nop", "nop", "sackOK", "nop", "wscale"]),
          payload(0),
        ),
      ),
    ).not.toThrow();
  });

  it("names the path and the mismatch, then summarizes the packet", () => {
    expect(failure(syn, tcp(flags("SA")))).toBe(
      `IPv4 > TCP > flags: expected SA (SYN|ACK), got S (SYN)\n  packet: ${SYN_SUMMARY}`,
    );
  });

  it("reports every mismatch, one per line, in the order of the checkers", () => {
    expect(failure(syn, ttl(63), tcp(dstPort(80), flags("SA")))).toBe(
      [
        "IPv4 > ttl: expected 63, got 64",
        "IPv4 > TCP > dstPort: expected 80, got 40000",
        "IPv4 > TCP > flags: expected SA (SYN|ACK), got S (SYN)",
        `  packet: ${SYN_SUMMARY}`,
      ].join("\n"),
    );
  });

  it("throws a plain Error subclass that lists the mismatches and keeps the packet", () => {
    let caught: unknown;
    try {
      expectIpv4(syn, ttl(1));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect(caught).toMatchObject({
      name: "PacketCheckError",
      mismatches: [{ path: ["IPv4", "ttl"], expected: "1", got: "64" }],
      packet: syn,
    });
  });

  it("accepts flag letters with a dot for ACK, as packetdrill writes them", () => {
    expect(() => expectIpv4(synAck, tcp(flags("S.")))).not.toThrow();
  });

  it("accepts a transmitted packet record as well as bytes", () => {
    expect(() => expectIpv4({ bytes: syn }, tcp(flags("S")))).not.toThrow();
  });

  it("fails on bytes that are not an IPv4 datagram", () => {
    expect(failure(Uint8Array.of(0x60, 0, 0, 0))).toBe(
      "IPv4: expected an IPv4 datagram, got 4 bytes, fewer than an IPv4 header\n" +
        "  packet: not IPv4 (4 bytes, fewer than an IPv4 header): 60 00 00 00",
    );
  });

  it("fails on another IP version", () => {
    const v6 = new Uint8Array(40);
    v6[0] = 0x60;
    expect(mismatches(v6)).toEqual(["IPv4: expected an IPv4 datagram, got IP version 6"]);
  });
});

describe("IPv4 checkers", () => {
  it.each([
    [srcAddr("192.0.2.9"), "IPv4 > srcAddr: expected 192.0.2.9, got 192.0.2.1"],
    [dstAddr("192.0.2.9"), "IPv4 > dstAddr: expected 192.0.2.9, got 192.0.2.2"],
    [ttl(63), "IPv4 > ttl: expected 63, got 64"],
    [protocol(17), "IPv4 > protocol: expected 17 (UDP), got 6 (TCP)"],
    [totalLength(60), "IPv4 > totalLength: expected 60, got 52"],
    [payloadLength(40), "IPv4 > payloadLength: expected 40, got 32"],
    [df(false), "IPv4 > df: expected clear, got set"],
    [tos(0x10), "IPv4 > tos: expected 0x10, got 0x00"],
    [id(2), "IPv4 > id: expected 2, got 1"],
  ])("reports a mismatch of %#: %s", (checker, line) => {
    expect(mismatches(synAck, checker)).toEqual([line]);
  });

  it("reports DF clear where it should be set", () => {
    expect(mismatches(syn, df())).toEqual(["IPv4 > df: expected set, got clear"]);
  });

  it("checks the header checksum by default, naming the right one", () => {
    const bad = ipv4Packet({ src: "192.0.2.2", dst: "192.0.2.1", protocol: 253, checksum: 0x1234 });
    expect(failure(bad)).toBe(
      // ~(0x4500 + 0x14 + 0x40fd + 0xc000 + 0x202 + 0xc000 + 0x201) = 0xf5e9
      "IPv4 > checksum: expected valid, got 0x1234 (correct: 0xf5e9)\n" +
        "  packet: IPv4 192.0.2.2 > 192.0.2.1 ttl 64 id 0 len 20 bad-cksum: proto 253, 0 bytes",
    );
  });

  it("checks the header checksum once when it is also asked for", () => {
    const bad = ipv4Packet({ src: "192.0.2.2", dst: "192.0.2.1", protocol: 253, checksum: 1 });
    expect(mismatches(bad, ipChecksumValid)).toHaveLength(1);
  });

  it("skips the header checksum with ignoreChecksum", () => {
    const bad = ipv4Packet({ src: "192.0.2.2", dst: "192.0.2.1", protocol: 253, checksum: 1 });
    expect(() => expectIpv4(bad, ignoreChecksum)).not.toThrow();
  });

  it("refuses an address to check that is not a dotted quad", () => {
    expect(() => srcAddr("192.0.2.300")).toThrow('srcAddr: "192.0.2.300" is not an IPv4 address');
  });
});

describe("TCP checkers", () => {
  it("reports the protocol when the datagram is not TCP", () => {
    expect(mismatches(echoReply, tcp(flags("S")))).toEqual([
      "IPv4 > protocol: expected 6 (TCP), got 1 (ICMP)",
    ]);
  });

  it.each([
    [srcPort(81), "IPv4 > TCP > srcPort: expected 81, got 80"],
    [dstPort(40001), "IPv4 > TCP > dstPort: expected 40001, got 40000"],
    [flags("R"), "IPv4 > TCP > flags: expected R (RST), got SA (SYN|ACK)"],
    [seqNum(999), "IPv4 > TCP > seqNum: expected 999, got 1000"],
    [ackNum(1), "IPv4 > TCP > ackNum: expected 1, got 2001"],
    [window(65535), "IPv4 > TCP > window: expected 65535, got 64240"],
    [urgentPointer(1), "IPv4 > TCP > urgentPointer: expected 1, got 0"],
    [option.mss(536), "IPv4 > TCP > option.mss: expected mss 536, got mss 1460"],
    [option.wscale(14), "IPv4 > TCP > option.wscale: expected wscale 14, got wscale 7"],
    [option.timestamps(), "IPv4 > TCP > option.timestamps: expected TS, got no TS option"],
    [
      option.noOptions(),
      "IPv4 > TCP > options: expected none, got <mss 1460,nop,nop,sackOK,nop,wscale 7>",
    ],
    [
      optionsOrder(["mss", "nop", "nop", "ts", "nop", "wscale"]),
      "IPv4 > TCP > options: expected mss,nop,nop,ts,nop,wscale, got mss,nop,nop,sackOK,nop,wscale",
    ],
    [payload(10), "IPv4 > TCP > payload: expected 10 bytes, got 0 bytes"],
  ])("reports a mismatch of %#: %s", (checker, line) => {
    expect(mismatches(synAck, tcp(checker))).toEqual([line]);
  });

  it("reports a missing option by name", () => {
    expect(
      mismatches(data, tcp(option.mss(1460), option.sackPermitted(), option.wscale(7))),
    ).toEqual([
      "IPv4 > TCP > option.mss: expected mss 1460, got no mss option",
      "IPv4 > TCP > option.sackPermitted: expected sackOK, got no sackOK option",
      "IPv4 > TCP > option.wscale: expected wscale 7, got no wscale option",
    ]);
  });

  it("checks only the timestamp values it is given", () => {
    expect(() => expectIpv4(data, tcp(option.timestamps({ val: 100 })))).not.toThrow();
    expect(mismatches(data, tcp(option.timestamps({ val: 100, ecr: 0 })))).toEqual([
      "IPv4 > TCP > option.timestamps: expected TS val 100 ecr 0, got TS val 100 ecr 200",
    ]);
  });

  it("checks SACK blocks", () => {
    const sack = ipv4Packet({
      src: "192.0.2.1",
      dst: "192.0.2.2",
      inner: tcpSegment({
        sport: 1,
        dport: 2,
        flags: "A",
        options: ["nop", "nop", { kind: "sack", blocks: [[10, 20]] }],
      }),
    });
    expect(() => expectIpv4(sack, tcp(option.sack([[10, 20]])))).not.toThrow();
    expect(mismatches(sack, tcp(option.sack([[10, 30]])))).toEqual([
      "IPv4 > TCP > option.sack: expected sack 1 {10:30}, got sack 1 {10:20}",
    ]);
  });

  it("compares payload bytes and points at the first difference", () => {
    expect(() => expectIpv4(data, tcp(payload("hello")))).not.toThrow();
    expect(mismatches(data, tcp(payload("help!")))).toEqual([
      "IPv4 > TCP > payload: expected 5 bytes 68 65 6c 70 21, got 5 bytes 68 65 6c 6c 6f (first difference at byte 3)",
    ]);
  });

  it("checks the TCP checksum by default, naming the right one", () => {
    const bad = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: tcpSegment({ sport: 40000, dport: 80, flags: "A", checksum: 0x1234 }),
    });
    const good = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: tcpSegment({ sport: 40000, dport: 80, flags: "A" }),
    });
    const right = ((good[36]! << 8) | good[37]!).toString(16).padStart(4, "0");
    expect(mismatches(bad, tcp())).toEqual([
      `IPv4 > TCP > checksum: expected valid, got 0x1234 (correct: 0x${right})`,
    ]);
  });

  it("computes the TCP checksum over the pseudo-header", () => {
    // The same segment under another destination address: its checksum no longer verifies.
    const moved = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.9",
      protocol: 6,
      payload: data.subarray(20),
    });
    expect(mismatches(moved, tcp())[0]).toMatch(/^IPv4 > TCP > checksum: expected valid, got 0x/);
  });

  it("skips the TCP checksum with ignoreChecksum", () => {
    const bad = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: tcpSegment({ sport: 1, dport: 2, checksum: 0 }),
    });
    expect(() => expectIpv4(bad, tcp(ignoreChecksum, flags("")))).not.toThrow();
  });

  it("reports a segment too short for its header", () => {
    const short = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      protocol: 6,
      payload: new Uint8Array(8),
    });
    expect(mismatches(short, tcp(flags("S")))).toEqual([
      "IPv4 > TCP: expected a TCP header, got a truncated TCP header (8 of 20 bytes)",
    ]);
  });

  it("reports malformed options", () => {
    const bad = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: tcpSegment({
        sport: 1,
        dport: 2,
        options: [{ kind: "raw", type: 2, data: Uint8Array.of(5) }],
      }),
    });
    expect(mismatches(bad, tcp(option.mss(1460), option.noOptions()))).toEqual([
      "IPv4 > TCP > option.mss: expected mss 1460, got malformed options",
      "IPv4 > TCP > options: expected none, got <malformed options>",
    ]);
  });
});

describe("UDP checkers", () => {
  it("passes a matching datagram", () => {
    expect(() =>
      expectIpv4(dns, udp(srcPort(40000), dstPort(53), payload("abcd"), udpChecksumValid)),
    ).not.toThrow();
  });

  it("reports ports and payload under UDP", () => {
    expect(mismatches(dns, udp(srcPort(1), dstPort(2), payload(3)))).toEqual([
      "IPv4 > UDP > srcPort: expected 1, got 40000",
      "IPv4 > UDP > dstPort: expected 2, got 53",
      "IPv4 > UDP > payload: expected 3 bytes, got 4 bytes",
    ]);
  });

  it("checks the UDP checksum by default and accepts none", () => {
    const bad = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: udpDatagram({ sport: 40000, dport: 53, payload: "abcd", checksum: 0x1111 }),
    });
    expect(mismatches(bad, udp())).toEqual([
      "IPv4 > UDP > checksum: expected valid, got 0x1111 (correct: 0x1a96)",
    ]);
    const none = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      inner: udpDatagram({ sport: 1, dport: 2, checksum: 0 }),
    });
    expect(() => expectIpv4(none, udp())).not.toThrow();
  });

  it("reports the protocol when the datagram is not UDP", () => {
    expect(mismatches(syn, udp())).toEqual(["IPv4 > protocol: expected 17 (UDP), got 6 (TCP)"]);
  });
});

describe("ICMP checkers", () => {
  it("passes a matching echo reply", () => {
    expect(() =>
      expectIpv4(
        echoReply,
        icmp(type(0), code(0), echoId(7), echoSeq(3), payload("ping"), icmpChecksumValid),
      ),
    ).not.toThrow();
  });

  it("names ICMP types and codes in mismatches", () => {
    expect(mismatches(echoReply, icmp(type(8), code(1), echoId(8), echoSeq(4)))).toEqual([
      "IPv4 > ICMP > type: expected 8 (echo request), got 0 (echo reply)",
      "IPv4 > ICMP > code: expected 1, got 0",
      "IPv4 > ICMP > echoId: expected 8, got 7",
      "IPv4 > ICMP > echoSeq: expected 4, got 3",
    ]);
  });

  it("names destination unreachable codes", () => {
    expect(mismatches(protoUnreach, icmp(type(3), code(3)))).toEqual([
      "IPv4 > ICMP > code: expected 3 (port unreachable), got 2 (protocol unreachable)",
    ]);
  });

  it("checks the next-hop MTU of a fragmentation needed", () => {
    const fragNeeded = ipv4Packet({
      src: "192.0.2.1",
      dst: "192.0.2.2",
      inner: icmpError({ type: 3, code: 4, mtu: 1400, quote: dns.subarray(0, 28) }),
    });
    expect(mismatches(fragNeeded, icmp(mtu(1500)))).toEqual([
      "IPv4 > ICMP > mtu: expected 1500, got 1400",
    ]);
  });

  it("checks the ICMP checksum by default", () => {
    const bad = ipv4Packet({
      src: "192.0.2.1",
      dst: "192.0.2.2",
      inner: icmpEcho({ id: 7, seq: 3, payload: "ping", reply: true, checksum: 0 }),
    });
    expect(mismatches(bad, icmp(type(0)))).toEqual([
      // ~(0x0007 + 0x0003 + 0x7069 + 0x6e67) = 0x2125
      "IPv4 > ICMP > checksum: expected valid, got 0x0000 (correct: 0x2125)",
    ]);
  });

  it("checks the quoted datagram of an error down to its transport", () => {
    expect(() =>
      expectIpv4(
        protoUnreach,
        icmp(type(3), code(2), quote(srcAddr("192.0.2.2"), protocol(17), udp(dstPort(53)))),
      ),
    ).not.toThrow();
  });

  it("names the nested path of a mismatch inside the quote", () => {
    expect(failure(protoUnreach, icmp(quote(ttl(1), udp(dstPort(54)))))).toBe(
      [
        "IPv4 > ICMP > quote > IPv4 > ttl: expected 1, got 64",
        "IPv4 > ICMP > quote > IPv4 > UDP > dstPort: expected 54, got 53",
        "  packet: IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 0 len 56: ICMP destination unreachable (protocol unreachable) [IPv4 192.0.2.2 > 192.0.2.1 ttl 64 id 0 len 32: UDP 40000 > 53 length 4]",
      ].join("\n"),
    );
  });

  it("does not judge the transport checksum of a truncated quote", () => {
    expect(() => expectIpv4(protoUnreach, icmp(quote(udp(udpChecksumValid))))).not.toThrow();
  });

  it("reports a quote of a message that is not an error", () => {
    expect(mismatches(echoReply, icmp(quote()))).toEqual([
      "IPv4 > ICMP > quote: expected an IPv4 datagram, got 4 bytes, fewer than an IPv4 header",
    ]);
  });
});

describe("checkIpv4", () => {
  it("returns no mismatches for a matching packet", () => {
    expect(checkIpv4(syn, tcp(flags("S")))).toEqual([]);
  });

  it("returns the mismatches instead of throwing", () => {
    expect(checkIpv4(syn, tcp(flags("A")))).toEqual([
      { path: ["IPv4", "TCP", "flags"], expected: "A (ACK)", got: "S (SYN)" },
    ]);
  });
});

describe("checker types", () => {
  it("accept only checkers of the layer they nest", () => {
    // @ts-expect-error flags() checks TCP: it goes inside tcp(), not at the IPv4 level.
    expect(checkIpv4(syn, flags("S"))).toBeDefined();
    // @ts-expect-error type() checks ICMP: it does not fit inside tcp().
    expect(checkIpv4(syn, tcp(type(0)))).toBeDefined();
    // Ports fit both TCP and UDP.
    expect(checkIpv4(dns, udp(dstPort(53)))).toEqual([]);
  });
});

describe("parsePacket", () => {
  it("gives a structured view of the datagram and its transport", () => {
    const v = parsePacket(data)!;
    expect(v).toMatchObject({
      layer: "ipv4",
      src: "192.0.2.2",
      dst: "192.0.2.1",
      ttl: 63,
      tos: 0x10,
      id: 77,
      protocol: 6,
      checksumValid: true,
      truncated: false,
      transport: {
        layer: "tcp",
        srcPort: 40000,
        dstPort: 80,
        seq: 2001,
        ack: 1001,
        flags: 0x18,
        window: 502,
        headerLength: 32,
        checksumValid: true,
        options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val: 100, ecr: 200 }],
        payload: new TextEncoder().encode("hello"),
      },
    });
  });

  it("parses the quote of an ICMP error as a truncated datagram", () => {
    const v = parsePacket(protoUnreach)!;
    expect(v.transport).toMatchObject({
      layer: "icmp",
      type: 3,
      code: 2,
      quoted: {
        truncated: true,
        protocol: 17,
        transport: { layer: "udp", dstPort: 53, checksumValid: null, truncated: true },
      },
    });
  });

  it("returns null for bytes that are not IPv4", () => {
    expect(parsePacket(new Uint8Array(10))).toBeNull();
  });

  it("leaves the transport of a later fragment unparsed", () => {
    const frag = ipv4Packet({
      src: "192.0.2.2",
      dst: "192.0.2.1",
      protocol: 17,
      fragOffset: 8,
      payload: new Uint8Array(8),
    });
    expect(parsePacket(frag)!.transport).toMatchObject({ layer: "opaque", reason: "a fragment" });
  });
});

describe("summarizePacket", () => {
  it("prints a TCP segment as tcpdump would, ACK as a dot", () => {
    expect(summarizePacket(synAck)).toBe(
      "IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 1 DF len 52: TCP 80 > 40000 [S.] seq 1000 ack 2001 win 64240 <mss 1460,nop,nop,sackOK,nop,wscale 7>",
    );
  });

  it("prints timestamps, TOS and the payload length", () => {
    expect(summarizePacket(data)).toBe(
      "IPv4 192.0.2.2 > 192.0.2.1 ttl 63 id 77 tos 0x10 len 57: TCP 40000 > 80 [P.] seq 2001 ack 1001 win 502 <nop,nop,TS val 100 ecr 200> length 5",
    );
  });

  it("prints an echo reply with its identifier and sequence number", () => {
    expect(summarizePacket(echoReply)).toBe(
      "IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 0 len 32: ICMP echo reply id 7 seq 3 length 4",
    );
  });

  it("prints a UDP datagram", () => {
    expect(summarizePacket(dns)).toBe(
      "IPv4 192.0.2.2 > 192.0.2.1 ttl 64 id 0 len 32: UDP 40000 > 53 length 4",
    );
  });
});
