/**
 * The shapes a stack and a network are described with, in code ({@link createStack},
 * {@link createNetwork}) and in config files ({@link loadStack}, {@link loadNetwork}).
 * @packageDocumentation
 */
import type { Clock } from "./clock.js";
import type { Plugin } from "./plugin.js";

/** A value a sysctl can take: an integer, a vector of integers (`tcp_rmem`) or a string. */
export type SysctlValue = number | string | boolean | readonly number[];

/**
 * A device to create in a stack. `driver` names a driver that a plugin registered
 * (`loopback`, `veth`, `tun`, …); the other keys are the driver's own, plus the generic ones
 * below. A device spec may carry the plugin that registers its driver (`loopback()` does), and
 * the stack then adds that plugin by itself.
 */
export interface DeviceSpec {
  /** Name of a registered device driver. */
  readonly driver: string;
  /** Interface name (`eth0`, `lo`); the driver picks one when absent. */
  readonly name?: string;
  /** One address or several, each `a.b.c.d/len`. */
  readonly address?: string | readonly string[];
  /** MTU in bytes; the driver's default when absent. */
  readonly mtu?: number;
  /** Bring the device up when the stack starts (default true), like `ip link set up`. */
  readonly up?: boolean;
  /** The plugin that registers `driver`, added to the stack automatically. */
  readonly plugin?: Plugin;
  readonly [option: string]: unknown;
}

/** A route, like `ip route add`: `to` is `default` or `a.b.c.d/len`. */
export interface RouteSpec {
  readonly to: string;
  /** Gateway address; absent for a directly connected route. */
  readonly via?: string;
  /** Output device name; found from `via` when absent. */
  readonly dev?: string;
  /** Preference, lower wins (Linux's `metric`). */
  readonly metric?: number;
}

/** A small built-in server, like inetd's internal services. Needs the TCP plugin. */
export interface ServiceSpec {
  readonly kind: "echo" | "discard" | "chargen" | "http";
  readonly port: number;
  readonly address?: string;
}

/** What a list of plugins or devices may hold: falsy entries are skipped (`cond && plugin()`). */
export type Maybe<T> = T | false | null | undefined;

/** Everything a stack (one network namespace) is made from. */
export interface StackOptions {
  /** Name used in logs, traces and errors. */
  readonly name?: string;
  /** Protocols, hook modules and drivers, in any order: dependencies are checked and sorted. */
  readonly plugins?: readonly Maybe<Plugin>[];
  readonly devices?: readonly Maybe<DeviceSpec>[];
  readonly routes?: readonly RouteSpec[];
  /** Linux sysctl names and values, applied after the plugins registered theirs. */
  readonly sysctl?: Readonly<Record<string, SysctlValue>>;
  /** `"real"` (default), `"virtual"` (a fresh {@link VirtualClock}) or a clock to share. */
  readonly clock?: "real" | "virtual" | Clock;
  readonly services?: readonly ServiceSpec[];
}

/** One host of a network: a stack's options, without its clock (the network's is shared). */
export type HostOptions = Omit<StackOptions, "clock" | "name">;

/** A link between two devices of two hosts, named `host:device`. */
export interface LinkSpec {
  readonly ends: readonly [string, string];
  /**
   * netem impairments on both directions (needs the `netem()` plugin): an options object or tc's
   * text (`"delay 5ms loss 1%"`). Each end draws its own random numbers (seed + end index).
   */
  readonly netem?: Readonly<Record<string, unknown>> | string;
}

/** Several stacks joined by links, like a containerlab or mininet topology. */
export interface NetworkOptions {
  /** Default plugins of every host; a host that lists its own uses those instead. */
  readonly plugins?: readonly Maybe<Plugin>[];
  readonly hosts: Readonly<Record<string, HostOptions>>;
  readonly links?: readonly LinkSpec[];
  readonly clock?: "real" | "virtual" | Clock;
}
