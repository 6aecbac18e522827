/**
 * `registerConntrack`: conntrack in a stack — sysctls, counters, hooks, the GC timer — and the
 * {@link ConntrackApi} the rule engine's `ct` expressions use; plus `conntrack -L`-style
 * listing for tests and tools.
 * @see net/netfilter/nf_conntrack_standalone.c, net/netfilter/nf_conntrack_proto.c
 * @packageDocumentation
 */
import { inetNtoa, type PluginContext, PluginError, type SkBuff, type Stack } from "@skbuff/core";
import { CONNTRACK_API, type ConntrackApi, CT_STATE, IP_CT } from "../nf_api.js";
import { nfCtGet, registerConntrackHooks } from "./core.js";
import {
  NetnsConntrack,
  NF_CONNTRACK_MAX_DEFAULT,
  NfConntrackMib,
  nfCtNet,
  registerConntrackSysctls,
} from "./netns.js";
import { IPS, type NfConn, TCP_CONNTRACK_NAMES } from "./nf_conn.js";
import { IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, type NfConntrackTuple } from "./tuple.js";

/** Options of {@link registerConntrack}. */
export interface ConntrackOptions {
  /** `nf_conntrack_max`, default {@link NF_CONNTRACK_MAX_DEFAULT}; 0 means no limit. */
  readonly max?: number;
}

/** The {@link ConntrackApi} of a stack, plus `notrack`. */
export interface ConntrackService extends ConntrackApi {
  /** The `notrack` statement: conntrack leaves the packet alone (`ct state untracked`). */
  setUntracked(skb: SkBuff): void;
}

/**
 * Registers connection tracking in the stack of `ctx` (call it from a plugin's `register`):
 * the `net.netfilter.nf_conntrack_*` sysctls, the `NfConntrack*` counters, the hooks, one GC
 * timer (deleted when the stack closes), and {@link CONNTRACK_API}. Returns the API.
 * @throws PluginError when conntrack is already registered in this stack
 */
export function registerConntrack(
  ctx: PluginContext,
  options: ConntrackOptions = {},
): ConntrackService {
  const net = ctx.stack;
  if (nfCtNet(net) !== undefined) {
    throw new PluginError(`Plugin '${ctx.pluginName}': conntrack is already registered`);
  }
  const sysctl = registerConntrackSysctls(ctx, options.max ?? NF_CONNTRACK_MAX_DEFAULT);
  const mib = ctx.registerMib(new NfConntrackMib());
  const ns = new NetnsConntrack(net, sysctl, mib);
  registerConntrackHooks((ops) => ctx.nfRegisterHook(ops), ns);
  ctx.onClose(() => ns.table.destroy());
  const api = conntrackService(net);
  ctx.provide(CONNTRACK_API, api);
  return api;
}

function conntrackService(net: Stack): ConntrackService {
  return {
    ctState(skb) {
      if (skb.nfctinfo === IP_CT.UNTRACKED && skb.nfct === null) return CT_STATE.UNTRACKED;
      if (nfCtGet(skb, net) === null) return CT_STATE.INVALID;
      switch (skb.nfctinfo) {
        case IP_CT.NEW:
          return CT_STATE.NEW;
        case IP_CT.RELATED:
        case IP_CT.RELATED_REPLY:
          return CT_STATE.RELATED;
        default:
          return CT_STATE.ESTABLISHED;
      }
    },
    ctOf(skb) {
      return nfCtGet(skb, net);
    },
    ctMark(skb) {
      return nfCtGet(skb, net)?.mark ?? 0;
    },
    setCtMark(skb, mark) {
      const ct = nfCtGet(skb, net);
      if (ct !== null) ct.mark = mark >>> 0;
    },
    setUntracked(skb) {
      skb.nfct = null;
      skb.nfctinfo = IP_CT.UNTRACKED;
    },
  };
}

/** The connections in a stack's table, oldest first (empty when conntrack is not loaded). */
export function conntrackEntries(net: Stack): NfConn[] {
  return nfCtNet(net)?.table.list() ?? [];
}

/** `nf_conntrack_count` of a stack. */
export function conntrackCount(net: Stack): number {
  return nfCtNet(net)?.table.count ?? 0;
}

/** Removes every connection of a stack (`conntrack -F`). Returns how many went. */
export function conntrackFlush(net: Stack): number {
  return nfCtNet(net)?.table.cleanup(() => true) ?? 0;
}

const PROTO_NAMES: Readonly<Record<number, string>> = {
  [IPPROTO_ICMP]: "icmp",
  [IPPROTO_TCP]: "tcp",
  [IPPROTO_UDP]: "udp",
};

function formatTuple(t: NfConntrackTuple): string {
  const addrs = `src=${inetNtoa(t.src)} dst=${inetNtoa(t.dst)}`;
  if (t.protonum === IPPROTO_ICMP) {
    return `${addrs} type=${t.dport >> 8} code=${t.dport & 0xff} id=${t.sport}`;
  }
  if (t.protonum === IPPROTO_TCP || t.protonum === IPPROTO_UDP) {
    return `${addrs} sport=${t.sport} dport=${t.dport}`;
  }
  return addrs;
}

/**
 * One connection as `conntrack -L` prints it:
 * `tcp      6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… … [ASSURED] mark=0 use=1`.
 * @see net/netfilter/nf_conntrack_standalone.c ct_seq_show()
 */
export function formatConntrack(ct: NfConn): string {
  const p = ct.protonum;
  const name = (PROTO_NAMES[p] ?? "unknown").padEnd(8);
  const left = Math.max(0, Math.floor((ct.timeout - ct.net.clock.now()) / 1000));
  const parts = [`${name} ${p} ${left}`];
  if (p === IPPROTO_TCP) parts.push(TCP_CONNTRACK_NAMES[ct.tcpState]);
  parts.push(formatTuple(ct.orig));
  if ((ct.status & IPS.SEEN_REPLY) === 0) parts.push("[UNREPLIED]");
  parts.push(formatTuple(ct.reply));
  if ((ct.status & IPS.ASSURED) !== 0) parts.push("[ASSURED]");
  parts.push(`mark=${ct.mark} use=1`);
  return parts.join(" ");
}
