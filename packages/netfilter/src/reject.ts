/**
 * The REJECT target: answer a packet the ruleset refuses with an ICMP destination-unreachable
 * or a TCP RST, then drop it (`NETFILTER_REJECT`).
 * @see net/ipv4/netfilter/nf_reject_ipv4.c
 * @packageDocumentation
 */
import {
  allocSkb,
  CHECKSUM_NONE,
  csumPartial,
  csumTcpudpMagic,
  getU16,
  getU32,
  NET_SKB_PAD,
  type SkBuff,
  type Stack,
  setU16,
  setU32,
} from "@skbuff/core";
import {
  ICMP_DEST_UNREACH,
  IP_OFFSET,
  IPHDR,
  ipBuildAndSendPkt,
  ipDaddr,
  ipFragOff,
  ipIhl,
  ipSaddr,
  ipv4Net,
} from "@skbuff/ipv4";

const IPPROTO_TCP = 6;
const TCPHDR_LEN = 20;
const TH_FIN = 0x01;
const TH_SYN = 0x02;
const TH_RST = 0x04;
const TH_ACK = 0x10;

/**
 * `nf_send_unreach`: sends an ICMP destination unreachable with `code` about `skb` (which stays
 * the caller's). ICMP's own rules apply (no error about an error, rate limits).
 * @see net/ipv4/netfilter/nf_reject_ipv4.c nf_send_unreach()
 */
export function nfSendUnreach(net: Stack, skb: SkBuff, code: number): void {
  ipv4Net(net).icmpSend(skb, ICMP_DEST_UNREACH, code, 0);
}

/**
 * `nf_send_reset`: answers a TCP segment with a RST from its destination to its source. Not
 * for a RST, nor for a fragment after the first, nor for a segment too short to read.
 * If the segment has ACK, the RST takes its sequence number from the ACK field; otherwise the
 * RST has ACK set and acknowledges the segment (RFC 9293 3.10.7.1: "If the incoming segment has
 * an ACK field, the reset takes its sequence number from the ACK field of the segment,
 * otherwise the reset has sequence number zero and the ACK field is set to the sum of the
 * sequence number and segment length of the incoming segment").
 * @see net/ipv4/netfilter/nf_reject_ipv4.c nf_send_reset(), nf_reject_ip_tcphdr_put()
 */
export function nfSendReset(net: Stack, skb: SkBuff): void {
  const b = skb.head;
  const nh = skb.networkHeader;
  if (nh < 0 || nh + IPHDR.MIN_LEN > skb.tail) return;
  if ((ipFragOff(b, nh) & IP_OFFSET) !== 0) return;
  const th = nh + ipIhl(b, nh) * 4;
  if (th + TCPHDR_LEN > skb.tail) return;
  const oflags = b[th + 13]!;
  if ((oflags & TH_RST) !== 0) return;
  const saddr = ipSaddr(b, nh);
  const daddr = ipDaddr(b, nh);
  const doff = (b[th + 12]! >> 4) * 4;
  const totLen = getU16(b, nh + IPHDR.TOT_LEN);
  const segLen = totLen - (th - nh) - doff;

  const nskb = allocSkb(NET_SKB_PAD + IPHDR.MAX_LEN + TCPHDR_LEN);
  nskb.reserve(NET_SKB_PAD + IPHDR.MAX_LEN);
  const o = nskb.put(TCPHDR_LEN);
  nskb.setTransportHeader(0);
  const n = nskb.head;
  n.fill(0, o, o + TCPHDR_LEN);
  setU16(n, o, getU16(b, th + 2));
  setU16(n, o + 2, getU16(b, th));
  let flags = TH_RST;
  if ((oflags & TH_ACK) !== 0) {
    setU32(n, o + 4, getU32(b, th + 8));
  } else {
    const ack =
      getU32(b, th + 4) +
      ((oflags & TH_SYN) !== 0 ? 1 : 0) +
      ((oflags & TH_FIN) !== 0 ? 1 : 0) +
      Math.max(0, segLen);
    setU32(n, o + 8, ack >>> 0);
    flags |= TH_ACK;
  }
  n[o + 12] = (TCPHDR_LEN / 4) << 4;
  n[o + 13] = flags;
  const sum = csumPartial(n, o, TCPHDR_LEN);
  setU16(n, o + 16, csumTcpudpMagic(daddr, saddr, TCPHDR_LEN, IPPROTO_TCP, sum));
  nskb.ipSummed = CHECKSUM_NONE;
  nskb.mark = skb.mark;
  ipBuildAndSendPkt(nskb, net, daddr, saddr, IPPROTO_TCP);
}
