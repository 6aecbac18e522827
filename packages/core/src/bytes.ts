/**
 * Big-endian (network byte order) accessors for header views over a `Uint8Array`.
 *
 * These are the only byte helpers the wire layer uses. They are plain functions over indexed
 * access (no `DataView`, no allocation) so V8 inlines them on the per-packet path. They do no
 * bounds checking: a header view calls them only after its own length check has passed, so an
 * out-of-range offset is a bug in the caller and reads garbage rather than throwing.
 * @packageDocumentation
 */

/**
 * Reads the unsigned byte at `off`.
 * @param buf - the bytes
 * @param off - byte offset into `buf`
 * @returns the value, 0..0xff
 */
export function getU8(buf: Uint8Array, off: number): number {
  return buf[off]!;
}

/**
 * Reads a big-endian unsigned 16-bit value at `off`.
 * @see include/linux/byteorder/generic.h ntohs()
 * @param buf - the bytes
 * @param off - byte offset of the high byte
 * @returns the value, 0..0xffff
 */
export function getU16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

/**
 * Reads a big-endian unsigned 32-bit value at `off`.
 * @see include/linux/byteorder/generic.h ntohl()
 * @param buf - the bytes
 * @param off - byte offset of the most significant byte
 * @returns the value, 0..0xffffffff (unsigned, via `>>> 0`)
 */
export function getU32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

/**
 * Writes the low 8 bits of `value` at `off`.
 * @param buf - the bytes
 * @param off - byte offset into `buf`
 * @param value - the value; bits above the low 8 are ignored
 */
export function setU8(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value;
}

/**
 * Writes the low 16 bits of `value` big-endian at `off`.
 * @see include/linux/byteorder/generic.h htons()
 * @param buf - the bytes
 * @param off - byte offset of the high byte
 * @param value - the value; bits above the low 16 are ignored
 */
export function setU16(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 8;
  buf[off + 1] = value;
}

/**
 * Writes the low 32 bits of `value` big-endian at `off`. Signed and unsigned inputs with the
 * same low 32 bits write the same bytes.
 * @see include/linux/byteorder/generic.h htonl()
 * @param buf - the bytes
 * @param off - byte offset of the most significant byte
 * @param value - the value; bits above the low 32 are ignored
 */
export function setU32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value >>> 24;
  buf[off + 1] = value >>> 16;
  buf[off + 2] = value >>> 8;
  buf[off + 3] = value;
}
