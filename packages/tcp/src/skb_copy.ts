/**
 * Byte copies between skb buffers and user buffers. `TypedArray.prototype.set` of a `subarray`
 * view allocates the view first, which for the small writes and reads of request/response
 * traffic costs as much as the copy: a whole source is copied without a view, and a read that
 * one skb satisfies is a single `slice` (measured in V8: both about half the cost of the view;
 * a byte loop is slower than either beyond a few bytes).
 * @see include/linux/skbuff.h skb_copy_to_page_nocache(), skb_copy_datagram_msg()
 * @packageDocumentation
 */

/** Copies `len` bytes of `src` from `srcOff` into `dst` at `dstOff` (the ranges do not overlap). */
export function copyBytes(
  dst: Uint8Array,
  dstOff: number,
  src: Uint8Array,
  srcOff: number,
  len: number,
): void {
  if (srcOff === 0 && len === src.length) dst.set(src, dstOff);
  else dst.set(src.subarray(srcOff, srcOff + len), dstOff);
}
