/**
 * A third-party-style congestion-control plugin, written only against skbuff's public API:
 * Scalable TCP (Tom Kelly, 2003) registered as `scalable` in TCP's congestion-ops registry.
 * Once the plugin is in a stack, choose it per stack with the sysctl
 * `net.ipv4.tcp_congestion_control` or per socket with `TCP_CONGESTION`.
 *
 * ```ts
 * const stack = await createStack({
 *   plugins: [ipv4(), tcp(), scalableCc()],
 *   sysctl: { "net.ipv4.tcp_congestion_control": "scalable" },
 * });
 * ```
 * @see net/ipv4/tcp_scalable.c
 * @packageDocumentation
 */
import { definePlugin, type Plugin } from "@skbuff/core";
import {
  TCP_CONGESTION_OPS,
  type TcpCcSock,
  type TcpCongestionOps,
  tcpCongAvoidAi,
  tcpInSlowStart,
  tcpSlowStart,
} from "@skbuff/tcp";

/**
 * Additive increase: one packet per this many packets acked once cwnd is at least this large,
 * that is 0.01 packet per ACK, 1% per RTT (`TCP_SCALABLE_AI_CNT`). Below it, one packet per
 * cwnd acked, like Reno.
 */
export const TCP_SCALABLE_AI_CNT = 100;

/** Multiplicative decrease: cwnd − cwnd/2^3 = 0.875·cwnd (`TCP_SCALABLE_MD_SCALE`). */
export const TCP_SCALABLE_MD_SCALE = 3;

/**
 * Slow start below ssthresh, then cwnd += 0.01 per ACK (one packet per
 * {@link TCP_SCALABLE_AI_CNT} acked), only while the sender fills its window.
 * @see net/ipv4/tcp_scalable.c tcp_scalable_cong_avoid()
 */
export function tcpScalableCongAvoid(sk: TcpCcSock, _ack: number, acked: number): void {
  if (!sk.isCwndLimited) return;
  if (tcpInSlowStart(sk)) {
    acked = tcpSlowStart(sk, acked);
    if (acked === 0) return;
  }
  tcpCongAvoidAi(sk, Math.min(sk.sndCwnd, TCP_SCALABLE_AI_CNT), acked);
}

/**
 * ssthresh after a loss: 0.875·cwnd, at least 2 packets.
 * @see net/ipv4/tcp_scalable.c tcp_scalable_ssthresh()
 */
export function tcpScalableSsthresh(sk: TcpCcSock): number {
  return Math.max(sk.sndCwnd - (sk.sndCwnd >>> TCP_SCALABLE_MD_SCALE), 2);
}

/**
 * Undo restores the window from before the reduction, as Reno does (`tcp_reno_undo_cwnd`).
 */
export function tcpScalableUndoCwnd(sk: TcpCcSock): number {
  return Math.max(sk.sndCwnd, sk.priorCwnd);
}

/**
 * The `scalable` congestion-control table. Stateless: it needs no `init`/`release`.
 * @see net/ipv4/tcp_scalable.c struct tcp_congestion_ops tcp_scalable
 */
export const tcpScalable: TcpCongestionOps = Object.freeze({
  name: "scalable",
  ssthresh: tcpScalableSsthresh,
  congAvoid: tcpScalableCongAvoid,
  undoCwnd: tcpScalableUndoCwnd,
});

/**
 * The plugin: registers {@link tcpScalable} under `TCP_CONGESTION_OPS`, where TCP looks up
 * `net.ipv4.tcp_congestion_control` and `TCP_CONGESTION` by name. Requires `skbuff:tcp`, so the
 * stack registers TCP (and its sysctl) first.
 */
export function scalableCc(): Plugin {
  return definePlugin({
    name: "example:scalable-cc",
    requires: ["skbuff:tcp"],
    register(ctx) {
      ctx.container.register(TCP_CONGESTION_OPS, { useValue: tcpScalable });
    },
  });
}

export default scalableCc;
