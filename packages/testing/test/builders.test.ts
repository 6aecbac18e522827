import { csumFold, csumPartial, csumTcpudpMagic, inetAton, ipFastCsum } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { icmpEcho, icmpError, ipv4Packet, tcpSegment, udpDatagram } from "../src/index.js";

/** Hex text to bytes; spaces and line breaks are for reading. */
function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g)!.map((b) => Number.parseInt(b, 16)));
}

const A = "192.0.2.2";
const B = "192.0.2.1";
const addr = (s: string): number => inetAton(s)!;

/** The transport of a datagram sums to zero over its pseudo-header: its checksum is right. */
function transportSumsToZero(p: Uint8Array): boolean {
  const hlen = (p[0]! & 0x0f) * 4;
  const sum = csumPartial(p, hlen, p.length - hlen);
  const src = ((p[12]! << 24) | (p[13]! << 16) | (p[14]! << 8) | p[15]!) >>> 0;
  const dst = ((p[16]! << 24) | (p[17]! << 16) | (p[18]! << 8) | p[19]!) >>> 0;
  return csumTcpudpMagic(src, dst, p.length - hlen, p[9]!, sum) === 0;
}

describe("ipv4Packet", () => {
  it("builds the header field by field, with its checksum", () => {
    const p = ipv4Packet({
      src: "192.0.2.1",
      dst: "192.0.2.2",
      id: 1,
      protocol: 253,
      payload: Uint8Array.of(1, 2, 3, 4),
    });
    // 4500 0018 0001 0000 40fd, checksum 0xf5e4 by hand: ~(0x4500+0x18+0x1+0x40fd+0xc000+0x201+0xc000+0x202)
    expect(p).toEqual(hex("4500 0018 0001 0000 40fd f5e4 c0000201 c0000202 01020304"));
  });

  it("computes a header checksum that verifies", () => {
    const p = ipv4Packet({ src: A, dst: B, ttl: 3, id: 0xbeef, tos: 0x10, protocol: 17 });
    expect(ipFastCsum(p, 0, 5)).toBe(0);
  });

  it("defaults to TTL 64, id 0, TOS 0 and no fragmentation flags", () => {
    const p = ipv4Packet({ src: A, dst: B, protocol: 253 });
    expect([p[1], p[4], p[5], p[6], p[7], p[8]]).toEqual([0, 0, 0, 0, 0, 64]);
  });

  it("sets DF, MF and the fragment offset in 8-byte units", () => {
    expect(ipv4Packet({ src: A, dst: B, protocol: 253, df: true }).subarray(6, 8)).toEqual(
      hex("4000"),
    );
    const frag = ipv4Packet({ src: A, dst: B, protocol: 253, mf: true, fragOffset: 1480 });
    expect(frag.subarray(6, 8)).toEqual(hex("20b9"));
  });

  it("pads options with zeros to a multiple of four bytes and counts them in the IHL", () => {
    const p = ipv4Packet({ src: A, dst: B, protocol: 253, options: [0x94, 0x04, 0, 0, 0x01] });
    expect(p[0]).toBe(0x47);
    expect(p.subarray(20, 28)).toEqual(hex("9404000001000000"));
    expect(ipFastCsum(p, 0, 7)).toBe(0);
  });

  it("writes a checksum or total length it is given instead of the right ones", () => {
    const p = ipv4Packet({ src: A, dst: B, protocol: 253, checksum: 0xdead, totalLength: 99 });
    expect(p.subarray(10, 12)).toEqual(hex("dead"));
    expect(p.subarray(2, 4)).toEqual(hex("0063"));
    expect(p.length).toBe(20);
  });

  it("takes its protocol number from the transport it wraps", () => {
    expect(ipv4Packet({ src: A, dst: B, inner: udpDatagram({ sport: 1, dport: 2 }) })[9]).toBe(17);
    expect(ipv4Packet({ src: A, dst: B, inner: icmpEcho({ id: 1, seq: 1 }) })[9]).toBe(1);
  });

  it("sends text payloads as UTF-8", () => {
    const p = ipv4Packet({ src: A, dst: B, protocol: 253, payload: "hé" });
    expect(p.subarray(20)).toEqual(hex("68c3a9"));
  });

  it("refuses a payload and a transport together", () => {
    expect(() =>
      ipv4Packet({ src: A, dst: B, payload: "x", inner: icmpEcho({ id: 1, seq: 1 }) }),
    ).toThrow("ipv4Packet: give either payload or inner, not both");
  });

  it("refuses a payload without a protocol number", () => {
    expect(() => ipv4Packet({ src: A, dst: B, payload: "x" })).toThrow(
      "ipv4Packet: give inner (a transport builder), or payload and protocol",
    );
  });

  it("refuses an address that is not a dotted quad", () => {
    expect(() => ipv4Packet({ src: "192.0.2", dst: B, protocol: 1 })).toThrow(
      'ipv4Packet src: "192.0.2" is not an IPv4 address',
    );
  });

  it("refuses more than 40 bytes of options", () => {
    expect(() =>
      ipv4Packet({ src: A, dst: B, protocol: 253, options: new Uint8Array(41) }),
    ).toThrow(RangeError);
  });
});

describe("icmpEcho", () => {
  it("builds an echo request with its checksum", () => {
    const m = icmpEcho({ id: 7, seq: 1, payload: "hi" }).build();
    // ~(0x0800 + 0x0007 + 0x0001 + 0x6869) = 0x8f8e
    expect(m).toEqual(hex("0800 8f8e 0007 0001 6869"));
  });

  it("builds an echo reply when asked", () => {
    const m = icmpEcho({ id: 7, seq: 1, payload: "hi", reply: true }).build();
    expect(m).toEqual(hex("0000 978e 0007 0001 6869"));
    expect(csumFold(csumPartial(m, 0, m.length))).toBe(0);
  });

  it("writes a checksum it is given instead of the right one", () => {
    expect(icmpEcho({ id: 7, seq: 1, checksum: 0x1234 }).build().subarray(2, 4)).toEqual(
      hex("1234"),
    );
  });
});

describe("icmpError", () => {
  it("quotes the offending datagram after the header", () => {
    const quote = ipv4Packet({ src: B, dst: A, inner: udpDatagram({ sport: 1, dport: 53 }) });
    const m = icmpError({ type: 3, code: 3, quote }).build();
    expect(m.subarray(0, 2)).toEqual(hex("0303"));
    expect(m.subarray(4, 8)).toEqual(hex("00000000"));
    expect(m.subarray(8)).toEqual(quote);
    expect(csumFold(csumPartial(m, 0, m.length))).toBe(0);
  });

  it("carries the next-hop MTU of a fragmentation needed", () => {
    const m = icmpError({ type: 3, code: 4, mtu: 1400, quote: new Uint8Array(28) }).build();
    expect(m.subarray(4, 8)).toEqual(hex("00000578"));
  });

  it("carries the pointer of a parameter problem", () => {
    const m = icmpError({ type: 12, code: 0, pointer: 9, quote: new Uint8Array(28) }).build();
    expect(m.subarray(4, 8)).toEqual(hex("09000000"));
  });
});

describe("udpDatagram", () => {
  it("builds the header with its checksum over the pseudo-header", () => {
    const p = ipv4Packet({
      src: A,
      dst: B,
      inner: udpDatagram({ sport: 40000, dport: 53, payload: "abcd" }),
    });
    // pseudo 0xc000+0x0202+0xc000+0x0201+0x0011+0x000c, udp 0x9c40+0x35+0xc+0x6162+0x6364
    expect(p.subarray(20)).toEqual(hex("9c40 0035 000c 1a96 61626364"));
    expect(transportSumsToZero(p)).toBe(true);
  });

  it("leaves the checksum zero (none) when built without addresses", () => {
    expect(udpDatagram({ sport: 1, dport: 2 }).build()).toEqual(hex("0001 0002 0008 0000"));
  });

  it("sends no checksum when given zero", () => {
    const p = ipv4Packet({
      src: A,
      dst: B,
      inner: udpDatagram({ sport: 1, dport: 2, checksum: 0 }),
    });
    expect(p.subarray(26, 28)).toEqual(hex("0000"));
  });
});

describe("tcpSegment", () => {
  const syn = tcpSegment({
    sport: 40000,
    dport: 80,
    seq: 1000,
    flags: "S",
    options: [{ kind: "mss", value: 1460 }, "nop", { kind: "wscale", value: 7 }],
  });

  it("builds a SYN with options and its checksum over the pseudo-header", () => {
    const p = ipv4Packet({ src: A, dst: B, inner: syn });
    expect(p).toEqual(
      hex(`4500 0030 0000 0000 4006 f6c4 c0000202 c0000201
           9c40 0050 000003e8 00000000 7002 ffff 5f9c 0000
           020405b4 01030307`),
    );
    expect(transportSumsToZero(p)).toBe(true);
  });

  it("computes the checksum for the addresses it is wrapped with", () => {
    const there = syn.build({ src: A, dst: B });
    const back = syn.build({ src: B, dst: "198.51.100.7" });
    expect(there.subarray(16, 18)).not.toEqual(back.subarray(16, 18));
    const sum = csumPartial(back, 0, back.length);
    expect(csumTcpudpMagic(addr(B), addr("198.51.100.7"), back.length, 6, sum)).toBe(0);
  });

  it.each([
    ["S", 0x02],
    ["SA", 0x12],
    ["S.", 0x12],
    ["A", 0x10],
    ["PA", 0x18],
    ["FA", 0x11],
    ["R", 0x04],
    ["RA", 0x14],
    ["", 0x00],
    ["FSRPAUEC", 0xff],
  ])("writes the flags %j as 0x%s", (flags, byte) => {
    expect(tcpSegment({ sport: 1, dport: 2, flags }).build()[13]).toBe(byte);
  });

  it("refuses a flag letter it does not know", () => {
    expect(() => tcpSegment({ sport: 1, dport: 2, flags: "SX" })).toThrow(
      `TCP flags "SX": 'X' is not one of F S R P A U E C or '.'`,
    );
  });

  it("writes ack, window and urgent pointer", () => {
    const s = tcpSegment({
      sport: 1,
      dport: 2,
      seq: 5,
      ack: 0xfffffffe,
      win: 512,
      urg: 3,
      flags: "AU",
    }).build();
    expect(s).toEqual(hex("0001 0002 00000005 fffffffe 5030 0200 0000 0003"));
  });

  it("writes sackOK, timestamps and SACK blocks as Linux lays them out", () => {
    const s = tcpSegment({
      sport: 1,
      dport: 2,
      options: [
        "nop",
        "nop",
        { kind: "ts", val: 0x01020304, ecr: 5 },
        "sackOK",
        { kind: "sack", blocks: [[100, 200]] },
      ],
    }).build();
    expect(s[12]).toBe(0xb0);
    expect(s.subarray(20)).toEqual(hex("0101 080a 01020304 00000005 0402 050a 00000064 000000c8"));
  });

  it("pads options with zeros to a 32-bit boundary", () => {
    const s = tcpSegment({ sport: 1, dport: 2, options: [{ kind: "wscale", value: 14 }] }).build();
    expect(s[12]).toBe(0x60);
    expect(s.subarray(20)).toEqual(hex("03030e00"));
  });

  it("carries its payload after the header", () => {
    const p = ipv4Packet({
      src: A,
      dst: B,
      inner: tcpSegment({ sport: 1, dport: 2, flags: "PA", payload: "GET /" }),
    });
    expect(p.subarray(40)).toEqual(hex("474554202f"));
    expect(transportSumsToZero(p)).toBe(true);
  });

  it("writes a checksum it is given instead of the right one", () => {
    const p = ipv4Packet({
      src: A,
      dst: B,
      inner: tcpSegment({ sport: 1, dport: 2, checksum: 0xbad }),
    });
    expect(p.subarray(36, 38)).toEqual(hex("0bad"));
  });

  it("refuses options that do not fit in 40 bytes", () => {
    expect(() =>
      tcpSegment({
        sport: 1,
        dport: 2,
        options: [
          {
            kind: "sack",
            blocks: [
              [1, 2],
              [3, 4],
              [5, 6],
              [7, 8],
              [9, 10],
            ],
          },
        ],
      }),
    ).toThrow("tcpSegment options: 44 bytes with padding (at most 40)");
  });
});
