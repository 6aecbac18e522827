/**
 * The IPv4 receive path: `ip_rcv` → `ip_rcv_core` (every check Linux makes, each with its drop
 * reason and counter) → `NF_HOOK(PRE_ROUTING)` → `ip_rcv_finish` (route) → `dst_input` →
 * `ip_local_deliver` (reassembly) → `NF_HOOK(LOCAL_IN)` → `ip_local_deliver_finish` → the
 * transport's `InetProtocol` handler. The packet path never throws: each exit frees the skb
 * with a reason or hands it on.
 * @see net/ipv4/ip_input.c
 * @packageDocumentation
 */
import {
  CHECKSUM_COMPLETE,
  CHECKSUM_NONE,
  ipFastCsum,
  kfreeSkb,
  NET_RX_DROP,
  type NetDevice,
  NF_INET_LOCAL_IN,
  NF_INET_PRE_ROUTING,
  NFPROTO_IPV4,
  PACKET_BROADCAST,
  PACKET_OTHERHOST,
  type PacketType,
  type SkBuff,
  SkbDropReason,
  type Stack,
  traceable,
} from "@skbuff/core";
import { RTN } from "./fib.js";
import { ipDefrag } from "./ip_fragment.js";
import {
  ICMP_DEST_UNREACH,
  ICMP_HOST_UNREACH,
  ICMP_NET_UNREACH,
  ICMP_PKT_FILTERED,
  ICMP_PROT_UNREACH,
  ipv4Net,
} from "./netns.js";
import { ipRouteInputNoref, type RouteInputError, type Rtable } from "./route.js";
import {
  ipDaddr,
  ipIhl,
  ipIsFragment,
  ipProtocol,
  ipSaddr,
  ipTotLen,
  ipVersion,
} from "./wire/iphdr.js";

/**
 * The header checks of `ip_rcv_core`, in Linux's order: why the packet is refused, or null
 * when the header is acceptable.
 */
function ipRcvCoreCheck(skb: SkBuff): SkbDropReason | null {
  if (!skb.mayPull(20)) return SkbDropReason.IP_INHDR;
  const b = skb.head;
  const o = skb.data;
  const ihl = ipIhl(b, o);
  // RFC 1122 3.2.1.1: "A datagram whose version number is not 4 MUST be silently discarded."
  if (ihl < 5 || ipVersion(b, o) !== 4) return SkbDropReason.IP_INHDR;
  if (!skb.mayPull(ihl * 4)) return SkbDropReason.IP_INHDR;
  // RFC 1122 3.2.1.2: "A host MUST verify the IP header checksum on every received datagram
  // and silently discard every datagram that has a bad checksum."
  if (ipFastCsum(b, o, ihl) !== 0) return SkbDropReason.IP_CSUM;
  const len = ipTotLen(b, o);
  if (skb.len < len) return SkbDropReason.PKT_TOO_SMALL;
  if (len < ihl * 4) return SkbDropReason.IP_INHDR;
  return null;
}

/**
 * `ip_rcv_core`: validates the header. Returns the skb, or null when it was dropped (freed with
 * its reason, counter bumped: IpInHdrErrors for header errors, with IpExtInCsumErrors for a bad
 * checksum; IpExtInTruncatedPkts for a packet shorter than its total length).
 * @see net/ipv4/ip_input.c ip_rcv_core()
 */
export const ipRcvCore = traceable(
  "ip_rcv_core",
  function ipRcvCore(skb: SkBuff, net: Stack): SkBuff | null {
    const mib = ipv4Net(net).mib;
    // "When the interface is in promisc. mode, drop all the crap that it receives."
    if (skb.pktType === PACKET_OTHERHOST) {
      (skb.dev as NetDevice).stats.rx_otherhost_dropped++;
      kfreeSkb(skb, SkbDropReason.OTHERHOST, net);
      return null;
    }
    mib.IpInReceives++;
    mib.IpExtInOctets += skb.len;
    const reason = ipRcvCoreCheck(skb);
    if (reason !== null) {
      if (reason === SkbDropReason.PKT_TOO_SMALL) {
        mib.IpExtInTruncatedPkts++;
      } else {
        // csum_error: falls through to inhdr_error, which counts both.
        if (reason === SkbDropReason.IP_CSUM) mib.IpExtInCsumErrors++;
        mib.IpInHdrErrors++;
      }
      kfreeSkb(skb, reason, net);
      return null;
    }
    const o = skb.data;
    const len = ipTotLen(skb.head, o);
    // Our own padding is not our business (pskb_trim_rcsum): a sum the device took over the
    // padding no longer covers the packet, so it is forgotten.
    if (skb.len > len) {
      skb.trim(len);
      if (skb.ipSummed === CHECKSUM_COMPLETE) skb.ipSummed = CHECKSUM_NONE;
    }
    skb.setNetworkHeader(0);
    skb.transportHeader = o + ipIhl(skb.head, o) * 4;
    // Linux clears only IPCB here. IPv4 keeps nothing in `skb.cb`, so there is nothing of ours
    // to clear: the object stays for the next layer to reuse, which initialises every field it
    // reads (the ownership rule on `SkBuff.cb`), as tcp_v4_rcv does with TCP_SKB_CB.
    return skb;
  },
);

/**
 * `ip_rcv`: the `PacketType` handler for ETH_P_IP. Takes ownership of the skb.
 * @see net/ipv4/ip_input.c ip_rcv()
 */
export const ipRcv = traceable(
  "ip_rcv",
  function ipRcv(skb: SkBuff, dev: NetDevice, _pt?: PacketType): number {
    const net = dev.net;
    const s = ipRcvCore(skb, net);
    if (s === null) return NET_RX_DROP;
    return net.nf.hook(NFPROTO_IPV4, NF_INET_PRE_ROUTING, null, s, dev, null, ipRcvFinish);
  },
);

/**
 * `ip_rcv_finish`: the continuation after PRE_ROUTING: route the packet (unless a hook already
 * did) and pass it to `dst_input`.
 * @see net/ipv4/ip_input.c ip_rcv_finish()
 */
export const ipRcvFinish = traceable(
  "ip_rcv_finish",
  function ipRcvFinish(net: Stack, _sk: unknown, skb: SkBuff): number {
    if (skb.dst === null) {
      const b = skb.head;
      const nh = skb.networkHeader;
      const dev = skb.dev as NetDevice;
      const err = ipRouteInputNoref(skb, ipDaddr(b, nh), ipSaddr(b, nh), dev);
      if (err !== null) return ipError(net, skb, err);
    }
    const rt = skb.dst as Rtable;
    if (rt.rtType === RTN.BROADCAST) {
      skb.pktType = PACKET_BROADCAST;
      ipv4Net(net).mib.IpExtInBcastPkts++;
    }
    return rt.input(skb);
  },
);

const EHOSTUNREACH = 113;
const ENETUNREACH = 101;
const EACCES = 13;

/**
 * `ip_error`: a received packet that cannot be routed. Counts it (no route: IpExtInNoRoutes;
 * not ours, martian or refused: IpInAddrErrors) and, when we are a router, tells the sender
 * why (RFC 1812 4.3.3.1: "a router … MUST generate a Destination Unreachable message"); a
 * martian gets no answer. Frees the skb.
 * @see net/ipv4/route.c ip_error()
 */
function ipError(net: Stack, skb: SkBuff, err: RouteInputError): number {
  const ns = ipv4Net(net);
  if (err.errno === ENETUNREACH) ns.mib.IpExtInNoRoutes++;
  else ns.mib.IpInAddrErrors++;
  if (ns.sysctl.ipForward.value) {
    let code = -1;
    if (err.errno === ENETUNREACH) code = ICMP_NET_UNREACH;
    else if (err.errno === EHOSTUNREACH) code = ICMP_HOST_UNREACH;
    else if (err.errno === EACCES) code = ICMP_PKT_FILTERED;
    if (code >= 0) ns.icmpSend(skb, ICMP_DEST_UNREACH, code, 0);
  }
  kfreeSkb(skb, err.reason, net);
  return NET_RX_DROP;
}

/**
 * `ip_local_deliver`: reassembles fragments, then runs LOCAL_IN.
 * @see net/ipv4/ip_input.c ip_local_deliver()
 */
export const ipLocalDeliver = traceable(
  "ip_local_deliver",
  function ipLocalDeliver(skb: SkBuff): number {
    const net = (skb.dev as NetDevice).net;
    if (ipIsFragment(skb.head, skb.networkHeader)) {
      const whole = ipDefrag(net, skb);
      if (whole === null) return 0;
      skb = whole;
    }
    return net.nf.hook(
      NFPROTO_IPV4,
      NF_INET_LOCAL_IN,
      null,
      skb,
      skb.dev as NetDevice,
      null,
      ipLocalDeliverFinish,
    );
  },
);

/**
 * `ip_local_deliver_finish` → `ip_protocol_deliver_rcu`: strips the IP header and hands the
 * packet to the transport protocol registered for its protocol number. No handler means
 * ICMP protocol unreachable (RFC 1122 3.2.2.1) and an IP_NOPROTO drop.
 * @see net/ipv4/ip_input.c ip_protocol_deliver_rcu()
 */
export const ipLocalDeliverFinish = traceable(
  "ip_local_deliver_finish",
  function ipLocalDeliverFinish(net: Stack, _sk: unknown, skb: SkBuff): number {
    const nh = skb.networkHeader;
    const protocol = ipProtocol(skb.head, nh);
    skb.pull(skb.transportHeader - skb.data);
    const ipprot = net.protocols.inetProtos[protocol];
    const ns = ipv4Net(net);
    if (ipprot !== null && ipprot !== undefined) {
      ns.mib.IpInDelivers++;
      return ipprot.handler(skb);
    }
    ns.mib.IpInUnknownProtos++;
    ns.icmpSend(skb, ICMP_DEST_UNREACH, ICMP_PROT_UNREACH, 0);
    kfreeSkb(skb, SkbDropReason.IP_NOPROTO, net);
    return NET_RX_DROP;
  },
);
