import { inetAton } from "@skbuff/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tcpSynOptions } from "../src/tcp_output.js";
import {
  TCP_FLAG,
  type TcpRepr,
  tcpBufferLen,
  tcpEmit,
  tcpFillChecksum,
  tcpParse,
  tcpVerifyChecksum,
} from "../src/wire/tcphdr.js";

/** A Linux SYN-ACK header: ports 80 → 40000, <mss 1460,sackOK,TS val 1 ecr 2,nop,wscale 7>. */
const GOLDEN = Uint8Array.from([
  0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0xc9, 0xa0, 0x12, 0xff, 0xff,
  0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01,
  0x00, 0x00, 0x00, 0x02, 0x01, 0x03, 0x03, 0x07,
]);

const REPR: TcpRepr = {
  srcPort: 80,
  dstPort: 40000,
  seq: 100,
  ack: 201,
  flags: TCP_FLAG.SYN | TCP_FLAG.ACK,
  window: 65535,
  urgent: 0,
  options: tcpSynOptions(1460, { sack: true, ts: true, wscale: 7, tsval: 1, tsecr: 2 }),
  payload: new Uint8Array(0),
};

describe("the TCP header view", () => {
  it("emits Linux's SYN-ACK option layout byte for byte", () => {
    const b = new Uint8Array(tcpBufferLen(REPR));
    tcpEmit(REPR, b, 0);
    expect([...b]).toEqual([...GOLDEN]);
  });

  it("parses the golden header back to the same fields", () => {
    expect(tcpParse(GOLDEN, 0, GOLDEN.length)).toEqual(REPR);
  });

  it("rejects a truncated header", () => {
    expect(tcpParse(GOLDEN, 0, 19)).toBeNull();
    expect(tcpParse(GOLDEN, 0, 30)).toBeNull();
  });

  it("verifies a checksum it filled in over the pseudo-header", () => {
    const b = new Uint8Array(GOLDEN);
    const s = inetAton("192.0.2.1")!;
    const d = inetAton("192.0.2.2")!;
    tcpFillChecksum(b, 0, b.length, s, d);
    expect(tcpVerifyChecksum(b, 0, b.length, s, d)).toBe(true);
    b[5]! ^= 1;
    expect(tcpVerifyChecksum(b, 0, b.length, s, d)).toBe(false);
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        tcpParse(b, 0, b.length);
      }),
    );
  });
});
