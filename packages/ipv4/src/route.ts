/**
 * Routing decisions: `struct rtable` (a {@link DstEntry}) made from FIB entries and cached on
 * them, so routing a packet allocates nothing. Input routes send a packet to local delivery or
 * forwarding; output routes say which device and source address a locally sent packet uses.
 * @see net/ipv4/route.c ip_route_input_noref(), ip_route_output_key()
 * @packageDocumentation
 */
import {
  type DstEntry,
  IFF,
  type NetDevice,
  type SkBuff,
  SkbDropReason,
  type Stack,
} from "@skbuff/core";
import { type FibEntry, RTN, type RtnType } from "./fib.js";
import { ipForward } from "./ip_forward.js";
import { ipLocalDeliver } from "./ip_input.js";
import { ipLoopbackOutput, ipMcOutput, ipOutput } from "./ip_output.js";
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

/** The routes made from one FIB entry, valid while the FIB stays at generation `genid`. */
interface RouteCache {
  readonly genid: number;
  input?: Rtable;
  output?: Rtable;
}

/** The entry's route cache, emptied when the FIB changed since it was filled. */
function cacheOf(e: FibEntry, genid: number): RouteCache {
  let c = e.cache as RouteCache | null;
  if (c === null || c.genid !== genid) {
    c = { genid };
    e.cache = c;
  }
  return c;
}

/** The result of an input route lookup that failed: why, in Linux's terms. */
export interface RouteInputError {
  readonly reason: SkbDropReason;
  /** A positive errno: EHOSTUNREACH (not forwarding), ENETUNREACH (no route), EINVAL (martian). */
  readonly errno: number;
}

const NOT_FORWARDING: RouteInputError = {
  reason: SkbDropReason.IP_INADDRERRORS,
  errno: EHOSTUNREACH,
};
const NO_ROUTE: RouteInputError = { reason: SkbDropReason.IP_INNOROUTES, errno: ENETUNREACH };
const MARTIAN_SOURCE: RouteInputError = { reason: SkbDropReason.IP_INVALID_SOURCE, errno: EINVAL };
const MARTIAN_DEST: RouteInputError = { reason: SkbDropReason.IP_INVALID_DEST, errno: EINVAL };
const PROHIBITED: RouteInputError = { reason: SkbDropReason.IP_INADDRERRORS, errno: EACCES };

const LIMITED_BROADCAST = 0xffffffff;

function isMulticast(a: number): boolean {
  return a >>> 28 === 0xe;
}

/** `ipv4_is_zeronet`: 0.0.0.0/8, "this network". */
function isZeronet(a: number): boolean {
  return a >>> 24 === 0;
}

/** `ipv4_is_loopback`: 127.0.0.0/8. */
function isLoopback(a: number): boolean {
  return a >>> 24 === 127;
}

/**
 * `ip_route_input_noref`: decides what happens to a received packet and sets `skb.dst`.
 * Returns null on success, or why the packet cannot be routed.
 * @see net/ipv4/route.c ip_route_input_slow()
 */
export function ipRouteInputNoref(
  skb: SkBuff,
  daddr: number,
  saddr: number,
  dev: NetDevice,
): RouteInputError | null {
  const ns = ipv4Net(dev.net);
  // RFC 1812 5.3.7: "A router SHOULD NOT forward any packet that has an invalid IP source
  // address or a source address on network 0"; a host takes none of them either (martians).
  if (isMulticast(saddr) || saddr === LIMITED_BROADCAST) return MARTIAN_SOURCE;
  if (daddr === LIMITED_BROADCAST) {
    skb.dst = localInputRoute(ns.net, dev, RTN.BROADCAST);
    return null;
  }
  // No multicast routing or group membership here: a multicast destination goes nowhere.
  if (isMulticast(daddr)) return MARTIAN_DEST;
  // "Accept zero addresses only to limited broadcast" (ip_route_input_slow).
  if (isZeronet(saddr)) return MARTIAN_SOURCE;
  if (isZeronet(daddr)) return MARTIAN_DEST;
  // RFC 1122 3.2.1.3: "{ 127, <any> } … MUST NOT appear outside a host." Packets that went
  // round through a loopback device are the host's own.
  if ((dev.flags & IFF.LOOPBACK) === 0) {
    if (isLoopback(saddr)) return MARTIAN_SOURCE;
    if (isLoopback(daddr)) return MARTIAN_DEST;
  }
  const e = ns.fib.lookup(daddr, 0);
  if (e === null) {
    return ns.sysctl.ipForward.value ? NO_ROUTE : NOT_FORWARDING;
  }
  if (e.type === RTN.LOCAL || e.type === RTN.BROADCAST) {
    // Local delivery: the route's device is the one the packet came in on.
    skb.dst = localInputRoute(ns.net, dev, e.type);
    return null;
  }
  if (e.type !== RTN.UNICAST || e.dev === null) {
    return e.type === RTN.PROHIBIT ? PROHIBITED : NO_ROUTE;
  }
  if (!ns.sysctl.ipForward.value) return NOT_FORWARDING;
  const c = cacheOf(e, ns.fib.genid);
  c.input ??= new Rtable(
    e.dev,
    RTN.UNICAST,
    e.gateway,
    e.prefsrc,
    ipForward,
    ipOutput,
    0,
    ns.fib.genid,
  );
  skb.dst = c.input;
  return null;
}

const localRoutes = new WeakMap<NetDevice, Map<number, Rtable>>();

function localInputRoute(_net: Stack, dev: NetDevice, type: RtnType): Rtable {
  // Nearly every packet in a row arrives on the same device: remember the last answer.
  if (dev === lastLocalDev && type === lastLocalType) return lastLocalRoute!;
  const rt = localInputRouteSlow(dev, type);
  lastLocalDev = dev;
  lastLocalType = type;
  lastLocalRoute = rt;
  return rt;
}

/** The last {@link localInputRoute} answer (these routes never change once made). */
let lastLocalDev: NetDevice | null = null;
let lastLocalType = -1;
let lastLocalRoute: Rtable | null = null;

function localInputRouteSlow(dev: NetDevice, type: RtnType): Rtable {
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
 * negative errno (`-ENETUNREACH`, `-EINVAL`). Routes to our own addresses go through the
 * loopback device or, without one, turn around on the device that owns the address; routes to
 * a broadcast address leave through its device and loop a copy back (`ip_mc_output`).
 * @see net/ipv4/route.c ip_route_output_key_hash_rcu()
 */
export function ipRouteOutputKey(net: Stack, fl: Flowi4): OutputRoute | number {
  const ns = ipv4Net(net);
  const { daddr } = fl;
  const oif = fl.oif ?? 0;
  let saddr = fl.saddr ?? 0;
  if (saddr !== 0 && !ns.isLocal(saddr)) return -EINVAL;
  if (daddr === LIMITED_BROADCAST) return limitedBroadcastRoute(net, saddr, oif);
  const e = ns.fib.lookup(daddr, oif);
  if (e === null) return -ENETUNREACH;
  if (e.type === RTN.LOCAL) {
    const dev = ns.loopbackDev ?? e.dev;
    if (dev === null) return -ENETUNREACH;
    if (saddr === 0) saddr = e.prefsrc || daddr;
    const c = cacheOf(e, ns.fib.genid);
    if (!c.output || c.output.dev !== dev) {
      const output = dev === ns.loopbackDev ? ipOutput : ipLoopbackOutput;
      c.output = new Rtable(dev, RTN.LOCAL, 0, e.prefsrc, ipLocalDeliver, output, 0, ns.fib.genid);
    }
    return { rt: c.output, saddr };
  }
  if (e.type === RTN.BROADCAST) {
    if (e.dev === null) return -ENETUNREACH;
    if (saddr === 0) saddr = e.prefsrc || ns.selectAddr(e.dev, daddr);
    const c = cacheOf(e, ns.fib.genid);
    c.output ??= new Rtable(
      e.dev,
      RTN.BROADCAST,
      0,
      e.prefsrc,
      ipLocalDeliver,
      ipMcOutput,
      0,
      ns.fib.genid,
    );
    return { rt: c.output, saddr };
  }
  if (e.type !== RTN.UNICAST || e.dev === null)
    return e.type === RTN.PROHIBIT ? -EACCES : -ENETUNREACH;
  if (saddr === 0) saddr = e.prefsrc || ns.selectAddr(e.dev, e.gateway || daddr);
  const c = cacheOf(e, ns.fib.genid);
  c.output ??= new Rtable(
    e.dev,
    RTN.UNICAST,
    e.gateway,
    e.prefsrc,
    ipLocalDeliver,
    ipOutput,
    0,
    ns.fib.genid,
  );
  return { rt: c.output, saddr };
}

/**
 * 255.255.255.255 goes out of the device the flow names (`oif`), or the one that owns the
 * source address; with neither there is no route (Linux: `-ENETUNREACH`).
 */
function limitedBroadcastRoute(net: Stack, saddr: number, oif: number): OutputRoute | number {
  const ns = ipv4Net(net);
  let dev: NetDevice | null = null;
  if (oif !== 0) dev = net.getDeviceByIndex(oif) ?? null;
  else if (saddr !== 0) dev = ns.ifaddrs.find((ifa) => ifa.local === saddr)?.dev ?? null;
  if (dev === null || !dev.isUp) return -ENETUNREACH;
  if (saddr === 0) saddr = ns.selectAddr(dev, 0);
  return {
    rt: new Rtable(dev, RTN.BROADCAST, 0, saddr, ipLocalDeliver, ipMcOutput, 0, ns.fib.genid),
    saddr,
  };
}
