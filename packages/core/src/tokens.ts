/**
 * Dependency-injection tokens: typed, namespaced keys for the services a stack's child container
 * holds. Plugins provide services under these tokens; the stack and other plugins resolve them.
 * @packageDocumentation
 */
import type { Clock } from "./clock.js";
import type { Stack } from "./stack.js";

/** A typed token: a symbol that remembers the type of what it names. */
export type Token<T> = symbol & { readonly __type?: T };

/** Makes a namespaced token (`Symbol.for("skbuff:stack")`), so copies of a package agree on it. */
export function token<T>(name: string): Token<T> {
  return Symbol.for(name) as Token<T>;
}

/** A reply to {@link Stack.ping}. */
export interface PingReply {
  /** Sequence number of the echo request. */
  readonly seq: number;
  /** TTL of the reply. */
  readonly ttl: number;
  /** Round trip, milliseconds on the stack's clock. */
  readonly rttMs: number;
  /** Bytes of ICMP payload in the reply. */
  readonly bytes: number;
  /** Who replied (dotted quad). */
  readonly from: string;
}

/** Options of {@link Stack.ping}, like ping(8)'s. */
export interface PingOptions {
  /** Payload bytes (`-s`), default 56. */
  readonly size?: number;
  /** TTL (`-t`), default the stack's `net.ipv4.ip_default_ttl`. */
  readonly ttl?: number;
  /** How long to wait for the reply (`-W`), default 1000 ms. */
  readonly timeoutMs?: number;
  /** Source address (`-I`). */
  readonly source?: string;
  /** Set DF (`-M do`). */
  readonly dontFragment?: boolean;
}

/** The ping service (the ICMP plugin provides it). */
export interface PingService {
  ping(dst: string, options?: PingOptions): Promise<PingReply>;
}

/** Installs a route (the IPv4 plugin provides it); throws ConfigError-worthy errors. */
export interface RouteService {
  addRoute(route: import("./options.js").RouteSpec): void;
}

/** Starts a built-in server (the TCP plugin provides it). */
export interface InetdService {
  startService(spec: import("./options.js").ServiceSpec): Promise<void>;
}

/** Tokens of the core services. */
export const TOKENS = {
  /** The {@link Stack} itself. */
  stack: token<Stack>("skbuff:stack"),
  /** The stack's {@link Clock}. */
  clock: token<Clock>("skbuff:clock"),
  /** {@link PingService}. */
  ping: token<PingService>("skbuff:ping"),
  /** {@link RouteService}. */
  route: token<RouteService>("skbuff:route"),
  /** `stack.net`: a `net`-module-like API (the TCP plugin). */
  net: token<unknown>("skbuff:net"),
  /** `stack.dgram`: a `dgram`-module-like API (the UDP plugin). */
  dgram: token<unknown>("skbuff:dgram"),
  /** {@link InetdService}. */
  inetd: token<InetdService>("skbuff:inetd"),
} as const;
