/**
 * Routing decisions: `struct rtable` (a {@link DstEntry}) made from FIB entries and cached on
 * them, so routing a packet allocates nothing. Input routes send a packet to local delivery or
 * forwarding; output routes say which device and source address a locally sent packet uses.
 * @see net/ipv4/route.c ip_route_input_noref(), ip_route_output_key()
 * @packageDocumentation
 */
import { type DstEntry, type NetDevice, type SkBuff, SkbDropReason, type Stack } from "@skbuff/core";
import { type FibEntry, RTN, type RtnType } from "./fib.js";
import { ipForward } from "./ip_forward.js";
import { ipLocalDeliver } from "./ip_input.js";
import { ipOutput } from "./ip_output.js";
import { ipv4Net } from "./netns.js";

const ENETUNREACH = 101;
const EHOSTUNREACH = 113;
const EINVAL = 22;
const EACCES = 13;

/** `struct rtable`. */
export class Rtable implements DstEntry {
  obsolete = 0;
  constructor(
    /** Output device (for local delivery: the loopback device, or the receiving one). */
    readonly dev: NetDevice,
    readonly rtType: RtnType,
    /** Next hop (u32); 0 when the destination is on the link. */
    readonly rtGateway: number,
    /** Preferred source (u32) for output routes. */
    readonly prefsrc: number,
    readonly input: (skb: SkBuff) => number,
    readonly output: (net: Stack, sk: unknown, skb: SkBuff) => number,
    readonly error = 0,
    /** FIB generation this route was made in; stale when the FIB changed. */
    readonly genid = 0,
  ) {}

  /** The MTU to use (`dst_mtu`). */
  get mtu(): number {
    return this.dev.mtu;
  }

  /** `rt_nexthop`: the gateway, or the destination itself when on-link. */
  nexthop(daddr: number): number {
    return this.rtGateway !== 0 ? this.rtGateway : daddr;
  }
}

interface RouteCache {
  input?: Rtable;
  output?: Rtable;
}

function cacheOf(e: FibEntry): RouteCache {
  if (e.cache === null) e.cache = {} as RouteCache;
  return e.cache as RouteCache;
}

/** The result of an input route lookup that failed: why, in Linux's terms. */
export interface RouteInputError {
  readonly reason: SkbDropReason;
  /** A positive errno: EHOSTUNREACH (not forwarding), ENETUNREACH (no route), EINVAL (martian). */
  readonly errno: number;
}

const NOT_FORWARDING: RouteInputError = { reason: SkbDropReason.IP_INADDRERRORS, errno: EHOSTUNREACH };
const NO_ROUTE: RouteInputError = { reason: SkbDropReason.IP_INNOROUTES, errno: ENETUNREACH };
const MARTIAN: RouteInputError = { reason: SkbDropReason.IP_INADDRERRORS, errno: EINVAL };
const PROHIBITED: RouteInputError = { reason: SkbDropReason.IP_INADDRERRORS, errno: EACCES };

const LIMITED_BROADCAST = 0xffffffff;

function isMulticast(a: number): boolean {
  return a >>> 28 === 0xe;
}

/**
 * `ip_route_input_noref`: decides what happens to a received packet and sets `skb.dst`.
 * Returns null on success, or why the packet cannot be routed.
 */
export function ipRouteInputNoref(skb: SkBuff, daddr: number, saddr: number, dev: NetDevice): RouteInputError | null {
  const ns = ipv4Net(dev.net);
  // Martian sources: multicast, limited broadcast, or 0.0.0.0 (RFC 1812 5.3.7).
  if (isMulticast(saddr) || saddr === LIMITED_BROADCAST) return MARTIAN;
  if (daddr === LIMITED_BROADCAST) {
    skb.dst = localInputRoute(ns.net, dev, RTN.BROADCAST);
    return null;
  }
  if (isMulticast(daddr)) return MARTIAN;
  if (saddr === 0) return MARTIAN;
  const e = ns.fib.lookup(daddr, 0);
  if (e === null) {
    return ns.sysctl.ipForward.value ? NO_ROUTE : NOT_FORWARDING;
  }
  if (e.type === RTN.LOCAL || e.type === RTN.BROADCAST) {
    const c = cacheOf(e);
    c.input ??= localInputRoute(ns.net, dev, e.type);
    skb.dst = e.dev === dev || e.type === RTN.LOCAL ? c.input : localInputRoute(ns.net, dev, e.type);
    return null;
  }
  if (e.type !== RTN.UNICAST || e.dev === null) {
    return e.type === RTN.PROHIBIT ? PROHIBITED : NO_ROUTE;
  }
  if (!ns.sysctl.ipForward.value) return NOT_FORWARDING;
  const c = cacheOf(e);
  c.input ??= new Rtable(e.dev, RTN.UNICAST, e.gateway, e.prefsrc, ipForward, ipOutput, 0, ns.fib.genid);
  skb.dst = c.input;
  return null;
}

const localRoutes = new WeakMap<NetDevice, Map<number, Rtable>>();

function localInputRoute(_net: Stack, dev: NetDevice, type: RtnType): Rtable {
  let m = localRoutes.get(dev);
  if (!m) {
    m = new Map();
    localRoutes.set(dev, m);
  }
  let rt = m.get(type);
  if (!rt) {
    rt = new Rtable(dev, type, 0, 0, ipLocalDeliver, ipOutput);
    m.set(type, rt);
  }
  return rt;
}

/** `struct flowi4`: what an output route lookup is keyed on. */
export interface Flowi4 {
  readonly daddr: number;
  /** 0: choose one. */
  readonly saddr?: number;
  /** Output interface index; 0: any. */
  readonly oif?: number;
}

/** A successful output route: the route and the source address to use. */
export interface OutputRoute {
  readonly rt: Rtable;
  readonly saddr: number;
}

/**
 * `ip_route_output_key`: the route and source address for a locally generated packet, or a
 * negative errno (`-ENETUNREACH`, `-EINVAL`).
 */
export function ipRouteOutputKey(net: Stack, fl: Flowi4): OutputRoute | number {
  const ns = ipv4Net(net);
  const { daddr } = fl;
  let saddr = fl.saddr ?? 0;
  if (saddr !== 0 && !ns.isLocal(saddr)) return -EINVAL;
  if (daddr === LIMITED_BROADCAST) return -ENETUNREACH;
  const e = ns.fib.lookup(daddr, fl.oif ?? 0);
  if (e === null) return -ENETUNREACH;
  if (e.type === RTN.LOCAL || e.type === RTN.BROADCAST) {
    // Local destinations leave through the loopback device (or, without one, loop back on the
    // device that owns the address).
    const dev = ns.loopbackDev ?? e.dev;
    if (dev === null) return -ENETUNREACH;
    if (saddr === 0) saddr = e.type === RTN.LOCAL ? (e.prefsrc || daddr) : ns.selectAddr(e.dev, daddr);
    const c = cacheOf(e);
    if (!c.output || c.output.dev !== dev) {
      c.output = new Rtable(dev, e.type, 0, e.prefsrc, ipLocalDeliver, ipOutput, 0, ns.fib.genid);
    }
    return { rt: c.output, saddr };
  }
  if (e.type !== RTN.UNICAST || e.dev === null) return e.type === RTN.PROHIBIT ? -EACCES : -ENETUNREACH;
  if (saddr === 0) saddr = e.prefsrc || ns.selectAddr(e.dev, e.gateway || daddr);
  const c = cacheOf(e);
  c.output ??= new Rtable(e.dev, RTN.UNICAST, e.gateway, e.prefsrc, ipLocalDeliver, ipOutput, 0, ns.fib.genid);
  return { rt: c.output, saddr };
}
