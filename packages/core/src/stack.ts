/**
 * `Stack`: one network namespace (`struct net`). It owns a child DI container, devices,
 * protocol registries, netfilter hooks, sysctls, MIB counters, the receive softirq and a clock.
 * Stacks share nothing but code; many can live in one process.
 * @see include/net/net_namespace.h
 * @packageDocumentation
 */
import "reflect-metadata";
import { type DependencyContainer, container as rootContainer } from "tsyringe";
import { type Clock, isClock, RealClock, type Timer, VirtualClock } from "./clock.js";
import { Softnet } from "./dev.js";
import { DEV_NAME_EXPECTED, devValidName, type NetDeviceDriver } from "./driver.js";
import { kfreeSkb } from "./drop.js";
import { SkbDropReason } from "./drop_reason.js";
import { ConfigError, PluginError, SkbuffError, SysctlError } from "./errors.js";
import { parseCidr } from "./inet_addr.js";
import { MibRegistry, SoftnetMib } from "./mib.js";
import { IFF, NetDevice, type NetDeviceInit } from "./netdevice.js";
import { NfHooks } from "./netfilter.js";
import type { DeviceSpec, Maybe, StackOptions } from "./options.js";
import { isPlugin, orderPlugins, type Plugin } from "./plugin.js";
import { PluginContext } from "./plugin_context.js";
import { ProtocolRegistry } from "./protocol.js";
import { PfifoQdisc, type Qdisc, type QdiscOps, type QdiscOptions } from "./qdisc.js";
import type { NetProtoFamily } from "./sock.js";
import { Sysctl, type SysctlEntry } from "./sysctl.js";
import { type PingOptions, type PingReply, TOKENS, type Token } from "./tokens.js";

/** Events on the netdevice notifier chain (`NETDEV_*`) and the address chain. */
export type NetdevEvent =
  | "register"
  | "up"
  | "down"
  | "unregister"
  | "addr-add"
  | "addr-del"
  | "change";

/** A listener on the notifier chain (`register_netdevice_notifier`). */
export type NetdevNotifier = (event: NetdevEvent, dev: NetDevice, detail?: unknown) => void;

/** The core's own sysctls (net.core.*), kept as live entries. */
export interface CoreSysctls {
  readonly netdevMaxBacklog: SysctlEntry<number>;
  readonly netdevBudget: SysctlEntry<number>;
  readonly devWeight: SysctlEntry<number>;
  /** `net.core.dev_weight_tx_bias`: a qdisc run sends `devWeight × devWeightTx` packets. */
  readonly devWeightTx: SysctlEntry<number>;
}

/**
 * The type of `stack.net`. Empty in core, which knows no protocol: @skbuff/tcp fills it in by
 * declaration merging with its Node-style `net` API, so importing it types `stack.net`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: completed by @skbuff/tcp through declaration merging
export interface StackNet {}

let stackSeq = 0;
let pernetIds = 0;

/**
 * `register_pernet_subsys` + `net_generic`: reserves a slot in every stack for one protocol's
 * per-namespace state, read on the hot path as `net.gen[id]` (no map lookup).
 */
export function registerPernetId(): number {
  return pernetIds++;
}

/** `net_generic(net, id)`: the per-namespace state a protocol stored in its slot. */
export function netGeneric<T>(net: Stack, id: number): T {
  return net.gen[id] as T;
}

/** One network namespace. Make one with {@link createStack} or {@link loadStack}. */
export class Stack {
  /** Name used in logs, traces and errors. */
  readonly name: string;
  /** This stack's child container of the root tsyringe container. */
  readonly container: DependencyContainer;
  readonly clock: Clock;
  readonly sysctl = new Sysctl();
  /** MIB counter groups. */
  readonly mib = new MibRegistry();
  /** The core's own counters (backlog, netfilter). */
  readonly softnetMib: SoftnetMib;
  /** Drops per {@link SkbDropReason}, counted by {@link kfreeSkb}. */
  readonly drops: Record<string, number> = Object.create(null);
  /** Netfilter hooks and queue handlers. */
  readonly nf: NfHooks;
  /** ptype_base / ptype_all / inet_protos. */
  readonly protocols = new ProtocolRegistry();
  /** The receive/transmit softirq state. */
  readonly softnet: Softnet;
  readonly core: CoreSysctls;
  /** True once {@link Stack.close} started: no new packets enter. */
  closed = false;
  /** Per-protocol state slots, see {@link registerPernetId}. */
  readonly gen: unknown[] = [];

  private readonly devs = new Map<string, NetDevice>();
  private readonly devsByIndex: (NetDevice | undefined)[] = [];
  private nextIfindex = 1;
  private readonly drivers = new Map<string, NetDeviceDriver>();
  private readonly qdiscs = new Map<string, QdiscOps>();
  private readonly families = new Map<number, NetProtoFamily>();
  private readonly notifiers: NetdevNotifier[] = [];
  private readonly closers: (() => void | Promise<void>)[] = [];
  private readonly timers = new Set<Timer>();
  /** How many of {@link Stack.plugins} have registered: the ones whose `stop` runs on close. */
  private registeredPlugins = 0;
  private closing: Promise<void> | null = null;
  /** Plugins in registration order. */
  readonly plugins: readonly Plugin[] = [];

  /** @internal use {@link createStack}. */
  constructor(name: string, clock: Clock) {
    this.name = name;
    this.clock = clock;
    this.container = rootContainer.createChildContainer();
    this.container.register(TOKENS.stack, { useValue: this });
    this.container.register(TOKENS.clock, { useValue: clock });
    this.softnetMib = this.mib.register(new SoftnetMib());
    this.nf = new NfHooks(this);
    this.softnet = new Softnet(this);
    this.core = {
      netdevMaxBacklog: this.sysctl.register({
        name: "net.core.netdev_max_backlog",
        type: "int",
        default: 1000,
        min: 1,
        doc: "Packets the receive backlog holds before dropping (CPU_BACKLOG).",
      }),
      netdevBudget: this.sysctl.register({
        name: "net.core.netdev_budget",
        type: "int",
        default: 300,
        min: 1,
        doc: "Packets one receive softirq run processes before yielding.",
      }),
      devWeight: this.sysctl.register({
        name: "net.core.dev_weight",
        type: "int",
        default: 64,
        min: 1,
        doc: "Packets one NAPI poll of the backlog processes.",
      }),
      devWeightTx: this.sysctl.register({
        name: "net.core.dev_weight_tx_bias",
        type: "int",
        default: 1,
        min: 1,
        doc: "Scales dev_weight into the packets one qdisc run hands to a driver before yielding (dev_tx_weight = dev_weight * dev_weight_tx_bias).",
      }),
    };
  }

  // --- devices ------------------------------------------------------------------------------

  /** Registers a device driver by name. */
  registerDriver(driver: NetDeviceDriver): void {
    if (this.drivers.has(driver.name)) {
      throw new PluginError(`Device driver '${driver.name}' is registered twice`);
    }
    this.drivers.set(driver.name, driver);
  }

  /** A registered driver, or undefined. */
  driver(name: string): NetDeviceDriver | undefined {
    return this.drivers.get(name);
  }

  /** Registers a qdisc kind. */
  registerQdisc(ops: QdiscOps): void {
    if (this.qdiscs.has(ops.kind)) throw new PluginError(`Qdisc '${ops.kind}' is registered twice`);
    this.qdiscs.set(ops.kind, ops);
  }

  /** Whether a qdisc kind is registered. */
  hasQdisc(kind: string): boolean {
    return kind === "pfifo" || this.qdiscs.has(kind);
  }

  /**
   * `register_netdevice`: creates a device with the next ifindex. Drivers call this from their
   * `create`. The device starts down.
   */
  registerNetdev(init: NetDeviceInit): NetDevice {
    if (this.devs.has(init.name)) {
      throw new SkbuffError(
        "EEXIST",
        `Device '${init.name}' already exists in stack '${this.name}'`,
      );
    }
    const dev = new NetDevice(this, this.nextIfindex++, init);
    this.devs.set(dev.name, dev);
    this.devsByIndex[dev.ifindex] = dev;
    this.notify("register", dev);
    return dev;
  }

  /** `unregister_netdevice`: the device goes down and its qdisc is destroyed. */
  unregisterNetdev(dev: NetDevice): void {
    if (this.devs.get(dev.name) !== dev) return;
    this.devClose(dev);
    if (dev.qdisc) {
      dev.qdisc.destroy();
      dev.qdisc = null;
    }
    this.notify("unregister", dev);
    dev.ops.ndoUninit?.(dev);
    this.devs.delete(dev.name);
    this.devsByIndex[dev.ifindex] = undefined;
  }

  /** A device by name (`__dev_get_by_name`). */
  getDevice(name: string): NetDevice | undefined {
    return this.devs.get(name);
  }

  /** A device by ifindex (`__dev_get_by_index`). */
  getDeviceByIndex(ifindex: number): NetDevice | undefined {
    return this.devsByIndex[ifindex];
  }

  /** Every device, in ifindex order. */
  get devices(): NetDevice[] {
    return [...this.devs.values()].sort((a, b) => a.ifindex - b.ifindex);
  }

  /** `dev_open` (`ip link set DEV up`): attaches the default qdisc and tells the protocols. */
  devOpen(dev: NetDevice): void {
    if (dev.isUp) return;
    dev.ops.ndoOpen?.(dev);
    dev.flags |= IFF.UP | IFF.RUNNING;
    // attach_default_qdiscs: pfifo for devices with a tx queue, none for IFF_NO_QUEUE ones.
    if (dev.qdisc === null && !dev.noQueue && dev.txQueueLen > 0) dev.qdisc = this.newPfifo(dev);
    this.notify("up", dev);
  }

  /** `dev_close` (`ip link set DEV down`): drops what the qdisc holds. */
  devClose(dev: NetDevice): void {
    if (!dev.isUp) return;
    dev.flags &= ~(IFF.UP | IFF.RUNNING);
    dev.ops.ndoStop?.(dev);
    dev.qdisc?.reset();
    this.notify("down", dev);
  }

  /** `tc qdisc replace dev DEV root noqueue`: no qdisc, straight to the driver. */
  setNoQueue(dev: NetDevice): void {
    dev.noQueue = true;
    if (dev.qdisc) {
      dev.qdisc.destroy();
      dev.qdisc = null;
    }
  }

  private newPfifo(dev: NetDevice): Qdisc {
    const q = new PfifoQdisc(dev, dev.txQueueLen, (skb) => {
      dev.stats.tx_dropped++;
      kfreeSkb(skb, SkbDropReason.QDISC_DROP, this);
    });
    q.watchdog = () => this.softnet.netifSchedule(q);
    return q;
  }

  /**
   * `tc qdisc replace dev DEV root KIND OPTIONS`: attaches a qdisc of a registered kind
   * (`pfifo` is built in).
   */
  qdiscReplace(dev: NetDevice, kind: string, options: QdiscOptions = {}): Qdisc {
    let q: Qdisc;
    if (kind === "pfifo") {
      q = this.newPfifo(dev);
    } else {
      const ops = this.qdiscs.get(kind);
      if (!ops) {
        throw new PluginError(
          `Qdisc '${kind}' is not registered in stack '${this.name}'; add the plugin ${kind}() (@skbuff/${kind})`,
        );
      }
      q = ops.create(dev, options);
      q.watchdog = () => this.softnet.netifSchedule(q);
    }
    dev.qdisc?.destroy();
    dev.qdisc = q;
    dev.noQueue = false;
    return q;
  }

  /** `ip addr add CIDR dev DEV`; protocols learn of it through the notifier chain. */
  addAddress(dev: NetDevice, cidr: string): void {
    const parsed = parseCidr(cidr);
    if (parsed === null || !cidr.includes("/")) {
      throw new ConfigError(
        "address",
        cidr,
        "an IPv4 address with prefix length, like 192.0.2.1/24",
      );
    }
    const addr = {
      family: "inet" as const,
      address: cidr.slice(0, cidr.indexOf("/")),
      prefixLen: parsed.prefixLen,
    };
    dev.addresses.push(addr);
    this.notify("addr-add", dev, addr);
  }

  /** `register_netdevice_notifier` (+ inetaddr chain); returns the unregister function. */
  registerNotifier(fn: NetdevNotifier): () => void {
    this.notifiers.push(fn);
    return () => {
      const i = this.notifiers.indexOf(fn);
      if (i >= 0) this.notifiers.splice(i, 1);
    };
  }

  /** `call_netdevice_notifiers`: tells every listener about a device event. */
  callNetdevNotifiers(event: NetdevEvent, dev: NetDevice, detail?: unknown): void {
    this.notify(event, dev, detail);
  }

  private notify(event: NetdevEvent, dev: NetDevice, detail?: unknown): void {
    for (const fn of [...this.notifiers]) fn(event, dev, detail);
  }

  // --- sockets ------------------------------------------------------------------------------

  /** `sock_register`. */
  sockRegister(family: NetProtoFamily): void {
    if (this.families.has(family.family)) {
      throw new PluginError(`Address family ${family.family} is registered twice`);
    }
    this.families.set(family.family, family);
  }

  /** The registered creator of an address family's sockets. */
  protoFamily(family: number): NetProtoFamily | undefined {
    return this.families.get(family);
  }

  // --- services -----------------------------------------------------------------------------

  /** Resolves a service a plugin provided, or throws naming the plugin that provides it. */
  service<T>(tok: Token<T>, plugin: string): T {
    if (!this.container.isRegistered(tok, true)) {
      throw new PluginError(
        `Stack '${this.name}' has no ${tok.description?.replace("skbuff:", "")} service: add the ${plugin} plugin`,
      );
    }
    return this.container.resolve(tok);
  }

  /**
   * Sends ICMP echo requests like ping(8) and resolves with the reply; rejects with an
   * `ETIMEDOUT` error when none comes in `timeoutMs`, or `EHOSTUNREACH`/`ENETUNREACH`.
   * Needs the `icmp()` plugin.
   */
  ping(dst: string, options?: PingOptions): Promise<PingReply> {
    try {
      return this.service(TOKENS.ping, "icmp() (@skbuff/icmp)").ping(dst, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * A `net`-module-like API over this stack (needs `tcp()` and its `netApi()`); typed once
   * @skbuff/tcp is imported.
   */
  get net(): StackNet {
    return this.service(TOKENS.net, "tcp() (@skbuff/tcp)") as StackNet;
  }

  /** A `dgram`-module-like API over this stack (needs the `udp()` plugin). */
  get dgram(): unknown {
    return this.service(TOKENS.dgram, "udp() (@skbuff/udp)");
  }

  // --- observability ------------------------------------------------------------------------

  /** Every MIB counter by nstat name (`{ IpInReceives: 12, … }`); `nonZero` like nstat. */
  counters(nonZero = false): Record<string, number> {
    return this.mib.snapshot(nonZero);
  }

  /** Drops so far, per {@link SkbDropReason}. */
  dropReasons(): Record<string, number> {
    return { ...this.drops };
  }

  // --- timers and lifecycle -----------------------------------------------------------------

  /**
   * A timer on the stack's clock that the stack cancels when it closes. A timer owned by
   * something shorter-lived than the stack (a socket, a ping) must be given back with
   * {@link Stack.deleteTimer} when its owner goes away.
   */
  createTimer(callback: () => void): Timer {
    const t = this.clock.createTimer(callback);
    this.timers.add(t);
    return t;
  }

  /** `timer_shutdown_sync`: cancels a timer made by {@link Stack.createTimer} and forgets it. */
  deleteTimer(timer: Timer): void {
    timer.cancel();
    this.timers.delete(timer);
  }

  /** Timers made by {@link Stack.createTimer} and not deleted (for leak checks). */
  get timerCount(): number {
    return this.timers.size;
  }

  /** Runs `fn` when the stack closes. */
  onClose(fn: () => void | Promise<void>): void {
    this.closers.push(fn);
  }

  /**
   * Closes the stack: plugins stop (in reverse order; only those whose `register` ran), then
   * the `onClose` functions run, devices go down (their queued packets are freed with
   * QUEUE_PURGE), the backlog is purged and timers made with {@link Stack.createTimer} are
   * cancelled. Idempotent: every call returns the same promise. A `stop` or `onClose` that
   * throws does not stop the teardown; close() then rejects with its error (an AggregateError
   * when several failed).
   */
  close(): Promise<void> {
    this.closing ??= this.teardown();
    return this.closing;
  }

  private async teardown(): Promise<void> {
    this.closed = true;
    const errors: unknown[] = [];
    const attempt = async (fn: () => void | Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (error) {
        errors.push(error);
      }
    };
    for (let i = this.registeredPlugins - 1; i >= 0; i--) {
      const plugin = this.plugins[i]!;
      if (plugin.stop) await attempt(() => plugin.stop!(new PluginContext(this, plugin.name)));
    }
    for (const fn of this.closers.splice(0).reverse()) await attempt(fn);
    for (const dev of this.devices.reverse()) await attempt(() => this.unregisterNetdev(dev));
    this.softnet.backlog.purge((skb) => kfreeSkb(skb, SkbDropReason.QUEUE_PURGE, this));
    for (const t of this.timers) t.cancel();
    this.timers.clear();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `Closing stack '${this.name}' failed`);
  }

  /** @internal */
  setPlugins(plugins: readonly Plugin[]): void {
    (this as { plugins: readonly Plugin[] }).plugins = plugins;
  }

  /** @internal the first `count` plugins have registered (their `stop` runs on close). */
  setRegisteredPlugins(count: number): void {
    this.registeredPlugins = count;
  }
}

function resolveClock(clock: StackOptions["clock"], path: string): Clock {
  if (clock === undefined || clock === "real") return new RealClock();
  if (clock === "virtual") return new VirtualClock();
  if (isClock(clock)) return clock;
  throw new ConfigError(path, clock, `"real", "virtual" or a Clock object`);
}

/** The truthy entries of a list, with their index in it (for error paths). */
function compact<T>(list: readonly Maybe<T>[] | undefined): [T, number][] {
  const out: [T, number][] = [];
  (list ?? []).forEach((x, i) => {
    if (x) out.push([x, i]);
  });
  return out;
}

/** Options of {@link buildStack} used by createNetwork: where errors point. */
interface BuildContext {
  readonly pathPrefix: string;
  readonly clock?: Clock;
}

/**
 * Creates a stack: registers its plugins in dependency order, applies sysctls, creates and
 * brings up devices, starts the plugins, then installs routes and services. Anything invalid
 * fails with a {@link ConfigError} or {@link PluginError} and nothing is left running.
 */
export async function createStack(options: StackOptions = {}): Promise<Stack> {
  const stack = await buildStack(options, { pathPrefix: "" });
  await startStack(stack, options, { pathPrefix: "" });
  return stack;
}

/** @internal register plugins, sysctls, devices; no start yet. */
export async function buildStack(options: StackOptions, ctx: BuildContext): Promise<Stack> {
  if (options === null || typeof options !== "object") {
    throw new ConfigError(ctx.pathPrefix, options, "an options object");
  }
  const p = ctx.pathPrefix;
  const clock = ctx.clock ?? resolveClock(options.clock, `${p}clock`);
  const name = options.name ?? `stack${++stackSeq}`;
  if (typeof name !== "string" || name.length === 0) {
    throw new ConfigError(`${p}name`, name, "a non-empty string");
  }
  if (options.plugins !== undefined && !Array.isArray(options.plugins)) {
    throw new ConfigError(`${p}plugins`, options.plugins, "a list of plugins");
  }
  if (options.devices !== undefined && !Array.isArray(options.devices)) {
    throw new ConfigError(`${p}devices`, options.devices, "a list of device specs");
  }
  // Plugins given (falsy entries skipped), plus the plugins device specs carry (loopback()).
  const plugins: Plugin[] = [];
  for (const [pl, i] of compact(options.plugins)) {
    if (!isPlugin(pl)) {
      throw new ConfigError(`${p}plugins[${i}]`, pl, "a plugin object (made by a plugin factory)");
    }
    plugins.push(pl);
  }
  const devices = compact(options.devices);
  for (const [d, i] of devices) {
    if (typeof d !== "object" || d.plugin === undefined) continue;
    if (!isPlugin(d.plugin)) {
      throw new ConfigError(
        `${p}devices[${i}].plugin`,
        d.plugin,
        "a plugin object (made by a plugin factory)",
      );
    }
    if (!plugins.some((x) => x.name === d.plugin!.name)) plugins.push(d.plugin);
  }
  const ordered = orderPlugins(plugins);
  const stack = new Stack(name, clock);
  stack.setPlugins(ordered);
  try {
    for (const [i, plugin] of ordered.entries()) {
      await plugin.register(new PluginContext(stack, plugin.name));
      stack.setRegisteredPlugins(i + 1);
    }
    for (const [key, value] of Object.entries(options.sysctl ?? {})) {
      try {
        stack.sysctl.set(key, value);
      } catch (error) {
        if (error instanceof SysctlError) {
          throw new ConfigError(
            `${p}sysctl[${JSON.stringify(key)}]`,
            value,
            error.message.replace(/^sysctl [^:]+: /, ""),
          );
        }
        throw error;
      }
    }
    for (const [spec, i] of devices) await createDevice(stack, spec, `${p}devices[${i}]`);
  } catch (error) {
    await closeAfterFailure(stack);
    throw error;
  }
  return stack;
}

async function createDevice(stack: Stack, spec: DeviceSpec, path: string): Promise<void> {
  if (spec === null || typeof spec !== "object" || typeof spec.driver !== "string") {
    throw new ConfigError(
      `${path}.driver`,
      (spec as DeviceSpec | null)?.driver,
      "the name of a device driver",
    );
  }
  const driver = stack.driver(spec.driver);
  if (!driver) {
    throw new PluginError(
      `${path}: device driver '${spec.driver}' is not registered in stack '${stack.name}'; add the plugin ${spec.driver}() (@skbuff/${spec.driver})`,
    );
  }
  const addresses =
    spec.address === undefined
      ? []
      : typeof spec.address === "string"
        ? [spec.address]
        : spec.address;
  if (!Array.isArray(addresses)) {
    throw new ConfigError(
      `${path}.address`,
      spec.address,
      "an address like 192.0.2.1/24 or a list of them",
    );
  }
  addresses.forEach((a, j) => {
    if (typeof a !== "string" || !a.includes("/") || parseCidr(a) === null) {
      const where = typeof spec.address === "string" ? `${path}.address` : `${path}.address[${j}]`;
      throw new ConfigError(where, a, "an IPv4 address with prefix length, like 192.0.2.1/24");
    }
  });
  if (
    spec.mtu !== undefined &&
    (!Number.isInteger(spec.mtu) || spec.mtu < 68 || spec.mtu > 65536)
  ) {
    throw new ConfigError(`${path}.mtu`, spec.mtu, "an integer from 68 to 65536");
  }
  // A spec that is also its own plugin (loopback()) carries the plugin's name, not an ifname.
  const ownName = spec.name !== undefined && spec.name !== spec.plugin?.name;
  if (ownName && !devValidName(spec.name)) {
    throw new ConfigError(`${path}.name`, spec.name, DEV_NAME_EXPECTED);
  }
  if (spec.name !== undefined && stack.getDevice(spec.name)) {
    throw new ConfigError(`${path}.name`, spec.name, "a device name not used yet in this stack");
  }
  let dev: NetDevice;
  try {
    dev = await driver.create(stack, spec, path);
  } catch (error) {
    // The driver picked a name that is taken (two specs without names, say).
    if (error instanceof SkbuffError && error.code === "EEXIST") {
      throw new ConfigError(
        `${path}.name`,
        spec.name,
        `a device name not used yet in this stack (${error.message})`,
      );
    }
    throw error;
  }
  if (spec.mtu !== undefined) {
    // dev_validate_mtu: the driver's own range.
    if (spec.mtu < dev.minMtu || spec.mtu > dev.maxMtu) {
      throw new ConfigError(
        `${path}.mtu`,
        spec.mtu,
        `an integer from ${dev.minMtu} to ${dev.maxMtu} (the range of a ${spec.driver} device)`,
      );
    }
    dev.mtu = spec.mtu;
  }
  if (spec.up !== false) stack.devOpen(dev);
  for (const a of addresses) stack.addAddress(dev, a);
}

/** @internal start plugins, then routes and services. */
export async function startStack(
  stack: Stack,
  options: StackOptions,
  ctx: BuildContext,
): Promise<void> {
  const p = ctx.pathPrefix;
  try {
    for (const plugin of stack.plugins) await plugin.start?.(new PluginContext(stack, plugin.name));
    const routes = options.routes ?? [];
    if (routes.length > 0) {
      const svc = tryService(stack, TOKENS.route);
      if (!svc) {
        throw new ConfigError(
          `${p}routes`,
          routes,
          "no routes, or the ipv4() plugin to install them",
        );
      }
      routes.forEach((r, i) => {
        try {
          svc.addRoute(r);
        } catch (error) {
          if (error instanceof ConfigError) {
            throw new ConfigError(
              `${p}routes[${i}]${error.path ? `.${error.path}` : ""}`,
              error.value,
              error.expected,
            );
          }
          throw error;
        }
      });
    }
    const services = options.services ?? [];
    if (services.length > 0) {
      const inetd = tryService(stack, TOKENS.inetd);
      if (!inetd) {
        throw new ConfigError(
          `${p}services`,
          services,
          "no services, or the tcp() plugin to run them",
        );
      }
      for (const s of services) await inetd.startService(s);
    }
  } catch (error) {
    await closeAfterFailure(stack);
    throw error;
  }
}

/** Tears a half-made stack down; the error that made creation fail is the one to report. */
async function closeAfterFailure(stack: Stack): Promise<void> {
  try {
    await stack.close();
  } catch {
    // Secondary: a stop() that fails on a stack that never fully started.
  }
}

function tryService<T>(stack: Stack, tok: Token<T>): T | null {
  return stack.container.isRegistered(tok, true) ? stack.container.resolve(tok) : null;
}
