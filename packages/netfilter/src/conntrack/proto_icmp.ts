/**
 * The ICMP tracker: queries (echo, timestamp, information, address mask) are connections keyed
 * by their id, answered by the matching reply type; errors are not connections of their own
 * but RELATED to the connection of the packet they quote.
 * @see net/netfilter/nf_conntrack_proto_icmp.c
 * @packageDocumentation
 */
import {
  CHECKSUM_UNNECESSARY,
  csumFold,
  csumPartial,
  getU32,
  NF_INET_PRE_ROUTING,
  type SkBuff,
} from "@skbuff/core";
import { IP_CT } from "../nf_api.js";
import { CT_VERDICT, type CtVerdict } from "./l4.js";
import type { NetnsConntrack } from "./netns.js";
import type { NfConn } from "./nf_conn.js";
import { ICMP, IP_CT_DIR, IPPROTO_ICMP, invertTuple, pktToTuple } from "./tuple.js";

/**
 * `icmp_error`'s sanity checks on the ICMP message at `th` (up to `end`): a whole header and,
 * in PRE_ROUTING, a good checksum. Returns whether it is malformed.
 * @see net/netfilter/nf_conntrack_proto_icmp.c icmp_error()
 */
export function icmpMalformed(
  skb: SkBuff,
  hook: number,
  th: number,
  end: number,
  ns: NetnsConntrack,
): boolean {
  if (th + 8 > end) return true;
  if (
    ns.sysctl.checksum.value &&
    hook === NF_INET_PRE_ROUTING &&
    skb.ipSummed !== CHECKSUM_UNNECESSARY &&
    !skb.csumValid
  ) {
    return csumFold(csumPartial(skb.head, th, end - th)) !== 0;
  }
  return false;
}

/** `nf_conntrack_icmp_packet`: an ICMP query's connection lives `nf_conntrack_icmp_timeout`. */
export function icmpPacket(ct: NfConn, ns: NetnsConntrack): CtVerdict {
  ns.table.refresh(ct, ns.sysctl.icmpTimeout.value * 1000);
  return CT_VERDICT.ACCEPT;
}

/** What {@link icmpErrorLookup} found: the connection and the packet's `ctinfo`. */
export interface IcmpRelated {
  readonly ct: NfConn;
  readonly ctinfo: number;
}

/**
 * `nf_conntrack_inet_error`: the connection an ICMP error (at `th`, up to `end`, its outer IP
 * header at `nh`) is about, from the packet it quotes. The quote must hold an IP header and the
 * first 8 bytes of its transport header, must not itself be an ICMP error, and the connection
 * must lead to the error's destination: "conntrack[dir].dst == inner.dst" — else null.
 * @see net/netfilter/nf_conntrack_proto_icmp.c nf_conntrack_inet_error()
 */
export function icmpErrorLookup(
  b: Uint8Array,
  nh: number,
  th: number,
  end: number,
  ns: NetnsConntrack,
): IcmpRelated | null {
  const inner = th + 8;
  const innerTuple = pktToTuple(b, inner, end);
  if (innerTuple === null) return null;
  // RFC 1122 (3.2.2): "An ICMP error message MUST NOT be sent as the result of receiving …
  // an ICMP error message"; one that quotes an error is bogus.
  if (innerTuple.protonum === IPPROTO_ICMP && innerTuple.dport >> 8 in ERROR_TYPES) return null;
  // "Ordinarily, we'd expect the inverted tupleproto, but it's been preserved inside the ICMP."
  const target = invertTuple(innerTuple);
  if (target === null) return null;
  const h = ns.table.find(target);
  if (h === null) return null;
  // The found direction's destination must be the error's destination (outer daddr).
  if (h.ct.tuple(h.dir).dst !== getU32(b, nh + 16)) return null;
  const ctinfo = h.dir === IP_CT_DIR.REPLY ? IP_CT.RELATED_REPLY : IP_CT.RELATED;
  return { ct: h.ct, ctinfo };
}

const ERROR_TYPES: Readonly<Record<number, true>> = {
  [ICMP.DEST_UNREACH]: true,
  [ICMP.SOURCE_QUENCH]: true,
  [ICMP.TIME_EXCEEDED]: true,
  [ICMP.PARAMETERPROB]: true,
  [ICMP.REDIRECT]: true,
};
