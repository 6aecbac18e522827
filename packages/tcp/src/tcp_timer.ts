/**
 * TCP's timers: retransmission with exponential backoff, zero-window probes, delayed ACK,
 * keepalive (which also reaps orphans in FIN_WAIT2), all made with `net.createTimer` and given
 * back with `net.deleteTimer` when the socket is destroyed. The retransmit timer also serves
 * the tail loss probe (tcp_recovery.ts) and RACK's reordering timeout (tcp_rack.ts).
 * @see net/ipv4/tcp_timer.c
 * @packageDocumentation
 */
import { ERRNO } from "@skbuff/core";
import { tcpNet } from "./netns.js";
import { TCP_TIMEWAIT_LEN, tcpDone, tcpTimeWait, tcpWriteErr } from "./tcp.js";
import { tcpEnterLoss } from "./tcp_loss.js";
import { TCP_RTO_MAX, tcpSendActiveReset, tcpSendProbe0, tcpWriteWakeup } from "./tcp_output.js";
import { tcpRackReoTimeout } from "./tcp_rack.js";
import { tcpSendLossProbe } from "./tcp_recovery.js";
import { TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { TCP_CLOSE, TCP_FIN_WAIT2, TCP_LISTEN, TCP_SYN_RECV, TCP_SYN_SENT } from "./tcp_states.js";
import { tcpRetransmitSkb, tcpWriteXmit } from "./tcp_write.js";

/**
 * `ICSK_TIME_*`: what the retransmit timer is armed for (`icsk_pending`). One timer serves
 * the RTO, the zero-window probe, the tail loss probe and RACK's reordering timeout.
 */
export const ICSK_TIME = { RETRANS: 1, PROBE0: 3, LOSS_PROBE: 5, REO_TIMEOUT: 6 } as const;

/** `inet_csk_reset_xmit_timer`. */
export function tcpResetXmitTimer(sk: TcpSock, what: number, whenMs: number): void {
  let t = sk.retransmitTimer;
  if (t === null) {
    t = sk.net.createTimer(() => tcpWriteTimer(sk));
    sk.retransmitTimer = t;
  }
  sk.icskPending = what;
  t.arm(Math.min(whenMs, TCP_RTO_MAX));
}

/** `inet_csk_clear_xmit_timer`. */
export function tcpClearXmitTimer(sk: TcpSock): void {
  if (sk.icskPending === 0) return;
  sk.icskPending = 0;
  sk.retransmitTimer?.cancel();
}

/**
 * Gives the retransmit timer back to the stack while nothing is armed on it (the handshake is
 * over and no data is in flight): an idle connection then holds no timer or callback, and the
 * first segment it sends makes one again ({@link tcpResetXmitTimer}).
 */
export function tcpReleaseIdleXmitTimer(sk: TcpSock): void {
  const t = sk.retransmitTimer;
  if (t === null || t.pending) return;
  sk.net.deleteTimer(t);
  sk.retransmitTimer = null;
  sk.icskPending = 0;
}

/** Whether the retransmit timer is armed for `what`. */
export function tcpXmitTimerPending(sk: TcpSock, what: number): boolean {
  return sk.icskPending === what && sk.retransmitTimer !== null && sk.retransmitTimer.pending;
}

/** Cancels a scheduled delayed ACK (`inet_csk_clear_xmit_timer(ICSK_TIME_DACK)`). */
export function tcpStopDelack(sk: TcpSock): void {
  sk.delackTimer?.cancel();
}

/** `inet_csk_clear_xmit_timers` + `sk_stop_timer_sync`: gives every timer back to the stack. */
export function tcpDeleteTimers(sk: TcpSock): void {
  for (const t of [sk.retransmitTimer, sk.delackTimer, sk.keepaliveTimer]) {
    if (t) sk.net.deleteTimer(t);
  }
  sk.retransmitTimer = sk.delackTimer = sk.keepaliveTimer = null;
  sk.icskPending = 0;
}

/** `tcp_write_timer_handler`. */
function tcpWriteTimer(sk: TcpSock): void {
  if (sk.state === TCP_CLOSE || sk.state === TCP_LISTEN) return;
  const what = sk.icskPending;
  sk.icskPending = 0;
  if (what === ICSK_TIME.PROBE0) tcpProbeTimer(sk);
  else if (what === ICSK_TIME.LOSS_PROBE) tcpSendLossProbe(sk);
  else if (what === ICSK_TIME.REO_TIMEOUT) tcpRackReoTimeout(sk);
  else tcpRetransmitTimer(sk);
}

/**
 * Whether the connection has been retransmitting for too long: `retries` backoffs, or the
 * TCP_USER_TIMEOUT (ms) since the first unacknowledged retransmission (`retransmits_timed_out`).
 */
function retransmitsTimedOut(sk: TcpSock, retries: number): boolean {
  if (sk.userTimeout > 0 && sk.retransStamp) {
    return sk.net.clock.now() - sk.retransStamp >= sk.userTimeout;
  }
  return sk.retransmits >= retries;
}

/** `tcp_write_timeout`: gives up on the connection when it has timed out. */
function tcpWriteTimeout(sk: TcpSock): boolean {
  const tn = tcpNet(sk.net);
  const synState = sk.state === TCP_SYN_SENT || sk.state === TCP_SYN_RECV;
  const retries = synState ? sk.synRetries || tn.sysctl.synRetries.value : tn.sysctl.retries2.value;
  if (!retransmitsTimedOut(sk, retries)) return false;
  tn.mib.TcpExtTCPAbortOnTimeout++;
  tcpWriteErr(sk);
  return true;
}

/**
 * `tcp_retransmit_timer`: RFC 6298 5.4–5.6: "Retransmit the earliest segment that has not been
 * acknowledged", "The host MUST set RTO <- RTO * 2 ("back off the timer")", "Start the
 * retransmission timer".
 */
export function tcpRetransmitTimer(sk: TcpSock): void {
  const head = sk.rtxQueue.peek();
  if (head === null) return;
  const tn = tcpNet(sk.net);
  if (tcpWriteTimeout(sk)) return;
  tn.mib.TcpExtTCPTimeouts++;
  tcpEnterLoss(sk);
  TCP_SKB_CB(head).sacked &= ~TCPCB.SACKED_RETRANS;
  if (tcpRetransmitSkb(sk, head) === 0) sk.lostOut = Math.max(0, sk.lostOut);
  sk.retransmits++;
  sk.backoff++;
  sk.rto = Math.min(sk.rto * 2, TCP_RTO_MAX);
  tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, sk.rto);
}

/**
 * `tcp_probe_timer`: the peer's window is zero and we have data; RFC 9293 3.8.6.1: "The
 * transmitting host SHOULD send the first zero-window probe when a zero window has existed for
 * the retransmission timeout period … and SHOULD increase exponentially the interval between
 * successive probes."
 */
export function tcpProbeTimer(sk: TcpSock): void {
  if (sk.packetsOut > 0 || sk.writeQueue.isEmpty()) {
    sk.probesOut = 0;
    sk.backoff = 0;
    return;
  }
  const tn = tcpNet(sk.net);
  const maxProbes = tn.sysctl.retries2.value;
  if (
    sk.probesOut >= maxProbes ||
    (sk.userTimeout > 0 && sk.probesOut > 0 && sk.net.clock.now() - sk.rcvTstamp >= sk.userTimeout)
  ) {
    tn.mib.TcpExtTCPAbortOnTimeout++;
    tcpWriteErr(sk);
    return;
  }
  // The window may have opened without us hearing: try sending first.
  if (sk.sndWnd > 0) {
    tcpWriteXmit(sk);
    if (sk.packetsOut > 0) return;
  }
  tcpSendProbe0(sk);
  sk.probesOut++;
  sk.backoff++;
  tcpResetXmitTimer(
    sk,
    ICSK_TIME.PROBE0,
    Math.min(sk.rto << Math.min(sk.backoff, 10), TCP_RTO_MAX),
  );
}

/** `tcp_check_probe_timer`: arms the probe timer when data waits on a zero window. */
export function tcpCheckProbeTimer(sk: TcpSock): void {
  if (
    sk.packetsOut === 0 &&
    !sk.writeQueue.isEmpty() &&
    !tcpXmitTimerPending(sk, ICSK_TIME.PROBE0)
  ) {
    tcpResetXmitTimer(sk, ICSK_TIME.PROBE0, sk.rto);
  }
}

/** `keepalive_time_when`, ms. */
function keepaliveTime(sk: TcpSock): number {
  return (sk.keepaliveTime || tcpNet(sk.net).sysctl.keepaliveTime.value) * 1000;
}

/** `inet_csk_reset_keepalive_timer`. */
export function tcpResetKeepaliveTimer(sk: TcpSock, ms: number): void {
  if (sk.keepaliveTimer === null)
    sk.keepaliveTimer = sk.net.createTimer(() => tcpKeepaliveTimer(sk));
  sk.keepaliveTimer.arm(ms);
}

/** `tcp_set_keepalive`: SO_KEEPALIVE turned on or off. */
export function tcpSetKeepalive(sk: TcpSock, on: boolean): void {
  sk.keepalive = on;
  if (on && sk.state !== TCP_CLOSE && sk.state !== TCP_LISTEN)
    tcpResetKeepaliveTimer(sk, keepaliveTime(sk));
  else if (!on && sk.state !== TCP_FIN_WAIT2) sk.keepaliveTimer?.cancel();
}

/**
 * `tcp_keepalive_timer`: reaps an orphan in FIN_WAIT2 after `linger2`/`tcp_fin_timeout`, and
 * sends keepalive probes (RFC 1122 4.2.3.6) after `tcp_keepalive_time` idle, resetting the
 * connection after `tcp_keepalive_probes` unanswered ones.
 */
export function tcpKeepaliveTimer(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  if (sk.state === TCP_FIN_WAIT2 && sk.dead) {
    // What is left of the FIN_WAIT2 timeout is spent as a mini-sock.
    tcpTimeWait(sk, TCP_FIN_WAIT2, TCP_TIMEWAIT_LEN);
    return;
  }
  if (
    !sk.keepalive ||
    sk.state === TCP_CLOSE ||
    sk.state === TCP_LISTEN ||
    sk.state === TCP_SYN_SENT
  )
    return;
  if (sk.packetsOut > 0 || !sk.writeQueue.isEmpty()) {
    tcpResetKeepaliveTimer(sk, keepaliveTime(sk));
    return;
  }
  const now = sk.net.clock.now();
  const idle = now - sk.rcvTstamp;
  const intvl = (sk.keepaliveIntvl || tn.sysctl.keepaliveIntvl.value) * 1000;
  const probes = sk.keepaliveProbes || tn.sysctl.keepaliveProbes.value;
  if (idle >= keepaliveTime(sk)) {
    if (
      (sk.userTimeout > 0 && idle >= sk.userTimeout && sk.probesOut > 0) ||
      (sk.userTimeout === 0 && sk.probesOut >= probes)
    ) {
      tcpSendActiveReset(sk);
      sk.err = ERRNO.ETIMEDOUT;
      tn.mib.TcpExtTCPAbortOnTimeout++;
      tcpDone(sk);
      return;
    }
    tn.mib.TcpExtTCPKeepAlive++;
    tcpWriteWakeup(sk);
    sk.probesOut++;
    tcpResetKeepaliveTimer(sk, intvl);
    return;
  }
  tcpResetKeepaliveTimer(sk, keepaliveTime(sk) - idle);
}
