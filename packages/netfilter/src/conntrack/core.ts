/**
 * Connection tracking's packet path: `nf_conntrack_in` in PRE_ROUTING and LOCAL_OUT (finds or
 * makes the packet's connection and sets `skb.nfct`/`skb.nfctinfo`), `__nf_conntrack_confirm`
 * in POST_ROUTING and LOCAL_IN (a new connection enters the table once its first packet made it
 * through), and conntrack's defragmentation in PRE_ROUTING.
 *
 * Fragments: PRE_ROUTING reassembles before conntrack (so forwarded datagrams are tracked and
 * NATed whole, and refragmented on output). In LOCAL_OUT nothing is reassembled — locally made
 * datagrams are fragmented only after POST_ROUTING — so a fragment there (a raw socket's) is
 * tracked by its first fragment and INVALID otherwise, as `get_l4proto` makes it.
 * @see net/netfilter/nf_conntrack_core.c, net/netfilter/nf_conntrack_proto.c,
 *   net/ipv4/netfilter/nf_defrag_ipv4.c
 * @packageDocumentation
 */
import {
  getU16,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_CONNTRACK,
  NF_IP_PRI_CONNTRACK_CONFIRM,
  NF_IP_PRI_CONNTRACK_DEFRAG,
  NF_STOLEN,
  NFPROTO_IPV4,
  type NfHookOps,
  type NfHookState,
  type NfQueueEntry,
  nfDropReason,
  type SkBuff,
  SkbDropReason,
  type Stack,
} from "@skbuff/core";
import { ipDefrag, ipIsFragment } from "@skbuff/ipv4";
import { IP_CT } from "../nf_api.js";
import { CT_VERDICT, type CtVerdict } from "./l4.js";
import type { NetnsConntrack } from "./netns.js";
import { IPS, NfConn } from "./nf_conn.js";
import { icmpErrorLookup, icmpMalformed, icmpPacket } from "./proto_icmp.js";
import { tcpError, tcpFlagsAt, tcpNew, tcpPacket } from "./proto_tcp.js";
import { udpError, udpNew, udpPacket } from "./proto_udp.js";
import {
  IP_CT_DIR,
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  type IpCtDir,
  icmpIsError,
  icmpIsNewType,
  invertTuple,
  type NfConntrackTuple,
  pktToTuple,
  tupleEqual,
} from "./tuple.js";

const IP_OFFSET = 0x1fff;

/** The packet's connection if it is one of `net`'s (`nf_ct_get`), else null. */
export function nfCtGet(skb: SkBuff, net: Stack): NfConn | null {
  const ct = skb.nfct;
  return ct instanceof NfConn && ct.net === net ? ct : null;
}

/** `CTINFO2DIR`. */
export function ctinfo2dir(ctinfo: number): IpCtDir {
  return ctinfo >= IP_CT.IS_REPLY ? IP_CT_DIR.REPLY : IP_CT_DIR.ORIGINAL;
}

/** Marks a packet INVALID: no connection (`nf_conntrack_in` returning `-NF_ACCEPT`). */
function invalid(skb: SkBuff, ns: NetnsConntrack): number {
  ns.mib.NfConntrackInvalid++;
  skb.nfct = null;
  skb.nfctinfo = 0;
  return NF_ACCEPT;
}

/**
 * `nf_conntrack_in`: attaches the packet to its connection, making a new (unconfirmed) one for
 * the first packet of a flow, and runs the protocol's tracker. Packets that cannot be tracked
 * go on INVALID (no `nfct`); only a full table drops (NF_CONNTRACK_FULL).
 * @see net/netfilter/nf_conntrack_core.c nf_conntrack_in()
 */
export function nfConntrackIn(skb: SkBuff, state: NfHookState, ns: NetnsConntrack): number {
  const net = state.net;
  if (skb.nfctinfo === IP_CT.UNTRACKED && skb.nfct === null) {
    ns.mib.NfConntrackIgnore++;
    return NF_ACCEPT;
  }
  if (skb.nfct !== null) {
    // "Previously seen (loopback or untracked)? Ignore."
    if (nfCtGet(skb, net) !== null) {
      ns.mib.NfConntrackIgnore++;
      return NF_ACCEPT;
    }
    // Another stack's connection: the packet crossed namespaces without nf_reset_ct.
    skb.nfct = null;
    skb.nfctinfo = 0;
  }
  const b = skb.head;
  const nh = skb.networkHeader;
  if (nh < 0 || nh + 20 > skb.tail) return invalid(skb, ns);
  const end = Math.min(nh + getU16(b, nh + 2), skb.tail);
  // A fragment other than the first has no transport header (get_l4proto: "return -1").
  if ((getU16(b, nh + 6) & IP_OFFSET) !== 0) return invalid(skb, ns);
  const protonum = b[nh + 9]!;
  const th = nh + (b[nh]! & 0x0f) * 4;
  const hook = state.hook;
  switch (protonum) {
    case IPPROTO_ICMP: {
      if (icmpMalformed(skb, hook, th, end, ns)) return invalid(skb, ns);
      if (icmpIsError(b[th]!)) {
        const rel = icmpErrorLookup(b, nh, th, end, ns);
        if (rel === null) {
          ns.mib.NfConntrackError++;
          return invalid(skb, ns);
        }
        skb.nfct = rel.ct;
        skb.nfctinfo = rel.ctinfo;
        return NF_ACCEPT;
      }
      break;
    }
    case IPPROTO_TCP:
      if (tcpError(skb, hook, nh, th, end, ns)) return invalid(skb, ns);
      break;
    case IPPROTO_UDP:
      if (udpError(skb, hook, nh, th, end, ns)) return invalid(skb, ns);
      break;
  }
  const tuple = pktToTuple(b, nh, end);
  if (tuple === null) return invalid(skb, ns);
  // resolve_normal_ct, again after a TCP reopen killed the old connection.
  for (let attempt = 0; attempt < 2; attempt++) {
    const h = ns.table.find(tuple);
    let ct: NfConn;
    let dir: IpCtDir;
    let ctinfo: number;
    if (h === null) {
      const made = initConntrack(skb, tuple, protonum, th, ns);
      if (typeof made === "number") return made;
      if (made === null) return invalid(skb, ns);
      ct = made;
      dir = IP_CT_DIR.ORIGINAL;
      ctinfo = IP_CT.NEW;
    } else {
      ns.mib.NfConntrackFound++;
      ct = h.ct;
      dir = h.dir;
      if (dir === IP_CT_DIR.REPLY) ctinfo = IP_CT.ESTABLISHED_REPLY;
      else ctinfo = (ct.status & IPS.SEEN_REPLY) !== 0 ? IP_CT.ESTABLISHED : IP_CT.NEW;
    }
    const verdict = l4Packet(ct, b, th, dir, ns);
    if (verdict === CT_VERDICT.REPEAT) continue;
    if (verdict === CT_VERDICT.INVALID) return invalid(skb, ns);
    if (dir === IP_CT_DIR.REPLY) ct.status |= IPS.SEEN_REPLY;
    ct.packets[dir]++;
    ct.bytes[dir] += end - nh;
    skb.nfct = ct;
    skb.nfctinfo = ctinfo;
    return NF_ACCEPT;
  }
  return invalid(skb, ns);
}

/**
 * `init_conntrack`: a new, unconfirmed connection for the packet's tuple, or null when the
 * packet may not start one (INVALID), or NF_DROP when the table is full and nothing could be
 * evicted (`early_drop`).
 * @see net/netfilter/nf_conntrack_core.c init_conntrack(), __nf_conntrack_alloc()
 */
function initConntrack(
  skb: SkBuff,
  tuple: NfConntrackTuple,
  protonum: number,
  th: number,
  ns: NetnsConntrack,
): NfConn | null | number {
  const b = skb.head;
  if (protonum === IPPROTO_ICMP && !icmpIsNewType(b[th]!)) return null;
  const reply = invertTuple(tuple);
  if (reply === null) return null;
  const max = ns.sysctl.max.value;
  if (max !== 0 && ns.table.count >= max) {
    const freed = ns.table.earlyDrop();
    if (freed === "evicted") ns.mib.NfConntrackEarlyDrop++;
    if (freed === null) {
      // "nf_conntrack: table full, dropping packet"
      ns.mib.NfConntrackDrop++;
      return nfDropReason(skb, SkbDropReason.NF_CONNTRACK_FULL);
    }
  }
  const ct = new NfConn(ns.net, tuple, reply, ns.net.clock.now());
  if (protonum === IPPROTO_TCP) {
    if (!tcpNew(ct, tcpFlagsAt(b, th), ns)) return null;
  } else if (protonum === IPPROTO_UDP) {
    udpNew(ct, ns.net.clock.now());
  }
  return ct;
}

/** `nf_conntrack_handle_packet`: the protocol's `packet()`. */
function l4Packet(
  ct: NfConn,
  b: Uint8Array,
  th: number,
  dir: IpCtDir,
  ns: NetnsConntrack,
): CtVerdict {
  switch (ct.protonum) {
    case IPPROTO_TCP:
      return tcpPacket(ct, tcpFlagsAt(b, th), dir, ns);
    case IPPROTO_UDP:
      return udpPacket(ct, ns);
    case IPPROTO_ICMP:
      return icmpPacket(ct, ns);
    default:
      ns.table.refresh(ct, ns.sysctl.genericTimeout.value * 1000);
      return CT_VERDICT.ACCEPT;
  }
}

/**
 * `__nf_conntrack_confirm`: the first packet of a connection made it through; the connection
 * enters the table under both tuples (as NAT left them). A clash with an existing entry drops
 * the packet (`insert_failed`), unless it is the same UDP or ICMP flow (`nf_ct_resolve_clash`).
 * @see net/netfilter/nf_conntrack_core.c __nf_conntrack_confirm()
 */
export function nfConntrackConfirm(skb: SkBuff, state: NfHookState, ns: NetnsConntrack): number {
  const ct = nfCtGet(skb, state.net);
  if (ct === null || ct.confirmed || (ct.status & IPS.DYING) !== 0) return NF_ACCEPT;
  // "We're not in hash table, and we refuse to set up related connections for unconfirmed
  // conns."
  if (ctinfo2dir(skb.nfctinfo) !== IP_CT_DIR.ORIGINAL) return NF_ACCEPT;
  if (!ns.table.insert(ct)) {
    // nf_ct_resolve_clash: two first packets of one UDP or ICMP flow raced (one was queued,
    // say); the later one joins the connection the earlier one made.
    const h = ns.table.find(ct.orig);
    if (
      h !== null &&
      h.dir === IP_CT_DIR.ORIGINAL &&
      tupleEqual(h.ct.reply, ct.reply) &&
      (ct.protonum === IPPROTO_UDP || ct.protonum === IPPROTO_ICMP)
    ) {
      skb.nfct = h.ct;
      ns.mib.NfConntrackClashResolve++;
      return NF_ACCEPT;
    }
    ns.mib.NfConntrackInsertFailed++;
    ns.mib.NfConntrackDrop++;
    return nfDropReason(skb, SkbDropReason.NETFILTER_DROP);
  }
  ns.mib.NfConntrackInsert++;
  (ns.sysctl.count as { value: number }).value = ns.table.count;
  return NF_ACCEPT;
}

/**
 * `ipv4_conntrack_defrag`: conntrack needs whole datagrams, so fragments are reassembled in
 * PRE_ROUTING, before it. A fragment that completes a datagram is consumed and the datagram
 * goes on through the rest of the PRE_ROUTING hooks (and `ip_rcv_finish`) in its place.
 * @see net/ipv4/netfilter/nf_defrag_ipv4.c ipv4_conntrack_defrag()
 */
function nfDefragIpv4(skb: SkBuff, state: NfHookState, self: NfHookOps): number {
  const nh = skb.networkHeader;
  if (nh < 0 || !ipIsFragment(skb.head, nh) || skb.dev === null) return NF_ACCEPT;
  const net = state.net;
  const whole = ipDefrag(net, skb);
  if (whole === null) return NF_STOLEN;
  // Linux reassembles into the same skb and returns NF_ACCEPT; here the datagram is a new skb,
  // so it is reinjected after this hook, as a queue handler's ACCEPT would.
  const entries = net.nf.list(NFPROTO_IPV4, state.hook);
  const hookIndex = entries.indexOf(self);
  const entry: NfQueueEntry = {
    skb: whole,
    state: { ...state },
    queueNum: 0,
    hookIndex: hookIndex < 0 ? entries.length - 1 : hookIndex,
    entries,
  };
  net.nf.reinject(entry, NF_ACCEPT);
  return NF_STOLEN;
}

/** Registers conntrack's hooks (`ipv4_conntrack_ops` and the defrag hook). */
export function registerConntrackHooks(
  register: (ops: NfHookOps) => () => void,
  ns: NetnsConntrack,
): void {
  const defrag: NfHookOps = {
    pf: NFPROTO_IPV4,
    hooknum: NF_INET_PRE_ROUTING,
    priority: NF_IP_PRI_CONNTRACK_DEFRAG,
    hook: (skb, state) => nfDefragIpv4(skb, state, defrag),
  };
  register(defrag);
  const conntrackIn = (skb: SkBuff, state: NfHookState): number => nfConntrackIn(skb, state, ns);
  const confirm = (skb: SkBuff, state: NfHookState): number => nfConntrackConfirm(skb, state, ns);
  for (const hooknum of [NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT]) {
    register({ pf: NFPROTO_IPV4, hooknum, priority: NF_IP_PRI_CONNTRACK, hook: conntrackIn });
  }
  for (const hooknum of [NF_INET_POST_ROUTING, NF_INET_LOCAL_IN]) {
    register({ pf: NFPROTO_IPV4, hooknum, priority: NF_IP_PRI_CONNTRACK_CONFIRM, hook: confirm });
  }
}
