/**
 * TCP Reno (NewReno's window arithmetic), the algorithm every stack can fall back to: slow start,
 * additive increase of one packet per window, halving on loss. The loss-recovery part of NewReno
 * (fast retransmit, PRR) lives in the engine; this table only decides the window.
 * @see net/ipv4/tcp_cong.c tcp_reno
 * @packageDocumentation
 */
import {
  type TcpCcSock,
  type TcpCongestionOps,
  tcpCongAvoidAi,
  tcpInSlowStart,
  tcpSlowStart,
} from "./congestion.js";

/**
 * Slow-start threshold after a congestion event: half the window, at least 2 packets.
 *
 * RFC 5681 (3.1): "When a TCP sender detects segment loss using the retransmission timer and the
 * given segment has not yet been resent by way of the retransmission timer, the value of ssthresh
 * MUST be set to no more than the value given in equation (4): ssthresh = max (FlightSize / 2,
 * 2*SMSS)". Linux, like this function, halves cwnd rather than FlightSize: it only grows cwnd
 * while the sender is cwnd-limited (see {@link tcpRenoCongAvoid}), so cwnd stays close to what is
 * in flight, and the engine caps what it uses by the flight anyway.
 * @see net/ipv4/tcp_cong.c tcp_reno_ssthresh()
 */
export function tcpRenoSsthresh(sk: TcpCcSock): number {
  return Math.max(sk.sndCwnd >>> 1, 2);
}

/**
 * Grows cwnd on an ACK: slow start below ssthresh, then additive increase.
 *
 * RFC 5681 (3.1): "The slow start algorithm is used when cwnd < ssthresh, while the congestion
 * avoidance algorithm is used when cwnd > ssthresh." In slow start, "a TCP increments cwnd by at
 * most SMSS bytes for each ACK received that cumulatively acknowledges new data"
 * ({@link tcpSlowStart}, which also hands acks left over past ssthresh to congestion avoidance).
 * In congestion avoidance, "cwnd is incremented by roughly 1 full-sized segment per round-trip
 * time (RTT)": Linux counts acked packets in `snd_cwnd_cnt` and adds one packet per cwnd of them
 * ({@link tcpCongAvoidAi}).
 *
 * The window is not grown when the sender did not use it (`is_cwnd_limited` false): a window
 * that was never filled says nothing about the path (RFC 7661's concern).
 * @see net/ipv4/tcp_cong.c tcp_reno_cong_avoid()
 */
export function tcpRenoCongAvoid(sk: TcpCcSock, _ack: number, acked: number): void {
  if (!sk.isCwndLimited) return;
  if (tcpInSlowStart(sk)) {
    acked = tcpSlowStart(sk, acked);
    if (acked === 0) return;
  }
  tcpCongAvoidAi(sk, sk.sndCwnd, acked);
}

/**
 * cwnd to restore when the engine finds a reduction was spurious (DSACK, timestamps, F-RTO):
 * the larger of the current window and the one before the reduction.
 * @see net/ipv4/tcp_cong.c tcp_reno_undo_cwnd()
 */
export function tcpRenoUndoCwnd(sk: TcpCcSock): number {
  return Math.max(sk.sndCwnd, sk.priorCwnd);
}

/**
 * The `reno` congestion-control table. Register it with
 * `ctx.container.register(TCP_CONGESTION_OPS, { useValue: tcpReno })`.
 * @see net/ipv4/tcp_cong.c struct tcp_congestion_ops tcp_reno
 */
export const tcpReno: TcpCongestionOps = Object.freeze({
  name: "reno",
  ssthresh: tcpRenoSsthresh,
  congAvoid: tcpRenoCongAvoid,
  undoCwnd: tcpRenoUndoCwnd,
});
