/**
 * The Internet checksum (RFC 1071): the 16-bit one's complement of the one's complement sum of
 * the 16-bit big-endian words of the data.
 *
 * Two kinds of value flow through these functions, as in Linux:
 * - a **partial sum** (`__wsum`): an unfolded 32-bit one's complement accumulator, 0..0xffffffff.
 *   Partial sums of even-length, even-offset pieces can be added with {@link csumAdd}; only their
 *   folded value is meaningful, not the exact 32-bit pattern.
 * - a **folded checksum** (`__sum16`): the 16-bit complemented result of {@link csumFold}, the
 *   value stored in a header. Summing data that already contains its correct checksum folds to 0.
 *
 * Everything here is on the per-packet path: plain loops over bytes, no allocation.
 * @packageDocumentation
 */

import { getU16, setU16 } from "./bytes.js";

/**
 * Bytes summed before the running sum is folded into the 32-bit accumulator. 16384 words of at
 * most 0xffff add up to less than 2^30, so the inner loop's accumulator stays a small integer.
 */
const CHUNK_BYTES = 32768;

/**
 * Adds two partial sums with an end-around carry at 32 bits.
 * @see include/net/checksum.h csum_add()
 * @param csum - a partial sum, 0..0xffffffff
 * @param addend - another partial sum, 0..0xffffffff
 * @returns the one's complement sum, 0..0xffffffff
 */
export function csumAdd(csum: number, addend: number): number {
  const s = csum + addend;
  return s > 0xffffffff ? s - 0xffffffff : s;
}

/**
 * Subtracts a partial sum from another (adds its one's complement).
 * @see include/net/checksum.h csum_sub()
 * @param csum - a partial sum, 0..0xffffffff
 * @param addend - the partial sum to take away, 0..0xffffffff
 * @returns the one's complement difference, 0..0xffffffff
 */
export function csumSub(csum: number, addend: number): number {
  return csumAdd(csum, ~addend >>> 0);
}

/**
 * Accumulates the 16-bit big-endian words of `buf[off .. off + len)` into the partial sum `sum`.
 * Words are taken relative to `off`; if `len` is odd the last byte is the high byte of a word
 * whose low byte is zero (RFC 1071 (4.1): "Add left-over byte, if any").
 *
 * RFC 1071 (2)(B), byte order independence, is what makes the fast path possible: the sum of the
 * words is 256 × (sum of their high bytes) + (sum of their low bytes), whatever order the bytes
 * are read in. Long runs are read four bytes at a time through an aligned `Uint32Array` view and
 * the four byte lanes summed in parallel (two 16-bit lanes per 32-bit accumulator, flushed before
 * they can overflow); which lanes are high bytes depends only on the parity of the start. The
 * result is exactly the sum the byte-at-a-time loop gives, chunk for chunk.
 * @see lib/checksum.c csum_partial()
 * @param buf - the bytes
 * @param off - offset of the first byte
 * @param len - number of bytes to sum
 * @param sum - partial sum to continue from (default 0)
 * @returns the unfolded partial sum, 0..0xffffffff; fold it with {@link csumFold}
 */
export function csumPartial(buf: Uint8Array, off: number, len: number, sum = 0): number {
  const odd = len & 1;
  const evenEnd = off + len - odd;
  let i = off;
  while (i < evenEnd) {
    const chunkEnd = evenEnd - i > CHUNK_BYTES ? i + CHUNK_BYTES : evenEnd;
    sum = csumAdd(
      sum,
      chunkEnd - i >= WIDE_MIN ? wordSumWide(buf, i, chunkEnd) : wordSum(buf, i, chunkEnd),
    );
    i = chunkEnd;
  }
  if (odd !== 0) {
    sum = csumAdd(sum, buf[i]! << 8);
  }
  return sum;
}

/** Below this many bytes the plain loop is cheaper than setting up the wide one. */
const WIDE_MIN = 64;
/** 32-bit words summed into the byte lanes before they are flushed (255 × 256 < 2^16). */
const LANE_WORDS = 256;
/** Whether a `Uint32Array` reads little-endian here (the byte lanes assume it). */
const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** The last buffer a wide sum read and its `Uint32Array` view (packets share slabs and pools). */
let wideBuffer: ArrayBufferLike | null = null;
let wideView: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

/** Sum of the big-endian words of `buf[from .. to)`, `to - from` even and below 2^16 words. */
function wordSum(buf: Uint8Array, from: number, to: number): number {
  let acc = 0;
  for (let i = from; i < to; i += 2) {
    acc += (buf[i]! << 8) | buf[i + 1]!;
  }
  return acc;
}

/** {@link wordSum} four bytes at a time (same result). */
function wordSumWide(buf: Uint8Array, from: number, to: number): number {
  if (!LITTLE_ENDIAN) return wordSum(buf, from, to);
  const buffer = buf.buffer;
  if (buffer !== wideBuffer) {
    wideView = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
    wideBuffer = buffer;
  }
  const base = buf.byteOffset;
  const start = base + from; // absolute positions from here on
  const end = base + to;
  const first = (start + 3) & ~3;
  const last = end & ~3;
  // Bytes at the start's parity are high bytes (weight 256), the others low bytes.
  let hi = 0;
  let lo = 0;
  let a = start;
  const lead = Math.min(first, end);
  for (; a < lead; a++) {
    if (((a - start) & 1) === 0) hi += buf[a - base]!;
    else lo += buf[a - base]!;
  }
  // Lanes: even = bytes 0 and 2 of each word (even addresses), odd = bytes 1 and 3.
  let even = 0;
  let odd = 0;
  const view = wideView;
  let w = first >>> 2;
  const wEnd = last >>> 2;
  while (w < wEnd) {
    const stop = wEnd - w > LANE_WORDS ? w + LANE_WORDS : wEnd;
    let e = 0;
    let o = 0;
    for (; w + 1 < stop; w += 2) {
      const x = view[w]!;
      const y = view[w + 1]!;
      e += (x & 0x00ff00ff) + (y & 0x00ff00ff);
      o += ((x >>> 8) & 0x00ff00ff) + ((y >>> 8) & 0x00ff00ff);
    }
    if (w < stop) {
      const x = view[w++]!;
      e += x & 0x00ff00ff;
      o += (x >>> 8) & 0x00ff00ff;
    }
    even += (e & 0xffff) + (e >>> 16);
    odd += (o & 0xffff) + (o >>> 16);
  }
  if ((start & 1) === 0) {
    hi += even;
    lo += odd;
  } else {
    hi += odd;
    lo += even;
  }
  for (a = Math.max(last, first); a < end; a++) {
    if (((a - start) & 1) === 0) hi += buf[a - base]!;
    else lo += buf[a - base]!;
  }
  return hi * 256 + lo;
}

/**
 * Folds a 32-bit partial sum to 16 bits and complements it: the value to store in (or, over data
 * that includes its checksum, 0 when it verifies) a checksum field.
 * @see include/asm-generic/checksum.h csum_fold()
 * @param sum - a partial sum, 0..0xffffffff
 * @returns the folded checksum, 0..0xffff
 */
export function csumFold(sum: number): number {
  let s = (sum & 0xffff) + (sum >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/**
 * The folded checksum of an IP header of `ihlWords` 32-bit words starting at `off`. Over a
 * header that carries its checksum this is 0 when the header is valid; over a header whose
 * checksum field is zeroed it is the value to store there.
 * @see lib/checksum.c ip_fast_csum()
 * @param buf - the bytes
 * @param off - offset of the IP header
 * @param ihlWords - the header length in 32-bit words (the IHL field)
 * @returns the folded checksum, 0..0xffff
 */
export function ipFastCsum(buf: Uint8Array, off: number, ihlWords: number): number {
  // At most 60 bytes: one plain loop, no chunking, one fold.
  return csumFold(wordSum(buf, off, off + ihlWords * 4));
}

/**
 * Adds the TCP/UDP IPv4 pseudo-header (source, destination, protocol, length) to a partial sum.
 * @see lib/checksum.c csum_tcpudp_nofold()
 * @param saddr - source address as a u32 (network order value, e.g. 0xc0a80001 for 192.168.0.1)
 * @param daddr - destination address as a u32
 * @param len - the transport length (header + payload) in bytes
 * @param proto - the IP protocol number (6 for TCP, 17 for UDP)
 * @param sum - partial sum of the transport header and payload
 * @returns the unfolded partial sum, 0..0xffffffff
 */
export function csumTcpudpNofold(
  saddr: number,
  daddr: number,
  len: number,
  proto: number,
  sum: number,
): number {
  let s = csumAdd(sum, saddr >>> 0);
  s = csumAdd(s, daddr >>> 0);
  return csumAdd(s, proto + len);
}

/**
 * The folded TCP/UDP checksum over the pseudo-header plus `sum`: the value to store in the
 * checksum field, or 0 when `sum` covers a segment that carries a correct checksum.
 * @see include/asm-generic/checksum.h csum_tcpudp_magic()
 * @param saddr - source address as a u32
 * @param daddr - destination address as a u32
 * @param len - the transport length (header + payload) in bytes
 * @param proto - the IP protocol number
 * @param sum - partial sum of the transport header and payload
 * @returns the folded checksum, 0..0xffff
 */
export function csumTcpudpMagic(
  saddr: number,
  daddr: number,
  len: number,
  proto: number,
  sum: number,
): number {
  return csumFold(csumTcpudpNofold(saddr, daddr, len, proto, sum));
}

/*
 * RFC 1624 (3): "The problem is avoided by not assuming this property. The correct equation is
 * given below: HC' = ~(C + (-m) + m') -- [Eqn. 3] = ~(~HC + ~m + m')"
 *
 * The sums below are one's complement sums with end-around carry, so HC' is +0 (0x0000) rather
 * than -0 (0xffff) exactly when a checksum computed from scratch would be.
 */

/**
 * Updates, in place, the 16-bit checksum field at `csumOff` after one 16-bit word it covers
 * changed from `oldU16` to `newU16` (RFC 1624 eqn. 3).
 * @see include/net/checksum.h csum_replace2()
 * @param buf - the bytes holding the checksum field
 * @param csumOff - offset of the big-endian checksum field
 * @param oldU16 - the word's old value
 * @param newU16 - the word's new value
 */
export function csumReplace2(
  buf: Uint8Array,
  csumOff: number,
  oldU16: number,
  newU16: number,
): void {
  let s = (~getU16(buf, csumOff) & 0xffff) + (~oldU16 & 0xffff) + (newU16 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  setU16(buf, csumOff, ~s);
}

/**
 * Updates, in place, the 16-bit checksum field at `csumOff` after one 32-bit value it covers
 * (an address, a sequence number) changed from `oldU32` to `newU32` (RFC 1624 eqn. 3 applied to
 * both halves). The value must sit at an even offset from the start of the checksummed data.
 * @see include/net/checksum.h csum_replace4()
 * @param buf - the bytes holding the checksum field
 * @param csumOff - offset of the big-endian checksum field
 * @param oldU32 - the old value
 * @param newU32 - the new value
 */
export function csumReplace4(
  buf: Uint8Array,
  csumOff: number,
  oldU32: number,
  newU32: number,
): void {
  let s =
    (~getU16(buf, csumOff) & 0xffff) +
    (~(oldU32 >>> 16) & 0xffff) +
    (~oldU32 & 0xffff) +
    (newU32 >>> 16) +
    (newU32 & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  setU16(buf, csumOff, ~s);
}
