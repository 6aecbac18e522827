/**
 * What the conntrack and NAT tests share: a plugin that registers conntrack (and NAT, and
 * test-only NAT rules that call `setup()` the way the rule engine's `type nat` chains will),
 * and a harness stack that forwards between the test's two peers.
 */
import {
  definePlugin,
  ETH_P_IP,
  inetAton,
  NF_ACCEPT,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_CONNTRACK,
  NFPROTO_IPV4,
  type NfHookState,
  netifRx,
  type Plugin,
  type PluginContext,
  type SkBuff,
  type Stack,
  skbFromBytes,
} from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipLocalOut, ipRouteOutputKey, ipv4 } from "@skbuff/ipv4";
import { createHarness, type Harness } from "@skbuff/testing";
import {
  type ConntrackService,
  type NfConn,
  registerConntrack,
  TCP_CONNTRACK_NAMES,
} from "../src/conntrack/index.js";
import { registerNat } from "../src/nat/index.js";
import type { NatApi, NatRange, NatType } from "../src/nf_api.js";

/** A test-only NAT rule: at `hooknum`, packets that `match` are given to `setup()`. */
export interface TestNatRule {
  readonly hooknum: number;
  readonly priority: number;
  readonly type: NatType;
  readonly range: NatRange | null;
  readonly match: (skb: SkBuff, state: NfHookState) => boolean;
}

/** A NAT range of one address (dotted) and optionally one port or a port range. */
export function natRange(addr: string | null, minPort = 0, maxPort = minPort): NatRange {
  const a = addr === null ? 0 : inetAton(addr)!;
  return { minAddr: a, maxAddr: a, minPort, maxPort };
}

/**
 * Registers conntrack (and with `nat`, NAT plus the rules) in every stack it is given to, or
 * only in the stacks named in `only`.
 */
export function conntrackPlugin(
  options: {
    readonly max?: number;
    readonly nat?: boolean;
    readonly rules?: (stack: Stack) => readonly TestNatRule[];
    readonly onRegister?: (ctx: PluginContext, api: ConntrackService, nat: NatApi | null) => void;
  } = {},
): Plugin {
  return definePlugin({
    name: "test:conntrack",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      const api = registerConntrack(ctx, options.max !== undefined ? { max: options.max } : {});
      let nat: NatApi | null = null;
      if (options.nat) {
        const n = registerNat(ctx);
        nat = n;
        for (const rule of options.rules?.(ctx.stack) ?? []) {
          ctx.nfRegisterHook({
            pf: NFPROTO_IPV4,
            hooknum: rule.hooknum,
            priority: rule.priority,
            hook: (skb, state) =>
              rule.match(skb, state) ? n.setup(skb, state, rule.type, rule.range) : NF_ACCEPT,
          });
        }
      }
      options.onRegister?.(ctx, api, nat);
    },
  });
}

/** What a packet looked like to conntrack, seen right after its PRE_ROUTING hook. */
export interface Seen {
  /** `ct state` bit. */
  readonly state: number;
  /** The TCP conntrack state name after the packet, when it has a TCP connection. */
  readonly tcp: string | null;
}

/**
 * A harness stack (192.0.2.1 on tst0, forwarding) with conntrack: the test plays both ends of
 * flows it routes back out through tst0, and each packet's conntrack view is recorded.
 */
export async function forwardingHarness(
  options: { readonly max?: number; readonly sysctl?: Record<string, number> } = {},
): Promise<{ h: Harness; api: ConntrackService; seen: Seen[] }> {
  const seen: Seen[] = [];
  let api: ConntrackService | null = null;
  const plugin = conntrackPlugin({
    ...(options.max !== undefined ? { max: options.max } : {}),
    onRegister(ctx, a) {
      api = a;
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_PRE_ROUTING,
        priority: NF_IP_PRI_CONNTRACK + 1,
        hook: (skb) => {
          const ct = a.ctOf(skb) as NfConn | null;
          seen.push({
            state: a.ctState(skb),
            tcp: ct !== null && ct.protonum === 6 ? TCP_CONNTRACK_NAMES[ct.tcpState] : null,
          });
          return NF_ACCEPT;
        },
      });
    },
  });
  const h = await createHarness({
    plugins: [ipv4(), icmp(), plugin],
    sysctl: { "net.ipv4.ip_forward": 1, ...options.sysctl },
  });
  return { h, api: api!, seen };
}

/**
 * Sends an IPv4 datagram (bytes from the testing builders) from `stack` as if a raw socket
 * wrote it: routed to its destination, then `ip_local_out` (LOCAL_OUT, POST_ROUTING, out).
 */
export function sendRaw(stack: Stack, bytes: Uint8Array): void {
  const skb = skbFromBytes(bytes);
  skb.setNetworkHeader(0);
  skb.protocol = ETH_P_IP;
  const daddr = (bytes[16]! << 24) | (bytes[17]! << 16) | (bytes[18]! << 8) | bytes[19]!;
  const r = ipRouteOutputKey(stack, { daddr: daddr >>> 0 });
  if (typeof r === "number") throw new Error(`no route to ${daddr}`);
  skb.dst = r.rt;
  ipLocalOut(stack, null, skb);
}

/** Hands `stack` a datagram as if it arrived on device `devName`. */
export function receiveRaw(stack: Stack, devName: string, bytes: Uint8Array): void {
  const skb = skbFromBytes(bytes);
  skb.dev = stack.getDevice(devName)!;
  skb.protocol = ETH_P_IP;
  netifRx(skb);
}
