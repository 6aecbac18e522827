/**
 * Shared test context: small topologies on a virtual clock, and ways to put hand-made packets on
 * the wire.
 */
import {
  consumeSkb,
  createNetwork,
  createStack,
  definePlugin,
  ETH_P_ALL,
  ETH_P_IP,
  inetAton,
  ipFastCsum,
  type Network,
  netifRx,
  PACKET_OUTGOING,
  type Plugin,
  type RouteSpec,
  type SkBuff,
  type Stack,
  type SysctlValue,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import { ipBuildAndSendPkt, ipRouteOutputKey, ipv4, ipv4Emit } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { veth } from "@skbuff/veth";
import { icmp, icmpFillChecksum } from "../src/index.js";

/** A clock whose callbacks' exceptions fail the test instead of becoming warnings. */
export function strictClock(autoAdvance = true): VirtualClock {
  return new VirtualClock({
    autoAdvance,
    onError: (e) => {
      throw e;
    },
  });
}

/** One stack with `lo` (127.0.0.1/8). */
export async function loopbackStack(
  clock = strictClock(),
  plugins: Plugin[] = [ipv4(), icmp()],
): Promise<Stack> {
  return createStack({ name: "lo-host", plugins, devices: [loopback()], clock });
}

type Sysctls = Readonly<Record<string, SysctlValue>>;

/** Two hosts on one point-to-point link: a 192.0.2.1/24 — b 192.0.2.2/24. */
export async function twoHosts(
  opts: {
    clock?: VirtualClock;
    a?: Sysctls;
    b?: Sysctls;
    extraA?: Plugin[];
    routesB?: RouteSpec[];
  } = {},
): Promise<Network> {
  return createNetwork({
    plugins: [veth(), ipv4(), icmp()],
    hosts: {
      a: {
        devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }],
        ...(opts.extraA ? { plugins: [veth(), ipv4(), icmp(), ...opts.extraA] } : {}),
        sysctl: opts.a ?? {},
      },
      b: {
        devices: [{ driver: "veth", name: "eth0", address: "192.0.2.2/24" }],
        sysctl: opts.b ?? {},
        routes: opts.routesB ?? [],
      },
    },
    links: [{ ends: ["a:eth0", "b:eth0"] }],
    clock: opts.clock ?? strictClock(),
  });
}

/**
 * a (192.0.2.1) — router (192.0.2.254 | 198.51.100.254) — b (198.51.100.1), default routes on
 * the ends, forwarding on the router. `mtuRight` is the MTU of the router—b link.
 */
export async function routed(
  opts: { clock?: VirtualClock; router?: Sysctls; mtuRight?: number } = {},
): Promise<Network> {
  const mtu = opts.mtuRight !== undefined ? { mtu: opts.mtuRight } : {};
  return createNetwork({
    plugins: [veth(), ipv4(), icmp()],
    hosts: {
      a: {
        devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }],
        routes: [{ to: "default", via: "192.0.2.254" }],
      },
      router: {
        devices: [
          { driver: "veth", name: "eth0", address: "192.0.2.254/24" },
          { driver: "veth", name: "eth1", address: "198.51.100.254/24", ...mtu },
        ],
        sysctl: { "net.ipv4.ip_forward": 1, ...opts.router },
      },
      b: {
        devices: [{ driver: "veth", name: "eth0", address: "198.51.100.1/24", ...mtu }],
        routes: [{ to: "default", via: "198.51.100.254" }],
      },
    },
    links: [{ ends: ["a:eth0", "router:eth0"] }, { ends: ["router:eth1", "b:eth0"] }],
    clock: opts.clock ?? strictClock(),
  });
}

/** Dotted quad to u32, for tests (throws on a typo). */
export function addr(text: string): number {
  const a = inetAton(text);
  if (a === null) throw new Error(`bad address ${text}`);
  return a;
}

/** An ICMP message: type, code, second word and data, with its checksum filled in. */
export function icmpMessage(
  type: number,
  code: number,
  rest: number,
  data: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const m = new Uint8Array(8 + data.length);
  m[0] = type;
  m[1] = code;
  new DataView(m.buffer).setUint32(4, rest >>> 0);
  m.set(data, 8);
  icmpFillChecksum(m, 0, m.length);
  return m;
}

/** Options of a hand-made IP packet. */
export interface RawIpOptions {
  readonly ttl?: number;
  /** Source address to write, even one that is not ours. */
  readonly saddr?: number;
}

/**
 * Sends `payload` as the body of an IP datagram of `protocol` from `stack` to `daddr`, through
 * the stack's own output path (so checksums and fragmentation are real).
 */
export function sendRaw(
  stack: Stack,
  daddr: number,
  protocol: number,
  payload: Uint8Array,
  opts: RawIpOptions = {},
): number {
  const skb = skbFromBytes(payload, 128);
  const r = ipRouteOutputKey(stack, { daddr });
  if (typeof r === "number") throw new Error(`no route to ${daddr}`);
  skb.dst = r.rt;
  return ipBuildAndSendPkt(
    skb,
    stack,
    opts.saddr ?? r.saddr,
    daddr,
    protocol,
    opts.ttl !== undefined ? { ttl: opts.ttl } : {},
  );
}

/** The bytes of an IPv4 datagram (header checksum filled in). */
export function ipPacket(
  saddr: number,
  daddr: number,
  protocol: number,
  payload: Uint8Array,
  opts: { ttl?: number; fragOff?: number; id?: number } = {},
): Uint8Array {
  const p = new Uint8Array(20 + payload.length);
  ipv4Emit(
    {
      tos: 0,
      totLen: p.length,
      id: opts.id ?? 1,
      fragOff: opts.fragOff ?? 0,
      ttl: opts.ttl ?? 64,
      protocol,
      saddr,
      daddr,
    },
    p,
    0,
    ipFastCsum,
  );
  p.set(payload, 20);
  return p;
}

/** Hands `bytes` to `stack`'s device `devName` as if it had just arrived (`netif_rx`). */
export function inject(stack: Stack, devName: string, bytes: Uint8Array): SkBuff {
  const dev = stack.getDevice(devName);
  if (!dev) throw new Error(`no device ${devName}`);
  const skb = skbFromBytes(bytes);
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  netifRx(skb);
  return skb;
}

/** Settles a promise into a value or the error it rejected with, for assertions. */
export function outcome<T>(p: Promise<T>): Promise<T | Error> {
  return p.then(
    (v) => v,
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
}

/** A packet seen by a {@link capture} tap. */
export interface Captured {
  readonly dir: "in" | "out";
  readonly bytes: Uint8Array;
}

/** Records every IP packet `stack` receives or sends (an ETH_P_ALL tap, like tcpdump). */
export function capture(stack: Stack): Captured[] {
  const got: Captured[] = [];
  stack.protocols.devAddPack({
    type: ETH_P_ALL,
    func(skb) {
      got.push({
        dir: skb.pktType === PACKET_OUTGOING ? "out" : "in",
        bytes: skb.head.slice(skb.data, skb.tail),
      });
      consumeSkb(skb);
      return 0;
    },
  });
  return got;
}

/** What an `errHandler` was given. */
export interface ErrSeen {
  readonly type: number;
  readonly code: number;
  readonly info: number;
  /** Source of the ICMP error (outer header). */
  readonly from: number;
  /** The quoted datagram, from its IP header on. */
  readonly quoted: Uint8Array;
}

/**
 * A transport for IP protocol 253 (RFC 3692 experimentation) that consumes what it receives and
 * records the ICMP errors handed to its `errHandler`.
 */
export function proto253(): { plugin: Plugin; errors: ErrSeen[]; received: number[] } {
  const errors: ErrSeen[] = [];
  const received: number[] = [];
  const plugin = definePlugin({
    name: "test:proto253",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.inetAddProtocol({
        protocol: 253,
        handler(skb) {
          received.push(skb.len);
          consumeSkb(skb);
          return 0;
        },
        errHandler(skb, type, code, info) {
          const b = skb.head;
          const nh = skb.networkHeader;
          const from =
            ((b[nh + 12]! << 24) | (b[nh + 13]! << 16) | (b[nh + 14]! << 8) | b[nh + 15]!) >>> 0;
          errors.push({ type, code, info, from, quoted: b.slice(skb.data, skb.tail) });
          return 0;
        },
      });
    },
  });
  return { plugin, errors, received };
}

/** Runs a network's or a stack's virtual clock until nothing is left to do. */
export async function settle(x: { readonly clock: unknown }): Promise<void> {
  const clock = x.clock;
  if (!(clock instanceof VirtualClock)) throw new Error("settle() needs a VirtualClock");
  await clock.runUntilIdle();
}
