/**
 * The TCP tracker: Linux's state table (`tcp_conntracks[dir][flag class][state]`), the
 * validity checks of `tcp_error`, and the per-state timeouts.
 *
 * Window tracking (`tcp_in_window`: sequence and ack numbers checked against the windows each
 * side announced) is not done: every segment whose flags make sense in the state is accepted,
 * as with `nf_conntrack_tcp_be_liberal = 1` and no out-of-window checks at all.
 * @see net/netfilter/nf_conntrack_proto_tcp.c
 * @packageDocumentation
 */
import { getU16, type SkBuff } from "@skbuff/core";
import { CT_VERDICT, type CtVerdict, nfL4ChecksumOk } from "./l4.js";
import type { NetnsConntrack } from "./netns.js";
import { IPS, type NfConn, TCP_CONNTRACK, type TcpConntrackState } from "./nf_conn.js";
import { IP_CT_DIR, type IpCtDir } from "./tuple.js";

const TCPHDR_FIN = 0x01;
const TCPHDR_SYN = 0x02;
const TCPHDR_RST = 0x04;
const TCPHDR_PSH = 0x08;
const TCPHDR_ACK = 0x10;
const TCPHDR_URG = 0x20;
const TCPHDR_ECE = 0x40;
const TCPHDR_CWR = 0x80;

/** Flag classes, the rows of the state table (`enum tcp_bit_set`). */
export const TCP_BIT_SET = { SYN: 0, SYNACK: 1, FIN: 2, ACK: 3, RST: 4, NONE: 5 } as const;
/** One of {@link TCP_BIT_SET}. */
export type TcpBitSet = (typeof TCP_BIT_SET)[keyof typeof TCP_BIT_SET];

/**
 * `get_conntrack_index`: the class of a segment's flags.
 * @see net/netfilter/nf_conntrack_proto_tcp.c get_conntrack_index()
 */
export function tcpConntrackIndex(flags: number): TcpBitSet {
  if (flags & TCPHDR_RST) return TCP_BIT_SET.RST;
  if (flags & TCPHDR_SYN) return flags & TCPHDR_ACK ? TCP_BIT_SET.SYNACK : TCP_BIT_SET.SYN;
  if (flags & TCPHDR_FIN) return TCP_BIT_SET.FIN;
  if (flags & TCPHDR_ACK) return TCP_BIT_SET.ACK;
  return TCP_BIT_SET.NONE;
}

/** `sIV`: invalid in this state. */
const sIV = 10;
/** `sIG`: ignored (accepted, state unchanged). */
const sIG = 11;
const { SYN_SENT: sSS, SYN_RECV: sSR, ESTABLISHED: sES } = TCP_CONNTRACK;
const { FIN_WAIT: sFW, CLOSE_WAIT: sCW, LAST_ACK: sLA, TIME_WAIT: sTW } = TCP_CONNTRACK;
const { CLOSE: sCL, SYN_SENT2: sS2 } = TCP_CONNTRACK;

/**
 * `tcp_conntracks[2][6][TCP_CONNTRACK_MAX]`: the next state by direction, flag class and
 * current state (columns: NONE, SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT,
 * LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2).
 */
const TCP_CONNTRACKS: readonly (readonly (readonly number[])[])[] = [
  // ORIGINAL
  [
    /* syn */ [sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2],
    /* synack */ [sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR],
    /* fin */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack */ [sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV],
    /* rst */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
  // REPLY
  [
    /* syn */ [sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2],
    /* synack */ [sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR],
    /* fin */ [sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV],
    /* ack */ [sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG],
    /* rst */ [sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL],
    /* none */ [sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV],
  ],
];

/** `tcp_valid_flags`: the flag combinations (ECE, CWR and PSH aside) a segment may carry. */
const TCP_VALID_FLAGS = new Set<number>([
  TCPHDR_SYN,
  TCPHDR_SYN | TCPHDR_URG,
  TCPHDR_SYN | TCPHDR_ACK,
  TCPHDR_RST,
  TCPHDR_RST | TCPHDR_ACK,
  TCPHDR_FIN | TCPHDR_ACK,
  TCPHDR_FIN | TCPHDR_ACK | TCPHDR_URG,
  TCPHDR_ACK,
  TCPHDR_ACK | TCPHDR_URG,
]);

/** The TCP flags byte of the segment at `th`. */
export function tcpFlagsAt(b: Uint8Array, th: number): number {
  return b[th + 13]!;
}

/**
 * `tcp_error`: whether the segment at `th` (up to `end`) is sane enough to track: a complete
 * header, a valid flag combination and, in PRE_ROUTING, a good checksum.
 * @see net/netfilter/nf_conntrack_proto_tcp.c tcp_error()
 */
export function tcpError(
  skb: SkBuff,
  hook: number,
  nh: number,
  th: number,
  end: number,
  ns: NetnsConntrack,
): boolean {
  const b = skb.head;
  if (th + 20 > end) return true;
  const doff = (b[th + 12]! >> 4) * 4;
  if (doff < 20 || th + doff > end) return true;
  if (ns.sysctl.checksum.value && !nfL4ChecksumOk(skb, hook, nh, th, end, 6)) return true;
  const flags = tcpFlagsAt(b, th) & ~(TCPHDR_ECE | TCPHDR_CWR | TCPHDR_PSH);
  return !TCP_VALID_FLAGS.has(flags);
}

/**
 * `tcp_new`: whether a segment with these flags may start a connection — a SYN, or (with
 * `nf_conntrack_tcp_loose`) a mid-stream ACK of a connection made before we looked. Sets the
 * new connection's state; returns false when the segment is INVALID.
 * @see net/netfilter/nf_conntrack_proto_tcp.c tcp_new()
 */
export function tcpNew(ct: NfConn, flags: number, ns: NetnsConntrack): boolean {
  const next = TCP_CONNTRACKS[0]![tcpConntrackIndex(flags)]![TCP_CONNTRACK.NONE]!;
  if (next === sSS) {
    ct.tcpState = TCP_CONNTRACK.NONE;
    return true;
  }
  // "Don't try to pick up connections." (nf_conntrack_tcp_loose = 0)
  if (next >= sIV || !ns.sysctl.tcpLoose.value) return false;
  ct.tcpState = TCP_CONNTRACK.NONE;
  return true;
}

/**
 * `nf_conntrack_tcp_packet`: moves the connection along the state table and sets its timeout.
 * A SYN in the original direction of a closed (TIME_WAIT, CLOSE) connection reopens it: the
 * old one is killed and the packet looked up again.
 * @see net/netfilter/nf_conntrack_proto_tcp.c nf_conntrack_tcp_packet()
 */
export function tcpPacket(ct: NfConn, flags: number, dir: IpCtDir, ns: NetnsConntrack): CtVerdict {
  const old = ct.tcpState;
  const index = tcpConntrackIndex(flags);
  const next = TCP_CONNTRACKS[dir]![index]![old]!;
  if (next === sIV) return CT_VERDICT.INVALID;
  if (next === sIG) return CT_VERDICT.ACCEPT;
  if (
    next === sSS &&
    dir === IP_CT_DIR.ORIGINAL &&
    (old === TCP_CONNTRACK.TIME_WAIT || old === TCP_CONNTRACK.CLOSE) &&
    ct.confirmed
  ) {
    // RFC 1122 (4.2.2.13): a closed connection may be reopened by a new SYN; "Attempt to
    // reopen a closed/aborted connection. Delete this connection and look up again."
    ns.table.delete(ct);
    return CT_VERDICT.REPEAT;
  }
  const state = next as TcpConntrackState;
  ct.tcpState = state;
  let timeout = ns.sysctl.tcpTimeouts[state]!.value;
  // A connection never answered (picked up mid-stream, or one-sided) does not get the long
  // established timeout.
  if ((ct.status & IPS.SEEN_REPLY) === 0 && dir === IP_CT_DIR.ORIGINAL) {
    timeout = Math.min(timeout, ns.sysctl.tcpTimeoutUnacknowledged.value);
  }
  if (
    (ct.status & IPS.ASSURED) === 0 &&
    (old === TCP_CONNTRACK.SYN_RECV || old === TCP_CONNTRACK.ESTABLISHED) &&
    state === TCP_CONNTRACK.ESTABLISHED
  ) {
    // "Set ASSURED if we see valid ack in ESTABLISHED after SYN_RECV or a valid answer for a
    // picked up connection."
    ct.status |= IPS.ASSURED;
  }
  ns.table.refresh(ct, timeout * 1000);
  return CT_VERDICT.ACCEPT;
}

/** The ports of the TCP or UDP header at `th`. */
export function l4Ports(b: Uint8Array, th: number): [number, number] {
  return [getU16(b, th), getU16(b, th + 2)];
}
