import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  ICMP_TYPE,
  ICMP_UNREACH,
  ICMPHDR,
  type IcmpRepr,
  icmpBufferLen,
  icmpChecksum,
  icmpChecksumValid,
  icmpCode,
  icmpComputeChecksum,
  icmpEchoId,
  icmpEchoSeq,
  icmpEmit,
  icmpFragMtu,
  icmpHdrCheckLen,
  icmpParse,
  icmpPointer,
  icmpType,
  setIcmpEchoSeq,
} from "../src/index.js";

// Checksums worked out by hand: the one's complement of the one's complement sum of the words.
// 0x0800 + 0x1234 + 0x0001 + 0xdead + 0xbeef = 0x1b7d1 -> 0xb7d2 -> ~ = 0x482d
const ECHO_REQUEST = Uint8Array.of(
  0x08,
  0x00,
  0x48,
  0x2d,
  0x12,
  0x34,
  0x00,
  0x01,
  0xde,
  0xad,
  0xbe,
  0xef,
);
// type 3 code 4, unused 0, next-hop MTU 1400, then the first 8 bytes of a quoted IP header.
// 0x0304 + 0x0578 + 0x4500 + 0x0054 + 0x4000 = 0x8dd0 -> ~ = 0x722f
const FRAG_NEEDED = Uint8Array.of(
  0x03,
  0x04,
  0x72,
  0x2f,
  0x00,
  0x00,
  0x05,
  0x78,
  0x45,
  0x00,
  0x00,
  0x54,
  0x00,
  0x00,
  0x40,
  0x00,
);
// 0x0b00 -> ~ = 0xf4ff
const TIME_EXCEEDED = Uint8Array.of(0x0b, 0x00, 0xf4, 0xff, 0x00, 0x00, 0x00, 0x00);
// 0x0c00 + 0x1400 = 0x2000 -> ~ = 0xdfff; the pointer is the high byte of the second word.
const PARAM_PROBLEM = Uint8Array.of(0x0c, 0x00, 0xdf, 0xff, 0x14, 0x00, 0x00, 0x00);
// A timestamp request (type 13), id 7, seq 1: 0x0d00 + 0x0007 + 0x0001 = 0x0d08 -> ~ = 0xf2f7
const TIMESTAMP = Uint8Array.of(0x0d, 0x00, 0xf2, 0xf7, 0x00, 0x07, 0x00, 0x01);

describe("the ICMP header view", () => {
  it("reads the fields of an echo request at their offsets", () => {
    expect(icmpType(ECHO_REQUEST, 0)).toBe(ICMP_TYPE.ECHO);
    expect(icmpCode(ECHO_REQUEST, 0)).toBe(0);
    expect(icmpChecksum(ECHO_REQUEST, 0)).toBe(0x482d);
    expect(icmpEchoId(ECHO_REQUEST, 0)).toBe(0x1234);
    expect(icmpEchoSeq(ECHO_REQUEST, 0)).toBe(1);
  });

  it("reads the next-hop MTU of fragmentation needed from the low half of the second word", () => {
    expect(icmpFragMtu(FRAG_NEEDED, 0)).toBe(1400);
  });

  it("reads the pointer of parameter problem from the high byte of the second word", () => {
    expect(icmpPointer(PARAM_PROBLEM, 0)).toBe(20);
  });

  it("reads fields at an offset inside a larger buffer", () => {
    const b = new Uint8Array(20 + ECHO_REQUEST.length);
    b.set(ECHO_REQUEST, 20);
    expect(icmpEchoId(b, 20)).toBe(0x1234);
    expect(icmpChecksumValid(b, 20, ECHO_REQUEST.length)).toBe(true);
  });

  it("accepts a buffer that holds the eight header bytes and refuses one that does not", () => {
    expect(icmpHdrCheckLen(0, ICMPHDR.LEN)).toBe(true);
    expect(icmpHdrCheckLen(0, ICMPHDR.LEN - 1)).toBe(false);
    expect(icmpHdrCheckLen(4, 11)).toBe(false);
  });

  it("computes the checksum a message should carry without changing the message", () => {
    const copy = ECHO_REQUEST.slice();
    expect(icmpComputeChecksum(copy, 0, copy.length)).toBe(0x482d);
    expect(copy).toEqual(ECHO_REQUEST);
  });

  it("notices a changed byte through the checksum", () => {
    const copy = ECHO_REQUEST.slice();
    setIcmpEchoSeq(copy, 0, 2);
    expect(icmpChecksumValid(copy, 0, copy.length)).toBe(false);
  });
});

describe("IcmpRepr", () => {
  it("parses an echo request", () => {
    expect(icmpParse(ECHO_REQUEST, 0, ECHO_REQUEST.length)).toEqual({
      kind: "echo-request",
      id: 0x1234,
      seq: 1,
      data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    });
  });

  it("emits the golden bytes of an echo request", () => {
    const r: IcmpRepr = {
      kind: "echo-request",
      id: 0x1234,
      seq: 1,
      data: Uint8Array.of(0xde, 0xad, 0xbe, 0xef),
    };
    const b = new Uint8Array(icmpBufferLen(r));
    icmpEmit(r, b, 0);
    expect(b).toEqual(ECHO_REQUEST);
  });

  it("parses and emits fragmentation needed with its next-hop MTU", () => {
    const r = icmpParse(FRAG_NEEDED, 0, FRAG_NEEDED.length);
    expect(r).toEqual({
      kind: "dest-unreach",
      code: ICMP_UNREACH.FRAG_NEEDED,
      mtu: 1400,
      data: FRAG_NEEDED.slice(8),
    });
    const b = new Uint8Array(FRAG_NEEDED.length);
    icmpEmit(r!, b, 0);
    expect(b).toEqual(FRAG_NEEDED);
  });

  it("parses and emits time exceeded", () => {
    const r = icmpParse(TIME_EXCEEDED, 0, TIME_EXCEEDED.length);
    expect(r).toEqual({ kind: "time-exceeded", code: 0, data: new Uint8Array(0) });
    const b = new Uint8Array(8);
    icmpEmit(r!, b, 0);
    expect(b).toEqual(TIME_EXCEEDED);
  });

  it("parses and emits parameter problem with its pointer", () => {
    const r = icmpParse(PARAM_PROBLEM, 0, PARAM_PROBLEM.length);
    expect(r).toEqual({ kind: "param-problem", code: 0, pointer: 20, data: new Uint8Array(0) });
    const b = new Uint8Array(8);
    icmpEmit(r!, b, 0);
    expect(b).toEqual(PARAM_PROBLEM);
  });

  it("keeps other types whole, second word included", () => {
    const r = icmpParse(TIMESTAMP, 0, TIMESTAMP.length);
    expect(r).toEqual({
      kind: "other",
      type: 13,
      code: 0,
      rest: 0x00070001,
      data: new Uint8Array(0),
    });
    const b = new Uint8Array(8);
    icmpEmit(r!, b, 0);
    expect(b).toEqual(TIMESTAMP);
  });

  it("parses only the given length of an overlong buffer", () => {
    const b = new Uint8Array(ECHO_REQUEST.length + 6).fill(0xff);
    b.set(ECHO_REQUEST);
    expect(icmpParse(b, 0, ECHO_REQUEST.length)).toEqual(
      icmpParse(ECHO_REQUEST, 0, ECHO_REQUEST.length),
    );
  });

  it("refuses a message shorter than its header", () => {
    expect(icmpParse(ECHO_REQUEST, 0, 7)).toBeNull();
  });

  it("refuses a length that runs past the buffer", () => {
    expect(icmpParse(ECHO_REQUEST, 4, ECHO_REQUEST.length)).toBeNull();
  });

  it("refuses a bad checksum unless told not to verify it", () => {
    const bad = ECHO_REQUEST.slice();
    bad[11] = 0;
    expect(icmpParse(bad, 0, bad.length)).toBeNull();
    expect(icmpParse(bad, 0, bad.length, false)?.kind).toBe("echo-request");
  });

  test.prop([
    fc.oneof(
      fc.record({
        kind: fc.constantFrom("echo-request" as const, "echo-reply" as const),
        id: fc.integer({ min: 0, max: 0xffff }),
        seq: fc.integer({ min: 0, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      fc.record({
        kind: fc.constant("dest-unreach" as const),
        code: fc.integer({ min: 0, max: 15 }).filter((c) => c !== ICMP_UNREACH.FRAG_NEEDED),
        mtu: fc.constant(0),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      fc.record({
        kind: fc.constant("dest-unreach" as const),
        code: fc.constant(ICMP_UNREACH.FRAG_NEEDED),
        mtu: fc.integer({ min: 0, max: 0xffff }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      fc.record({
        kind: fc.constant("time-exceeded" as const),
        code: fc.integer({ min: 0, max: 1 }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
      fc.record({
        kind: fc.constant("param-problem" as const),
        code: fc.integer({ min: 0, max: 2 }),
        pointer: fc.integer({ min: 0, max: 255 }),
        data: fc.uint8Array({ maxLength: 64 }),
      }),
    ),
  ])("parses back exactly what it emits", (r) => {
    const b = new Uint8Array(icmpBufferLen(r));
    icmpEmit(r, b, 0);
    expect(icmpChecksumValid(b, 0, b.length)).toBe(true);
    expect(icmpParse(b, 0, b.length)).toEqual(r);
  });

  test.prop([fc.uint8Array({ maxLength: 80 }), fc.nat(90), fc.nat(90), fc.boolean()])(
    "never throws on arbitrary bytes",
    (bytes, off, len, verify) => {
      expect(() => icmpParse(bytes, off, len, verify)).not.toThrow();
    },
  );
});
