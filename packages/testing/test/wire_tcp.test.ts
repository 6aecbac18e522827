import { fc, test } from "@fast-check/vitest";
import { inetAton } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  TCP_FLAG,
  type TcpOption,
  type TcpRepr,
  tcpAckSeq,
  tcpBufferLen,
  tcpCheck,
  tcpDest,
  tcpDoff,
  tcpEmit,
  tcpFillChecksum,
  tcpFlags,
  tcpHdrCheckLen,
  tcpParse,
  tcpParseOptions,
  tcpSeq,
  tcpSource,
  tcpUrgPtr,
  tcpVerifyChecksum,
  tcpWindow,
} from "../src/index.js";

/** A SYN-ACK, 192.0.2.1:80 > 192.0.2.2:40000, Linux's option layout with timestamps. */
// biome-ignore format: golden bytes, one header word per line
const SYN_ACK = Uint8Array.of(
  0x00, 0x50, 0x9c, 0x40, // ports 80 > 40000
  0x00, 0x00, 0x03, 0xe8, // seq 1000
  0x00, 0x00, 0x07, 0xd1, // ack 2001
  0xa0, 0x12, 0xfe, 0x88, // doff 10, SYN|ACK, window 65160
  0x00, 0x00, 0x00, 0x00, // checksum (left zero), urgent 0
  0x02, 0x04, 0x05, 0xb4, // mss 1460
  0x04, 0x02, 0x08, 0x0a, // sackOK, TS
  0x00, 0x00, 0x00, 0x05, // TS val 5
  0x00, 0x00, 0x00, 0x06, // TS ecr 6
  0x01, 0x03, 0x03, 0x07, // nop, wscale 7
);
const SYN_ACK_REPR: TcpRepr = {
  srcPort: 80,
  dstPort: 40000,
  seq: 1000,
  ack: 2001,
  flags: TCP_FLAG.SYN | TCP_FLAG.ACK,
  window: 65160,
  urgent: 0,
  options: [
    { kind: "mss", value: 1460 },
    { kind: "sackOK" },
    { kind: "ts", val: 5, ecr: 6 },
    { kind: "nop" },
    { kind: "wscale", value: 7 },
  ],
  payload: new Uint8Array(0),
};
const SRC = inetAton("192.0.2.1")!;
const DST = inetAton("192.0.2.2")!;

describe("TCP header view", () => {
  it("reads every field of a golden SYN-ACK", () => {
    const b = SYN_ACK;
    expect(tcpHdrCheckLen(b, 0, b.length)).toBe(true);
    expect([tcpSource(b, 0), tcpDest(b, 0), tcpSeq(b, 0), tcpAckSeq(b, 0)]).toEqual([
      80, 40000, 1000, 2001,
    ]);
    expect([tcpDoff(b, 0), tcpFlags(b, 0), tcpWindow(b, 0), tcpUrgPtr(b, 0)]).toEqual([
      10, 0x12, 65160, 0,
    ]);
  });

  it("parses the golden SYN-ACK into its Repr", () => {
    expect(tcpParse(SYN_ACK, 0, SYN_ACK.length)).toEqual(SYN_ACK_REPR);
  });

  it("emits the golden SYN-ACK from its Repr", () => {
    const b = new Uint8Array(tcpBufferLen(SYN_ACK_REPR));
    tcpEmit(SYN_ACK_REPR, b, 0);
    expect(b).toEqual(SYN_ACK);
  });

  it("fills a checksum that verifies, over the pseudo-header", () => {
    const b = SYN_ACK.slice();
    tcpFillChecksum(b, 0, b.length, SRC, DST);
    expect(tcpCheck(b, 0)).not.toBe(0);
    expect(tcpVerifyChecksum(b, 0, b.length, SRC, DST)).toBe(true);
    expect(tcpVerifyChecksum(b, 0, b.length, DST, SRC)).toBe(true); // the sum is symmetric
    expect(tcpVerifyChecksum(b, 0, b.length, SRC, DST + 1)).toBe(false);
  });

  it("refuses a segment shorter than its data offset says", () => {
    expect(tcpHdrCheckLen(SYN_ACK, 0, 39)).toBe(false);
    expect(tcpParse(SYN_ACK, 0, 39)).toBeNull();
  });

  it("refuses a data offset below five words", () => {
    const b = SYN_ACK.slice();
    b[12] = 0x40;
    expect(tcpParse(b, 0, b.length)).toBeNull();
  });

  it("refuses fewer than 20 bytes", () => {
    expect(tcpParse(SYN_ACK.subarray(0, 19), 0, 19)).toBeNull();
  });

  it("takes the bytes after the header as payload, up to the length given", () => {
    const b = new Uint8Array(SYN_ACK.length + 4);
    b.set(SYN_ACK);
    b.set([1, 2, 3, 4], SYN_ACK.length);
    expect(tcpParse(b, 0, b.length)!.payload).toEqual(Uint8Array.of(1, 2, 3, 4));
    expect(tcpParse(b, 0, b.length - 1)!.payload).toEqual(Uint8Array.of(1, 2, 3));
  });
});

describe("TCP options", () => {
  it("stops at End of Option List and keeps it", () => {
    expect(tcpParseOptions(Uint8Array.of(1, 0, 2, 4), 0, 4)).toEqual([
      { kind: "nop" },
      { kind: "eol" },
    ]);
  });

  it.each([
    ["a length below 2", [2, 1, 5, 0]],
    ["a length past the end", [2, 8, 5, 0xb4]],
    ["a missing length byte", [1, 1, 1, 3]],
    ["an MSS of the wrong length", [2, 3, 5, 0]],
    ["a SACK that is not whole blocks", [5, 6, 0, 0, 0, 0]],
  ])("refuses %s", (_what, bytes) => {
    const b = Uint8Array.from(bytes);
    expect(tcpParseOptions(b, 0, b.length)).toBeNull();
  });

  it("keeps unknown kinds with their data", () => {
    expect(tcpParseOptions(Uint8Array.of(30, 4, 0xab, 0xcd), 0, 4)).toEqual([
      { kind: "unknown", type: 30, data: Uint8Array.of(0xab, 0xcd) },
    ]);
  });
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const option: fc.Arbitrary<TcpOption> = fc.oneof(
  fc.constant<TcpOption>({ kind: "nop" }),
  fc.integer({ min: 0, max: 0xffff }).map((value): TcpOption => ({ kind: "mss", value })),
  fc.integer({ min: 0, max: 14 }).map((value): TcpOption => ({ kind: "wscale", value })),
  fc.constant<TcpOption>({ kind: "sackOK" }),
  fc.tuple(u32, u32).map(([val, ecr]): TcpOption => ({ kind: "ts", val, ecr })),
  fc
    .array(fc.tuple(u32, u32), { minLength: 1, maxLength: 3 })
    .map((blocks): TcpOption => ({ kind: "sack", blocks })),
);
const repr: fc.Arbitrary<TcpRepr> = fc
  .record({
    srcPort: fc.integer({ min: 0, max: 0xffff }),
    dstPort: fc.integer({ min: 0, max: 0xffff }),
    seq: u32,
    ack: u32,
    flags: fc.integer({ min: 0, max: 0xff }),
    window: fc.integer({ min: 0, max: 0xffff }),
    urgent: fc.integer({ min: 0, max: 0xffff }),
    options: fc.array(option, { maxLength: 4 }),
    payload: fc.uint8Array({ maxLength: 64 }),
  })
  .filter(
    (r) =>
      r.options.reduce((n, o) => n + (o.kind === "sack" ? 2 + 8 * o.blocks.length : 10), 0) <= 40,
  );

describe("TCP Repr", () => {
  test.prop([repr])("parses back what it emits (options padded with EOL)", (r) => {
    const b = new Uint8Array(tcpBufferLen(r));
    tcpEmit(r, b, 0);
    const back = tcpParse(b, 0, b.length)!;
    const { options, ...rest } = back;
    const { options: want, ...wantRest } = r;
    expect(rest).toEqual(wantRest);
    expect(options.filter((o) => o.kind !== "eol")).toEqual(want);
  });

  test.prop([fc.uint8Array({ maxLength: 80 })])("never throws on arbitrary bytes", (b) => {
    expect(() => tcpParse(b, 0, b.length)).not.toThrow();
  });
});
