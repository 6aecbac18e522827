/**
 * The IPv4 transmit path: `ip_queue_xmit` / `ip_build_and_send_pkt` → `ip_local_out` →
 * `NF_HOOK(LOCAL_OUT)` → `dst_output` → `ip_output` → `NF_HOOK(POST_ROUTING)` →
 * `ip_finish_output` (fragment when over the MTU) → `ip_finish_output2` → `dev_queue_xmit`.
 * @see net/ipv4/ip_output.c
 * @packageDocumentation
 */
import {
  CHECKSUM_UNNECESSARY,
  devQueueXmit,
  ETH_P_IP,
  ipFastCsum,
  kfreeSkb,
  type NetDevice,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NFPROTO_IPV4,
  netifRx,
  PACKET_LOOPBACK,
  type SkBuff,
  SkbDropReason,
  type Sock,
  type Stack,
  traceable,
} from "@skbuff/core";
import { RTN } from "./fib.js";
import { ipFragment } from "./ip_fragment.js";
import { ipv4Net } from "./netns.js";
import { ipRouteOutputKey, type Rtable } from "./route.js";
import {
  IP_DF,
  IPHDR,
  ipIhl,
  setIpCheck,
  setIpDaddr,
  setIpFragOff,
  setIpId,
  setIpProtocol,
  setIpSaddr,
  setIpTos,
  setIpTotLen,
  setIpTtl,
  setIpVerIhl,
} from "./wire/iphdr.js";

/** `ip_send_check`: recomputes the header checksum in place. */
export function ipSendCheck(b: Uint8Array, nh: number): void {
  setIpCheck(b, nh, 0);
  setIpCheck(b, nh, ipFastCsum(b, nh, ipIhl(b, nh)));
}

/**
 * `ip_local_out`: sets the total length and checksum of a locally built packet, then runs
 * LOCAL_OUT and `dst_output`. Takes ownership.
 * @see net/ipv4/ip_output.c __ip_local_out()
 */
export const ipLocalOut = traceable(
  "ip_local_out",
  function ipLocalOut(net: Stack, sk: unknown, skb: SkBuff): number {
    const nh = skb.networkHeader;
    setIpTotLen(skb.head, nh, skb.tail - nh);
    ipSendCheck(skb.head, nh);
    skb.protocol = ETH_P_IP;
    ipv4Net(net).mib.IpOutRequests++;
    return net.nf.hook(
      NFPROTO_IPV4,
      NF_INET_LOCAL_OUT,
      sk,
      skb,
      null,
      (skb.dst as Rtable).dev,
      dstOutput,
    );
  },
);

/** `dst_output`: the route's output function (`ip_output`). */
export function dstOutput(net: Stack, sk: unknown, skb: SkBuff): number {
  return (skb.dst as Rtable).output(net, sk, skb);
}

/**
 * `ip_output`: the packet leaves through the route's device; runs POST_ROUTING.
 * @see net/ipv4/ip_output.c ip_output()
 */
export const ipOutput = traceable(
  "ip_output",
  function ipOutput(net: Stack, sk: unknown, skb: SkBuff): number {
    const dev = (skb.dst as Rtable).dev;
    const indev = skb.dev as NetDevice | null;
    skb.dev = dev;
    skb.protocol = ETH_P_IP;
    return net.nf.hook(NFPROTO_IPV4, NF_INET_POST_ROUTING, sk, skb, indev, dev, ipFinishOutput);
  },
);

/**
 * `ip_mc_output` for broadcast routes: a copy of the packet loops back to this host
 * (`dev_loopback_xmit`, after its own POST_ROUTING) and the packet itself leaves through the
 * route's device. Takes ownership.
 * @see net/ipv4/ip_output.c ip_mc_output()
 */
export const ipMcOutput = traceable(
  "ip_mc_output",
  function ipMcOutput(net: Stack, sk: unknown, skb: SkBuff): number {
    const rt = skb.dst as Rtable;
    const dev = rt.dev;
    const indev = skb.dev as NetDevice | null;
    skb.dev = dev;
    skb.protocol = ETH_P_IP;
    if (rt.rtType === RTN.BROADCAST) {
      // RTCF_BROADCAST: the sender is one of the hosts on the link, so it hears its own
      // broadcast. The copy shares the bytes; nothing on its way writes them.
      const copy = skb.clone();
      net.nf.hook(NFPROTO_IPV4, NF_INET_POST_ROUTING, sk, copy, indev, dev, devLoopbackXmit);
    }
    return net.nf.hook(NFPROTO_IPV4, NF_INET_POST_ROUTING, sk, skb, indev, dev, ipFinishOutput);
  },
);

/**
 * Output of a route to one of our own addresses when the stack has no loopback device: after
 * POST_ROUTING the packet turns around on the device that owns the address, as
 * {@link devLoopbackXmit} does for `ip_mc_output`'s copies (with a loopback device, local routes
 * go through it and its driver instead). Takes ownership.
 */
export const ipLoopbackOutput = traceable(
  "ip_loopback_output",
  function ipLoopbackOutput(net: Stack, sk: unknown, skb: SkBuff): number {
    const dev = (skb.dst as Rtable).dev;
    const indev = skb.dev as NetDevice | null;
    skb.dev = dev;
    skb.protocol = ETH_P_IP;
    ipv4Net(net).mib.IpExtOutOctets += skb.len;
    return net.nf.hook(NFPROTO_IPV4, NF_INET_POST_ROUTING, sk, skb, indev, dev, devLoopbackXmit);
  },
);

/**
 * `dev_loopback_xmit`: hands a packet we send back to our own receive path, on the device it
 * was sent out of, as `PACKET_LOOPBACK` with `CHECKSUM_UNNECESSARY`. Like the loopback driver it
 * drops the route and the socket, so the receive side routes the packet itself. Takes ownership.
 * @see net/core/dev.c dev_loopback_xmit()
 */
export function devLoopbackXmit(_net: Stack, _sk: unknown, skb: SkBuff): number {
  skb.dst = null;
  skb.sk = null;
  skb.tstamp = 0;
  skb.pktType = PACKET_LOOPBACK;
  skb.ipSummed = CHECKSUM_UNNECESSARY;
  return netifRx(skb);
}

/**
 * `ip_finish_output`: fragments a packet bigger than the route's MTU.
 * @see net/ipv4/ip_output.c __ip_finish_output()
 */
export const ipFinishOutput = traceable(
  "ip_finish_output",
  function ipFinishOutput(net: Stack, sk: unknown, skb: SkBuff): number {
    const mtu = (skb.dst as Rtable).mtu;
    if (skb.len > mtu) return ipFragment(net, sk, skb, mtu, ipFinishOutput2);
    return ipFinishOutput2(net, sk, skb);
  },
);

/**
 * `ip_finish_output2`: hands the packet to the device. skbuff's devices carry bare IP packets
 * (loopback, veth, TUN), so no neighbour resolution is needed here.
 * @see net/ipv4/ip_output.c ip_finish_output2()
 */
export const ipFinishOutput2 = traceable(
  "ip_finish_output2",
  function ipFinishOutput2(net: Stack, _sk: unknown, skb: SkBuff): number {
    ipv4Net(net).mib.IpExtOutOctets += skb.len;
    return devQueueXmit(skb);
  },
);

/** Options of a packet built by {@link ipBuildAndSendPkt}. */
export interface IpSendOptions {
  /** TTL; default `net.ipv4.ip_default_ttl`. */
  readonly ttl?: number;
  readonly tos?: number;
  /** Set DF. */
  readonly df?: boolean;
  /** IP options bytes (a multiple of 4). */
  readonly options?: Uint8Array;
  /** skb.mark. */
  readonly mark?: number;
}

const EHOSTUNREACH = 113;

/**
 * `ip_build_and_send_pkt`: pushes an IP header in front of `skb.data` (the transport header and
 * payload), routes it to `daddr` and sends it. Takes ownership; returns 0 or a negative errno
 * (the packet is then freed with a reason).
 * @see net/ipv4/ip_output.c ip_build_and_send_pkt()
 */
export function ipBuildAndSendPkt(
  skb: SkBuff,
  net: Stack,
  saddr: number,
  daddr: number,
  protocol: number,
  opts: IpSendOptions = {},
  sk: Sock | null = null,
): number {
  const ns = ipv4Net(net);
  let rt = skb.dst as Rtable | null;
  if (rt === null) {
    const r = ipRouteOutputKey(net, { daddr, saddr });
    if (typeof r === "number") {
      ns.mib.IpOutNoRoutes++;
      kfreeSkb(skb, SkbDropReason.IP_OUTNOROUTES, net);
      return r;
    }
    rt = r.rt;
    saddr = r.saddr;
    skb.dst = rt;
  }
  // The route's preferred source, else an address of the device facing the next hop
  // (`inet_select_addr`).
  if (saddr === 0) saddr = rt.prefsrc || ns.selectAddr(rt.dev, rt.nexthop(daddr));
  const hlen = IPHDR.MIN_LEN + (opts.options?.length ?? 0);
  if (skb.headroom < hlen) skb.cow(hlen);
  skb.push(hlen);
  skb.setNetworkHeader(0);
  const b = skb.head;
  const o = skb.data;
  setIpVerIhl(b, o, hlen >> 2);
  setIpTos(b, o, opts.tos ?? 0);
  setIpId(b, o, nextIdent(net));
  setIpFragOff(b, o, opts.df ? IP_DF : 0);
  setIpTtl(b, o, opts.ttl ?? (sk && sk.ttl >= 0 ? sk.ttl : ns.sysctl.ipDefaultTtl.value));
  setIpProtocol(b, o, protocol);
  setIpSaddr(b, o, saddr);
  setIpDaddr(b, o, daddr);
  if (opts.options) b.set(opts.options, o + IPHDR.MIN_LEN);
  skb.mark = opts.mark ?? sk?.mark ?? skb.mark;
  skb.sk = sk;
  return ipLocalOut(net, sk, skb);
}

/** `ip_select_ident`: the next IP ID of the stack. */
export function nextIdent(net: Stack): number {
  const ns = ipv4Net(net);
  ns.ident = (ns.ident + 1) & 0xffff;
  return ns.ident;
}

/**
 * `ip_queue_xmit` for a connected socket: uses the socket's cached route (re-looked-up when
 * stale: the FIB changed or its device went down), builds the header from the socket's
 * addresses and sends. Takes ownership. Returns 0, or a negative errno: like Linux,
 * `-EHOSTUNREACH` when no route is left (the packet is freed as IP_OUTNOROUTES).
 * @see net/ipv4/ip_output.c __ip_queue_xmit()
 */
export function ipQueueXmit(
  sk: Sock,
  skb: SkBuff,
  protocol: number,
  opts: IpSendOptions = {},
): number {
  const net = sk.net;
  const ns = ipv4Net(net);
  let rt = sk.dstCache as Rtable | null;
  if (rt === null || rt.obsolete !== 0 || rt.genid !== ns.fib.genid || !rt.dev.isUp) {
    const r = ipRouteOutputKey(net, { daddr: sk.daddr, saddr: sk.rcvSaddr, oif: sk.boundDevIf });
    if (typeof r === "number") {
      ns.mib.IpOutNoRoutes++;
      kfreeSkb(skb, SkbDropReason.IP_OUTNOROUTES, net);
      return -EHOSTUNREACH;
    }
    rt = r.rt;
    sk.dstCache = rt;
  }
  skb.dst = rt;
  return ipBuildAndSendPkt(skb, net, sk.rcvSaddr, sk.daddr, protocol, opts, sk);
}
