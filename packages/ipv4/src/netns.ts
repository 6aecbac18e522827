/**
 * `struct netns_ipv4`: IPv4's per-stack state, found from a stack with {@link ipv4Net} (one
 * array read, like `net->ipv4`).
 * @see include/net/netns/ipv4.h
 * @packageDocumentation
 */
import {
  IFF,
  type NetDevice,
  netGeneric,
  registerPernetId,
  type SkBuff,
  type Stack,
  type SysctlEntry,
} from "@skbuff/core";
import { Fib, RTN } from "./fib.js";
import type { IpFragState } from "./ip_fragment.js";
import { IpMib } from "./mib.js";

/** ICMP types and codes the IP layer itself sends. */
export const ICMP_DEST_UNREACH = 3;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETERPROB = 12;
export const ICMP_NET_UNREACH = 0;
export const ICMP_HOST_UNREACH = 1;
export const ICMP_PROT_UNREACH = 2;
export const ICMP_PORT_UNREACH = 3;
export const ICMP_FRAG_NEEDED = 4;
/** Destination unreachable: communication administratively prohibited (RFC 1812 5.2.7.1). */
export const ICMP_PKT_FILTERED = 13;
export const ICMP_EXC_TTL = 0;
export const ICMP_EXC_FRAGTIME = 1;

/**
 * How IP sends ICMP errors (`icmp_send`); the ICMP plugin installs the real one. `skbIn` is the
 * offending packet with `networkHeader` at its IP header; the sender must not take ownership.
 */
export type IcmpSendFn = (skbIn: SkBuff, type: number, code: number, info: number) => void;

/** An address on a device (`struct in_ifaddr`). */
export interface InIfaddr {
  readonly dev: NetDevice;
  /** u32. */
  readonly local: number;
  readonly prefixLen: number;
  readonly mask: number;
  readonly broadcast: number;
}

/** IPv4's sysctls, as live entries. */
export interface Ipv4Sysctls {
  readonly ipForward: SysctlEntry<number>;
  readonly ipDefaultTtl: SysctlEntry<number>;
  readonly ipNoPmtuDisc: SysctlEntry<number>;
  readonly ipfragHighThresh: SysctlEntry<number>;
  readonly ipfragLowThresh: SysctlEntry<number>;
  readonly ipfragTime: SysctlEntry<number>;
  readonly ipfragMaxDist: SysctlEntry<number>;
}

const IPV4_NET_ID = registerPernetId();

/** IPv4 state of one stack. */
export class NetnsIpv4 {
  readonly fib = new Fib();
  readonly mib: IpMib;
  /** Addresses of every device, in the order they were added. */
  readonly ifaddrs: InIfaddr[] = [];
  /** Next IP ID (`ip_idents`); one counter per stack. */
  ident = 0;
  /** Replaced by the ICMP plugin; until then errors are not sent. */
  icmpSend: IcmpSendFn = () => {};
  /** The loopback device, once one is registered (`net->loopback_dev`). */
  loopbackDev: NetDevice | null = null;
  /** Reassembly state. */
  frags!: IpFragState;

  constructor(
    readonly net: Stack,
    readonly sysctl: Ipv4Sysctls,
  ) {
    this.mib = net.mib.register(new IpMib());
    net.gen[IPV4_NET_ID] = this;
  }

  /**
   * `inet_select_addr`: a source address for sending out of `dev` towards `dst`: an address of
   * `dev` on the same subnet as `dst`, else the first address of `dev`, else (a device without
   * addresses, or `dev` null) the first address of a device that is not a loopback one (with
   * `dev` null, a loopback address as a last resort). 0 when there is none.
   * @see net/ipv4/devinet.c inet_select_addr()
   */
  selectAddr(dev: NetDevice | null, dst: number): number {
    let first = 0;
    let other = 0;
    let host = 0;
    for (const ifa of this.ifaddrs) {
      const loopback = (ifa.dev.flags & IFF.LOOPBACK) !== 0;
      if (dev === null ? loopback : ifa.dev !== dev) {
        // Host-scope (loopback) addresses only serve a caller that named no device.
        if (!loopback) other ||= ifa.local;
        else host ||= ifa.local;
        continue;
      }
      if (((dst ^ ifa.local) & ifa.mask) === 0) return ifa.local;
      first ||= ifa.local;
    }
    return first || other || (dev === null ? host : 0);
  }

  /** Whether `addr` is one of this stack's own addresses (`inet_addr_type == RTN_LOCAL`). */
  isLocal(addr: number): boolean {
    const e = this.fib.local.lookup(addr, 0);
    return e !== null && e.type === RTN.LOCAL;
  }
}

/** `net->ipv4`: the IPv4 state of a stack, or undefined when the ipv4 plugin is not in it. */
export function ipv4Net(net: Stack): NetnsIpv4 {
  return netGeneric<NetnsIpv4>(net, IPV4_NET_ID);
}
