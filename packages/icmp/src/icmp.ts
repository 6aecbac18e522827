/**
 * ICMP for IPv4: the receive side (`icmp_rcv` and its per-type handlers: echo, timestamp,
 * unreachable / time exceeded / parameter problem, redirect) and the send side (`icmp_reply`
 * for answers, `__icmp_send` for errors about packets IP could not deliver), with Linux's rate
 * limits. The packet path never throws: every message ends in `consumeSkb` or `kfreeSkb` with a
 * reason and a counter.
 * @see net/ipv4/icmp.c
 * @packageDocumentation
 */
import {
  allocSkb,
  CHECKSUM_UNNECESSARY,
  consumeSkb,
  IFF,
  IPPROTO_ICMP,
  kfreeSkb,
  NET_RX_DROP,
  NET_RX_SUCCESS,
  NET_SKB_PAD,
  type NetDevice,
  PACKET_BROADCAST,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  type SkBuff,
  SkbDropReason,
  type Stack,
  traceable,
} from "@skbuff/core";
import {
  IP_OFFSET,
  IPHDR,
  ipBuildAndSendPkt,
  ipDaddr,
  ipFragOff,
  ipIhl,
  ipProtocol,
  ipRouteOutputKey,
  ipSaddr,
  ipTos,
  ipv4Net,
  type NetnsIpv4,
  RTN,
  type Rtable,
} from "@skbuff/ipv4";
import { icmpMsgIn, icmpMsgOut } from "./mib.js";
import { icmpNet, type NetnsIcmp } from "./netns.js";
import { pingErr, pingRcv } from "./ping.js";
import { icmpMaskAllow } from "./ratelimit.js";
import {
  ICMP_EXC,
  ICMP_TYPE,
  ICMP_UNREACH,
  ICMPHDR,
  icmpChecksumValid,
  icmpCode,
  icmpFillChecksum,
  icmpFragMtu,
  icmpGateway,
  icmpType,
  NR_ICMP_TYPES,
  NR_ICMP_UNREACH,
  setIcmpChecksum,
  setIcmpCode,
  setIcmpGateway,
  setIcmpType,
} from "./wire/icmphdr.js";

/** Room kept in front of an ICMP message for the IP header (with options) and a link header. */
const MAX_HEADER = NET_SKB_PAD + IPHDR.MAX_LEN;

/** `IPTOS_TOS_MASK` (`RT_TOS`). */
const IPTOS_TOS_MASK = 0x1e;
/** `IPTOS_PREC_INTERNETCONTROL`: errors go out with precedence "internetwork control". */
const IPTOS_PREC_INTERNETCONTROL = 0xc0;
/** `INADDR_DUMMY` (192.0.0.8, RFC 7600): the source of last resort for an ICMP error. */
const INADDR_DUMMY = 0xc0000008;
/**
 * RFC 1812 (4.3.2.3): "the ICMP datagram SHOULD contain as much of the original datagram as
 * possible without the length of the ICMP datagram exceeding 576 bytes."
 */
const ICMP_ERROR_MAX = 576;

/**
 * `icmp_pointers[type].error`: which types are errors. Unknown types below `NR_ICMP_TYPES` that
 * Linux discards (1, 2, 6, 7, 9, 10) count as errors too.
 */
const IS_ERROR: readonly boolean[] = Array.from({ length: NR_ICMP_TYPES + 1 }, (_, t) =>
  [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12].includes(t),
);

/** Whether ICMP type `type` is an error message (unknown types above 18 are taken as errors). */
export function icmpIsError(type: number): boolean {
  return type > NR_ICMP_TYPES || IS_ERROR[type] === true;
}

/** A handler of one type: null when the message was used (consume), else why it is dropped. */
type IcmpHandler = (skb: SkBuff, net: Stack, ns: NetnsIcmp) => SkbDropReason | null;

// --- receive ---------------------------------------------------------------------------------

/**
 * `skb_checksum_simple_validate`: nothing to do when the device (or loopback) vouched for the
 * packet; otherwise the whole ICMP message must sum to zero.
 * @see include/linux/skbuff.h skb_checksum_simple_validate()
 */
function skbChecksumSimpleValidate(skb: SkBuff): boolean {
  if (skb.ipSummed === CHECKSUM_UNNECESSARY || skb.csumValid) return true;
  const ok = icmpChecksumValid(skb.head, skb.data, skb.len);
  skb.csumValid = ok;
  return ok;
}

/**
 * `icmp_rcv`: the `InetProtocol` handler for protocol 1. `skb.data` is at the ICMP header,
 * `networkHeader` at the IP header, `dev` and `dst` are set. Takes ownership of the skb.
 *
 * RFC 1122 (3.2.2): "If an ICMP message of unknown type is received, it MUST be silently
 * discarded."
 * @see net/ipv4/icmp.c icmp_rcv()
 */
export const icmpRcv = traceable("icmp_rcv", function icmpRcv(skb: SkBuff): number {
  const net = (skb.dev as NetDevice).net;
  const ns = icmpNet(net);
  if (ns === undefined) {
    kfreeSkb(skb, SkbDropReason.NOT_SPECIFIED, net);
    return NET_RX_DROP;
  }
  const mib = ns.mib;
  mib.IcmpInMsgs++;
  if (!skbChecksumSimpleValidate(skb)) {
    mib.IcmpInCsumErrors++;
    return icmpRcvError(skb, net, ns, SkbDropReason.ICMP_CSUM);
  }
  if (!skb.mayPull(ICMPHDR.LEN)) return icmpRcvError(skb, net, ns, SkbDropReason.PKT_TOO_SMALL);
  skb.resetTransportHeader();
  const type = icmpType(skb.head, skb.data);
  icmpMsgIn(mib, ns.msgMib, type);
  // "18 is the highest 'known' ICMP type. Anything else is a mystery"
  if (type > NR_ICMP_TYPES) return icmpRcvError(skb, net, ns, SkbDropReason.UNHANDLED_PROTO);
  const rt = skb.dst as Rtable | null;
  if (
    rt?.rtType === RTN.BROADCAST ||
    skb.pktType === PACKET_BROADCAST ||
    skb.pktType === PACKET_MULTICAST
  ) {
    // RFC 1122 (3.2.2.6): "An ICMP Echo Request destined to an IP broadcast or IP multicast
    // address MAY be silently discarded." (3.2.2.8 says the same of Timestamp.) A sysctl decides.
    if (
      (type === ICMP_TYPE.ECHO || type === ICMP_TYPE.TIMESTAMP) &&
      ns.sysctl.echoIgnoreBroadcasts.value
    ) {
      return icmpRcvError(skb, net, ns, SkbDropReason.INVALID_PROTO);
    }
    if (
      type !== ICMP_TYPE.ECHO &&
      type !== ICMP_TYPE.TIMESTAMP &&
      type !== ICMP_TYPE.ADDRESS &&
      type !== ICMP_TYPE.ADDRESSREPLY
    ) {
      return icmpRcvError(skb, net, ns, SkbDropReason.INVALID_PROTO);
    }
  }
  skb.pull(ICMPHDR.LEN);
  if (type === ICMP_TYPE.ECHOREPLY) {
    return pingRcv(skb) === null ? NET_RX_SUCCESS : NET_RX_DROP;
  }
  const r = HANDLERS[type]!(skb, net, ns);
  if (r === null) {
    consumeSkb(skb, net);
    return NET_RX_SUCCESS;
  }
  kfreeSkb(skb, r, net);
  return NET_RX_DROP;
});

/** `icmp_rcv`'s `error:` exit: an ICMP-level error, counted in IcmpInErrors, and the drop. */
function icmpRcvError(skb: SkBuff, net: Stack, ns: NetnsIcmp, reason: SkbDropReason): number {
  ns.mib.IcmpInErrors++;
  kfreeSkb(skb, reason, net);
  return NET_RX_DROP;
}

/**
 * `icmp_echo`: answers an echo request with an echo reply carrying the same identifier,
 * sequence number and data.
 *
 * RFC 1122 (3.2.2.6): "Every host MUST implement an ICMP Echo server function that receives
 * Echo Requests and sends corresponding Echo Replies." and "The IP source address in an ICMP
 * Echo Reply MUST be the same as the specific-destination address … of the corresponding ICMP
 * Echo Request message." "Data received in an ICMP Echo Request MUST be entirely included in
 * the resulting Echo Reply."
 * @see net/ipv4/icmp.c icmp_echo()
 */
function icmpEchoImpl(skb: SkBuff, net: Stack, ns: NetnsIcmp): SkbDropReason | null {
  // "should there be an ICMP stat for ignored echos?"
  if (ns.sysctl.echoIgnoreAll.value) return null;
  const hdr = skb.head.slice(skb.transportHeader, skb.transportHeader + ICMPHDR.LEN);
  setIcmpType(hdr, 0, ICMP_TYPE.ECHOREPLY);
  setIcmpChecksum(hdr, 0, 0);
  icmpReply(net, ns, skb, hdr, skb.head.subarray(skb.data, skb.tail));
  return null;
}

/**
 * `icmp_echo`: answers an echo request (RFC 792, RFC 1122 3.2.2.6).
 * @see net/ipv4/icmp.c icmp_echo()
 */
export const icmpEcho = traceable("icmp_echo", icmpEchoImpl);

/**
 * `icmp_timestamp`: answers with the time in ms since midnight (RFC 792). Virtual clocks count
 * from their start; real ones use the wall clock.
 * @see net/ipv4/icmp.c icmp_timestamp()
 */
export function icmpTimestamp(skb: SkBuff, net: Stack, ns: NetnsIcmp): SkbDropReason | null {
  // "Too short."
  if (skb.len < 4) {
    ns.mib.IcmpInErrors++;
    return SkbDropReason.PKT_TOO_SMALL;
  }
  const msg = new Uint8Array(ICMPHDR.LEN + 12);
  msg.set(skb.head.subarray(skb.transportHeader, skb.transportHeader + ICMPHDR.LEN));
  setIcmpType(msg, 0, ICMP_TYPE.TIMESTAMPREPLY);
  setIcmpCode(msg, 0, 0);
  setIcmpChecksum(msg, 0, 0);
  msg.set(skb.head.subarray(skb.data, skb.data + 4), ICMPHDR.LEN);
  const now = net.clock.kind === "real" ? Date.now() : Math.floor(net.clock.now());
  const ms = now % 86_400_000;
  const view = new DataView(msg.buffer);
  view.setUint32(ICMPHDR.LEN + 4, ms);
  view.setUint32(ICMPHDR.LEN + 8, ms);
  icmpReply(net, ns, skb, msg, new Uint8Array(0));
  return null;
}

/** `icmp_discard`: known types nothing is done about (replies to requests we never send). */
function icmpDiscard(): SkbDropReason | null {
  return null;
}

/**
 * `icmp_unreach`: destination unreachable, source quench, time exceeded and parameter problem.
 * Checks the quoted header, works out `info` (the next-hop MTU for "fragmentation needed", the
 * pointer for parameter problem) and hands the message to the protocol that sent the offending
 * datagram. `skb.data` is at the quoted IP header.
 *
 * RFC 1122 (3.2.2): "the ICMP error message … MUST be passed to the transport layer" having
 * extracted "the protocol ID from the passed header" (3.2.2.1, 3.2.2.2 for unreachable and
 * time exceeded).
 * @see net/ipv4/icmp.c icmp_unreach()
 */
export function icmpUnreach(skb: SkBuff, net: Stack, ns: NetnsIcmp): SkbDropReason | null {
  // "Incomplete header ?"
  if (!skb.mayPull(IPHDR.MIN_LEN)) {
    ns.mib.IcmpInErrors++;
    return SkbDropReason.PKT_TOO_SMALL;
  }
  const b = skb.head;
  const th = skb.transportHeader;
  const iph = skb.data;
  const ihl = ipIhl(b, iph);
  if (ihl < 5 || b[iph]! >> 4 !== 4) {
    // "Mangled header, drop."
    ns.mib.IcmpInErrors++;
    return SkbDropReason.IP_INHDR;
  }
  const type = icmpType(b, th);
  const code = icmpCode(b, th);
  let info = 0;
  switch (type) {
    case ICMP_TYPE.DEST_UNREACH:
      if ((code & 15) === ICMP_UNREACH.FRAG_NEEDED) {
        // ip_no_pmtu_disc: 0 learns the MTU, 1 passes the error on without it, 2 ignores the
        // message, 3 ignores it unless the protocol validates it (none here does).
        const mode = ipv4Net(net).sysctl.ipNoPmtuDisc.value;
        if (mode === 2 || mode === 3) return null;
        if (mode === 0) info = icmpFragMtu(b, th);
      }
      if (code > NR_ICMP_UNREACH) return null;
      break;
    case ICMP_TYPE.PARAMETERPROB:
      info = icmpGateway(b, th) >>> 24;
      break;
    case ICMP_TYPE.TIME_EXCEEDED:
      if (code === ICMP_EXC.FRAGTIME) return null;
      break;
  }
  // "Check the other end isn't violating RFC 1122. Some routers send bogus responses to
  // broadcast frames."
  if (!ns.sysctl.ignoreBogusErrorResponses.value) {
    const e = ipv4Net(net).fib.lookup(ipDaddr(b, iph), 0);
    if (e !== null && e.type === RTN.BROADCAST) return null;
  }
  icmpSocketDeliver(skb, net, ns, type, code, info);
  return null;
}

/**
 * `icmp_redirect`: passed on to the protocol like an error; routes are not changed (there is no
 * route cache to redirect).
 * @see net/ipv4/icmp.c icmp_redirect()
 */
export function icmpRedirect(skb: SkBuff, net: Stack, ns: NetnsIcmp): SkbDropReason | null {
  if (skb.len < IPHDR.MIN_LEN) {
    ns.mib.IcmpInErrors++;
    return SkbDropReason.PKT_TOO_SMALL;
  }
  const th = skb.transportHeader;
  icmpSocketDeliver(
    skb,
    net,
    ns,
    icmpType(skb.head, th),
    icmpCode(skb.head, th),
    icmpGateway(skb.head, th),
  );
  return null;
}

/**
 * `icmp_socket_deliver`: calls the `errHandler` of the protocol named in the quoted header.
 * The handler borrows the skb (`data` at the quoted IP header, `transportHeader` at the ICMP
 * header, `networkHeader` at the outer IP header); ICMP frees it afterwards.
 * @see net/ipv4/icmp.c icmp_socket_deliver()
 */
function icmpSocketDeliver(
  skb: SkBuff,
  net: Stack,
  ns: NetnsIcmp,
  type: number,
  code: number,
  info: number,
): void {
  const b = skb.head;
  const iph = skb.data;
  // "Checkin full IP header plus 8 bytes of protocol to avoid additional coding at protocol
  // handlers."
  if (!skb.mayPull(ipIhl(b, iph) * 4 + 8)) {
    ns.mib.IcmpInErrors++;
    return;
  }
  const ipprot = net.protocols.inetProtos[ipProtocol(b, iph)];
  ipprot?.errHandler?.(skb, type, code, info);
}

/**
 * `icmp_err`: the `errHandler` of ICMP itself: an error about an echo request goes to the ping
 * socket that sent it. (Errors about our own echo replies would update the path MTU; there is
 * no route cache for that.)
 * @see net/ipv4/icmp.c icmp_err()
 */
export function icmpErr(skb: SkBuff, type: number, code: number, info: number): number {
  const offset = ipIhl(skb.head, skb.data) * 4;
  if (icmpType(skb.head, skb.data + offset) !== ICMP_TYPE.ECHOREPLY)
    pingErr(skb, offset, type, code, info);
  return 0;
}

/** `icmp_pointers`: the handler of each known type (echo reply goes to `ping_rcv` directly). */
const HANDLERS: readonly IcmpHandler[] = Array.from({ length: NR_ICMP_TYPES + 1 }, (_, t) => {
  switch (t) {
    case ICMP_TYPE.DEST_UNREACH:
    case ICMP_TYPE.SOURCE_QUENCH:
    case ICMP_TYPE.TIME_EXCEEDED:
    case ICMP_TYPE.PARAMETERPROB:
      return icmpUnreach;
    case ICMP_TYPE.REDIRECT:
      return icmpRedirect;
    case ICMP_TYPE.ECHO:
      return icmpEcho;
    case ICMP_TYPE.TIMESTAMP:
      return icmpTimestamp;
    default:
      return icmpDiscard;
  }
});

// --- rate limits -----------------------------------------------------------------------------

/** What {@link icmpv4GlobalAllow} decided. */
const Allow = {
  DENY: 0,
  /** The type is not rate limited. */
  UNLIMITED: 1,
  /** Allowed by the global budget; the per-host limit applies too. */
  LIMITED: 2,
} as const;
type Allow = (typeof Allow)[keyof typeof Allow];

/**
 * `icmpv4_global_allow`: the global budget, for the types the ratemask limits.
 * @see net/ipv4/icmp.c icmpv4_global_allow()
 */
function icmpv4GlobalAllow(net: Stack, ns: NetnsIcmp, type: number, code: number): Allow {
  const s = ns.sysctl;
  if (icmpMaskAllow(s.ratemask.value, type, code)) return Allow.UNLIMITED;
  if (ns.global.allow(net.clock.now(), s.msgsPerSec.value, s.msgsBurst.value)) return Allow.LIMITED;
  ns.mib.IcmpOutRateLimitGlobal++;
  return Allow.DENY;
}

/**
 * `icmpv4_xrlim_allow`: the per-destination limit ("No rate limit on loopback"); a message that
 * passes spends a global credit.
 * @see net/ipv4/icmp.c icmpv4_xrlim_allow()
 */
function icmpv4XrlimAllow(
  net: Stack,
  ns: NetnsIcmp,
  rt: Rtable,
  daddr: number,
  apply: boolean,
): boolean {
  if (!apply) return true;
  let rc = true;
  if ((rt.dev.flags & IFF.LOOPBACK) === 0)
    rc = ns.peers.allow(daddr, net.clock.now(), ns.sysctl.ratelimit.value);
  if (!rc) ns.mib.IcmpOutRateLimitHost++;
  else ns.global.consume();
  return rc;
}

// --- send ------------------------------------------------------------------------------------

/** `enum ip_conntrack_info` values that ICMP errors take (see @skbuff/netfilter). */
const IP_CT_RELATED = 1;
const IP_CT_IS_REPLY = 3;
const IP_CT_RELATED_REPLY = 4;

/**
 * `icmp_push_reply`: builds the message (header + data, checksum), counts it and hands it to IP
 * on the route `rt`.
 * @see net/ipv4/icmp.c icmp_push_reply(), icmp_glue_bits()
 */
function icmpPushReply(
  net: Stack,
  ns: NetnsIcmp,
  rt: Rtable,
  saddr: number,
  daddr: number,
  head: Uint8Array,
  data: Uint8Array,
  tos: number,
  related: SkBuff | null = null,
): void {
  const len = head.length + data.length;
  const skb = allocSkb(MAX_HEADER + len);
  if (related !== null && related.nfct !== null) {
    // nf_ct_attach: an error about a tracked packet belongs to its connection, in the other
    // direction (IP_CT_RELATED_REPLY = 4 for an original-direction packet, else IP_CT_RELATED).
    skb.nfct = related.nfct;
    skb.nfctinfo = related.nfctinfo >= IP_CT_IS_REPLY ? IP_CT_RELATED : IP_CT_RELATED_REPLY;
  }
  skb.reserve(MAX_HEADER);
  const o = skb.put(len);
  const b = skb.head;
  b.set(head, o);
  b.set(data, o + head.length);
  icmpFillChecksum(b, o, len);
  skb.resetTransportHeader();
  skb.dst = rt;
  icmpMsgOut(ns.mib, ns.msgMib, head[0]!);
  ipBuildAndSendPkt(skb, net, saddr, daddr, IPPROTO_ICMP, { tos });
}

/**
 * `fib_compute_spec_dst`: the "specific destination" of a received packet: its destination when
 * that is one of our addresses, else (broadcast) an address of the receiving device.
 * @see net/ipv4/fib_frontend.c fib_compute_spec_dst()
 */
function fibComputeSpecDst(skb: SkBuff, ns4: NetnsIpv4): number {
  const b = skb.head;
  const nh = skb.networkHeader;
  const rt = skb.dst as Rtable | null;
  if (rt !== null && rt.rtType === RTN.LOCAL) return ipDaddr(b, nh);
  return ns4.selectAddr(skb.dev as NetDevice | null, ipSaddr(b, nh));
}

/**
 * `icmp_reply`: answers a request (echo, timestamp) to its sender, from the address it was sent
 * to. `head` is the reply's header (checksum zero), `data` what follows it.
 * @see net/ipv4/icmp.c icmp_reply()
 */
function icmpReplyImpl(
  net: Stack,
  ns: NetnsIcmp,
  skb: SkBuff,
  head: Uint8Array,
  data: Uint8Array,
): void {
  const type = head[0]!;
  const code = head[1]!;
  // "is global icmp_msgs_per_sec exhausted ?"
  const allow = icmpv4GlobalAllow(net, ns, type, code);
  if (allow === Allow.DENY) return;
  const ns4 = ipv4Net(net);
  const b = skb.head;
  const nh = skb.networkHeader;
  const daddr = ipSaddr(b, nh);
  const r = ipRouteOutputKey(net, { daddr, saddr: fibComputeSpecDst(skb, ns4) });
  if (typeof r === "number") {
    ns.mib.IcmpOutErrors++;
    return;
  }
  if (!icmpv4XrlimAllow(net, ns, r.rt, daddr, allow === Allow.LIMITED)) return;
  icmpPushReply(net, ns, r.rt, r.saddr, daddr, head, data, ipTos(b, nh));
}

function isMulticast(a: number): boolean {
  return a >>> 28 === 0xe;
}

/** Class E (240.0.0.0/4), which includes the limited broadcast 255.255.255.255. */
function isClassE(a: number): boolean {
  return a >>> 28 === 0xf;
}

function isLoopbackAddr(a: number): boolean {
  return a >>> 24 === 127;
}

/**
 * `icmp_send` (`__icmp_send`): sends an ICMP error about `skbIn`, a packet that could not be
 * delivered or forwarded (`networkHeader` at its IP header). Does not take ownership of `skbIn`:
 * what the error needs is copied. `info` is the second word of the ICMP header (`un.gateway`):
 * the next-hop MTU for "fragmentation needed" (its low 16 bits), `pointer << 24` for parameter
 * problem, else 0. Installed as `ipv4Net(net).icmpSend` by the plugin.
 *
 * The message quotes the offending IP header and as much of the datagram as fits in 576 bytes,
 * comes from the address the datagram was sent to when that is ours and otherwise from the
 * address the route back to the sender picks (or the inbound device's, with
 * `icmp_errors_use_inbound_ifaddr`), and is subject to the rate limits.
 * @see net/ipv4/icmp.c __icmp_send()
 */
export const icmpSend = traceable(
  "icmp_send",
  function icmpSend(skbIn: SkBuff, type: number, code: number, info: number): void {
    const rt = skbIn.dst as Rtable | null;
    const dev = (rt?.dev ?? skbIn.dev) as NetDevice | null;
    if (dev === null) return;
    const net = dev.net;
    const ns = icmpNet(net);
    if (ns === undefined) return;
    const ns4 = ipv4Net(net);
    const b = skbIn.head;
    const nh = skbIn.networkHeader;
    // "Find the original header. It is expected to be valid, of course."
    if (nh < 0 || nh + IPHDR.MIN_LEN > skbIn.tail) return;
    const ihl = ipIhl(b, nh) * 4;
    if (ihl < IPHDR.MIN_LEN || nh + ihl > skbIn.tail) return;
    const saddrIn = ipSaddr(b, nh);
    const daddrIn = ipDaddr(b, nh);

    // RFC 1122 (3.2.2): "An ICMP error message MUST NOT be sent as the result of receiving:
    //   * an ICMP error message, or
    //   * a datagram destined to an IP broadcast or IP multicast address, or
    //   * a datagram sent as a link-layer broadcast, or
    //   * a non-initial fragment, or
    //   * a datagram whose source address does not define a single host -- e.g., a zero address,
    //     a loopback address, a broadcast address, a multicast address, or a Class E address."

    // "No replies to physical multicast/broadcast"
    const pkt = skbIn.pktType;
    if (pkt === PACKET_BROADCAST || pkt === PACKET_MULTICAST || pkt === PACKET_OTHERHOST) return;
    // "Now check at the protocol level"
    if (rt?.rtType === RTN.BROADCAST || isMulticast(daddrIn) || isClassE(daddrIn)) return;
    const toBcast = ns4.fib.lookup(daddrIn, 0);
    if (toBcast !== null && toBcast.type === RTN.BROADCAST) return;
    // "Only reply to fragment 0."
    if ((ipFragOff(b, nh) & IP_OFFSET) !== 0) return;
    // A source that does not define a single host (ip_route_output refuses these in Linux).
    if (saddrIn === 0 || isMulticast(saddrIn) || isClassE(saddrIn)) return;
    const indev = skbIn.skbIif !== 0 ? net.getDeviceByIndex(skbIn.skbIif) : undefined;
    if (isLoopbackAddr(saddrIn) && indev !== undefined && (indev.flags & IFF.LOOPBACK) === 0)
      return;
    const fromBcast = ns4.fib.lookup(saddrIn, 0);
    if (fromBcast !== null && fromBcast.type === RTN.BROADCAST) return;
    // "If we send an ICMP error to an ICMP error a mess would result.."
    if (icmpIsError(type) && ipProtocol(b, nh) === IPPROTO_ICMP) {
      const itp = nh + ihl + ICMPHDR.TYPE;
      if (itp >= skbIn.tail) return;
      // "Assume any unknown ICMP type is an error."
      if (icmpIsError(b[itp]!)) return;
    }

    // "Check global sysctl_icmp_msgs_per_sec ratelimit, unless incoming dev is loopback."
    let apply = false;
    if (!(indev !== undefined && (indev.flags & IFF.LOOPBACK) !== 0)) {
      const allow = icmpv4GlobalAllow(net, ns, type, code);
      if (allow === Allow.DENY) return;
      apply = allow === Allow.LIMITED;
    }

    // "Construct source address": the original destination when it was us.
    let saddr = daddrIn;
    const local = rt !== null ? rt.rtType === RTN.LOCAL : ns4.isLocal(daddrIn);
    if (!local) {
      const inbound =
        indev !== undefined && ns.sysctl.errorsUseInboundIfaddr.value !== 0 ? indev : null;
      saddr = inbound !== null ? ns4.selectAddr(inbound, saddrIn) : 0;
    }
    const tos = icmpIsError(type)
      ? (ipTos(b, nh) & IPTOS_TOS_MASK) | IPTOS_PREC_INTERNETCONTROL
      : ipTos(b, nh);

    const r = ipRouteOutputKey(net, { daddr: saddrIn, saddr });
    if (typeof r === "number") return;
    // "peer icmp_ratelimit"
    if (!icmpv4XrlimAllow(net, ns, r.rt, saddrIn, apply)) return;

    // "RFC says return as much as we can without exceeding 576 bytes."
    let room = Math.min(r.rt.mtu, ICMP_ERROR_MAX);
    room -= IPHDR.MIN_LEN + ICMPHDR.LEN;
    // "Guard against tiny mtu. We need to include at least one IP network header for this
    // message to work."
    if (room <= IPHDR.MIN_LEN) return;
    const dataLen = Math.min(skbIn.tail - nh, room);
    const head = new Uint8Array(ICMPHDR.LEN);
    setIcmpType(head, 0, type);
    setIcmpCode(head, 0, code);
    setIcmpGateway(head, 0, info >>> 0);
    // "if we don't have a source address at this point, fall back to the dummy address instead
    // of sending out a packet with a source address of 0.0.0.0"
    const src = r.saddr !== 0 ? r.saddr : INADDR_DUMMY;
    icmpPushReply(net, ns, r.rt, src, saddrIn, head, b.subarray(nh, nh + dataLen), tos, skbIn);
  },
);

/** `icmp_reply`. @see net/ipv4/icmp.c icmp_reply() */
const icmpReply = traceable("icmp_reply", icmpReplyImpl);
