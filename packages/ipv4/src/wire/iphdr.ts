/**
 * The IPv4 header (RFC 791 3.1), as a view over bytes: field offsets and one-line accessors.
 * Imports nothing but byte helpers. After {@link ipHdrCheckLen} succeeds for an offset, no
 * accessor can read outside the buffer.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * |         Identification        |Flags|      Fragment Offset    |
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * |                       Source Address                          |
 * |                    Destination Address                        |
 * ```
 * @packageDocumentation
 */
import { getU16, getU32, setU16, setU32 } from "@skbuff/core";

/** Byte offsets of the header's fields. */
export const IPHDR = {
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
  /** Length of a header without options. */
  MIN_LEN: 20,
  /** Largest header (IHL 15). */
  MAX_LEN: 60,
} as const;

/** Flag bits of `frag_off` (host order). */
export const IP_CE = 0x8000;
/** Don't Fragment. */
export const IP_DF = 0x4000;
/** More Fragments. */
export const IP_MF = 0x2000;
/** The offset part of `frag_off`, in 8-byte units. */
export const IP_OFFSET = 0x1fff;

/** Whether `len` bytes at `off` can hold a header without options. */
export function ipHdrCheckLen(buf: Uint8Array, off: number): boolean {
  return off >= 0 && off + IPHDR.MIN_LEN <= buf.length;
}

export const ipVersion = (b: Uint8Array, o: number): number => b[o]! >> 4;
/** Header length in 32-bit words. */
export const ipIhl = (b: Uint8Array, o: number): number => b[o]! & 0x0f;
export const ipTos = (b: Uint8Array, o: number): number => b[o + IPHDR.TOS]!;
export const ipTotLen = (b: Uint8Array, o: number): number => getU16(b, o + IPHDR.TOT_LEN);
export const ipId = (b: Uint8Array, o: number): number => getU16(b, o + IPHDR.ID);
/** Flags and offset, host order. */
export const ipFragOff = (b: Uint8Array, o: number): number => getU16(b, o + IPHDR.FRAG_OFF);
export const ipTtl = (b: Uint8Array, o: number): number => b[o + IPHDR.TTL]!;
export const ipProtocol = (b: Uint8Array, o: number): number => b[o + IPHDR.PROTOCOL]!;
export const ipCheck = (b: Uint8Array, o: number): number => getU16(b, o + IPHDR.CHECK);
export const ipSaddr = (b: Uint8Array, o: number): number => getU32(b, o + IPHDR.SADDR);
export const ipDaddr = (b: Uint8Array, o: number): number => getU32(b, o + IPHDR.DADDR);

export const setIpVerIhl = (b: Uint8Array, o: number, ihl: number): void => {
  b[o] = 0x40 | (ihl & 0x0f);
};
export const setIpTos = (b: Uint8Array, o: number, v: number): void => {
  b[o + IPHDR.TOS] = v;
};
export const setIpTotLen = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + IPHDR.TOT_LEN, v);
export const setIpId = (b: Uint8Array, o: number, v: number): void => setU16(b, o + IPHDR.ID, v);
export const setIpFragOff = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + IPHDR.FRAG_OFF, v);
export const setIpTtl = (b: Uint8Array, o: number, v: number): void => {
  b[o + IPHDR.TTL] = v;
};
export const setIpProtocol = (b: Uint8Array, o: number, v: number): void => {
  b[o + IPHDR.PROTOCOL] = v;
};
export const setIpCheck = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + IPHDR.CHECK, v);
export const setIpSaddr = (b: Uint8Array, o: number, v: number): void =>
  setU32(b, o + IPHDR.SADDR, v);
export const setIpDaddr = (b: Uint8Array, o: number, v: number): void =>
  setU32(b, o + IPHDR.DADDR, v);

/** Whether the packet is a fragment (MF set or a non-zero offset): `ip_is_fragment`. */
export const ipIsFragment = (b: Uint8Array, o: number): boolean =>
  (ipFragOff(b, o) & (IP_MF | IP_OFFSET)) !== 0;

/** The validated, parsed form of a header (smoltcp's `Repr`), for building and tests. */
export interface Ipv4Repr {
  readonly tos: number;
  readonly totLen: number;
  readonly id: number;
  /** Flags + offset, host order. */
  readonly fragOff: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly saddr: number;
  readonly daddr: number;
  /** Options bytes (a multiple of 4, at most 40). */
  readonly options?: Uint8Array;
}

/**
 * Parses a header; null when it is not a valid IPv4 header (no throwing on untrusted bytes):
 * fewer bytes than the header (20, or IHL × 4 with options), a version other than 4, an IHL
 * below 5, or a total length shorter than the header. The checksum is not verified, and the
 * total length may exceed the bytes at hand (an ICMP error quotes only the header and 8 bytes).
 */
export function ipv4Parse(b: Uint8Array, o: number): Ipv4Repr | null {
  if (!ipHdrCheckLen(b, o) || ipVersion(b, o) !== 4) return null;
  const ihl = ipIhl(b, o);
  if (ihl < 5 || o + ihl * 4 > b.length) return null;
  // RFC 791 3.1: "Total Length is the length of the datagram, measured in octets, including
  // internet header and data."
  if (ipTotLen(b, o) < ihl * 4) return null;
  return {
    tos: ipTos(b, o),
    totLen: ipTotLen(b, o),
    id: ipId(b, o),
    fragOff: ipFragOff(b, o),
    ttl: ipTtl(b, o),
    protocol: ipProtocol(b, o),
    saddr: ipSaddr(b, o),
    daddr: ipDaddr(b, o),
    ...(ihl > 5 ? { options: b.slice(o + 20, o + ihl * 4) } : {}),
  };
}

/** Bytes the header of `r` takes. */
export function ipv4HeaderLen(r: Pick<Ipv4Repr, "options">): number {
  return IPHDR.MIN_LEN + (r.options?.length ?? 0);
}

/**
 * Writes `r` at `o`, checksum included (computed by `csum`, the caller's ip_fast_csum).
 * @throws RangeError when `r.options` is not a multiple of 4 bytes or longer than 40 (a bug in
 * the caller: the IHL could not describe the header).
 */
export function ipv4Emit(
  r: Ipv4Repr,
  b: Uint8Array,
  o: number,
  csum: (b: Uint8Array, o: number, words: number) => number,
): void {
  const hlen = ipv4HeaderLen(r);
  if (hlen % 4 !== 0 || hlen > IPHDR.MAX_LEN) {
    throw new RangeError(
      `ipv4Emit: ${hlen - IPHDR.MIN_LEN} bytes of options (a multiple of 4, at most 40)`,
    );
  }
  setIpVerIhl(b, o, hlen >> 2);
  setIpTos(b, o, r.tos);
  setIpTotLen(b, o, r.totLen);
  setIpId(b, o, r.id);
  setIpFragOff(b, o, r.fragOff);
  setIpTtl(b, o, r.ttl);
  setIpProtocol(b, o, r.protocol);
  setIpCheck(b, o, 0);
  setIpSaddr(b, o, r.saddr);
  setIpDaddr(b, o, r.daddr);
  if (r.options) b.set(r.options, o + 20);
  setIpCheck(b, o, csum(b, o, hlen >> 2));
}
