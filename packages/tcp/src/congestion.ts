/**
 * The congestion-control plugin point, `struct tcp_congestion_ops`: algorithms register by
 * name (through the stack's DI container) and are chosen per stack with
 * `net.ipv4.tcp_congestion_control` or per socket with `TCP_CONGESTION`.
 * @see include/net/tcp.h struct tcp_congestion_ops, net/ipv4/tcp_cong.c
 * @packageDocumentation
 */
import { token } from "@skbuff/core";

/** Congestion-avoidance states (`enum tcp_ca_state`). */
export const TCP_CA = {
  Open: 0,
  Disorder: 1,
  CWR: 2,
  Recovery: 3,
  Loss: 4,
} as const;
/** One of {@link TCP_CA}. */
export type TcpCaState = (typeof TCP_CA)[keyof typeof TCP_CA];

/** Events told to `cwndEvent` (`enum tcp_ca_event`). */
export const CA_EVENT = {
  /** First transmit when no packets in flight. */
  TX_START: 0,
  /** Congestion window restart after idle. */
  CWND_RESTART: 1,
  /** End of congestion recovery. */
  COMPLETE_CWR: 2,
  /** Loss timeout. */
  LOSS: 3,
  /** ECT set, but not CE marked. */
  ECN_NO_CE: 4,
  /** Received CE marked IP packet. */
  ECN_IS_CE: 5,
} as const;
/** One of {@link CA_EVENT}. */
export type TcpCaEvent = (typeof CA_EVENT)[keyof typeof CA_EVENT];

/**
 * What a congestion-control algorithm sees of a socket: the fields of `struct tcp_sock` and
 * `inet_connection_sock` Linux's algorithms read and write. Units as in Linux: windows in
 * packets (segments), times in microseconds.
 */
export interface TcpCcSock {
  /** Congestion window, packets (`snd_cwnd`). */
  sndCwnd: number;
  /** Slow-start threshold, packets (`snd_ssthresh`). */
  sndSsthresh: number;
  /** Linear-increase counter (`snd_cwnd_cnt`). */
  sndCwndCnt: number;
  /** Upper bound of the window (`snd_cwnd_clamp`). */
  sndCwndClamp: number;
  /** cwnd before the last reduction, for undo (`prior_cwnd`). */
  priorCwnd: number;
  /** Packets in flight (`tcp_packets_in_flight`). */
  readonly packetsInFlight: number;
  /** Whether the last send was limited by cwnd (`is_cwnd_limited`). */
  readonly isCwndLimited: boolean;
  /** Smoothed RTT ×8 in µs (`srtt_us`, as Linux keeps it). */
  readonly srttUs: number;
  /** Minimum RTT seen, µs (`tcp_min_rtt`). */
  readonly minRttUs: number;
  /** Current CA state (`icsk_ca_state`). */
  readonly caState: TcpCaState;
  /** Sender MSS (`mss_cache`). */
  readonly mssCache: number;
  /** The socket clock, µs (`tcp_clock_us`), and ms (`tcp_jiffies32`, 1 jiffy = 1 ms). */
  readonly nowUs: number;
  /** Algorithm-private state (`icsk_ca_priv`). */
  caPriv: unknown;
}

/** One ACK's sample for `pktsAcked` (`struct ack_sample`). */
export interface AckSample {
  readonly pktsAcked: number;
  /** RTT of this ACK in µs, or -1 when there is none. */
  readonly rttUs: number;
  readonly inFlight: number;
}

/** `struct tcp_congestion_ops`. Required: `name`, `ssthresh`, `congAvoid`, `undoCwnd`. */
export interface TcpCongestionOps {
  readonly name: string;
  /** Sets up `caPriv` for a socket. */
  init?(sk: TcpCcSock): void;
  /** Frees what `init` made. */
  release?(sk: TcpCcSock): void;
  /** Slow-start threshold after a loss (required). */
  ssthresh(sk: TcpCcSock): number;
  /** Grows cwnd on an ACK of `acked` packets (required). */
  congAvoid(sk: TcpCcSock, ack: number, acked: number): void;
  /** Told of a CA-state change before it happens. */
  setState?(sk: TcpCcSock, newState: TcpCaState): void;
  /** Told of events. */
  cwndEvent?(sk: TcpCcSock, ev: TcpCaEvent): void;
  /** Told of every ACK that acks new data, with its RTT sample. */
  pktsAcked?(sk: TcpCcSock, sample: AckSample): void;
  /** cwnd to restore when a reduction is undone (required). */
  undoCwnd(sk: TcpCcSock): number;
}

/** DI token under which congestion-control algorithms are registered (resolveAll). */
export const TCP_CONGESTION_OPS = token<TcpCongestionOps>("skbuff:tcp_congestion_ops");

/** `TCP_INFINITE_SSTHRESH`. */
export const TCP_INFINITE_SSTHRESH = 0x7fffffff;

/** `tcp_in_slow_start`. */
export function tcpInSlowStart(sk: TcpCcSock): boolean {
  return sk.sndCwnd < sk.sndSsthresh;
}

/**
 * `tcp_slow_start`: grows cwnd by the packets acked, up to ssthresh; returns the acks left over
 * for congestion avoidance. RFC 5681 3.1: "During slow start, a TCP increments cwnd by at most
 * SMSS bytes for each ACK received that cumulatively acknowledges new data."
 */
export function tcpSlowStart(sk: TcpCcSock, acked: number): number {
  const cwnd = Math.min(sk.sndCwnd + acked, sk.sndSsthresh);
  acked -= cwnd - sk.sndCwnd;
  sk.sndCwnd = Math.min(cwnd, sk.sndCwndClamp);
  return acked;
}

/**
 * `tcp_cong_avoid_ai`: additive increase, one packet per `w` packets acked.
 */
export function tcpCongAvoidAi(sk: TcpCcSock, w: number, acked: number): void {
  if (sk.sndCwndCnt >= w) {
    sk.sndCwndCnt = 0;
    sk.sndCwnd++;
  }
  sk.sndCwndCnt += acked;
  if (sk.sndCwndCnt >= w) {
    const delta = Math.floor(sk.sndCwndCnt / w);
    sk.sndCwndCnt -= delta * w;
    sk.sndCwnd += delta;
  }
  sk.sndCwnd = Math.min(sk.sndCwnd, sk.sndCwndClamp);
}
