/**
 * TCP's sysctls, with Linux's names and production defaults (the values packetdrill's README
 * lists, except `tcp_rmem`, whose Linux default gives window scale 7).
 * @see Documentation/networking/ip-sysctl.rst
 * @packageDocumentation
 */
import type { PluginContext, SysctlEntry } from "@skbuff/core";

/** The live entries TCP reads. */
export interface TcpSysctls {
  readonly rmem: SysctlEntry<readonly number[]>;
  readonly wmem: SysctlEntry<readonly number[]>;
  readonly moderateRcvbuf: SysctlEntry<number>;
  readonly sack: SysctlEntry<number>;
  readonly dsack: SysctlEntry<number>;
  readonly timestamps: SysctlEntry<number>;
  readonly windowScaling: SysctlEntry<number>;
  readonly synRetries: SysctlEntry<number>;
  readonly synackRetries: SysctlEntry<number>;
  readonly retries1: SysctlEntry<number>;
  readonly retries2: SysctlEntry<number>;
  readonly finTimeout: SysctlEntry<number>;
  readonly keepaliveTime: SysctlEntry<number>;
  readonly keepaliveIntvl: SysctlEntry<number>;
  readonly keepaliveProbes: SysctlEntry<number>;
  readonly maxSynBacklog: SysctlEntry<number>;
  readonly somaxconn: SysctlEntry<number>;
  readonly syncookies: SysctlEntry<number>;
  readonly congestionControl: SysctlEntry<string>;
  readonly reordering: SysctlEntry<number>;
  readonly earlyRetrans: SysctlEntry<number>;
  readonly recovery: SysctlEntry<number>;
  readonly slowStartAfterIdle: SysctlEntry<number>;
  readonly rfc1337: SysctlEntry<number>;
  readonly abortOnOverflow: SysctlEntry<number>;
  readonly minRttWlen: SysctlEntry<number>;
  readonly notsentLowat: SysctlEntry<number>;
  readonly frto: SysctlEntry<number>;
  readonly ecn: SysctlEntry<number>;
  readonly baseMss: SysctlEntry<number>;
  readonly mtuProbing: SysctlEntry<number>;
  readonly localPortRange: SysctlEntry<readonly number[]>;
  readonly challengeAckLimit: SysctlEntry<number>;
  readonly minTsoSegs: SysctlEntry<number>;
  readonly pacingSsRatio: SysctlEntry<number>;
  readonly pacingCaRatio: SysctlEntry<number>;
}

/** Registers TCP's sysctls; `congestion` is the default of `tcp_congestion_control`. */
export function registerTcpSysctls(
  ctx: PluginContext,
  congestion: string,
  choices: () => readonly string[],
): TcpSysctls {
  const int = (name: string, def: number, doc: string, min = 0, max?: number) =>
    ctx.registerSysctl<number>({
      name: `net.ipv4.${name}`,
      type: "int",
      default: def,
      min,
      ...(max === undefined ? {} : { max }),
      doc,
    });
  const bool = (name: string, def: number, doc: string) =>
    ctx.registerSysctl<number>({ name: `net.ipv4.${name}`, type: "bool", default: def, doc });
  const vec = (name: string, def: string, doc: string, length: number) =>
    ctx.registerSysctl<readonly number[]>({
      name,
      type: "intvec",
      default: def.split(" ").map(Number),
      length,
      min: 0,
      doc,
    });
  return {
    rmem: vec("net.ipv4.tcp_rmem", "4096 131072 6291456", "min, default, max receive buffer", 3),
    wmem: vec("net.ipv4.tcp_wmem", "4096 16384 4194304", "min, default, max send buffer", 3),
    moderateRcvbuf: bool("tcp_moderate_rcvbuf", 1, "Receive-buffer autotuning (tcp_rcvbuf.ts)."),
    sack: bool("tcp_sack", 1, "Selective acknowledgments (RFC 2018)."),
    dsack: bool("tcp_dsack", 1, "Duplicate SACK (RFC 2883)."),
    timestamps: bool("tcp_timestamps", 1, "Timestamps (RFC 7323)."),
    windowScaling: bool("tcp_window_scaling", 1, "Window scaling (RFC 7323)."),
    synRetries: int("tcp_syn_retries", 6, "SYN retransmissions of an active open.", 1, 127),
    synackRetries: int("tcp_synack_retries", 5, "SYN-ACK retransmissions.", 0, 255),
    retries1: int("tcp_retries1", 3, "Retransmissions before asking for a route update.", 0, 255),
    retries2: int("tcp_retries2", 15, "Retransmissions before giving up.", 0, 255),
    finTimeout: int("tcp_fin_timeout", 60, "Seconds an orphan stays in FIN_WAIT2."),
    keepaliveTime: int("tcp_keepalive_time", 7200, "Idle seconds before keepalive probes.", 1),
    keepaliveIntvl: int("tcp_keepalive_intvl", 75, "Seconds between keepalive probes.", 1),
    keepaliveProbes: int("tcp_keepalive_probes", 9, "Unanswered probes before reset.", 1),
    maxSynBacklog: int("tcp_max_syn_backlog", 4096, "Request socks per listener.", 1),
    somaxconn: ctx.registerSysctl<number>({
      name: "net.core.somaxconn",
      type: "int",
      default: 4096,
      min: 0,
      doc: "Upper limit of listen(2)'s backlog.",
    }),
    syncookies: int(
      "tcp_syncookies",
      1,
      "SYN cookies: 1 when the SYN queue overflows, 2 always.",
      0,
      2,
    ),
    congestionControl: ctx.registerSysctl<string>({
      name: "net.ipv4.tcp_congestion_control",
      type: "string",
      default: congestion,
      choices,
      doc: "Congestion control of new sockets.",
    }),
    reordering: int(
      "tcp_reordering",
      3,
      "Initial reordering degree (dupacks for fast retransmit).",
      1,
    ),
    earlyRetrans: int("tcp_early_retrans", 3, "Tail loss probe (3: TLP).", 0, 4),
    recovery: int("tcp_recovery", 1, "RACK loss detection bits."),
    slowStartAfterIdle: bool(
      "tcp_slow_start_after_idle",
      1,
      "Restart cwnd after idle (RFC 5681 4.1).",
    ),
    rfc1337: bool("tcp_rfc1337", 0, "Ignore RST in TIME_WAIT (RFC 1337)."),
    abortOnOverflow: bool("tcp_abort_on_overflow", 0, "Reset when the accept queue is full."),
    minRttWlen: int("tcp_min_rtt_wlen", 300, "Window of the min-RTT filter, seconds."),
    notsentLowat: int(
      "tcp_notsent_lowat",
      0xffffffff,
      "Unsent bytes under which POLLOUT is set.",
      0,
      0xffffffff,
    ),
    frto: int("tcp_frto", 2, "F-RTO (RFC 5682).", 0, 2),
    ecn: int("tcp_ecn", 2, "ECN: 2 answers, never asks.", 0, 2),
    baseMss: int("tcp_base_mss", 1024, "Starting MSS of MTU probing.", 1),
    mtuProbing: int("tcp_mtu_probing", 0, "Packetization-layer PMTUD.", 0, 2),
    localPortRange: vec("net.ipv4.ip_local_port_range", "32768 60999", "Ephemeral ports.", 2),
    challengeAckLimit: int("tcp_challenge_ack_limit", 1000, "Challenge ACKs per second."),
    minTsoSegs: int("tcp_min_tso_segs", 2, "Minimal segments per TSO frame.", 1, 255),
    pacingSsRatio: int("tcp_pacing_ss_ratio", 200, "Slow-start pacing, % of cwnd/srtt.", 0, 1000),
    pacingCaRatio: int("tcp_pacing_ca_ratio", 120, "Pacing after slow start, %.", 0, 1000),
  };
}
