/**
 * Software completion of a checksum a device was asked to compute.
 * @packageDocumentation
 */
import { csumFold, csumPartial } from "./checksum.js";
import { CHECKSUM_NONE, type SkBuff } from "./skbuff.js";

/**
 * `skb_checksum_help`: fills in a `CHECKSUM_PARTIAL` packet's checksum in software. The
 * checksum field at `csumStart + csumOffset` holds the pseudo-header sum; the sum from
 * `csumStart` to the end of the packet, folded and complemented, replaces it (0 becomes 0xffff,
 * `CSUM_MANGLED_0`). The packet is then `CHECKSUM_NONE`: its checksum is in its bytes. Unshares
 * the bytes first when they are shared with a clone.
 * @see net/core/dev.c skb_checksum_help()
 */
export function skbChecksumHelp(skb: SkBuff): void {
  skb.cow();
  const head = skb.head;
  const start = skb.csumStart;
  const field = start + skb.csumOffset;
  if (start < skb.data || field + 2 > skb.tail) {
    // Offsets outside the packet: nothing sane to fill; the receiver's verification decides.
    skb.ipSummed = CHECKSUM_NONE;
    return;
  }
  const csum = csumFold(csumPartial(head, start, skb.tail - start)) || 0xffff;
  head[field] = csum >>> 8;
  head[field + 1] = csum & 0xff;
  skb.ipSummed = CHECKSUM_NONE;
}
