/**
 * Shared test context for the IPv4 tests: a stack made of `ipv4()` and a test plugin (a device
 * driver that records what it sends, and a sink transport on IP protocol 253), a packet
 * builder, `inject` to hand bytes to the receive path, and a recorder of the packet-lifetime
 * tracepoints for ownership checks.
 */
import diagnostics_channel from "node:diagnostics_channel";
import {
  type Clock,
  consumeSkb,
  createStack,
  type DeviceSpec,
  definePlugin,
  ETH_P_IP,
  IFF,
  inetAton,
  inetNtoa,
  NETDEV_TX_OK,
  type NetDevice,
  netifRx,
  PACKET_HOST,
  PACKET_LOOPBACK,
  type PktType,
  type Plugin,
  type RouteSpec,
  type SkBuff,
  type Stack,
  type SysctlValue,
  skbFromBytes,
  TRACEPOINTS,
  VirtualClock,
} from "@skbuff/core";
import {
  type FibEntry,
  IP_DF,
  IP_MF,
  IP_OFFSET,
  ipSendCheck,
  ipv4,
  RTN,
  setIpCheck,
  setIpDaddr,
  setIpFragOff,
  setIpId,
  setIpProtocol,
  setIpSaddr,
  setIpTos,
  setIpTotLen,
  setIpTtl,
} from "../src/index.js";

/** The IP protocol number of the sink transport ("use for experimentation and testing"). */
export const SINK_PROTO = 253;

/** Dotted quad to u32 (throws on a typo in a test). */
export function addr(text: string): number {
  const a = inetAton(text);
  if (a === null) throw new Error(`bad address ${text}`);
  return a;
}

/** One packet a test device transmitted. */
export interface SentPacket {
  readonly dev: string;
  /** The packet from its IP header on. */
  readonly bytes: Uint8Array;
}

/** One datagram the sink transport received. */
export interface DeliveredPacket {
  readonly dev: string;
  /** The IP header, options included. */
  readonly header: Uint8Array;
  /** What follows the IP header. */
  readonly payload: Uint8Array;
  readonly pktType: PktType;
  readonly skb: SkBuff;
}

/** Test devices take `loopback: true` in their spec to be IFF_LOOPBACK devices. */
export interface TestDeviceSpec extends DeviceSpec {
  readonly loopback?: boolean;
}

/**
 * The test plugin: a driver `test` whose devices record and consume what they send (a
 * `loopback: true` device turns packets around instead, like `loopback_xmit`), and a sink
 * transport on protocol 253 that records and consumes what it receives.
 */
export function testPlugin(sent: SentPacket[], delivered: DeliveredPacket[]): Plugin {
  return definePlugin({
    name: "test:ipv4",
    register(ctx) {
      ctx.registerDriver({
        name: "test",
        create(stack, spec) {
          const lo = (spec as TestDeviceSpec).loopback === true;
          return stack.registerNetdev({
            name: spec.name ?? "t0",
            kind: "test",
            mtu: (spec.mtu as number) ?? 1500,
            flags: lo ? IFF.LOOPBACK : 0,
            noQueue: true,
            ops: {
              ndoStartXmit(skb, dev) {
                sent.push({ dev: dev.name, bytes: skb.head.slice(skb.data, skb.tail) });
                if (lo) {
                  skb.dst = null;
                  skb.sk = null;
                  skb.pktType = PACKET_LOOPBACK;
                  skb.dev = dev;
                  netifRx(skb);
                  return NETDEV_TX_OK;
                }
                consumeSkb(skb);
                return NETDEV_TX_OK;
              },
            },
          });
        },
      });
      ctx.inetAddProtocol({
        protocol: SINK_PROTO,
        handler(skb) {
          delivered.push({
            dev: (skb.dev as NetDevice).name,
            header: skb.head.slice(skb.networkHeader, skb.transportHeader),
            payload: skb.head.slice(skb.data, skb.tail),
            pktType: skb.pktType,
            skb,
          });
          consumeSkb(skb);
          return 0;
        },
      });
    },
  });
}

/** An event of `skbuff:kfree_skb` or `skbuff:consume_skb`. */
export interface SkbEnd {
  readonly kind: "kfree" | "consume";
  readonly skb: SkBuff;
  readonly reason: string | null;
}

/**
 * Records the ends of packets (`skbuff:kfree_skb`, `skbuff:consume_skb`) and handler errors
 * (`skbuff:handler_error`) of one stack.
 */
export class SkbRecorder {
  readonly ends: SkbEnd[] = [];
  readonly handlerErrors: unknown[] = [];
  private readonly subs: [string, (msg: unknown) => void][];

  constructor(readonly stack: Stack) {
    const mine = (m: { stack?: Stack | null }) => m.stack === stack;
    this.subs = [
      [
        TRACEPOINTS.kfreeSkb,
        (msg) => {
          const m = msg as { skb: SkBuff; reason: string; stack: Stack | null };
          if (mine(m)) this.ends.push({ kind: "kfree", skb: m.skb, reason: m.reason });
        },
      ],
      [
        TRACEPOINTS.consumeSkb,
        (msg) => {
          const m = msg as { skb: SkBuff; stack: Stack | null };
          if (mine(m)) this.ends.push({ kind: "consume", skb: m.skb, reason: null });
        },
      ],
      [
        TRACEPOINTS.handlerError,
        (msg) => {
          const m = msg as { stack: Stack; error: unknown };
          if (mine(m)) this.handlerErrors.push(m.error);
        },
      ],
    ];
    for (const [name, fn] of this.subs) diagnostics_channel.subscribe(name, fn);
  }

  /** The drops (kfree_skb events). */
  get drops(): SkbEnd[] {
    return this.ends.filter((e) => e.kind === "kfree");
  }

  /** How `skb` ended, every time it did (an owned packet ends exactly once). */
  endsOf(skb: SkBuff): SkbEnd[] {
    return this.ends.filter((e) => e.skb === skb);
  }

  /** Forgets what was recorded so far. */
  clear(): void {
    this.ends.length = 0;
    this.handlerErrors.length = 0;
  }

  stop(): void {
    for (const [name, fn] of this.subs) diagnostics_channel.unsubscribe(name, fn);
  }
}

/** A stack under test, with what its devices sent and its sink received. */
export interface TestStack {
  readonly stack: Stack;
  readonly clock: VirtualClock;
  readonly sent: SentPacket[];
  readonly delivered: DeliveredPacket[];
  readonly rec: SkbRecorder;
  dev(name: string): NetDevice;
}

/** What {@link makeStack} builds. */
export interface MakeStackOptions {
  readonly devices?: readonly TestDeviceSpec[];
  readonly routes?: readonly RouteSpec[];
  readonly sysctl?: Readonly<Record<string, SysctlValue>>;
  readonly name?: string;
}

const live: TestStack[] = [];

/**
 * A stack of `ipv4()` and the test plugin on a virtual clock that moves only when told to.
 * Default: one device, eth0 with 192.0.2.1/24.
 */
export async function makeStack(opts: MakeStackOptions = {}): Promise<TestStack> {
  const sent: SentPacket[] = [];
  const delivered: DeliveredPacket[] = [];
  const clock = new VirtualClock({ autoAdvance: false });
  const stack = await createStack({
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    plugins: [ipv4(), testPlugin(sent, delivered)],
    devices: opts.devices ?? [{ driver: "test", name: "eth0", address: "192.0.2.1/24" }],
    ...(opts.routes !== undefined ? { routes: opts.routes } : {}),
    ...(opts.sysctl !== undefined ? { sysctl: opts.sysctl } : {}),
    clock: clock as Clock,
  });
  const t: TestStack = {
    stack,
    clock,
    sent,
    delivered,
    rec: new SkbRecorder(stack),
    dev(name) {
      const d = stack.getDevice(name);
      if (d === undefined) throw new Error(`no device ${name}`);
      return d;
    },
  };
  live.push(t);
  return t;
}

/** A router: eth0 192.0.2.254/24 and eth1 198.51.100.254/24, `net.ipv4.ip_forward = 1`. */
export function makeRouter(
  opts: { eth1Mtu?: number; forward?: boolean; routes?: readonly RouteSpec[] } = {},
): Promise<TestStack> {
  return makeStack({
    name: "router",
    devices: [
      { driver: "test", name: "eth0", address: "192.0.2.254/24" },
      {
        driver: "test",
        name: "eth1",
        address: "198.51.100.254/24",
        ...(opts.eth1Mtu !== undefined ? { mtu: opts.eth1Mtu } : {}),
      },
    ],
    sysctl: { "net.ipv4.ip_forward": opts.forward === false ? 0 : 1 },
    ...(opts.routes !== undefined ? { routes: opts.routes } : {}),
  });
}

/** Closes every stack {@link makeStack} made (for `afterEach`). */
export async function closeStacks(): Promise<void> {
  for (const t of live.splice(0)) {
    t.rec.stop();
    await t.stack.close();
  }
}

/** The fields of a packet {@link buildIpv4} makes; all optional. */
export interface Ipv4Spec {
  readonly src?: string | number;
  readonly dst?: string | number;
  /** Default 64. */
  readonly ttl?: number;
  /** Default {@link SINK_PROTO}. */
  readonly protocol?: number;
  /** Default 8 bytes 0..7. */
  readonly payload?: Uint8Array;
  /** Default 0x1234. */
  readonly id?: number;
  readonly df?: boolean;
  readonly mf?: boolean;
  /** Fragment offset in 8-byte units. */
  readonly fragOff?: number;
  readonly tos?: number;
  /** Written as is into the version/IHL byte's low nibble; default from the options. */
  readonly ihl?: number;
  /** Version nibble; default 4. */
  readonly version?: number;
  /** Options bytes (a multiple of 4 for a consistent IHL). */
  readonly options?: Uint8Array;
  /** Total length to write; default the real length. */
  readonly totLen?: number;
  /** Checksum to write instead of the correct one. */
  readonly check?: number;
}

function toAddr(a: string | number | undefined, dflt: string): number {
  if (a === undefined) return addr(dflt);
  return typeof a === "number" ? a >>> 0 : addr(a);
}

/**
 * The bytes of an IPv4 packet: a header (checksum correct unless `check` says otherwise) and
 * the payload. Defaults: 192.0.2.2 → 192.0.2.1, TTL 64, protocol 253.
 */
export function buildIpv4(s: Ipv4Spec = {}): Uint8Array {
  const options = s.options ?? new Uint8Array(0);
  const payload = s.payload ?? Uint8Array.of(0, 1, 2, 3, 4, 5, 6, 7);
  const hlen = 20 + options.length;
  const b = new Uint8Array(hlen + payload.length);
  b[0] = ((s.version ?? 4) << 4) | ((s.ihl ?? hlen >> 2) & 0x0f);
  setIpTos(b, 0, s.tos ?? 0);
  setIpTotLen(b, 0, s.totLen ?? b.length);
  setIpId(b, 0, s.id ?? 0x1234);
  setIpFragOff(b, 0, ((s.fragOff ?? 0) & IP_OFFSET) | (s.df ? IP_DF : 0) | (s.mf ? IP_MF : 0));
  setIpTtl(b, 0, s.ttl ?? 64);
  setIpProtocol(b, 0, s.protocol ?? SINK_PROTO);
  setIpSaddr(b, 0, toAddr(s.src, "192.0.2.2"));
  setIpDaddr(b, 0, toAddr(s.dst, "192.0.2.1"));
  b.set(options, 20);
  b.set(payload, hlen);
  const ihl = b[0]! & 0x0f;
  // Checksum over the header the IHL claims (as the receiver will), when the bytes are there.
  if (ihl >= 5 && ihl * 4 <= b.length) ipSendCheck(b, 0);
  if (s.check !== undefined) setIpCheck(b, 0, s.check);
  return b;
}

/**
 * Hands `bytes` to the stack as if device `devName` had just received them (`netif_rx`), and
 * returns the skb (owned by the stack now: only look at it).
 */
export function inject(
  stack: Stack,
  devName: string,
  bytes: Uint8Array,
  opts: { pktType?: PktType } = {},
): SkBuff {
  const dev = stack.getDevice(devName);
  if (dev === undefined) throw new Error(`no device ${devName}`);
  const skb = skbFromBytes(bytes);
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  skb.pktType = opts.pktType ?? PACKET_HOST;
  netifRx(skb);
  return skb;
}

/** Runs the softirqs (deferred work) without moving time. */
export function run(clock: VirtualClock): void {
  clock.advanceSync(0);
}

/** The counters of `stack` that changed between `before` and now (nstat's deltas). */
export function counterDelta(stack: Stack, before: Record<string, number>): Record<string, number> {
  const now = stack.counters();
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(now)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** Drop counts per reason that changed between `before` and now. */
export function dropDelta(stack: Stack, before: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(stack.dropReasons())) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

const RTN_NAMES: Record<number, string> = {
  [RTN.UNICAST]: "unicast",
  [RTN.LOCAL]: "local",
  [RTN.BROADCAST]: "broadcast",
  [RTN.BLACKHOLE]: "blackhole",
  [RTN.UNREACHABLE]: "unreachable",
  [RTN.PROHIBIT]: "prohibit",
};
const SCOPE_NAMES: Record<number, string> = { 0: "global", 253: "link", 254: "host" };

/** A FIB entry as `ip route show table …` prints it. */
export function showRoute(e: FibEntry): string {
  const type = e.type === RTN.UNICAST ? "" : `${RTN_NAMES[e.type]} `;
  const dst =
    e.prefixLen === 0
      ? "default"
      : `${inetNtoa(e.dst)}${e.prefixLen === 32 ? "" : `/${e.prefixLen}`}`;
  const parts = [`${type}${dst}`];
  if (e.gateway !== 0) parts.push(`via ${inetNtoa(e.gateway)}`);
  if (e.dev !== null) parts.push(`dev ${e.dev.name}`);
  parts.push(`proto ${e.proto}`);
  if (e.scope !== 0) parts.push(`scope ${SCOPE_NAMES[e.scope] ?? e.scope}`);
  if (e.prefsrc !== 0) parts.push(`src ${inetNtoa(e.prefsrc)}`);
  if (e.metric !== 0) parts.push(`metric ${e.metric}`);
  return parts.join(" ");
}
