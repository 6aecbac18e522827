/**
 * The UDP header (RFC 768), as a view over bytes: field offsets, one-line accessors with their
 * setters, and {@link UdpRepr}, the validated form, with {@link udpParse} / {@link udpEmit}.
 * Imports nothing but byte and checksum helpers, so it can move to `@skbuff/udp` unchanged.
 *
 * ```
 *  0      7 8     15 16    23 24    31
 * +--------+--------+--------+--------+
 * |     Source      |   Destination   |
 * |      Port       |      Port       |
 * +--------+--------+--------+--------+
 * |     Length      |    Checksum     |
 * +--------+--------+--------+--------+
 * |          data octets ...
 * ```
 *
 * The rule: after {@link udpHdrCheckLen} succeeds for `(off, len)`, no accessor can read outside
 * the buffer. Accessors take the buffer and the offset of the UDP header in it.
 * @see include/uapi/linux/udp.h struct udphdr
 * @packageDocumentation
 */
import { csumPartial, csumTcpudpMagic, getU16, setU16 } from "@skbuff/core";

/** Byte offsets of the header's fields (`struct udphdr`). */
export const UDPHDR = {
  SOURCE: 0,
  DEST: 2,
  LEN: 4,
  CHECK: 6,
  /** Length of the header. */
  HLEN: 8,
} as const;

/** IP protocol number of UDP (`IPPROTO_UDP`). */
export const IPPROTO_UDP = 17;

/** Whether a datagram of `len` bytes at `off` in `b` holds the 8-byte header. */
export function udpHdrCheckLen(b: Uint8Array, off: number, len: number): boolean {
  return off >= 0 && len >= UDPHDR.HLEN && off + len <= b.length;
}

export const udpSource = (b: Uint8Array, o: number): number => getU16(b, o + UDPHDR.SOURCE);
export const udpDest = (b: Uint8Array, o: number): number => getU16(b, o + UDPHDR.DEST);
/** RFC 768: "the length in octets of this user datagram including this header and the data". */
export const udpLen = (b: Uint8Array, o: number): number => getU16(b, o + UDPHDR.LEN);
export const udpCheck = (b: Uint8Array, o: number): number => getU16(b, o + UDPHDR.CHECK);

export const setUdpSource = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + UDPHDR.SOURCE, v);
export const setUdpDest = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + UDPHDR.DEST, v);
export const setUdpLen = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + UDPHDR.LEN, v);
export const setUdpCheck = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + UDPHDR.CHECK, v);

/**
 * The checksum to store in a datagram of `len` bytes at `o` sent from `saddr` to `daddr` (u32
 * addresses): the sum over the IPv4 pseudo-header and the datagram with the checksum field taken
 * as zero. RFC 768: "If the computed checksum is zero, it is transmitted as all ones (the
 * equivalent in one's complement arithmetic)."
 */
export function udpComputeChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): number {
  const stored = udpCheck(b, o);
  setUdpCheck(b, o, 0);
  const sum = csumTcpudpMagic(saddr, daddr, len, IPPROTO_UDP, csumPartial(b, o, len));
  setUdpCheck(b, o, stored);
  return sum === 0 ? 0xffff : sum;
}

/** Fills in the checksum of a datagram of `len` bytes at `o` (see {@link udpComputeChecksum}). */
export function udpFillChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): void {
  setUdpCheck(b, o, udpComputeChecksum(b, o, len, saddr, daddr));
}

/**
 * Whether a datagram of `len` bytes at `o` passes its checksum: a zero checksum field means the
 * sender computed none (RFC 768: "An all zero transmitted checksum value means that the
 * transmitter generated no checksum") and passes; any other sums to zero.
 */
export function udpVerifyChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): boolean {
  if (udpCheck(b, o) === 0) return true;
  return csumTcpudpMagic(saddr, daddr, len, IPPROTO_UDP, csumPartial(b, o, len)) === 0;
}

/** The validated, parsed form of a datagram (smoltcp's `UdpRepr`). */
export interface UdpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/**
 * Parses the datagram of `len` bytes at `o`. Returns null when it is shorter than its header,
 * or when its length field is below 8 or above `len` (what `__udp4_lib_rcv` drops as
 * `PKT_TOO_SMALL`). Bytes beyond the length field are padding and not part of the payload. The
 * checksum is not verified (it needs the IP addresses: {@link udpVerifyChecksum}). Never throws on
 * untrusted bytes; `payload` is a copy.
 */
export function udpParse(b: Uint8Array, o: number, len: number): UdpRepr | null {
  if (!udpHdrCheckLen(b, o, len)) return null;
  const ulen = udpLen(b, o);
  if (ulen < UDPHDR.HLEN || ulen > len) return null;
  return {
    srcPort: udpSource(b, o),
    dstPort: udpDest(b, o),
    payload: b.slice(o + UDPHDR.HLEN, o + ulen),
  };
}

/** Bytes the datagram of `r` takes. */
export function udpBufferLen(r: UdpRepr): number {
  return UDPHDR.HLEN + r.payload.length;
}

/**
 * Writes `r` at `o` (the buffer must hold {@link udpBufferLen} bytes there) with a zero checksum
 * ("none"); fill it with {@link udpFillChecksum} once the addresses are known.
 */
export function udpEmit(r: UdpRepr, b: Uint8Array, o: number): void {
  setUdpSource(b, o, r.srcPort);
  setUdpDest(b, o, r.dstPort);
  setUdpLen(b, o, udpBufferLen(r));
  setUdpCheck(b, o, 0);
  b.set(r.payload, o + UDPHDR.HLEN);
}
