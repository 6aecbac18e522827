import { fc, test } from "@fast-check/vitest";
import { inetAton } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  type UdpRepr,
  udpBufferLen,
  udpCheck,
  udpComputeChecksum,
  udpDest,
  udpEmit,
  udpFillChecksum,
  udpHdrCheckLen,
  udpLen,
  udpParse,
  udpSource,
  udpVerifyChecksum,
} from "../src/index.js";

const SRC = inetAton("192.0.2.2")!;
const DST = inetAton("192.0.2.1")!;

// 40000 > 53, length 12, checksum by hand over the pseudo-header:
// 0xc000 + 0x0202 + 0xc000 + 0x0201 + 0x0011 + 0x000c + 0x9c40 + 0x0035 + 0x000c + 0x6162 + 0x6364
// = 0x2e567 -> 0xe569 -> ~ = 0x1a96
const DNS = Uint8Array.of(0x9c, 0x40, 0x00, 0x35, 0x00, 0x0c, 0x1a, 0x96, 0x61, 0x62, 0x63, 0x64);
const DNS_REPR: UdpRepr = {
  srcPort: 40000,
  dstPort: 53,
  payload: Uint8Array.of(0x61, 0x62, 0x63, 0x64),
};

describe("UDP header view", () => {
  it("reads every field of a golden datagram", () => {
    expect(udpHdrCheckLen(DNS, 0, DNS.length)).toBe(true);
    expect([udpSource(DNS, 0), udpDest(DNS, 0), udpLen(DNS, 0), udpCheck(DNS, 0)]).toEqual([
      40000, 53, 12, 0x1a96,
    ]);
  });

  it("parses the golden datagram into its Repr", () => {
    expect(udpParse(DNS, 0, DNS.length)).toEqual(DNS_REPR);
  });

  it("emits the golden datagram from its Repr, then its checksum", () => {
    const b = new Uint8Array(udpBufferLen(DNS_REPR));
    udpEmit(DNS_REPR, b, 0);
    expect(udpCheck(b, 0)).toBe(0);
    udpFillChecksum(b, 0, b.length, SRC, DST);
    expect(b).toEqual(DNS);
    expect(udpVerifyChecksum(b, 0, b.length, SRC, DST)).toBe(true);
  });

  it("computes the checksum with the field taken as zero", () => {
    expect(udpComputeChecksum(DNS.slice(), 0, DNS.length, SRC, DST)).toBe(0x1a96);
  });

  it("accepts a zero checksum as none", () => {
    const b = DNS.slice();
    b[6] = 0;
    b[7] = 0;
    expect(udpVerifyChecksum(b, 0, b.length, SRC, DST)).toBe(true);
  });

  it("refuses a wrong checksum", () => {
    expect(udpVerifyChecksum(DNS, 0, DNS.length, SRC, DST + 1)).toBe(false);
  });

  it("refuses a length field longer than the datagram", () => {
    expect(udpParse(DNS, 0, 11)).toBeNull();
  });

  it("refuses a length field below the header", () => {
    const b = DNS.slice();
    b[5] = 7;
    expect(udpParse(b, 0, b.length)).toBeNull();
  });

  it("refuses fewer than 8 bytes", () => {
    expect(udpParse(DNS.subarray(0, 7), 0, 7)).toBeNull();
  });

  it("leaves bytes beyond the length field out of the payload", () => {
    const b = new Uint8Array(16);
    b.set(DNS);
    expect(udpParse(b, 0, b.length)!.payload).toEqual(DNS_REPR.payload);
  });
});

describe("UDP Repr", () => {
  const repr = fc.record({
    srcPort: fc.integer({ min: 0, max: 0xffff }),
    dstPort: fc.integer({ min: 0, max: 0xffff }),
    payload: fc.uint8Array({ maxLength: 64 }),
  });

  test.prop([repr])("parses back what it emits", (r) => {
    const b = new Uint8Array(udpBufferLen(r));
    udpEmit(r, b, 0);
    expect(udpParse(b, 0, b.length)).toEqual(r);
  });

  test.prop([
    repr,
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.integer({ min: 0, max: 0xffffffff }),
  ])("fills checksums that verify, never zero", (r, s, d) => {
    const b = new Uint8Array(udpBufferLen(r));
    udpEmit(r, b, 0);
    udpFillChecksum(b, 0, b.length, s, d);
    expect(udpCheck(b, 0)).not.toBe(0);
    expect(udpVerifyChecksum(b, 0, b.length, s, d)).toBe(true);
  });

  test.prop([fc.uint8Array({ maxLength: 40 })])("never throws on arbitrary bytes", (b) => {
    expect(() => udpParse(b, 0, b.length)).not.toThrow();
  });
});
