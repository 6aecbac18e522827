/**
 * ICMP's per-stack state (the ICMP part of `struct netns_ipv4`): counters, sysctls, the rate
 * limiters and the ping socket table, found from a stack with {@link icmpNet}.
 * @see include/net/netns/ipv4.h
 * @packageDocumentation
 */
import { netGeneric, registerPernetId, type Stack, type SysctlEntry } from "@skbuff/core";
import { IcmpMib, IcmpMsgMib } from "./mib.js";
import type { PingSock } from "./ping.js";
import { IcmpGlobalLimit, IcmpPeerLimit } from "./ratelimit.js";

/** ICMP's sysctls (`net.ipv4.icmp_*`), as live entries. */
export interface IcmpSysctls {
  /** `icmp_echo_ignore_all`: answer no echo request at all. */
  readonly echoIgnoreAll: SysctlEntry<number>;
  /** `icmp_echo_ignore_broadcasts`: answer no echo or timestamp request sent to a broadcast. */
  readonly echoIgnoreBroadcasts: SysctlEntry<number>;
  /** `icmp_ratelimit`: ms between two limited messages to one destination (0: no limit). */
  readonly ratelimit: SysctlEntry<number>;
  /** `icmp_ratemask`: bit N set limits messages of type N. */
  readonly ratemask: SysctlEntry<number>;
  /** `icmp_msgs_per_sec`: global budget of limited messages per second. */
  readonly msgsPerSec: SysctlEntry<number>;
  /** `icmp_msgs_burst`: how many of them may go in a burst. */
  readonly msgsBurst: SysctlEntry<number>;
  /** `icmp_ignore_bogus_error_responses`: do not check errors that quote a broadcast. */
  readonly ignoreBogusErrorResponses: SysctlEntry<number>;
  /** `icmp_errors_use_inbound_ifaddr`: errors come from the address of the inbound device. */
  readonly errorsUseInboundIfaddr: SysctlEntry<number>;
}

const ICMP_NET_ID = registerPernetId();

/** ICMP state of one stack. */
export class NetnsIcmp {
  readonly mib: IcmpMib;
  readonly msgMib: IcmpMsgMib;
  readonly global = new IcmpGlobalLimit();
  readonly peers = new IcmpPeerLimit();
  /** Ping sockets by echo identifier (`ping_table`). */
  readonly pingTable = new Map<number, PingSock>();
  /** The last identifier given out (`ping_port_rover`), seeded from the stack's name. */
  pingRover: number;
  /** Sequence numbers of `stack.ping`, per stack. */
  pingSeq = 0;

  constructor(
    readonly net: Stack,
    readonly sysctl: IcmpSysctls,
  ) {
    this.mib = net.mib.register(new IcmpMib());
    this.msgMib = net.mib.register(new IcmpMsgMib());
    this.pingRover = seedFromName(net.name);
    net.gen[ICMP_NET_ID] = this;
  }
}

/** ICMP's state of a stack, or undefined when the icmp plugin is not in it. */
export function icmpNet(net: Stack): NetnsIcmp | undefined {
  return netGeneric<NetnsIcmp | undefined>(net, ICMP_NET_ID);
}

/** FNV-1a of the name, folded to 16 bits: a per-stack, reproducible start for echo identifiers. */
function seedFromName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return ((h >>> 16) ^ h) & 0xffff;
}
