import { ipFastCsum } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  IP_DF,
  IP_MF,
  IPHDR,
  ipCheck,
  ipDaddr,
  ipFragOff,
  ipHdrCheckLen,
  ipId,
  ipIhl,
  ipIsFragment,
  ipProtocol,
  ipSaddr,
  ipTos,
  ipTotLen,
  ipTtl,
  ipVersion,
  ipv4Emit,
  ipv4HeaderLen,
  ipv4Parse,
  setIpCheck,
  setIpDaddr,
  setIpFragOff,
  setIpId,
  setIpProtocol,
  setIpSaddr,
  setIpTos,
  setIpTotLen,
  setIpTtl,
  setIpVerIhl,
} from "../src/index.js";
import { addr } from "./helpers.js";

const hex = (s: string): Uint8Array =>
  Uint8Array.from(s.split(/\s+/).map((x) => Number.parseInt(x, 16)));

/** The example header of RFC 1071-style walkthroughs: UDP, 192.168.0.1 → 192.168.0.199. */
const GOLDEN = hex("45 00 00 73 00 00 40 00 40 11 b8 61 c0 a8 00 01 c0 a8 00 c7");

/** The same header with a 4-byte option (Router Alert, RFC 2113) and IHL 6. */
const WITH_OPTIONS = (() => {
  const b = new Uint8Array(24);
  ipv4Emit(
    {
      tos: 0,
      totLen: 24,
      id: 7,
      fragOff: 0,
      ttl: 1,
      protocol: 2,
      saddr: addr("192.0.2.2"),
      daddr: addr("224.0.0.22"),
      options: hex("94 04 00 00"),
    },
    b,
    0,
    ipFastCsum,
  );
  return b;
})();

describe("the IPv4 header view", () => {
  it("reads every field of the golden header", () => {
    expect(ipVersion(GOLDEN, 0)).toBe(4);
    expect(ipIhl(GOLDEN, 0)).toBe(5);
    expect(ipTos(GOLDEN, 0)).toBe(0);
    expect(ipTotLen(GOLDEN, 0)).toBe(0x73);
    expect(ipId(GOLDEN, 0)).toBe(0);
    expect(ipFragOff(GOLDEN, 0)).toBe(IP_DF);
    expect(ipTtl(GOLDEN, 0)).toBe(64);
    expect(ipProtocol(GOLDEN, 0)).toBe(17);
    expect(ipCheck(GOLDEN, 0)).toBe(0xb861);
    expect(ipSaddr(GOLDEN, 0)).toBe(addr("192.168.0.1"));
    expect(ipDaddr(GOLDEN, 0)).toBe(addr("192.168.0.199"));
  });

  it("verifies the golden header's checksum to zero", () => {
    expect(ipFastCsum(GOLDEN, 0, 5)).toBe(0);
  });

  it("writes every field with the setters, at an offset, into the golden bytes", () => {
    const b = new Uint8Array(3 + 20 + 5).fill(0xee);
    const o = 3;
    setIpVerIhl(b, o, 5);
    setIpTos(b, o, 0);
    setIpTotLen(b, o, 0x73);
    setIpId(b, o, 0);
    setIpFragOff(b, o, IP_DF);
    setIpTtl(b, o, 64);
    setIpProtocol(b, o, 17);
    setIpCheck(b, o, 0);
    setIpSaddr(b, o, addr("192.168.0.1"));
    setIpDaddr(b, o, addr("192.168.0.199"));
    setIpCheck(b, o, ipFastCsum(b, o, 5));
    expect(b.subarray(o, o + 20)).toEqual(GOLDEN);
    expect([...b.subarray(0, o), ...b.subarray(o + 20)]).toEqual(new Array(8).fill(0xee));
  });

  it("parses the golden header into its Repr", () => {
    expect(ipv4Parse(GOLDEN, 0)).toEqual({
      tos: 0,
      totLen: 0x73,
      id: 0,
      fragOff: IP_DF,
      ttl: 64,
      protocol: 17,
      saddr: addr("192.168.0.1"),
      daddr: addr("192.168.0.199"),
    });
  });

  it("emits a parsed header back to the same bytes, with checksum 0xb861", () => {
    const r = ipv4Parse(GOLDEN, 0)!;
    const out = new Uint8Array(20);
    ipv4Emit(r, out, 0, ipFastCsum);
    expect(out).toEqual(GOLDEN);
    expect(ipCheck(out, 0)).toBe(0xb861);
  });

  it("parses and emits a header with options", () => {
    const r = ipv4Parse(WITH_OPTIONS, 0)!;
    expect(ipIhl(WITH_OPTIONS, 0)).toBe(6);
    expect(r.options).toEqual(hex("94 04 00 00"));
    expect(ipv4HeaderLen(r)).toBe(24);
    expect(ipFastCsum(WITH_OPTIONS, 0, 6)).toBe(0);
    const out = new Uint8Array(24);
    ipv4Emit(r, out, 0, ipFastCsum);
    expect(out).toEqual(WITH_OPTIONS);
  });

  it("parses a header that is followed by more bytes (payload, padding) to its own length", () => {
    const b = new Uint8Array(5 + 20 + 100);
    b.set(GOLDEN, 5);
    const r = ipv4Parse(b, 5)!;
    expect(r).not.toBeNull();
    expect(ipv4HeaderLen(r)).toBe(20);
    expect(r.options).toBeUndefined();
    const o = new Uint8Array(4 + 24 + 30);
    o.set(WITH_OPTIONS, 4);
    const ro = ipv4Parse(o, 4)!;
    expect(ipv4HeaderLen(ro)).toBe(24);
    expect(ro.options).toEqual(hex("94 04 00 00"));
  });

  it("returns null for every truncation of a header, without options or with them", () => {
    for (let n = 0; n < 20; n++) expect(ipv4Parse(GOLDEN.subarray(0, n), 0)).toBeNull();
    for (let n = 0; n < 24; n++) expect(ipv4Parse(WITH_OPTIONS.subarray(0, n), 0)).toBeNull();
  });

  it("returns null for an offset past the bytes, or a negative one", () => {
    expect(ipv4Parse(GOLDEN, 1)).toBeNull();
    expect(ipv4Parse(GOLDEN, 20)).toBeNull();
    expect(ipv4Parse(GOLDEN, -1)).toBeNull();
    expect(ipHdrCheckLen(GOLDEN, 0)).toBe(true);
    expect(ipHdrCheckLen(GOLDEN, 1)).toBe(false);
    expect(ipHdrCheckLen(GOLDEN, -1)).toBe(false);
  });

  it("returns null for a version other than 4", () => {
    for (const v of [0, 5, 6, 15]) {
      const b = GOLDEN.slice();
      b[0] = (v << 4) | 5;
      expect(ipv4Parse(b, 0)).toBeNull();
    }
  });

  it("returns null for an IHL below 5", () => {
    for (let ihl = 0; ihl < 5; ihl++) {
      const b = GOLDEN.slice();
      b[0] = 0x40 | ihl;
      expect(ipv4Parse(b, 0)).toBeNull();
    }
  });

  it("returns null for a total length shorter than the header", () => {
    const b = GOLDEN.slice();
    setIpTotLen(b, 0, 19);
    expect(ipv4Parse(b, 0)).toBeNull();
    const o = WITH_OPTIONS.slice();
    setIpTotLen(o, 0, 23);
    expect(ipv4Parse(o, 0)).toBeNull();
  });

  it("parses a header whose total length exceeds the bytes at hand (a quoted header)", () => {
    // ICMP errors quote the header and 8 bytes: the total length says more than is there.
    expect(ipv4Parse(GOLDEN, 0)?.totLen).toBe(0x73);
  });

  it("tells fragments from whole datagrams by MF and the offset, not DF", () => {
    const b = GOLDEN.slice();
    expect(ipIsFragment(b, 0)).toBe(false);
    setIpFragOff(b, 0, IP_MF);
    expect(ipIsFragment(b, 0)).toBe(true);
    setIpFragOff(b, 0, IP_DF | 1);
    expect(ipIsFragment(b, 0)).toBe(true);
  });

  it("refuses to emit options that are not a multiple of 4 bytes, or over 40", () => {
    const r = ipv4Parse(GOLDEN, 0)!;
    const out = new Uint8Array(64);
    expect(() => ipv4Emit({ ...r, options: new Uint8Array(3) }, out, 0, ipFastCsum)).toThrow(
      RangeError,
    );
    expect(() => ipv4Emit({ ...r, options: new Uint8Array(44) }, out, 0, ipFastCsum)).toThrow(
      RangeError,
    );
  });

  it("names the field offsets of RFC 791", () => {
    expect(IPHDR).toMatchObject({
      VER_IHL: 0,
      TOS: 1,
      TOT_LEN: 2,
      ID: 4,
      FRAG_OFF: 6,
      TTL: 8,
      PROTOCOL: 9,
      CHECK: 10,
      SADDR: 12,
      DADDR: 16,
      MIN_LEN: 20,
      MAX_LEN: 60,
    });
  });
});
