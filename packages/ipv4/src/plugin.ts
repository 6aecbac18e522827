/**
 * The `ipv4()` plugin: registers `ip_rcv` for ETH_P_IP, IPv4's sysctls and counters, keeps the
 * FIB in step with device addresses (like `fib_netdev_event`/`fib_inetaddr_event`), and installs
 * configured routes.
 * @packageDocumentation
 */
import {
  ConfigError,
  definePlugin,
  ETH_P_IP,
  IFF,
  inetAton,
  inetMakeMask,
  inetNtoa,
  type NetDevice,
  type Plugin,
  parseCidr,
  parseOptions,
  type RouteSpec,
  type Stack,
  TOKENS,
  z,
} from "@skbuff/core";
import { RT_SCOPE, RTN } from "./fib.js";
import { ipFragInit } from "./ip_fragment.js";
import { ipRcv } from "./ip_input.js";
import { type InIfaddr, type Ipv4Sysctls, NetnsIpv4 } from "./netns.js";

/** Options of {@link ipv4}. */
export interface Ipv4Options {
  /** Shorthand for the sysctl `net.ipv4.ip_forward`. */
  readonly forwarding?: boolean;
}

const schema = z.strictObject({ forwarding: z.boolean().optional() });

/** The plugin's name. */
export const IPV4_PLUGIN = "skbuff:ipv4";

/**
 * IPv4: `ip_rcv` and the input path, the FIB, forwarding, output, fragmentation and reassembly.
 * @example `createStack({ plugins: [ipv4(), icmp()], devices: [loopback()] })`
 */
export function ipv4(options: Ipv4Options = {}): Plugin {
  const opts = parseOptions(schema, options, IPV4_PLUGIN);
  return definePlugin({
    name: IPV4_PLUGIN,
    register(ctx) {
      const net = ctx.stack;
      const sysctl: Ipv4Sysctls = {
        ipForward: ctx.registerSysctl({
          name: "net.ipv4.ip_forward",
          type: "bool",
          default: opts.forwarding ? 1 : 0,
          doc: "Forward packets between interfaces (be a router).",
        }),
        ipDefaultTtl: ctx.registerSysctl({
          name: "net.ipv4.ip_default_ttl",
          type: "int",
          default: 64,
          min: 1,
          max: 255,
          doc: "TTL of locally generated packets.",
        }),
        ipNoPmtuDisc: ctx.registerSysctl({
          name: "net.ipv4.ip_no_pmtu_disc",
          type: "int",
          default: 0,
          min: 0,
          max: 3,
          doc: "Disable path MTU discovery (DF not set on outgoing packets).",
        }),
        ipfragHighThresh: ctx.registerSysctl({
          name: "net.ipv4.ipfrag_high_thresh",
          type: "int",
          default: 4 * 1024 * 1024,
          min: 0,
          doc: "Bytes of fragments held for reassembly before new fragments are dropped.",
        }),
        ipfragLowThresh: ctx.registerSysctl({
          name: "net.ipv4.ipfrag_low_thresh",
          type: "int",
          default: 3 * 1024 * 1024,
          min: 0,
          doc: "Reassembly memory the evictor brings usage back down to.",
        }),
        ipfragTime: ctx.registerSysctl({
          name: "net.ipv4.ipfrag_time",
          type: "int",
          default: 30,
          min: 1,
          doc: "Seconds a datagram may take to be reassembled.",
        }),
        ipfragMaxDist: ctx.registerSysctl({
          name: "net.ipv4.ipfrag_max_dist",
          type: "int",
          default: 64,
          min: 0,
          doc: "How far (in fragments from one source) a fragment may trail before its queue is reset.",
        }),
      };
      const ns = new NetnsIpv4(net, sysctl);
      ns.frags = ipFragInit(ns);
      ctx.devAddPack({ type: ETH_P_IP, func: ipRcv });
      net.registerNotifier((event, dev, detail) => {
        if (event === "register" && (dev.flags & IFF.LOOPBACK) !== 0 && ns.loopbackDev === null) {
          ns.loopbackDev = dev;
        } else if (event === "unregister" && ns.loopbackDev === dev) {
          ns.loopbackDev = null;
        }
        if (event === "addr-add")
          fibAddIfaddr(ns, dev, detail as { address: string; prefixLen: number });
        if (event === "unregister") fibDelDev(ns, dev);
      });
      ctx.provide(TOKENS.route, { addRoute: (r) => addRoute(net, ns, r) });
    },
  });
}

/**
 * `fib_add_ifaddr`: the routes an address brings, as `ip route show table local` and
 * `ip route show` list them: `local ADDR` (scope host) always; unless the address is a /32 or
 * on network 0, its prefix (`PREFIX/LEN dev DEV scope link` in main, or, on a loopback device,
 * `local PREFIX/LEN` so that the whole prefix is ours: 127.0.0.0/8) and, below /31, the
 * subnet's broadcast address (`broadcast PREFIX|~MASK`, scope link).
 * @see net/ipv4/fib_frontend.c fib_add_ifaddr()
 */
function fibAddIfaddr(
  ns: NetnsIpv4,
  dev: NetDevice,
  a: { address: string; prefixLen: number },
): void {
  const local = inetAton(a.address)!;
  const mask = inetMakeMask(a.prefixLen);
  const prefix = (local & mask) >>> 0;
  const broadcast = (prefix | ~mask) >>> 0;
  const ifa: InIfaddr = { dev, local, prefixLen: a.prefixLen, mask, broadcast };
  ns.ifaddrs.push(ifa);
  const base = { dev, gateway: 0, prefsrc: local, metric: 0, proto: "kernel" as const };
  ns.fib.add({
    ...base,
    table: "local",
    dst: local,
    prefixLen: 32,
    type: RTN.LOCAL,
    scope: RT_SCOPE.HOST,
  });
  if (prefix >>> 24 === 0 || (prefix === local && a.prefixLen === 32)) return;
  if ((dev.flags & IFF.LOOPBACK) !== 0) {
    ns.fib.add({
      ...base,
      table: "local",
      dst: prefix,
      prefixLen: a.prefixLen,
      type: RTN.LOCAL,
      scope: RT_SCOPE.HOST,
    });
  } else {
    ns.fib.add({
      ...base,
      table: "main",
      dst: prefix,
      prefixLen: a.prefixLen,
      type: RTN.UNICAST,
      scope: RT_SCOPE.LINK,
    });
  }
  // "Add the network broadcast address, when it makes sense" (RFC 3021: not on a /31).
  if (a.prefixLen < 31) {
    ns.fib.add({
      ...base,
      table: "local",
      dst: broadcast,
      prefixLen: 32,
      type: RTN.BROADCAST,
      scope: RT_SCOPE.LINK,
    });
  }
}

function fibDelDev(ns: NetnsIpv4, dev: NetDevice): void {
  ns.fib.remove((e) => e.dev === dev);
  for (let i = ns.ifaddrs.length - 1; i >= 0; i--)
    if (ns.ifaddrs[i]!.dev === dev) ns.ifaddrs.splice(i, 1);
}

/**
 * `ip route add`: `to` is `default` or a prefix (no host bits set); `via` must be reachable
 * through a connected route and not be one of our own addresses; `dev` picks the device. A
 * route with the same prefix and metric as one in the table is refused (`EEXIST`).
 * @throws ConfigError naming the key at fault.
 */
export function addRoute(net: Stack, ns: NetnsIpv4, r: RouteSpec): void {
  if (r === null || typeof r !== "object")
    throw new ConfigError("", r, "a route like { to: default, via: 192.0.2.1 }");
  for (const k of Object.keys(r)) {
    if (!["to", "via", "dev", "metric"].includes(k))
      throw new ConfigError(
        k,
        (r as unknown as Record<string, unknown>)[k],
        "no such route key (to, via, dev, metric)",
      );
  }
  const to =
    r.to === "default"
      ? { address: 0, prefixLen: 0 }
      : typeof r.to === "string"
        ? parseCidr(r.to)
        : null;
  if (to === null) throw new ConfigError("to", r.to, "default or a prefix like 198.51.100.0/24");
  const mask = inetMakeMask(to.prefixLen);
  // iproute2: "Error: Invalid prefix for given prefix length."
  if ((to.address & ~mask) >>> 0 !== 0) {
    throw new ConfigError(
      "to",
      r.to,
      `a prefix without host bits (${inetNtoa((to.address & mask) >>> 0)}/${to.prefixLen})`,
    );
  }
  const metric = r.metric ?? 0;
  if (!Number.isInteger(metric) || metric < 0)
    throw new ConfigError("metric", r.metric, "an integer >= 0");
  let dev: NetDevice | null = null;
  if (r.dev !== undefined) {
    dev = net.getDevice(r.dev) ?? null;
    if (dev === null)
      throw new ConfigError(
        "dev",
        r.dev,
        `a device of this stack (${net.devices.map((d) => d.name).join(", ")})`,
      );
  }
  let gateway = 0;
  if (r.via !== undefined) {
    const gw = typeof r.via === "string" ? inetAton(r.via) : null;
    if (gw === null) throw new ConfigError("via", r.via, "an IPv4 address");
    // The gateway must be on a connected network (fib_check_nh: "Nexthop has invalid gateway").
    const nh = ns.isLocal(gw) ? null : ns.fib.main.lookup(gw, dev?.ifindex ?? 0);
    const onLink = nh !== null && nh.gateway === 0 && nh.dev !== null ? nh.dev : null;
    if (onLink === null)
      throw new ConfigError("via", r.via, "a gateway on a directly connected network");
    dev ??= onLink;
    gateway = gw;
  }
  if (dev === null) throw new ConfigError("dev", r.dev, "a device (or a gateway to find one by)");
  const dst = to.address;
  if (ns.fib.main.exact(dst, to.prefixLen).some((e) => e.metric === metric))
    throw new ConfigError(
      "to",
      r.to,
      "a route not in the table yet (one with this prefix and metric exists: EEXIST)",
    );
  ns.fib.add({
    table: "main",
    dst,
    prefixLen: to.prefixLen,
    type: RTN.UNICAST,
    scope: gateway ? RT_SCOPE.UNIVERSE : RT_SCOPE.LINK,
    dev,
    gateway,
    prefsrc: 0,
    metric,
    proto: "boot",
  });
}
