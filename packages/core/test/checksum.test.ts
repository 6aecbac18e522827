import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getU16, getU32, setU16, setU32 } from "../src/bytes.js";
import {
  csumAdd,
  csumFold,
  csumPartial,
  csumReplace2,
  csumReplace4,
  csumSub,
  csumTcpudpMagic,
  csumTcpudpNofold,
  ipFastCsum,
} from "../src/checksum.js";

const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.match(/../g)!, (b) => Number.parseInt(b, 16));

/** A deliberately naive RFC 1071 reference: sum every word, fold until 16 bits, complement. */
function referenceCsum(buf: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < buf.length; i += 2) {
    s += (buf[i]! << 8) | (i + 1 < buf.length ? buf[i + 1]! : 0);
  }
  while (s > 0xffff) s = (s % 0x10000) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/** The IPv4 header example: 192.168.0.1 -> 192.168.0.199, UDP, TTL 64, checksum 0xb861. */
const IPV4_HEADER = "4500007300004000" + "4011b861" + "c0a80001c0a800c7";

describe("csumPartial and csumFold", () => {
  it("checksums the IPv4 header example to 0xb861 with its checksum field zeroed", () => {
    const iph = hex(IPV4_HEADER);
    setU16(iph, 10, 0);
    expect(csumFold(csumPartial(iph, 0, 20))).toBe(0xb861);
  });

  it("folds the RFC 1071 (3) example 00 01 f2 03 f4 f5 f6 f7 to the sum ddf2", () => {
    const buf = hex("0001f203f4f5f6f7");
    expect(csumPartial(buf, 0, 8)).toBe(0x2ddf0);
    expect(csumFold(csumPartial(buf, 0, 8))).toBe(~0xddf2 & 0xffff);
  });

  it("treats the last byte of an odd length as the high byte of a word", () => {
    expect(csumPartial(hex("ab"), 0, 1)).toBe(0xab00);
    expect(csumPartial(hex("0001f2"), 0, 3)).toBe(0x0001 + 0xf200);
  });

  it("sums words relative to the given offset and stops at the given length", () => {
    const buf = hex("ff1234567899");
    expect(csumPartial(buf, 1, 4)).toBe(0x1234 + 0x5678);
    expect(csumPartial(buf, 1, 3)).toBe(0x1234 + 0x5600);
    expect(csumPartial(buf, 1, 0)).toBe(0);
  });

  it("continues from a given partial sum", () => {
    const buf = hex("0001f203f4f5f6f7");
    expect(csumPartial(buf, 4, 4, csumPartial(buf, 0, 4))).toBe(csumPartial(buf, 0, 8));
  });

  it("keeps the partial sum within 32 bits over a large buffer", () => {
    const buf = new Uint8Array(1 << 20).fill(0xff);
    const sum = csumPartial(buf, 0, buf.length, 0xffffffff);
    expect(sum).toBeLessThanOrEqual(0xffffffff);
    expect(csumFold(sum)).toBe(referenceCsum(buf));
  });

  it("folds 0 to 0xffff and all-ones to 0", () => {
    expect(csumFold(0)).toBe(0xffff);
    expect(csumFold(0xffff)).toBe(0);
    expect(csumFold(0xffffffff)).toBe(0);
    expect(csumFold(0x0001fffe)).toBe(0);
  });

  it("agrees with a naive reference on any buffer, length and offset", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 3 }), (bytes, pad) => {
        const buf = new Uint8Array(pad + bytes.length + 3).fill(0xee);
        buf.set(bytes, pad);
        return csumFold(csumPartial(buf, pad, bytes.length)) === referenceCsum(bytes);
      }),
    );
  });

  it("agrees with the reference across chunk boundaries", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32760, maxLength: 70000 }), (bytes) => {
        return csumFold(csumPartial(bytes, 0, bytes.length)) === referenceCsum(bytes);
      }),
      { numRuns: 20 },
    );
  });
});

describe("csumPartial's wide path", () => {
  /** The simplest csum_partial: one word at a time, end-around carry per 32 KiB, as specified. */
  function simplePartial(buf: Uint8Array, off: number, len: number, sum: number): number {
    const evenEnd = off + len - (len & 1);
    let i = off;
    while (i < evenEnd) {
      const chunkEnd = Math.min(evenEnd, i + 32768);
      let acc = 0;
      for (; i < chunkEnd; i += 2) acc += buf[i]! * 256 + buf[i + 1]!;
      sum = csumAdd(sum, acc);
    }
    if (len & 1) sum = csumAdd(sum, buf[i]! * 256);
    return sum;
  }

  it("gives exactly the word-at-a-time sum for any offset, length and view alignment", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 3000, size: "max" }),
        fc.nat({ max: 7 }),
        fc.nat({ max: 3000 }),
        fc.nat({ max: 3000 }),
        fc.nat({ max: 0xffffffff }),
        (bytes, viewOffset, a, b, seed) => {
          // A view at any byte offset into its buffer, so the aligned reads start anywhere.
          const backing = new Uint8Array(viewOffset + bytes.length + 5).fill(0xc3);
          backing.set(bytes, viewOffset);
          const view = backing.subarray(viewOffset, viewOffset + bytes.length);
          const off = Math.min(a, view.length);
          const len = Math.min(b, view.length - off);
          return csumPartial(view, off, len, seed) === simplePartial(view, off, len, seed);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("gives exactly the word-at-a-time sum over long runs at every offset parity", () => {
    const ones = new Uint8Array(200_001).fill(0xff);
    const mixed = Uint8Array.from({ length: 200_001 }, (_, i) => (i * 37 + (i >> 8)) & 0xff);
    for (const buf of [ones, mixed]) {
      for (const off of [0, 1, 2, 3, 5]) {
        for (const len of [64, 65, 1023, 32768, 32769, 65537, 199_990]) {
          expect(csumPartial(buf, off, len)).toBe(simplePartial(buf, off, len, 0));
        }
      }
    }
  });

  it("agrees with the folded reference over random TCP-sized segments at odd offsets", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1400, maxLength: 1600 }),
        fc.nat({ max: 9 }),
        (bytes, pad) => {
          const buf = new Uint8Array(pad + bytes.length);
          buf.set(bytes, pad);
          return csumFold(csumPartial(buf, pad, bytes.length)) === referenceCsum(bytes);
        },
      ),
      { numRuns: 50 },
    );
  });
});

describe("csumAdd and csumSub", () => {
  it("carries end-around at 32 bits", () => {
    expect(csumAdd(0xffffffff, 1)).toBe(1);
    expect(csumAdd(0x80000000, 0x80000000)).toBe(1);
    expect(csumAdd(0x1234, 0x1)).toBe(0x1235);
  });

  it("undoes an addition, up to the two representations of zero", () => {
    // One's complement has +0 and -0, which fold to 0xffff and 0x0000 respectively.
    const fold = (sum: number): number => csumFold(sum) || 0xffff;
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff }), (a, b) => {
        return fold(csumSub(csumAdd(a, b), b)) === fold(a);
      }),
    );
  });
});

describe("ipFastCsum", () => {
  it("equals the folded csumPartial over any 5 to 15 words at any offset", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 80, maxLength: 80 }),
        fc.integer({ min: 5, max: 15 }),
        fc.nat({ max: 19 }),
        (bytes, ihl, off) =>
          ipFastCsum(bytes, off, ihl) === csumFold(csumPartial(bytes, off, ihl * 4)),
      ),
    );
  });

  it("returns 0 for the valid IPv4 header example", () => {
    expect(ipFastCsum(hex(IPV4_HEADER), 0, 5)).toBe(0);
  });

  it("returns non-zero when a header byte is corrupted", () => {
    const iph = hex(IPV4_HEADER);
    iph[8] = 0x3f;
    expect(ipFastCsum(iph, 0, 5)).not.toBe(0);
  });

  it("reads the header at an offset, over ihl 32-bit words", () => {
    const buf = new Uint8Array(14 + 20 + 4).fill(0x55);
    buf.set(hex(IPV4_HEADER), 14);
    expect(ipFastCsum(buf, 14, 5)).toBe(0);
  });
});

describe("csumTcpudpNofold and csumTcpudpMagic", () => {
  it("computes the UDP checksum 0x1036 of 192.168.0.1:1234 -> 192.168.0.199:80 'hi'", () => {
    const udp = hex("04d20050000a0000" + "6869");
    const sum = csumPartial(udp, 0, udp.length);
    expect(csumTcpudpMagic(0xc0a80001, 0xc0a800c7, 10, 17, sum)).toBe(0x1036);
  });

  it("computes the TCP checksum 0xff4e of a SYN from 10.0.0.1:40000 to 10.0.0.2:80", () => {
    const tcp = hex("9c40005000000001000000005002ffff00000000");
    const sum = csumPartial(tcp, 0, tcp.length);
    expect(csumTcpudpMagic(0x0a000001, 0x0a000002, 20, 6, sum)).toBe(0xff4e);
  });

  it("verifies to 0 over a segment carrying its checksum", () => {
    const tcp = hex("9c40005000000001000000005002ffff00000000");
    setU16(tcp, 16, 0xff4e);
    expect(csumTcpudpMagic(0x0a000001, 0x0a000002, 20, 6, csumPartial(tcp, 0, 20))).toBe(0);
  });

  it("accepts addresses given as signed 32-bit numbers", () => {
    const sum = csumPartial(hex("04d20050000a00006869"), 0, 10);
    expect(csumTcpudpNofold(0xc0a80001 | 0, 0xc0a800c7 | 0, 10, 17, sum)).toBe(
      csumTcpudpNofold(0xc0a80001, 0xc0a800c7, 10, 17, sum),
    );
  });

  it("equals the checksum over an explicit pseudo-header", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 0xffffffff }),
        fc.nat({ max: 0xffffffff }),
        fc.constantFrom(6, 17),
        fc.uint8Array({ maxLength: 100 }),
        (saddr, daddr, proto, seg) => {
          const ph = new Uint8Array(12 + seg.length);
          setU32(ph, 0, saddr);
          setU32(ph, 4, daddr);
          ph[9] = proto;
          setU16(ph, 10, seg.length);
          ph.set(seg, 12);
          const sum = csumPartial(seg, 0, seg.length);
          return csumTcpudpMagic(saddr, daddr, seg.length, proto, sum) === referenceCsum(ph);
        },
      ),
    );
  });
});

describe("csumReplace2 and csumReplace4", () => {
  it("updates the IPv4 header checksum for a TTL decrement (64 -> 63) to 0xb961", () => {
    const iph = hex(IPV4_HEADER);
    const old = getU16(iph, 8);
    iph[8] = 63;
    csumReplace2(iph, 10, old, getU16(iph, 8));
    expect(getU16(iph, 10)).toBe(0xb961);
    expect(ipFastCsum(iph, 0, 5)).toBe(0);
  });

  it("updates the IPv4 header checksum for a source address rewrite to 0x6f0a", () => {
    const iph = hex(IPV4_HEADER);
    const old = getU32(iph, 12);
    setU32(iph, 12, 0x0a000001);
    csumReplace4(iph, 10, old, 0x0a000001);
    expect(getU16(iph, 10)).toBe(0x6f0a);
  });

  it("yields +0 (0x0000), not -0 (0xffff), where recomputation does (RFC 1624 (4))", () => {
    // RFC 1624 (4): HC = 0xdd2f, m = 0x5555, m' = 0x3285; eqn. 3 gives 0x0000 (eqn. 2: 0xffff).
    const buf = new Uint8Array(2);
    setU16(buf, 0, 0xdd2f);
    csumReplace2(buf, 0, 0x5555, 0x3285);
    expect(getU16(buf, 0)).toBe(0x0000);
  });

  it("keeps the checksum unchanged when the value does not change", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffff }), fc.nat({ max: 0xffff }), (hc, m) => {
        const buf = new Uint8Array(2);
        setU16(buf, 0, hc);
        csumReplace2(buf, 0, m, m);
        // Unchanged, except that -0 becomes +0: an HC of 0xffff never comes from recomputation.
        return getU16(buf, 0) === (hc === 0xffff ? 0 : hc);
      }),
    );
  });

  // A 20-byte header with a non-zero first word (as in IP: the version is never 0), so its sum
  // is never +0; the checksum field is at offset 10, the words under change at 0..9 or 12..19.
  const header = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => {
    b[0] = b[0]! | 0x40;
    setU16(b, 10, 0);
    setU16(b, 10, csumFold(csumPartial(b, 0, 20)));
    return b;
  });
  const wordOffset = fc.constantFrom(0, 2, 4, 6, 8, 12, 14, 16, 18);

  it("inserting the computed checksum makes the header verify to 0", () => {
    fc.assert(fc.property(header, (h) => ipFastCsum(h, 0, 5) === 0));
  });

  it("an incremental 16-bit update equals recomputing from scratch", () => {
    fc.assert(
      fc.property(header, wordOffset, fc.nat({ max: 0xffff }), (h, off, value) => {
        const old = getU16(h, off);
        setU16(h, off, off === 0 ? value | 0x4000 : value);
        csumReplace2(h, 10, old, getU16(h, off));
        const incremental = getU16(h, 10);
        setU16(h, 10, 0);
        return incremental === csumFold(csumPartial(h, 0, 20));
      }),
    );
  });

  it("an incremental 32-bit update equals recomputing from scratch", () => {
    fc.assert(
      fc.property(
        header,
        fc.constantFrom(2, 4, 6, 12, 14, 16),
        fc.nat({ max: 0xffffffff }),
        (h, off, value) => {
          const old = getU32(h, off);
          setU32(h, off, value);
          csumReplace4(h, 10, old, value);
          const incremental = getU16(h, 10);
          setU16(h, 10, 0);
          return incremental === csumFold(csumPartial(h, 0, 20));
        },
      ),
    );
  });
});
