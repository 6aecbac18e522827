/**
 * The `icmp()` plugin: registers `icmp_rcv` for IP protocol 1, ICMP's counters and sysctls,
 * installs `icmp_send` into IPv4 (which until then sends no errors) and provides `stack.ping`.
 * @packageDocumentation
 */
import { definePlugin, IPPROTO_ICMP, type Plugin, parseOptions, TOKENS, z } from "@skbuff/core";
import { ipv4Net } from "@skbuff/ipv4";
import { icmpErr, icmpRcv, icmpSend } from "./icmp.js";
import { type IcmpSysctls, NetnsIcmp } from "./netns.js";
import { IcmpPingService } from "./ping_service.js";

/** The plugin's name. */
export const ICMP_PLUGIN = "skbuff:icmp";

/** Options of {@link icmp}: defaults for its sysctls, which a stack's `sysctl` still overrides. */
export interface IcmpOptions {
  /** `net.ipv4.icmp_echo_ignore_all` (default false). */
  readonly echoIgnoreAll?: boolean;
  /** `net.ipv4.icmp_echo_ignore_broadcasts` (default true). */
  readonly echoIgnoreBroadcasts?: boolean;
  /** `net.ipv4.icmp_ratelimit`, ms (default 1000; 0 turns the per-host limit off). */
  readonly ratelimitMs?: number;
  /** `net.ipv4.icmp_ratemask` (default 0x1818). */
  readonly ratemask?: number;
  /** `net.ipv4.icmp_msgs_per_sec` (default 1000). */
  readonly msgsPerSec?: number;
  /** `net.ipv4.icmp_msgs_burst` (default 50). */
  readonly msgsBurst?: number;
}

const nonNegInt = z.number().int().min(0);
const schema = z.strictObject({
  echoIgnoreAll: z.boolean().optional(),
  echoIgnoreBroadcasts: z.boolean().optional(),
  ratelimitMs: nonNegInt.optional(),
  ratemask: nonNegInt.optional(),
  msgsPerSec: nonNegInt.optional(),
  msgsBurst: nonNegInt.optional(),
});

/**
 * ICMP (net/ipv4/icmp.c, ping.c): echo replies, errors (unreachable, time exceeded, parameter
 * problem) with Linux's rate limits, ping sockets and `stack.ping()`. Needs `ipv4()`.
 * @example `createStack({ plugins: [ipv4(), icmp()], devices: [loopback()] })`
 * @throws ConfigError for an unknown or invalid option
 */
export function icmp(options: IcmpOptions = {}): Plugin {
  const opts = parseOptions(schema, options, ICMP_PLUGIN);
  return definePlugin({
    name: ICMP_PLUGIN,
    requires: ["skbuff:ipv4"],
    register(ctx) {
      const net = ctx.stack;
      const sysctl: IcmpSysctls = {
        echoIgnoreAll: ctx.registerSysctl({
          name: "net.ipv4.icmp_echo_ignore_all",
          type: "bool",
          default: opts.echoIgnoreAll ? 1 : 0,
          doc: "Ignore every ICMP echo request.",
        }),
        echoIgnoreBroadcasts: ctx.registerSysctl({
          name: "net.ipv4.icmp_echo_ignore_broadcasts",
          type: "bool",
          default: opts.echoIgnoreBroadcasts === false ? 0 : 1,
          doc: "Ignore ICMP echo and timestamp requests sent to broadcast or multicast addresses.",
        }),
        ratelimit: ctx.registerSysctl({
          name: "net.ipv4.icmp_ratelimit",
          type: "int",
          default: opts.ratelimitMs ?? 1000,
          min: 0,
          doc: "Minimum ms between ICMP messages of the ratemask types to one destination (0: no limit).",
        }),
        ratemask: ctx.registerSysctl({
          name: "net.ipv4.icmp_ratemask",
          type: "int",
          default: opts.ratemask ?? 0x1818,
          min: 0,
          doc: "ICMP types to rate limit: bit N for type N (dest unreach, source quench, time exceeded, parameter problem).",
        }),
        msgsPerSec: ctx.registerSysctl({
          name: "net.ipv4.icmp_msgs_per_sec",
          type: "int",
          default: opts.msgsPerSec ?? 1000,
          min: 0,
          doc: "Rate-limited ICMP messages the stack sends per second, to all destinations.",
        }),
        msgsBurst: ctx.registerSysctl({
          name: "net.ipv4.icmp_msgs_burst",
          type: "int",
          default: opts.msgsBurst ?? 50,
          min: 0,
          doc: "Burst size of icmp_msgs_per_sec.",
        }),
        ignoreBogusErrorResponses: ctx.registerSysctl({
          name: "net.ipv4.icmp_ignore_bogus_error_responses",
          type: "bool",
          default: 1,
          doc: "Do not check ICMP errors for quoting a broadcast (0: ignore such errors silently).",
        }),
        errorsUseInboundIfaddr: ctx.registerSysctl({
          name: "net.ipv4.icmp_errors_use_inbound_ifaddr",
          type: "bool",
          default: 0,
          doc: "Send ICMP errors from the address of the interface the offending packet came in on.",
        }),
      };
      const ns = new NetnsIcmp(net, sysctl);
      ctx.inetAddProtocol({ protocol: IPPROTO_ICMP, handler: icmpRcv, errHandler: icmpErr });
      // IPv4 sends no ICMP errors until ICMP is there (icmp_send is called through this hook).
      ipv4Net(net).icmpSend = icmpSend;
      const service = new IcmpPingService(net, ns);
      ctx.provide(TOKENS.ping, service);
      ctx.onClose(() => service.close());
    },
  });
}
