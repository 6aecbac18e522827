/**
 * A third-party-style netfilter hook plugin, written only against skbuff's public API
 * (`@skbuff/core` and `@skbuff/ipv4`): a per-source-address token-bucket rate limiter, like
 * nftables' `ip saddr … limit rate over 100/second burst 20 packets drop` with a meter keyed by
 * source address. Each source gets a bucket of `burst` tokens that refills at `rate` on the
 * stack's clock; a packet takes a token or, when none is left, is dropped (`NETFILTER_DROP`).
 *
 * ```yaml
 * plugins:
 *   - "@skbuff/ipv4"
 *   - use: "@skbuff-examples/rate-limit-plugin"
 *     options: { rate: 100/second, burst: 20, hook: input, match: { protocol: icmp } }
 * ```
 *
 * Counters: `RateLimitPassed` and `RateLimitDropped` in `stack.counters()`, per source in
 * {@link RateLimiter.topTalkers} (`rateLimiterOf(stack).topTalkers()`).
 * @packageDocumentation
 */
import {
  definePlugin,
  inetNtoa,
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
  type Stack,
  token,
  z,
} from "@skbuff/core";
import { ipProtocol, ipSaddr } from "@skbuff/ipv4";

/** The plugin's name. */
export const RATE_LIMIT_PLUGIN = "example:rate-limit";

/** Options of {@link rateLimit}. */
export interface RateLimitOptions {
  /** Packets per unit each source may send on average: `"100/second"`, `"600/minute"`, … */
  readonly rate: string;
  /** How many packets a source may send back to back (the bucket's size); default 5. */
  readonly burst?: number;
  /** Where to limit: `input` (LOCAL_IN, default: protect this host) or `forward` (FORWARD). */
  readonly hook?: "input" | "forward";
  /** Which packets count; absent: every IPv4 packet. */
  readonly match?: { readonly protocol?: "icmp" | "tcp" | "udp" };
  /** Hook priority; default NF_IP_PRI_FILTER (0). */
  readonly priority?: number;
  /** Sources tracked at once; the longest-tracked is forgotten to make room. Default 65536. */
  readonly maxSources?: number;
}

/** The counters this plugin adds to `stack.counters()`. */
export class RateLimitMib {
  /** Packets that matched and got a token. */
  RateLimitPassed = 0;
  /** Packets that matched and found their source's bucket empty: dropped. */
  RateLimitDropped = 0;
  /** Sources forgotten to make room for new ones (`maxSources`). */
  RateLimitSourcesEvicted = 0;
}

/** One source's counts, as {@link RateLimiter.topTalkers} returns them. */
export interface Talker {
  /** The source address, dotted quad. */
  readonly source: string;
  readonly passed: number;
  readonly dropped: number;
}

/** A stack's rate limiter, for reading its per-source counts. */
export interface RateLimiter {
  /** The `n` sources that sent the most matching packets (passed + dropped), most first. */
  topTalkers(n?: number): Talker[];
  /** Sources tracked now. */
  readonly sources: number;
}

/** The DI token under which a stack's rate limiter is provided. */
export const RATE_LIMITER = token<RateLimiter>("example:rate-limit");

/** The rate limiter of a stack built with {@link rateLimit}. */
export function rateLimiterOf(stack: Stack): RateLimiter {
  if (!stack.container.isRegistered(RATE_LIMITER, true)) {
    throw new Error(`Stack '${stack.name}' has no ${RATE_LIMIT_PLUGIN} plugin`);
  }
  return stack.container.resolve(RATE_LIMITER);
}

const UNIT_MS = { second: 1_000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
const IPPROTO = { icmp: 1, tcp: 6, udp: 17 } as const;

const schema = z.strictObject({
  rate: z
    .string()
    .regex(
      /^[1-9]\d*\/(second|minute|hour|day)$/,
      "a rate like 100/second (second|minute|hour|day)",
    ),
  burst: z.number().int().min(1).optional(),
  hook: z.enum(["input", "forward"]).optional(),
  match: z.strictObject({ protocol: z.enum(["icmp", "tcp", "udp"]).optional() }).optional(),
  priority: z.number().int().optional(),
  maxSources: z.number().int().min(1).optional(),
});

/** One source's token bucket and counts. */
interface Bucket {
  /** Tokens left, at `stamp`. */
  tokens: number;
  /** When `tokens` was last brought up to date, ms of the stack's clock. */
  stamp: number;
  passed: number;
  dropped: number;
}

/**
 * Limits each source address to `rate` packets on average, `burst` back to back; the excess is
 * dropped with `NETFILTER_DROP` and counted in `RateLimitDropped`.
 * @throws ConfigError naming the bad option (`rate: got "fast", expected a rate like …`)
 */
export function rateLimit(options: RateLimitOptions): Plugin {
  const opts = parseOptions(schema, options, RATE_LIMIT_PLUGIN);
  const [count, unit] = opts.rate.split("/") as [string, keyof typeof UNIT_MS];
  /** Tokens a source earns per ms. */
  const perMs = Number(count) / UNIT_MS[unit];
  const burst = opts.burst ?? 5;
  const maxSources = opts.maxSources ?? 65_536;
  const protocol = opts.match?.protocol === undefined ? -1 : IPPROTO[opts.match.protocol];

  return definePlugin({
    name: RATE_LIMIT_PLUGIN,
    requires: ["skbuff:ipv4"],
    register(ctx) {
      const mib = ctx.registerMib(new RateLimitMib());
      const clock = ctx.clock;
      /** Buckets by source address (u32). Insertion order: the oldest-tracked source first. */
      const buckets = new Map<number, Bucket>();

      const hook = (skb: SkBuff): number => {
        const b = skb.head;
        const nh = skb.networkHeader;
        if (protocol !== -1 && ipProtocol(b, nh) !== protocol) return NF_ACCEPT;
        const saddr = ipSaddr(b, nh);
        const now = clock.now();
        let bucket = buckets.get(saddr);
        if (bucket === undefined) {
          if (buckets.size >= maxSources) {
            buckets.delete(buckets.keys().next().value!);
            mib.RateLimitSourcesEvicted++;
          }
          bucket = { tokens: burst, stamp: now, passed: 0, dropped: 0 };
          buckets.set(saddr, bucket);
        } else {
          // Refill for the time since the last packet, up to the bucket's size.
          bucket.tokens = Math.min(burst, bucket.tokens + (now - bucket.stamp) * perMs);
          bucket.stamp = now;
        }
        if (bucket.tokens >= 1) {
          bucket.tokens -= 1;
          bucket.passed++;
          mib.RateLimitPassed++;
          return NF_ACCEPT;
        }
        bucket.dropped++;
        mib.RateLimitDropped++;
        return nfDropReason(skb, SkbDropReason.NETFILTER_DROP);
      };

      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: opts.hook === "forward" ? NF_INET_FORWARD : NF_INET_LOCAL_IN,
        priority: opts.priority ?? NF_IP_PRI_FILTER,
        hook,
      });

      ctx.provide(RATE_LIMITER, {
        get sources() {
          return buckets.size;
        },
        topTalkers(n = 10) {
          return [...buckets]
            .sort(([, x], [, y]) => y.passed + y.dropped - (x.passed + x.dropped))
            .slice(0, n)
            .map(([saddr, { passed, dropped }]) => ({ source: inetNtoa(saddr), passed, dropped }));
        },
      });
    },
  });
}

export default rateLimit;
