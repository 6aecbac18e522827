/**
 * NAT's hooks and `nf_nat_setup_info`: a connection is bound to a translation by its first
 * packet — by a `type nat` rule calling {@link NatApi.setup}, or else a null binding at the end
 * of the hook — and every packet of a translated connection is then mangled in both
 * directions: destination NAT in PRE_ROUTING and LOCAL_OUT, source NAT in POST_ROUTING and
 * LOCAL_IN, as `nf_nat_ipv4_ops` does.
 * @see net/netfilter/nf_nat_core.c, net/netfilter/nf_nat_proto.c,
 *   net/netfilter/nf_nat_masquerade.c, net/netfilter/nf_nat_redirect.c
 * @packageDocumentation
 */
import {
  getU32,
  inetAton,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_LOCAL_IN,
  NF_INET_LOCAL_OUT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_CONNTRACK_CONFIRM,
  NF_IP_PRI_LAST,
  NF_IP_PRI_NAT_DST,
  NF_IP_PRI_NAT_SRC,
  NFPROTO_IPV4,
  type NfHookState,
  nfDropReason,
  type PluginContext,
  PluginError,
  type SkBuff,
  SkbDropReason,
  type Stack,
} from "@skbuff/core";
import { ipRouteOutputKey, ipv4Net, type Rtable } from "@skbuff/ipv4";
import { nfCtGet } from "../conntrack/core.js";
import { type NetnsConntrack, nfCtNet } from "../conntrack/netns.js";
import { IPS, type NfConn } from "../conntrack/nf_conn.js";
import { IPPROTO_ICMP, invertTuple } from "../conntrack/tuple.js";
import { IP_CT, NAT_API, type NatApi, type NatRange, type NatType } from "../nf_api.js";
import {
  hook2manip,
  NF_NAT_MANIP,
  type NfNatManipType,
  nfNatIcmpReplyTranslation,
  nfNatPacket,
} from "./manip.js";
import { getUniqueTuple } from "./unique.js";

/** `nf_nat_initialized`: whether the connection's `maniptype` translation is decided. */
export function nfNatInitialized(ct: NfConn, maniptype: NfNatManipType): boolean {
  const bit = maniptype === NF_NAT_MANIP.SRC ? IPS.SRC_NAT_DONE : IPS.DST_NAT_DONE;
  return (ct.status & bit) !== 0;
}

/**
 * `nf_nat_setup_info`: binds `ct`'s `maniptype` translation to `range` (null: a null binding
 * that only keeps the reply tuple unique). Alters the reply tuple; returns false when no
 * unique tuple is left.
 * @see net/netfilter/nf_nat_core.c nf_nat_setup_info()
 */
export function nfNatSetupInfo(
  ct: NfConn,
  range: NatRange | null,
  maniptype: NfNatManipType,
  ns: NetnsConntrack,
): boolean {
  // "What we've got will look like inverse of reply. Normally this is what is in the
  // conntrack, except for prior manipulations (future optimization: if num_manips == 0,
  // orig_tp = ct->tuplehash[IP_CT_DIR_ORIGINAL].tuple)"
  const curr = invertTuple(ct.reply);
  if (curr === null) return false;
  const next = getUniqueTuple(curr, range, ct, maniptype, ns.table);
  if (next === null) return false;
  const reply = invertTuple(next);
  if (reply === null) return false;
  if (
    next.src !== curr.src ||
    next.dst !== curr.dst ||
    next.sport !== curr.sport ||
    next.dport !== curr.dport
  ) {
    // nf_conntrack_alter_reply: the connection is not in the table yet.
    ct.tuplehash[1] = reply;
    ct.status |= maniptype === NF_NAT_MANIP.SRC ? IPS.SRC_NAT : IPS.DST_NAT;
  }
  ct.status |= maniptype === NF_NAT_MANIP.SRC ? IPS.SRC_NAT_DONE : IPS.DST_NAT_DONE;
  return true;
}

/** NAT state of one stack. */
class NatNet {
  /**
   * Packets whose NAT hook ran while their connection had no binding yet, by hook: a rule
   * after the hook that binds one must mangle the packet itself.
   */
  readonly pending = new WeakMap<SkBuff, number>();
  constructor(
    readonly net: Stack,
    readonly ct: NetnsConntrack,
  ) {}
}

/**
 * `ip_route_me_harder`: a locally sent packet whose destination NAT changed is routed again.
 * Returns false when there is no route to the new destination.
 * @see net/ipv4/netfilter.c ip_route_me_harder()
 */
function ipRouteMeHarder(net: Stack, skb: SkBuff): boolean {
  const b = skb.head;
  const nh = skb.networkHeader;
  const saddr = getU32(b, nh + 12);
  const r = ipRouteOutputKey(net, {
    daddr: getU32(b, nh + 16),
    saddr: ipv4Net(net).isLocal(saddr) ? saddr : 0,
  });
  if (typeof r === "number") return false;
  skb.dst = r.rt;
  return true;
}

/**
 * Mangles one packet as its connection says, then does what the hook needs after a
 * destination change: in PRE_ROUTING the packet has no route yet (`ip_rcv_finish` routes it
 * to the new destination); in LOCAL_OUT it is routed again.
 */
function natMangle(nn: NatNet, ct: NfConn, skb: SkBuff, hook: number): number {
  const nh = skb.networkHeader;
  const daddr = getU32(skb.head, nh + 16);
  if (!nfNatPacket(ct, skb.nfctinfo, hook, skb)) return NF_DROP;
  const changed = getU32(skb.head, skb.networkHeader + 16) !== daddr;
  if (changed && hook === NF_INET_PRE_ROUTING) skb.dst = null;
  if (changed && hook === NF_INET_LOCAL_OUT && !ipRouteMeHarder(nn.net, skb)) {
    return nfDropReason(skb, SkbDropReason.IP_OUTNOROUTES);
  }
  return NF_ACCEPT;
}

function isRelated(ctinfo: number): boolean {
  return ctinfo === IP_CT.RELATED || ctinfo === IP_CT.RELATED_REPLY;
}

/**
 * `nf_nat_ipv4_fn` / `nf_nat_inet_fn` (the NAT hook proper): ICMP errors are translated with
 * their connection; a connection with its translation decided is mangled; a new one without
 * waits for the rules after this hook (or the null binding at the end).
 * @see net/netfilter/nf_nat_proto.c nf_nat_ipv4_fn(), net/netfilter/nf_nat_core.c nf_nat_inet_fn()
 */
function natFn(nn: NatNet, skb: SkBuff, state: NfHookState): number {
  const ct = nfCtGet(skb, state.net);
  if (ct === null) return NF_ACCEPT;
  const ctinfo = skb.nfctinfo;
  const hook = state.hook;
  if (isRelated(ctinfo)) {
    const b = skb.head;
    if (b[skb.networkHeader + 9] === IPPROTO_ICMP) {
      return nfNatIcmpReplyTranslation(skb, ct, ctinfo, hook) ? NF_ACCEPT : NF_DROP;
    }
  }
  if ((ctinfo === IP_CT.NEW || isRelated(ctinfo)) && !nfNatInitialized(ct, hook2manip(hook))) {
    nn.pending.set(skb, hook);
    return NF_ACCEPT;
  }
  return natMangle(nn, ct, skb, hook);
}

/**
 * The end of a hook's NAT: a new connection no rule bound gets a null binding
 * (`nf_nat_alloc_null_binding`) — which may still change its source port, to keep its reply
 * tuple unique — and the packet is mangled accordingly.
 * @see net/netfilter/nf_nat_core.c nf_nat_alloc_null_binding()
 */
function natNullBinding(nn: NatNet, skb: SkBuff, state: NfHookState): number {
  const ct = nfCtGet(skb, state.net);
  if (ct === null || skb.nfctinfo !== IP_CT.NEW) return NF_ACCEPT;
  const hook = state.hook;
  const mtype = hook2manip(hook);
  if (nfNatInitialized(ct, mtype)) return NF_ACCEPT;
  nn.pending.delete(skb);
  // "Force range to this IP; let proto decide mapping."
  const ip = mtype === NF_NAT_MANIP.SRC ? ct.reply.dst : ct.reply.src;
  const range: NatRange = { minAddr: ip, maxAddr: ip, minPort: 0, maxPort: 0 };
  if (!nfNatSetupInfo(ct, range, mtype, nn.ct)) return NF_DROP;
  return natMangle(nn, ct, skb, hook);
}

/** The manip type each kind of translation is. */
function natTypeManip(type: NatType): NfNatManipType {
  return type === "snat" || type === "masquerade" ? NF_NAT_MANIP.SRC : NF_NAT_MANIP.DST;
}

const LOOPBACK_ADDR = inetAton("127.0.0.1")!;

/**
 * The range a translation really uses: masquerade takes the output device's address towards
 * the next hop (`nf_nat_masquerade_ipv4`); redirect the input device's first address, or
 * 127.0.0.1 for locally sent packets (`nf_nat_redirect_ipv4`). Null when there is none.
 */
function effectiveRange(
  nn: NatNet,
  skb: SkBuff,
  state: NfHookState,
  type: NatType,
  range: NatRange | null,
): NatRange | null | "none" {
  const ports = { minPort: range?.minPort ?? 0, maxPort: range?.maxPort ?? 0 };
  if (type === "masquerade") {
    const out = state.out;
    if (out === null) return "none";
    const daddr = getU32(skb.head, skb.networkHeader + 16);
    const rt = skb.dst as Rtable | null;
    const addr = ipv4Net(nn.net).selectAddr(out, rt !== null ? rt.nexthop(daddr) : daddr);
    if (addr === 0) return "none";
    return { minAddr: addr, maxAddr: addr, ...ports };
  }
  if (type === "redirect") {
    let addr = LOOPBACK_ADDR;
    if (state.hook === NF_INET_PRE_ROUTING) {
      const ifa = ipv4Net(nn.net).ifaddrs.find((a) => a.dev === state.in);
      if (ifa === undefined) return "none";
      addr = ifa.local;
    }
    return { minAddr: addr, maxAddr: addr, ...ports };
  }
  return range;
}

const VALID_HOOKS: Readonly<Record<NatType, readonly number[]>> = {
  snat: [NF_INET_POST_ROUTING, NF_INET_LOCAL_IN],
  masquerade: [NF_INET_POST_ROUTING],
  dnat: [NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT],
  redirect: [NF_INET_PRE_ROUTING, NF_INET_LOCAL_OUT],
};

/**
 * {@link NatApi.setup}: what a `snat`/`dnat`/`masquerade`/`redirect` statement does for the
 * first packet of a connection. A packet that is not a new connection's, or whose connection
 * already has this kind of translation decided, is left alone (NF_ACCEPT).
 * @see net/netfilter/nft_nat.c nft_nat_eval(), net/netfilter/nft_masq.c
 * @throws TypeError when the statement is used at a hook it has no meaning in
 */
function natSetup(
  nn: NatNet,
  skb: SkBuff,
  state: NfHookState,
  type: NatType,
  range: NatRange | null,
): number {
  if (!VALID_HOOKS[type].includes(state.hook)) {
    throw new TypeError(`NAT: '${type}' is not valid in hook ${state.hook}`);
  }
  const ct = nfCtGet(skb, state.net);
  if (ct === null || skb.nfctinfo !== IP_CT.NEW) return NF_ACCEPT;
  const mtype = natTypeManip(type);
  if (nfNatInitialized(ct, mtype)) return NF_ACCEPT;
  const eff = effectiveRange(nn, skb, state, type, range);
  if (eff === "none") return NF_DROP;
  if (!nfNatSetupInfo(ct, eff, mtype, nn.ct)) return NF_DROP;
  if (type === "masquerade") ct.masqIndex = state.out?.ifindex ?? 0;
  // The NAT hook already passed this packet by: mangle it here.
  if (nn.pending.get(skb) === state.hook) {
    nn.pending.delete(skb);
    return natMangle(nn, ct, skb, state.hook);
  }
  return NF_ACCEPT;
}

/**
 * Registers NAT in the stack of `ctx` (after {@link registerConntrack}): the NAT hooks at
 * NF_IP_PRI_NAT_DST (PRE_ROUTING, LOCAL_OUT) and NF_IP_PRI_NAT_SRC (POST_ROUTING, LOCAL_IN),
 * the null-binding hooks at the end of those hook points, the masquerade cleanup on device
 * down, and {@link NAT_API}. `type nat` rules call `setup()` at any priority of those hooks.
 * @throws PluginError when conntrack is not registered in the stack
 */
export function registerNat(ctx: PluginContext): NatApi {
  const net = ctx.stack;
  const ct = nfCtNet(net);
  if (ct === undefined) {
    throw new PluginError(
      `Plugin '${ctx.pluginName}': NAT needs connection tracking; call registerConntrack(ctx) before registerNat(ctx)`,
    );
  }
  const nn = new NatNet(net, ct);
  const fn = (skb: SkBuff, state: NfHookState): number => natFn(nn, skb, state);
  const nullBinding = (skb: SkBuff, state: NfHookState): number => natNullBinding(nn, skb, state);
  const points: [number, number, number][] = [
    [NF_INET_PRE_ROUTING, NF_IP_PRI_NAT_DST, NF_IP_PRI_LAST],
    [NF_INET_LOCAL_OUT, NF_IP_PRI_NAT_DST, NF_IP_PRI_LAST],
    [NF_INET_POST_ROUTING, NF_IP_PRI_NAT_SRC, NF_IP_PRI_CONNTRACK_CONFIRM - 1],
    [NF_INET_LOCAL_IN, NF_IP_PRI_NAT_SRC, NF_IP_PRI_CONNTRACK_CONFIRM - 1],
  ];
  for (const [hooknum, priority, last] of points) {
    ctx.nfRegisterHook({ pf: NFPROTO_IPV4, hooknum, priority, hook: fn });
    ctx.nfRegisterHook({ pf: NFPROTO_IPV4, hooknum, priority: last, hook: nullBinding });
  }
  // masq_device_event / masq_inet_event: connections masqueraded out of a device that went
  // down or lost an address are forgotten; new ones pick the new address.
  const unregister = net.registerNotifier((event, dev) => {
    if (event !== "down" && event !== "unregister" && event !== "addr-del") return;
    const ifindex = dev.ifindex;
    ct.table.cleanup((c) => c.masqIndex === ifindex);
  });
  ctx.onClose(unregister);
  const api: NatApi = {
    setup: (skb, state, type, range) => natSetup(nn, skb, state, type, range),
  };
  ctx.provide(NAT_API, api);
  return api;
}
