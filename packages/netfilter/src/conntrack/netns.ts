/**
 * Conntrack's per-stack state (`struct netns_ct` and `struct nf_conntrack_net`): the table,
 * the `net.netfilter.nf_conntrack_*` sysctls with Linux's names and defaults, and the
 * `nf_conntrack` statistics as MIB counters.
 * @see net/netfilter/nf_conntrack_standalone.c, include/net/netns/conntrack.h
 * @packageDocumentation
 */
import {
  netGeneric,
  type PluginContext,
  registerPernetId,
  type Stack,
  type SysctlEntry,
} from "@skbuff/core";
import type { NfConn } from "./nf_conn.js";
import { NfConntrackTable } from "./table.js";

/**
 * `nf_conntrack_max` by default: Linux sizes the table from memory; 65536 is its value on a
 * 64-bit machine with 1 to 4 GiB of RAM (`nf_conntrack_htable_size` 65536, max factor 1).
 * @see net/netfilter/nf_conntrack_core.c nf_conntrack_init_start()
 */
export const NF_CONNTRACK_MAX_DEFAULT = 65536;

/** `nf_conntrack` statistics (`/proc/net/stat/nf_conntrack`, `conntrack -S`), nstat-style. */
export class NfConntrackMib {
  /** Packets whose connection was found in the table. */
  NfConntrackFound = 0;
  /** Packets conntrack could not track (no tuple, malformed, or invalid in the state). */
  NfConntrackInvalid = 0;
  /** Packets that already had a connection (loopback, untracked). */
  NfConntrackIgnore = 0;
  /** Connections inserted into the table. */
  NfConntrackInsert = 0;
  /** Connections whose insertion clashed with an existing entry. */
  NfConntrackInsertFailed = 0;
  /** Packets dropped because no connection could be made (table full). */
  NfConntrackDrop = 0;
  /** Unassured connections evicted to make room. */
  NfConntrackEarlyDrop = 0;
  /** Insertion clashes resolved by attaching the packet to the entry that won. */
  NfConntrackClashResolve = 0;
  /** Errors in ICMP errors (quoting nothing we track, malformed). */
  NfConntrackError = 0;
}

/** The `net.netfilter.nf_conntrack_*` sysctls, as live entries. */
export interface NfConntrackSysctls {
  readonly max: SysctlEntry<number>;
  readonly count: SysctlEntry<number>;
  readonly checksum: SysctlEntry<number>;
  readonly tcpLoose: SysctlEntry<number>;
  /** Seconds, indexed by TCP conntrack state (`tcp_timeouts[]`), SYN_SENT2 as SYN_SENT. */
  readonly tcpTimeouts: readonly SysctlEntry<number>[];
  readonly tcpTimeoutUnacknowledged: SysctlEntry<number>;
  readonly udpTimeout: SysctlEntry<number>;
  readonly udpTimeoutStream: SysctlEntry<number>;
  readonly icmpTimeout: SysctlEntry<number>;
  readonly genericTimeout: SysctlEntry<number>;
}

const CT_NET_ID = registerPernetId();

/**
 * Conntrack state of one stack. `nf_conntrack_count` counts confirmed connections (those in the
 * table); Linux also counts the unconfirmed ones whose first packet is still on its way.
 */
export class NetnsConntrack {
  readonly table: NfConntrackTable;
  readonly mib: NfConntrackMib;
  /** Called for each connection removed from the table (NAT forgets its bindings). */
  readonly destroyHooks: ((ct: NfConn) => void)[] = [];

  constructor(
    readonly net: Stack,
    readonly sysctl: NfConntrackSysctls,
    mib: NfConntrackMib,
  ) {
    this.mib = mib;
    this.table = new NfConntrackTable(net, (ct) => {
      for (const fn of this.destroyHooks) fn(ct);
      (this.sysctl.count as { value: number }).value = this.table.count;
    });
    net.gen[CT_NET_ID] = this;
  }
}

/** The conntrack state of a stack, or undefined when conntrack is not registered in it. */
export function nfCtNet(net: Stack): NetnsConntrack | undefined {
  return netGeneric<NetnsConntrack | undefined>(net, CT_NET_ID);
}

const SECS = 1;
const MINS = 60 * SECS;
const HOURS = 60 * MINS;
const DAYS = 24 * HOURS;

/** Registers the sysctls (Linux's names, defaults in seconds). */
export function registerConntrackSysctls(ctx: PluginContext, max: number): NfConntrackSysctls {
  const timeout = (name: string, def: number, doc: string): SysctlEntry<number> =>
    ctx.registerSysctl<number>({
      name: `net.netfilter.nf_conntrack_${name}`,
      type: "int",
      default: def,
      min: 0,
      doc,
    });
  const tcp = (state: string, def: number): SysctlEntry<number> =>
    timeout(`tcp_timeout_${state}`, def, `Seconds a TCP connection lives in ${state}.`);
  const synSent = tcp("syn_sent", 2 * MINS);
  const established = tcp("established", 5 * DAYS);
  const tcpTimeouts = [
    synSent, // NONE (unused)
    synSent,
    tcp("syn_recv", 60 * SECS),
    established,
    tcp("fin_wait", 2 * MINS),
    tcp("close_wait", 60 * SECS),
    tcp("last_ack", 30 * SECS),
    tcp("time_wait", 2 * MINS),
    tcp("close", 10 * SECS),
    synSent, // SYN_SENT2
  ];
  let count: SysctlEntry<number> | null = null;
  const countEntry = ctx.registerSysctl<number>({
    name: "net.netfilter.nf_conntrack_count",
    type: "int",
    default: 0,
    min: 0,
    doc: "Connections in the table (read-only: a write is undone).",
    onChange: () => {
      const ct = nfCtNet(ctx.stack);
      if (count !== null) count.value = ct?.table.count ?? 0;
    },
  });
  count = countEntry;
  return {
    max: ctx.registerSysctl<number>({
      name: "net.netfilter.nf_conntrack_max",
      type: "int",
      default: max,
      min: 0,
      doc: "Size of the connection table; 0 means no limit.",
    }),
    count: countEntry,
    checksum: ctx.registerSysctl<number>({
      name: "net.netfilter.nf_conntrack_checksum",
      type: "bool",
      default: 1,
      doc: "Verify transport checksums of packets arriving in PRE_ROUTING; bad ones are INVALID.",
    }),
    tcpLoose: ctx.registerSysctl<number>({
      name: "net.netfilter.nf_conntrack_tcp_loose",
      type: "bool",
      default: 1,
      doc: "Pick up already established TCP connections from a mid-stream ACK.",
    }),
    tcpTimeouts,
    tcpTimeoutUnacknowledged: tcp("unacknowledged", 5 * MINS),
    udpTimeout: timeout("udp_timeout", 30 * SECS, "Seconds an unreplied UDP flow lives."),
    udpTimeoutStream: timeout(
      "udp_timeout_stream",
      2 * MINS,
      "Seconds a UDP stream (replied, older than 2 s) lives.",
    ),
    icmpTimeout: timeout("icmp_timeout", 30 * SECS, "Seconds an ICMP query lives."),
    genericTimeout: timeout(
      "generic_timeout",
      10 * MINS,
      "Seconds a flow of another protocol lives.",
    ),
  };
}
