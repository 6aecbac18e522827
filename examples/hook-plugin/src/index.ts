/**
 * A third-party-style netfilter hook plugin, written only against skbuff's public API: it drops
 * ICMP echo requests from chosen sources and counts them, on LOCAL_IN (protect this host) or
 * FORWARD (protect hosts behind a router).
 *
 * ```yaml
 * plugins:
 *   - "@skbuff/ipv4"
 *   - { use: "@skbuff-examples/hook-plugin", options: { sources: [192.0.2.99], hook: forward } }
 * ```
 * @packageDocumentation
 */
import {
  definePlugin,
  inetAton,
  NF_ACCEPT,
  NF_INET_FORWARD,
  NF_INET_LOCAL_IN,
  NF_IP_PRI_FILTER,
  NFPROTO_IPV4,
  nfDropReason,
  type Plugin,
  parseOptions,
  type SkBuff,
  SkbDropReason,
  z,
} from "@skbuff/core";
import { ipIhl, ipProtocol, ipSaddr } from "@skbuff/ipv4";

/** Options of {@link blockEcho}. */
export interface BlockEchoOptions {
  /** Source addresses whose echo requests are dropped. */
  readonly sources: readonly string[];
  /** Where to filter: `input` (LOCAL_IN, default) or `forward` (FORWARD). */
  readonly hook?: "input" | "forward";
  /** Hook priority; default NF_IP_PRI_FILTER (0). */
  readonly priority?: number;
}

/** The counters this plugin adds to `stack.counters()`. */
export class BlockEchoMib {
  /** Echo requests dropped. */
  BlockEchoDropped = 0;
  /** Packets the hook looked at. */
  BlockEchoSeen = 0;
}

const ipv4Address = z
  .string()
  .refine((s) => inetAton(s) !== null, "an IPv4 address like 192.0.2.99");
const schema = z.strictObject({
  sources: z.array(ipv4Address).min(1),
  hook: z.enum(["input", "forward"]).optional(),
  priority: z.number().int().optional(),
});

const IPPROTO_ICMP = 1;
const ICMP_ECHO = 8;

/** Drops ICMP echo requests from `sources`, counting them in `BlockEchoDropped`. */
export function blockEcho(options: BlockEchoOptions): Plugin {
  const opts = parseOptions(schema, options, "example:block-echo");
  const blocked = new Set(opts.sources.map((s) => inetAton(s)!));
  return definePlugin({
    name: "example:block-echo",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      const mib = ctx.registerMib(new BlockEchoMib());
      const hook = (skb: SkBuff): number => {
        mib.BlockEchoSeen++;
        const b = skb.head;
        const nh = skb.networkHeader;
        if (ipProtocol(b, nh) !== IPPROTO_ICMP || !blocked.has(ipSaddr(b, nh))) return NF_ACCEPT;
        const icmp = nh + ipIhl(b, nh) * 4;
        if (icmp >= skb.tail || b[icmp] !== ICMP_ECHO) return NF_ACCEPT;
        mib.BlockEchoDropped++;
        return nfDropReason(skb, SkbDropReason.NETFILTER_DROP);
      };
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: opts.hook === "forward" ? NF_INET_FORWARD : NF_INET_LOCAL_IN,
        priority: opts.priority ?? NF_IP_PRI_FILTER,
        hook,
      });
    },
  });
}

export default blockEcho;
