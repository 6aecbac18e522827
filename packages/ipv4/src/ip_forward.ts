/**
 * Forwarding: `ip_forward` → `NF_HOOK(FORWARD)` → `ip_forward_finish` → `dst_output`.
 * @see net/ipv4/ip_forward.c
 * @packageDocumentation
 */
import {
  CHECKSUM_COMPLETE,
  CHECKSUM_NONE,
  csumReplace2,
  kfreeSkb,
  NET_RX_DROP,
  type NetDevice,
  NF_INET_FORWARD,
  NFPROTO_IPV4,
  PACKET_HOST,
  type SkBuff,
  SkbDropReason,
  type Stack,
  traceable,
} from "@skbuff/core";
import { dstOutput } from "./ip_output.js";
import {
  ICMP_DEST_UNREACH,
  ICMP_EXC_TTL,
  ICMP_FRAG_NEEDED,
  ICMP_TIME_EXCEEDED,
  ipv4Net,
} from "./netns.js";
import type { Rtable } from "./route.js";
import { IP_DF, IPHDR, ipFragOff, ipTtl, setIpTtl } from "./wire/iphdr.js";

/**
 * `ip_forward`: checks TTL and MTU, decrements the TTL and runs the FORWARD hook.
 * @see net/ipv4/ip_forward.c ip_forward()
 */
export const ipForward = traceable("ip_forward", function ipForward(skb: SkBuff): number {
  const indev = skb.dev as NetDevice;
  const net = indev.net;
  const ns = ipv4Net(net);
  const rt = skb.dst as Rtable;
  if (skb.pktType !== PACKET_HOST) {
    kfreeSkb(skb, SkbDropReason.OTHERHOST, net);
    return NET_RX_DROP;
  }
  const b = skb.head;
  const nh = skb.networkHeader;
  // RFC 1812 5.3.1: "… if the TTL is reduced to zero (or less), the packet MUST be discarded,
  // and … the router MUST send an ICMP Time Exceeded message …"
  if (ipTtl(b, nh) <= 1) {
    ns.mib.IpInHdrErrors++;
    ns.icmpSend(skb, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
    kfreeSkb(skb, SkbDropReason.IP_INHDR, net);
    return NET_RX_DROP;
  }
  const mtu = rt.mtu;
  if (skb.len > mtu && (ipFragOff(b, nh) & IP_DF) !== 0) {
    // RFC 1191 3: a router "MUST … send an ICMP Destination Unreachable message … with a code
    // meaning 'fragmentation needed and DF set'", with the next-hop MTU.
    ns.mib.IpFragFails++;
    ns.icmpSend(skb, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, mtu);
    kfreeSkb(skb, SkbDropReason.PKT_TOO_BIG, net);
    return NET_RX_DROP;
  }
  // We are about to mangle the header: get a private copy if it is shared (skb_cow). The
  // copy moves the header, so read its offsets again afterwards.
  skb.cow(0);
  const hb = skb.head;
  const h = skb.networkHeader;
  // ip_decrease_ttl: TTL is the high byte of the 16-bit word at offset 8.
  const ttl = ipTtl(hb, h);
  const oldWord = (ttl << 8) | hb[h + IPHDR.PROTOCOL]!;
  setIpTtl(hb, h, ttl - 1);
  csumReplace2(hb, h + IPHDR.CHECK, oldWord, oldWord - 0x100);
  // skb_forward_csum: a device's sum over the received bytes no longer matches them; a
  // checksum still to be filled in (CHECKSUM_PARTIAL) is finished on output as before.
  if (skb.ipSummed === CHECKSUM_COMPLETE) skb.ipSummed = CHECKSUM_NONE;
  return net.nf.hook(NFPROTO_IPV4, NF_INET_FORWARD, null, skb, indev, rt.dev, ipForwardFinish);
});

/**
 * `ip_forward_finish`: counts and sends.
 * @see net/ipv4/ip_forward.c ip_forward_finish()
 */
export const ipForwardFinish = traceable(
  "ip_forward_finish",
  function ipForwardFinish(net: Stack, sk: unknown, skb: SkBuff): number {
    const ns = ipv4Net(net);
    ns.mib.IpForwDatagrams++;
    return dstOutput(net, sk, skb);
  },
);
