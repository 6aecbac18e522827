/**
 * A stack under test, as gVisor's `testing/context` makes one: a stack built from the plugins
 * under test, a virtual clock that moves only when the test says so, and one test device,
 * `tst0`, through which the test plays the peer: {@link Harness.inject} hands the stack packets
 * as if they had arrived on the wire, {@link Harness.nextPacket} returns what the stack sent.
 *
 * ```ts
 * const h = await createHarness({ plugins: [ipv4(), icmp()] });
 * h.inject({ inner: icmpEcho({ id: 7, seq: 1 }) });            // 192.0.2.2 > 192.0.2.1
 * expectIpv4(h.nextPacket(), dstAddr("192.0.2.2"), icmp(type(0), echoId(7)));
 * await h.close();
 * ```
 * @packageDocumentation
 */
import {
  ARPHRD,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  CHECKSUM_UNNECESSARY,
  consumeSkb,
  createStack,
  definePlugin,
  ETH_P_IP,
  ETH_P_IPV6,
  IFF,
  inetAton,
  inetMakeMask,
  type Maybe,
  NETDEV_TX_OK,
  type NetDevice,
  type NetDeviceDriver,
  netifRx,
  type Plugin,
  parseCidr,
  type RouteSpec,
  type SkBuff,
  type Stack,
  type SysctlValue,
  skbChecksumHelp,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import { type Ipv4PacketOptions, ipv4Packet, type TransportBuilder } from "./builders.js";
import { PacketCheckError } from "./checkers.js";
import { summarizePacket } from "./parse.js";

/** The test device driver plugin's name. */
export const TEST_DEVICE_PLUGIN = "skbuff:test-device";
/** The test device driver's name (the `driver:` of its device spec). */
export const TEST_DEVICE_DRIVER = "tst";
/** The name of the harness's device. */
export const TEST_DEVICE_NAME = "tst0";

/** One packet the stack transmitted on the test device. */
export interface TransmittedPacket {
  /** Virtual time of the transmission, ms. */
  readonly t: number;
  /** The packet, from its IP header on, as it would be on the wire (a copy). */
  readonly bytes: Uint8Array;
}

/** Options of {@link createHarness}. */
export interface HarnessOptions {
  /** The plugins under test (`ipv4()`, `icmp()`, …); the test device's driver is added. */
  readonly plugins: readonly Maybe<Plugin>[];
  /** The stack's address on `tst0`, default `192.0.2.1/24`. */
  readonly address?: string;
  /** The address the test plays, default `192.0.2.2`: the source of injected packets. */
  readonly peer?: string;
  /** MTU of `tst0`, default 1500. */
  readonly mtu?: number;
  /** Linux sysctl names and values. */
  readonly sysctl?: Readonly<Record<string, SysctlValue>>;
  /**
   * Routes. Default (when the stack has `ipv4()`): a default route via the peer, so the stack
   * answers any source address through `tst0`. Given routes replace it.
   */
  readonly routes?: readonly RouteSpec[];
  /**
   * Checksum offload on `tst0` (default false). With it the device takes packets whose
   * transport checksum is left to it, fills the checksum in (recorded packets are as on the
   * wire), and marks injected packets `CHECKSUM_UNNECESSARY` (the stack skips verifying them).
   */
  readonly offload?: boolean;
  /** The stack's name. */
  readonly name?: string;
}

/**
 * A packet to inject: an {@link ipv4Packet} description whose `src` defaults to the peer and
 * `dst` to the stack's address, or just a transport builder (`icmpEcho(…)`) to send between them.
 */
export type PacketSpec =
  | (Omit<Ipv4PacketOptions, "src" | "dst"> & { readonly src?: string; readonly dst?: string })
  | TransportBuilder;

/** What the test device records into, per harness. */
interface TestDevicePriv {
  readonly clock: VirtualClock;
  readonly transmitted: TransmittedPacket[];
}

/**
 * The test device's xmit: records a copy of the packet with the virtual time and consumes it,
 * as a NIC puts it on the wire. A packet whose checksum was left to the device
 * (`CHECKSUM_PARTIAL`, only with offload) gets it filled in first, as the hardware would.
 */
function testDeviceXmit(skb: SkBuff, dev: NetDevice): typeof NETDEV_TX_OK {
  const priv = dev.priv as TestDevicePriv;
  if (skb.ipSummed === CHECKSUM_PARTIAL) skbChecksumHelp(skb);
  const bytes = skb.head.slice(skb.data, skb.tail);
  priv.transmitted.push({ t: priv.clock.now(), bytes });
  dev.stats.tx_packets++;
  dev.stats.tx_bytes += bytes.length;
  consumeSkb(skb, dev.net);
  return NETDEV_TX_OK;
}

/**
 * The test device driver, `skbuff:test-device`: one point-to-point device per harness (no
 * link-layer header, like veth), `noqueue`, that records what it transmits.
 */
function testDevicePlugin(priv: TestDevicePriv, offload: boolean): Plugin {
  const driver: NetDeviceDriver = {
    name: TEST_DEVICE_DRIVER,
    create(stack, spec) {
      return stack.registerNetdev({
        name: spec.name ?? TEST_DEVICE_NAME,
        kind: TEST_DEVICE_DRIVER,
        mtu: 1500,
        flags: IFF.POINTOPOINT | IFF.NOARP,
        type: ARPHRD.NONE,
        noQueue: true,
        features: { hwCsum: offload, rxCsum: offload, tso: false },
        ops: { ndoStartXmit: testDeviceXmit },
        priv,
      });
    },
  };
  return definePlugin({
    name: TEST_DEVICE_PLUGIN,
    register(ctx) {
      ctx.registerDriver(driver);
    },
  });
}

/** A stack under test with its test device; make one with {@link createHarness}. */
export class Harness {
  /** Every packet the stack transmitted on `tst0`, in order. */
  readonly transmitted: TransmittedPacket[];
  /** How many of {@link Harness.transmitted} {@link Harness.nextPacket} has returned. */
  #read = 0;

  /** @internal use {@link createHarness}. */
  constructor(
    /** The stack under test. */
    readonly stack: Stack,
    /** The stack's clock: virtual, and moving only when the test advances it. */
    readonly clock: VirtualClock,
    /** The test device, `tst0`. */
    readonly dev: NetDevice,
    /** The stack's address on `tst0` (no prefix length). */
    readonly address: string,
    /** The address the test plays. */
    readonly peer: string,
    transmitted: TransmittedPacket[],
    private readonly offload: boolean,
  ) {
    this.transmitted = transmitted;
  }

  /**
   * Hands the stack a packet as if it had just arrived on `tst0` (`netif_rx`), then runs the
   * receive softirq and whatever is due now (`clock.advanceSync(0)`); time does not move. A
   * {@link PacketSpec} is built with the peer as source and the stack's address as destination.
   */
  inject(packet: Uint8Array | PacketSpec): void {
    const bytes = packet instanceof Uint8Array ? packet : this.build(packet);
    const skb = skbFromBytes(bytes);
    skb.dev = this.dev;
    skb.protocol = bytes.length > 0 && bytes[0]! >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP;
    skb.ipSummed = this.offload ? CHECKSUM_UNNECESSARY : CHECKSUM_NONE;
    this.dev.stats.rx_packets++;
    this.dev.stats.rx_bytes += bytes.length;
    netifRx(skb);
    this.clock.advanceSync(0);
  }

  /** The bytes of a {@link PacketSpec}, between the peer and the stack by default. */
  build(spec: PacketSpec): Uint8Array {
    if ("build" in spec && typeof spec.build === "function") {
      return ipv4Packet({ src: this.peer, dst: this.address, inner: spec as TransportBuilder });
    }
    const d = spec as Exclude<PacketSpec, TransportBuilder>;
    return ipv4Packet({ ...d, src: d.src ?? this.peer, dst: d.dst ?? this.address });
  }

  /** Packets transmitted and not yet returned by {@link Harness.nextPacket}. */
  get pending(): number {
    return this.transmitted.length - this.#read;
  }

  /**
   * The next packet the stack transmitted: one already sent and not returned yet, or else the
   * first one sent as the virtual clock advances, timer by timer, up to `timeoutMs`. Time stops
   * at that packet's transmission.
   * @throws PacketCheckError `expected a packet within 1000 ms, the stack sent none` (time has
   *   then moved by `timeoutMs`)
   */
  nextPacket(timeoutMs = 1000): Uint8Array {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      if (this.pending > 0) return this.transmitted[this.#read++]!.bytes;
      const now = this.clock.now();
      if (now >= deadline) break;
      const next = this.clock.nextTimerAt();
      this.clock.advanceSync(
        next !== undefined && next < deadline ? Math.max(0, next - now) : deadline - now,
      );
    }
    throw new PacketCheckError(`expected a packet within ${timeoutMs} ms, the stack sent none`);
  }

  /**
   * Like {@link Harness.nextPacket}, yielding to the event loop between timers (the clock's
   * async `advance`), for stacks driven by application code that awaits.
   */
  async nextPacketAsync(timeoutMs = 1000): Promise<Uint8Array> {
    const deadline = this.clock.now() + timeoutMs;
    await this.clock.advance(0);
    for (;;) {
      if (this.pending > 0) return this.transmitted[this.#read++]!.bytes;
      const now = this.clock.now();
      if (now >= deadline) break;
      const next = this.clock.nextTimerAt();
      await this.clock.advance(
        next !== undefined && next < deadline ? Math.max(0, next - now) : deadline - now,
      );
    }
    throw new PacketCheckError(`expected a packet within ${timeoutMs} ms, the stack sent none`);
  }

  /**
   * Advances the clock by `ms` and checks that the stack transmitted nothing meanwhile (nor
   * before, unread).
   * @throws PacketCheckError naming the first packet sent, and when
   */
  expectNoPacket(ms: number): void {
    this.failOnUnread(`expected no packet for ${ms} ms`);
    this.clock.advanceSync(ms);
    this.failOnUnread(`expected no packet for ${ms} ms`);
  }

  /** Like {@link Harness.expectNoPacket}, yielding to the event loop between timers. */
  async expectNoPacketAsync(ms: number): Promise<void> {
    this.failOnUnread(`expected no packet for ${ms} ms`);
    await this.clock.advance(ms);
    this.failOnUnread(`expected no packet for ${ms} ms`);
  }

  private failOnUnread(what: string): void {
    if (this.pending === 0) return;
    const p = this.transmitted[this.#read]!;
    this.#read = this.transmitted.length;
    throw new PacketCheckError(
      `${what}, the stack sent one at ${p.t} ms\n  packet: ${summarizePacket(p.bytes)}`,
      [],
      p.bytes,
    );
  }

  /** Moves virtual time forward by `ms`, firing the timers due (synchronously). */
  advance(ms: number): void {
    this.clock.advanceSync(ms);
  }

  /** Moves virtual time forward by `ms`, yielding to the event loop between timers. */
  advanceAsync(ms: number): Promise<void> {
    return this.clock.advance(ms);
  }

  /**
   * Lets application code run: drains deferred work and the promises it resolves without moving
   * time (`clock.advance(0)`).
   */
  settle(): Promise<void> {
    return this.clock.advance(0);
  }

  /** The stack's MIB counters by nstat name. */
  counters(): Record<string, number> {
    return this.stack.counters();
  }

  /** The stack's drops so far, per drop reason (`{ IP_CSUM: 1 }`). */
  drops(): Record<string, number> {
    return this.stack.dropReasons();
  }

  /** Closes the stack. */
  close(): Promise<void> {
    return this.stack.close();
  }
}

/**
 * Builds a stack from `plugins` with a test device `tst0` (address `192.0.2.1/24`, MTU 1500)
 * and a virtual clock that moves only when the test advances it.
 * @throws ConfigError / PluginError as {@link createStack} does; TypeError for a bad address
 */
export async function createHarness(options: HarnessOptions): Promise<Harness> {
  const { address = "192.0.2.1/24", peer = "192.0.2.2", mtu = 1500, offload = false } = options;
  const cidr = parseCidr(address);
  if (cidr === null || !address.includes("/")) {
    throw new TypeError(
      `createHarness address: ${JSON.stringify(address)} is not like 192.0.2.1/24`,
    );
  }
  const peerAddr = inetAton(peer);
  if (peerAddr === null) {
    throw new TypeError(`createHarness peer: ${JSON.stringify(peer)} is not an IPv4 address`);
  }
  const clock = new VirtualClock({
    autoAdvance: false,
    onError: (error) => {
      throw error;
    },
  });
  const transmitted: TransmittedPacket[] = [];
  const plugins = [...options.plugins, testDevicePlugin({ clock, transmitted }, offload)];
  const hasIpv4 = plugins.some((p) => p && p.name === "skbuff:ipv4");
  const mask = inetMakeMask(cidr.prefixLen);
  const onLink = (peerAddr & mask) >>> 0 === (cidr.address & mask) >>> 0;
  const defaultRoute: RouteSpec = onLink
    ? { to: "default", via: peer }
    : { to: "default", dev: TEST_DEVICE_NAME };
  const routes = options.routes ?? (hasIpv4 ? [defaultRoute] : []);
  const stack = await createStack({
    ...(options.name !== undefined ? { name: options.name } : {}),
    plugins,
    devices: [{ driver: TEST_DEVICE_DRIVER, name: TEST_DEVICE_NAME, address, mtu }],
    routes,
    ...(options.sysctl !== undefined ? { sysctl: options.sysctl } : {}),
    clock,
  });
  const dev = stack.getDevice(TEST_DEVICE_NAME)!;
  return new Harness(stack, clock, dev, address.split("/")[0]!, peer, transmitted, offload);
}
