/**
 * Packet mangling for NAT: rewrite an IPv4 header's address and the transport's port (or ICMP
 * query id), fixing every checksum incrementally (RFC 1624), and translate ICMP errors about a
 * NATed connection, the packet they quote included.
 * @see net/netfilter/nf_nat_proto.c
 * @packageDocumentation
 */
import {
  CHECKSUM_COMPLETE,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  csumFold,
  csumPartial,
  csumReplace2,
  csumReplace4,
  getU16,
  getU32,
  NF_INET_LOCAL_IN,
  NF_INET_POST_ROUTING,
  type SkBuff,
  setU16,
  setU32,
} from "@skbuff/core";
import { ctinfo2dir } from "../conntrack/core.js";
import { IPS, IPS_NAT_MASK, type NfConn } from "../conntrack/nf_conn.js";
import {
  ICMP,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  invertTuple,
  type NfConntrackTuple,
} from "../conntrack/tuple.js";

/** `enum nf_nat_manip_type`. */
export const NF_NAT_MANIP = { SRC: 0, DST: 1 } as const;
/** One of {@link NF_NAT_MANIP}. */
export type NfNatManipType = (typeof NF_NAT_MANIP)[keyof typeof NF_NAT_MANIP];

/** `HOOK2MANIP`: source NAT in POST_ROUTING and LOCAL_IN, destination NAT elsewhere. */
export function hook2manip(hooknum: number): NfNatManipType {
  return hooknum === NF_INET_POST_ROUTING || hooknum === NF_INET_LOCAL_IN
    ? NF_NAT_MANIP.SRC
    : NF_NAT_MANIP.DST;
}

const IP_OFFSET = 0x1fff;

/**
 * `inet_proto_csum_replace4`: a 32-bit value covered by a transport checksum changed. With
 * `pseudohdr` it is part of the pseudo-header, which a `CHECKSUM_PARTIAL` packet's checksum
 * field holds (uncomplemented) until the device finishes it.
 * @see net/core/utils.c inet_proto_csum_replace4()
 */
function protoCsumReplace4(
  skb: SkBuff,
  off: number,
  from: number,
  to: number,
  pseudohdr: boolean,
): void {
  const b = skb.head;
  if (skb.ipSummed !== CHECKSUM_PARTIAL) {
    csumReplace4(b, off, from, to);
  } else if (pseudohdr) {
    let s =
      getU16(b, off) + (~(from >>> 16) & 0xffff) + (~from & 0xffff) + (to >>> 16) + (to & 0xffff);
    s = (s & 0xffff) + (s >>> 16);
    s = (s & 0xffff) + (s >>> 16);
    setU16(b, off, s);
  }
}

/** `inet_proto_csum_replace2` for a value outside the pseudo-header (a port, an id). */
function protoCsumReplace2(skb: SkBuff, off: number, from: number, to: number): void {
  if (skb.ipSummed !== CHECKSUM_PARTIAL) csumReplace2(skb.head, off, from, to);
}

/**
 * `nf_nat_ipv4_manip_pkt`: rewrites the IPv4 header at `iphdroff` (a head offset) and its
 * transport header so that its source (SRC) or destination (DST) is `target`'s. A transport
 * header cut short (the quote in an ICMP error holds only 8 bytes) gets its ports but keeps
 * its checksum. Returns false when even the ports are missing. The skb must be writable.
 * @see net/netfilter/nf_nat_proto.c nf_nat_ipv4_manip_pkt()
 */
export function nfNatIpv4ManipPkt(
  skb: SkBuff,
  iphdroff: number,
  target: NfConntrackTuple,
  maniptype: NfNatManipType,
): boolean {
  const b = skb.head;
  if (iphdroff + 20 > skb.tail) return false;
  const hdroff = iphdroff + (b[iphdroff]! & 0x0f) * 4;
  const addrOff = iphdroff + (maniptype === NF_NAT_MANIP.SRC ? 12 : 16);
  const oldAddr = getU32(b, addrOff);
  const newAddr = maniptype === NF_NAT_MANIP.SRC ? target.src : target.dst;
  if ((getU16(b, iphdroff + 6) & IP_OFFSET) === 0) {
    if (!l4ManipPkt(skb, hdroff, target, maniptype, oldAddr, newAddr, b[iphdroff + 9]!)) {
      return false;
    }
  }
  if (oldAddr !== newAddr) {
    csumReplace4(b, iphdroff + 10, oldAddr, newAddr);
    setU32(b, addrOff, newAddr);
  }
  return true;
}

/** `nf_nat_l4proto_manip_pkt`: TCP/UDP ports and pseudo-header, ICMP query ids. */
function l4ManipPkt(
  skb: SkBuff,
  hdroff: number,
  target: NfConntrackTuple,
  maniptype: NfNatManipType,
  oldAddr: number,
  newAddr: number,
  protonum: number,
): boolean {
  const b = skb.head;
  const avail = skb.tail - hdroff;
  switch (protonum) {
    case IPPROTO_TCP: {
      if (avail < 8) return false;
      const portOff = hdroff + (maniptype === NF_NAT_MANIP.SRC ? 0 : 2);
      const newPort = maniptype === NF_NAT_MANIP.SRC ? target.sport : target.dport;
      const oldPort = getU16(b, portOff);
      setU16(b, portOff, newPort);
      // "this could be an inner header returned in icmp packet; in such cases we cannot update
      // the checksum field since it is outside of the 8 bytes of transport layer headers we
      // are guaranteed"
      if (avail < 20) return true;
      protoCsumReplace4(skb, hdroff + 16, oldAddr, newAddr, true);
      protoCsumReplace2(skb, hdroff + 16, oldPort, newPort);
      return true;
    }
    case IPPROTO_UDP: {
      if (avail < 8) return false;
      const portOff = hdroff + (maniptype === NF_NAT_MANIP.SRC ? 0 : 2);
      const newPort = maniptype === NF_NAT_MANIP.SRC ? target.sport : target.dport;
      const oldPort = getU16(b, portOff);
      setU16(b, portOff, newPort);
      // RFC 768: "An all zero transmitted checksum value means that the transmitter generated
      // no checksum"; it stays so.
      if (getU16(b, hdroff + 6) !== 0 || skb.ipSummed === CHECKSUM_PARTIAL) {
        protoCsumReplace4(skb, hdroff + 6, oldAddr, newAddr, true);
        protoCsumReplace2(skb, hdroff + 6, oldPort, newPort);
        // CSUM_MANGLED_0: a computed 0 is sent as all ones.
        if (getU16(b, hdroff + 6) === 0) setU16(b, hdroff + 6, 0xffff);
      }
      return true;
    }
    case IPPROTO_ICMP: {
      if (avail < 8) return false;
      if (!isIcmpQuery(b[hdroff]!)) return true;
      const oldId = getU16(b, hdroff + 4);
      protoCsumReplace2(skb, hdroff + 2, oldId, target.sport);
      setU16(b, hdroff + 4, target.sport);
      return true;
    }
    default:
      return true;
  }
}

function isIcmpQuery(type: number): boolean {
  switch (type) {
    case ICMP.ECHO:
    case ICMP.ECHOREPLY:
    case ICMP.TIMESTAMP:
    case ICMP.TIMESTAMPREPLY:
    case ICMP.INFO_REQUEST:
    case ICMP.INFO_REPLY:
    case ICMP.ADDRESS:
    case ICMP.ADDRESSREPLY:
      return true;
    default:
      return false;
  }
}

/**
 * `skb_ensure_writable` for mangling, plus forgetting a device's sum over the bytes we are
 * about to change (`CHECKSUM_COMPLETE` no longer holds).
 */
export function natMakeWritable(skb: SkBuff): void {
  skb.cow(0);
  if (skb.ipSummed === CHECKSUM_COMPLETE) skb.ipSummed = CHECKSUM_NONE;
}

/** Whether the status of `ct` asks for `mtype` mangling of packets in direction `dir`. */
function natApplies(ct: NfConn, mtype: NfNatManipType, dir: number): boolean {
  let statusbit: number = mtype === NF_NAT_MANIP.SRC ? IPS.SRC_NAT : IPS.DST_NAT;
  // "Invert if this is reply dir."
  if (dir === 1) statusbit ^= IPS_NAT_MASK;
  return (ct.status & statusbit) !== 0;
}

/**
 * `nf_nat_packet`: mangles a packet of a NATed connection as the hook's manip type and the
 * packet's direction say. Returns false when the packet could not be mangled.
 * @see net/netfilter/nf_nat_core.c nf_nat_packet(), nf_nat_manip_pkt()
 */
export function nfNatPacket(ct: NfConn, ctinfo: number, hooknum: number, skb: SkBuff): boolean {
  const mtype = hook2manip(hooknum);
  const dir = ctinfo2dir(ctinfo);
  if (!natApplies(ct, mtype, dir)) return true;
  const target = invertTuple(ct.tuplehash[dir === 0 ? 1 : 0]);
  if (target === null) return false;
  natMakeWritable(skb);
  return nfNatIpv4ManipPkt(skb, skb.networkHeader, target, mtype);
}

/**
 * `nf_nat_icmp_reply_translation`: an ICMP error RELATED to a NATed connection. The packet it
 * quotes went through the translation the other way, so the quote is translated back (the
 * opposite manip type, from the other direction's tuple), the ICMP checksum recomputed, and
 * the outer header made to look like a reply to the connection.
 * @see net/netfilter/nf_nat_proto.c nf_nat_icmp_reply_translation()
 */
export function nfNatIcmpReplyTranslation(
  skb: SkBuff,
  ct: NfConn,
  ctinfo: number,
  hooknum: number,
): boolean {
  const manip = hook2manip(hooknum);
  const dir = ctinfo2dir(ctinfo);
  const nh = skb.networkHeader;
  const hdrlen = (skb.head[nh]! & 0x0f) * 4;
  if (nh + hdrlen + 8 + 20 > skb.tail) return false;
  natMakeWritable(skb);
  const b = skb.head;
  const icmpOff = skb.networkHeader + hdrlen;
  if (b[icmpOff] === ICMP.REDIRECT) {
    // "If NAT isn't finished, assume it and drop."
    const done = IPS.SRC_NAT_DONE | IPS.DST_NAT_DONE;
    if ((ct.status & done) !== done) return false;
    if ((ct.status & IPS_NAT_MASK) !== 0) return false;
  }
  if (!natApplies(ct, manip, dir)) return true;
  const other = ct.tuplehash[dir === 0 ? 1 : 0];
  const innerManip = manip === NF_NAT_MANIP.SRC ? NF_NAT_MANIP.DST : NF_NAT_MANIP.SRC;
  if (!nfNatIpv4ManipPkt(skb, icmpOff + 8, other, innerManip)) return false;
  if (skb.ipSummed !== CHECKSUM_PARTIAL) {
    setU16(b, icmpOff + 2, 0);
    setU16(b, icmpOff + 2, csumFold(csumPartial(b, icmpOff, skb.tail - icmpOff)));
  }
  // "Change outer to look like the reply to an incoming packet"
  const inv = invertTuple(other);
  if (inv === null) return false;
  const target: NfConntrackTuple = { ...inv, protonum: IPPROTO_ICMP };
  return nfNatIpv4ManipPkt(skb, nh, target, manip);
}
