/**
 * Small topologies for tests: two stacks on one veth link ({@link twoStacks}) or two stacks
 * with a router between them ({@link threeStacks}), netem on any link, one virtual clock for all.
 *
 * ```ts
 * const { a, b, close } = await twoStacks({ plugins: [ipv4(), icmp()], netem: { delay: "5ms" } });
 * expect((await a.ping("192.0.2.2")).rttMs).toBe(10);
 * await close();
 * ```
 * @packageDocumentation
 */
import {
  ConfigError,
  createNetwork,
  type LinkSpec,
  type Maybe,
  type Network,
  type Plugin,
  type Stack,
  type SysctlValue,
  VirtualClock,
} from "@skbuff/core";
import { NETEM_PLUGIN_NAME, type NetemOptions, netem, parseNetemOptions } from "@skbuff/netem";
import { veth } from "@skbuff/veth";

/** netem settings for a link: an options object, or tc's spelling (`"delay 5ms loss 1%"`). */
export type LinkNetem = NetemOptions | string;

/** What every topology takes. */
interface TopologyOptions {
  /**
   * The plugins of every host (`ipv4()`, `icmp()`, …). `veth()` is added when missing, and
   * `netem()` when a link asks for netem.
   */
  readonly plugins: readonly Maybe<Plugin>[];
  /**
   * The clock all hosts share. Default: a {@link VirtualClock} that jumps to the next timer by
   * itself (so `await a.ping(…)` resolves at once) and rethrows errors of timer callbacks.
   */
  readonly clock?: VirtualClock;
  /** Sysctls of every host. */
  readonly sysctl?: Readonly<Record<string, SysctlValue>>;
}

/** Options of {@link twoStacks}. */
export interface TwoStacksOptions extends TopologyOptions {
  /** netem on the link, both directions. */
  readonly netem?: LinkNetem;
  /** The hosts' addresses on the link, default `192.0.2.1/24` (a) and `192.0.2.2/24` (b). */
  readonly addresses?: { readonly a?: string; readonly b?: string };
}

/** Options of {@link threeStacks}. */
export interface ThreeStacksOptions extends TopologyOptions {
  /** netem on the a — router link (`left`) and on the router — b link (`right`). */
  readonly netem?: { readonly left?: LinkNetem; readonly right?: LinkNetem };
}

/** Stacks of a topology, with its network and clock. */
export interface Topology {
  readonly net: Network;
  readonly clock: VirtualClock;
  /** Closes every host. */
  close(): Promise<void>;
}

/** What {@link twoStacks} makes: a (eth0) — b (eth0). */
export interface TwoStacks extends Topology {
  readonly a: Stack;
  readonly b: Stack;
}

/** What {@link threeStacks} makes: a (eth0) — (eth0) router (eth1) — (eth0) b. */
export interface ThreeStacks extends Topology {
  readonly a: Stack;
  readonly router: Stack;
  readonly b: Stack;
}

function defaultClock(): VirtualClock {
  return new VirtualClock({
    onError: (error) => {
      throw error;
    },
  });
}

/** The plugins given, plus `veth()`, plus `netem()` when a link needs it, unless present. */
function withLinkPlugins(plugins: readonly Maybe<Plugin>[], needNetem: boolean): Maybe<Plugin>[] {
  const has = (name: string): boolean => plugins.some((p) => p && p.name === name);
  const out = [...plugins];
  if (!has("skbuff:veth")) out.push(veth());
  if (needNetem && !has(NETEM_PLUGIN_NAME)) out.push(netem());
  return out;
}

/**
 * A link spec, with netem settings checked now: a bad one fails before any stack is made, with
 * a ConfigError whose path starts at the option that holds it (`netem.left.delay`).
 */
function link(ends: readonly [string, string], n: LinkNetem | undefined, at: string): LinkSpec {
  if (n === undefined) return { ends };
  try {
    parseNetemOptions(n); // checked now, applied per end by createNetwork
    return { ends, netem: n as LinkSpec["netem"] };
  } catch (error) {
    if (error instanceof ConfigError) {
      const path = error.path === "" ? at : `${at}.${error.path}`;
      throw new ConfigError(path, error.value, error.expected);
    }
    throw error;
  }
}

function topology(net: Network, clock: VirtualClock): Topology {
  return { net, clock, close: () => net.close() };
}

/**
 * Two stacks, `a` (192.0.2.1/24) and `b` (192.0.2.2/24), joined by a veth link between their
 * `eth0`s, with netem on the link when asked.
 * @throws ConfigError / PluginError as {@link createNetwork} does
 */
export async function twoStacks(options: TwoStacksOptions): Promise<TwoStacks> {
  const a = options.addresses?.a ?? "192.0.2.1/24";
  const b = options.addresses?.b ?? "192.0.2.2/24";
  const sysctl = options.sysctl ?? {};
  const clock = options.clock ?? defaultClock();
  const net = await createNetwork({
    plugins: withLinkPlugins(options.plugins, options.netem !== undefined),
    hosts: {
      a: { devices: [{ driver: "veth", name: "eth0", address: a }], sysctl },
      b: { devices: [{ driver: "veth", name: "eth0", address: b }], sysctl },
    },
    links: [link(["a:eth0", "b:eth0"], options.netem, "netem")],
    clock,
  });
  return { ...topology(net, clock), a: net.hosts.a!, b: net.hosts.b! };
}

/**
 * Three stacks: `a` (192.0.2.1/24) — `router` (192.0.2.254/24 on eth0, 198.51.100.254/24 on
 * eth1, `net.ipv4.ip_forward = 1`) — `b` (198.51.100.1/24), the ends routing everything through
 * the router; netem on either link when asked.
 * @throws ConfigError / PluginError as {@link createNetwork} does
 */
export async function threeStacks(options: ThreeStacksOptions): Promise<ThreeStacks> {
  const left = options.netem?.left;
  const right = options.netem?.right;
  const sysctl = options.sysctl ?? {};
  const clock = options.clock ?? defaultClock();
  const net = await createNetwork({
    plugins: withLinkPlugins(options.plugins, left !== undefined || right !== undefined),
    hosts: {
      a: {
        devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }],
        routes: [{ to: "default", via: "192.0.2.254" }],
        sysctl,
      },
      router: {
        devices: [
          { driver: "veth", name: "eth0", address: "192.0.2.254/24" },
          { driver: "veth", name: "eth1", address: "198.51.100.254/24" },
        ],
        sysctl: { ...sysctl, "net.ipv4.ip_forward": 1 },
      },
      b: {
        devices: [{ driver: "veth", name: "eth0", address: "198.51.100.1/24" }],
        routes: [{ to: "default", via: "198.51.100.254" }],
        sysctl,
      },
    },
    links: [
      link(["a:eth0", "router:eth0"], left, "netem.left"),
      link(["router:eth1", "b:eth0"], right, "netem.right"),
    ],
    clock,
  });
  return {
    ...topology(net, clock),
    a: net.hosts.a!,
    router: net.hosts.router!,
    b: net.hosts.b!,
  };
}
