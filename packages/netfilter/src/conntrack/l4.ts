/**
 * What the per-protocol trackers share: their verdicts and checksum verification.
 * @see include/net/netfilter/nf_conntrack_l4proto.h
 * @packageDocumentation
 */
import {
  CHECKSUM_UNNECESSARY,
  csumPartial,
  csumTcpudpMagic,
  getU32,
  NF_INET_PRE_ROUTING,
  type SkBuff,
} from "@skbuff/core";

/** What a tracker's `packet()` says about a packet of a known connection. */
export const CT_VERDICT = {
  /** Fine: the connection's state and timeout were updated. */
  ACCEPT: 0,
  /** Makes no sense in the state: the packet is INVALID (`-NF_ACCEPT`). */
  INVALID: 1,
  /** The old connection was killed (TCP reopen): look the packet up again (`-NF_REPEAT`). */
  REPEAT: 2,
} as const;
/** One of {@link CT_VERDICT}. */
export type CtVerdict = (typeof CT_VERDICT)[keyof typeof CT_VERDICT];

/**
 * `nf_checksum` for TCP and UDP, as conntrack does it: only in PRE_ROUTING (locally made
 * packets may still have their checksum to fill in), and not when the device vouched for it.
 * Returns whether the checksum is good (or need not be checked).
 * @see net/netfilter/utils.c nf_ip_checksum()
 */
export function nfL4ChecksumOk(
  skb: SkBuff,
  hook: number,
  nh: number,
  th: number,
  end: number,
  protonum: number,
): boolean {
  if (hook !== NF_INET_PRE_ROUTING || skb.ipSummed === CHECKSUM_UNNECESSARY || skb.csumValid) {
    return true;
  }
  const b = skb.head;
  const len = end - th;
  const sum = csumPartial(b, th, len);
  return csumTcpudpMagic(getU32(b, nh + 12), getU32(b, nh + 16), len, protonum, sum) === 0;
}
