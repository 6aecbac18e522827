/**
 * `struct nf_conntrack_tuple`: what identifies one direction of a connection — addresses, the
 * protocol and its per-protocol part (TCP/UDP ports; for ICMP the echo id, type and code) — and
 * how a packet's tuple is read and inverted.
 * @see include/net/netfilter/nf_conntrack_tuple.h, net/netfilter/nf_conntrack_core.c
 * @packageDocumentation
 */

import { getU16, getU32 } from "@skbuff/core";
import { ICMP_TYPE } from "@skbuff/icmp";

/** IP protocol numbers conntrack knows. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** `enum ip_conntrack_dir`. */
export const IP_CT_DIR = { ORIGINAL: 0, REPLY: 1 } as const;
/** One of {@link IP_CT_DIR}. */
export type IpCtDir = (typeof IP_CT_DIR)[keyof typeof IP_CT_DIR];

/**
 * One direction of a connection. For TCP and UDP `sport`/`dport` are the ports; for ICMP
 * `sport` is the echo id (`src.u.icmp.id`) and `dport` is `type << 8 | code`
 * (`dst.u.icmp.type`, `dst.u.icmp.code`); other protocols have 0 in both.
 */
export interface NfConntrackTuple {
  /** u32 source address. */
  readonly src: number;
  /** u32 destination address. */
  readonly dst: number;
  readonly protonum: number;
  readonly sport: number;
  readonly dport: number;
}

/** ICMP types (RFC 792), as @skbuff/icmp names them. */
export const ICMP = ICMP_TYPE;

/**
 * `invmap` of nf_conntrack_proto_icmp.c: the reply type of each query type, +1 so that 0 means
 * "not a query" (a type with no reply cannot start a connection).
 */
const ICMP_INVMAP: Readonly<Record<number, number>> = {
  [ICMP.ECHO]: ICMP.ECHOREPLY + 1,
  [ICMP.ECHOREPLY]: ICMP.ECHO + 1,
  [ICMP.TIMESTAMP]: ICMP.TIMESTAMPREPLY + 1,
  [ICMP.TIMESTAMPREPLY]: ICMP.TIMESTAMP + 1,
  [ICMP.INFO_REQUEST]: ICMP.INFO_REPLY + 1,
  [ICMP.INFO_REPLY]: ICMP.INFO_REQUEST + 1,
  [ICMP.ADDRESS]: ICMP.ADDRESSREPLY + 1,
  [ICMP.ADDRESSREPLY]: ICMP.ADDRESS + 1,
};

/** Query types that may start a connection (`valid_new` of nf_conntrack_proto_icmp.c). */
export function icmpIsNewType(type: number): boolean {
  return (
    type === ICMP.ECHO ||
    type === ICMP.TIMESTAMP ||
    type === ICMP.INFO_REQUEST ||
    type === ICMP.ADDRESS
  );
}

/** `icmp_is_err`: the ICMP error types, which quote the packet they are about. */
export function icmpIsError(type: number): boolean {
  return (
    type === ICMP.DEST_UNREACH ||
    type === ICMP.SOURCE_QUENCH ||
    type === ICMP.TIME_EXCEEDED ||
    type === ICMP.PARAMETERPROB ||
    type === ICMP.REDIRECT
  );
}

/**
 * `nf_ct_invert_tuple`: the tuple of the other direction, or null for an ICMP type that has no
 * reply.
 * @see net/netfilter/nf_conntrack_core.c nf_ct_invert_tuple()
 */
export function invertTuple(t: NfConntrackTuple): NfConntrackTuple | null {
  if (t.protonum === IPPROTO_ICMP) {
    const inv = ICMP_INVMAP[t.dport >> 8];
    if (inv === undefined) return null;
    return {
      src: t.dst,
      dst: t.src,
      protonum: t.protonum,
      sport: t.sport,
      dport: ((inv - 1) << 8) | (t.dport & 0xff),
    };
  }
  return { src: t.dst, dst: t.src, protonum: t.protonum, sport: t.dport, dport: t.sport };
}

/** Whether the protocol has ports (or ids) in its tuple. */
export function hasL4Part(protonum: number): boolean {
  return protonum === IPPROTO_TCP || protonum === IPPROTO_UDP || protonum === IPPROTO_ICMP;
}

/**
 * `nf_ct_get_tuple`: the tuple of the packet whose IP header is at `nh` in `b`, with `end`
 * the end of the bytes that may be read. Only the first 8 bytes of the transport header are
 * needed (an ICMP error quotes no more). Null when the bytes do not hold a tuple.
 * @see net/netfilter/nf_conntrack_core.c nf_ct_get_tuple()
 */
export function pktToTuple(b: Uint8Array, nh: number, end: number): NfConntrackTuple | null {
  if (nh + 20 > end) return null;
  const ihl = (b[nh]! & 0x0f) * 4;
  if (ihl < 20 || nh + ihl > end) return null;
  const protonum = b[nh + 9]!;
  const src = getU32(b, nh + 12);
  const dst = getU32(b, nh + 16);
  if (!hasL4Part(protonum)) return { src, dst, protonum, sport: 0, dport: 0 };
  const th = nh + ihl;
  if (protonum === IPPROTO_ICMP) {
    if (th + 8 > end) return null;
    return { src, dst, protonum, sport: getU16(b, th + 4), dport: getU16(b, th) };
  }
  if (th + 4 > end) return null;
  return { src, dst, protonum, sport: getU16(b, th), dport: getU16(b, th + 2) };
}

/** A compact hash key of a tuple (the table is a `Map` keyed by it). */
export function tupleKey(t: NfConntrackTuple): string {
  return `${t.src}:${t.dst}:${t.protonum}:${t.sport}:${t.dport}`;
}

/** Whether two tuples are equal (`nf_ct_tuple_equal`). */
export function tupleEqual(a: NfConntrackTuple, b: NfConntrackTuple): boolean {
  return (
    a.src === b.src &&
    a.dst === b.dst &&
    a.protonum === b.protonum &&
    a.sport === b.sport &&
    a.dport === b.dport
  );
}
