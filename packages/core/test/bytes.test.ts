import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { getU8, getU16, getU32, setU8, setU16, setU32 } from "../src/bytes.js";

describe("bytes", () => {
  it("reads big-endian values at an offset", () => {
    const buf = Uint8Array.of(0xaa, 0x12, 0x34, 0x56, 0x78, 0xbb);
    expect(getU8(buf, 1)).toBe(0x12);
    expect(getU16(buf, 1)).toBe(0x1234);
    expect(getU32(buf, 1)).toBe(0x12345678);
  });

  it("reads a u32 with the top bit set as an unsigned number", () => {
    expect(getU32(Uint8Array.of(0xff, 0xff, 0xff, 0xfe), 0)).toBe(0xfffffffe);
    expect(getU32(Uint8Array.of(0xc0, 0xa8, 0x00, 0x01), 0)).toBe(0xc0a80001);
  });

  it("writes big-endian values at an offset and touches nothing else", () => {
    const buf = new Uint8Array(8);
    setU8(buf, 0, 0x01);
    setU16(buf, 1, 0x0203);
    setU32(buf, 3, 0x04050607);
    expect([...buf]).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
  });

  it("writes only the low bits of an oversized or negative value", () => {
    const buf = new Uint8Array(7);
    setU8(buf, 0, 0x1ff);
    setU16(buf, 1, 0x12345);
    setU32(buf, 3, -2);
    expect([...buf]).toEqual([0xff, 0x23, 0x45, 0xff, 0xff, 0xff, 0xfe]);
  });

  it("round-trips every u16 and u32 through set and get", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.nat({ max: 4 }), (v, off) => {
        const buf = new Uint8Array(6);
        setU16(buf, off, v);
        return getU16(buf, off) === v;
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.nat({ max: 4 }), (v, off) => {
        const buf = new Uint8Array(8);
        setU32(buf, off, v);
        return getU32(buf, off) === v;
      }),
    );
  });
});
