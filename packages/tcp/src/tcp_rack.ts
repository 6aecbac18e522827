/**
 * RACK (RFC 8985 6): time-based loss detection. A segment is lost when a segment sent after it
 * has been delivered (cumulatively or selectively acknowledged) and more than RACK.rtt +
 * RACK.reo_wnd has passed since it was sent. When the time has not come yet, the reordering
 * timer (`ICSK_TIME_REO_TIMEOUT`, sharing the retransmit timer like RTO and TLP) looks again.
 *
 * Segments are scanned in sequence order (the retransmit queue) rather than by send time
 * (Linux's `tsorted_sent_queue`): every segment is checked, so the order only costs the early
 * stop Linux gets from its time-sorted list.
 * @see net/ipv4/tcp_recovery.c
 * @packageDocumentation
 */
import type { SkBuff } from "@skbuff/core";
import { TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { tcpCwndReduction, tcpEnterRecovery, tcpRearmRto } from "./tcp_ack.js";
import { tcpRtoDelta } from "./tcp_recovery.js";
import { TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { after } from "./tcp_states.js";
import { ICSK_TIME, tcpResetXmitTimer, tcpXmitTimerPending } from "./tcp_timer.js";
import { tcpXmitRetransmitQueue } from "./tcp_write.js";

/** `TCP_RACK_LOSS_DETECTION`, `TCP_RACK_STATIC_REO_WND`, `TCP_RACK_NO_DUPTHRESH`: bits of `tcp_recovery`. */
export const TCP_RACK = { LOSS_DETECTION: 0x1, STATIC_REO_WND: 0x2, NO_DUPTHRESH: 0x4 } as const;

/** `TCP_RACK_RECOVERY_THRESH`: recoveries a widened reo_wnd persists for. */
export const TCP_RACK_RECOVERY_THRESH = 16;

/** `TCP_TIMEOUT_MIN` (ms, 2 jiffies): added to every reordering timeout. */
const TCP_TIMEOUT_MIN = 2;

/** `TCPCB_RETRANS`: the segment was retransmitted at some point. */
const TCPCB_RETRANS = TCPCB.SACKED_RETRANS | TCPCB.EVER_RETRANS;

/** `tcp_is_rack`: RACK loss detection is on (`net.ipv4.tcp_recovery` bit 0, Linux's default). */
export function tcpIsRack(sk: TcpSock): boolean {
  return (tcpNet(sk.net).sysctl.recovery.value & TCP_RACK.LOSS_DETECTION) !== 0;
}

/** `tcp_skb_timestamp_us`: when the segment was last sent, µs of the stack clock. */
export function tcpSkbTimestampUs(skb: SkBuff): number {
  return Math.round(TCP_SKB_CB(skb).when * 1000);
}

/**
 * `tcp_skb_sent_after`: RFC 8985 6.2 "RACK_sent_after(t1, seq1, t2, seq2): If t1 > t2 Return
 * true … else if t1 == t2 AND seq1 > seq2 Return true". The stack's virtual clock can send an
 * original and, later, its retransmission at one instant (a zero-delay link), which a real
 * clock never does; so at equal times a retransmission (`r`) counts as sent after an original
 * before sequence numbers are compared.
 */
export function tcpSkbSentAfter(
  t1: number,
  r1: boolean,
  seq1: number,
  t2: number,
  r2: boolean,
  seq2: number,
): boolean {
  if (t1 !== t2) return t1 > t2;
  if (r1 !== r2) return r1;
  return after(seq1, seq2);
}

/**
 * `tcp_rack_reo_wnd`: RFC 8985 6.2 step 4. Zero while no reordering has been seen and either
 * recovery is under way or `reordering` segments are SACKed (the DupThresh rule: "If
 * RACK.reordering_seen is FALSE … if SACKed segments >= DupThresh, return 0"); otherwise
 * min_rtt/4 per step, at most SRTT ("RACK.reo_wnd = min(RACK.reo_wnd_mult * RACK.min_RTT / 4,
 * SRTT)"). Linux uses min_rtt "because reordering is often a path property".
 */
export function tcpRackReoWnd(sk: TcpSock): number {
  if (sk.reordSeen === 0) {
    if (sk.caState >= TCP_CA.Recovery) return 0;
    const noDupthresh = tcpNet(sk.net).sysctl.recovery.value & TCP_RACK.NO_DUPTHRESH;
    if (sk.sackedOut >= sk.reordering && !noDupthresh) return 0;
  }
  const minRtt = sk.minRttUs === 0 ? Number.POSITIVE_INFINITY : sk.minRttUs;
  return Math.min(Math.floor(minRtt / 4) * sk.rackReoWndSteps, sk.srttUs >> 3);
}

/**
 * `tcp_mark_skb_lost`: marks a segment lost; a retransmission found lost again gives back its
 * retransmitted mark so it can be sent once more.
 */
export function tcpMarkSkbLost(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  if (cb.sacked & TCPCB.SACKED_ACKED) return;
  if (cb.sacked & TCPCB.LOST) {
    if (cb.sacked & TCPCB.SACKED_RETRANS) {
      cb.sacked &= ~TCPCB.SACKED_RETRANS;
      sk.retransOut = Math.max(0, sk.retransOut - 1);
      tcpNet(sk.net).mib.TcpExtTCPLostRetransmit++;
    }
  } else {
    cb.sacked |= TCPCB.LOST;
    sk.lostOut++;
  }
}

/**
 * `tcp_rack_skb_timeout` with a reo_wnd of `reoWndUs`: µs left at `nowUs` before RACK may call
 * the segment sent at `xmitUs` lost (≤ 0: its time has come). RFC 8985 6.2: "remaining = Segment.xmit_ts + RACK.rtt +
 * RACK.reo_wnd - Now".
 */
export function tcpRackSkbTimeout(
  sk: TcpSock,
  xmitUs: number,
  reoWndUs: number,
  nowUs: number,
): number {
  return xmitUs + sk.rackRttUs + reoWndUs - nowUs;
}

/**
 * `tcp_rack_detect_loss`: RFC 8985 6.2 step 5. "For each segment, Segment, not acknowledged
 * yet: If RACK_sent_after(RACK.xmit_ts, RACK.end_seq, Segment.xmit_ts, Segment.end_seq) …
 * If (remaining <= 0) Segment.lost = TRUE … Else timeout = max(remaining, timeout)", with
 * "remaining = Segment.xmit_ts + RACK.rtt + RACK.reo_wnd - Now". Returns the timeout in µs
 * (0: nothing left to wait for).
 */
export function tcpRackDetectLoss(sk: TcpSock): number {
  const reoWnd = tcpRackReoWnd(sk);
  const now = sk.nowUs;
  let timeout = 0;
  for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
    const cb = TCP_SKB_CB(skb);
    if (cb.sacked & TCPCB.SACKED_ACKED) continue;
    // Marked lost and not retransmitted yet: nothing more to learn about it.
    if (cb.sacked & TCPCB.LOST && !(cb.sacked & TCPCB.SACKED_RETRANS)) continue;
    const xmit = tcpSkbTimestampUs(skb);
    const retrans = (cb.sacked & TCPCB.SACKED_RETRANS) !== 0;
    if (!tcpSkbSentAfter(sk.rackMstampUs, sk.rackRetrans, sk.rackEndSeq, xmit, retrans, cb.endSeq))
      continue;
    const remaining = tcpRackSkbTimeout(sk, xmit, reoWnd, now);
    if (remaining <= 0) tcpMarkSkbLost(sk, skb);
    else timeout = Math.max(timeout, remaining);
  }
  return timeout;
}

/**
 * `tcp_rack_mark_lost`: runs the loss scan when RACK advanced, and arms the reordering timer
 * for what may still be lost (RFC 8985 6.2 step 5: "If RACK.timeout … arm the RACK timer").
 * Returns whether the timer was armed.
 */
export function tcpRackMarkLost(sk: TcpSock): boolean {
  if (!sk.rackAdvanced) return false;
  sk.rackAdvanced = false;
  const timeoutUs = tcpRackDetectLoss(sk);
  if (timeoutUs === 0) return false;
  // usecs_to_jiffies(timeout) + TCP_TIMEOUT_MIN, bounded by the RTO.
  const ms = Math.ceil(timeoutUs / 1000) + TCP_TIMEOUT_MIN;
  tcpResetXmitTimer(sk, ICSK_TIME.REO_TIMEOUT, Math.min(ms, sk.rto));
  return true;
}

/**
 * `tcp_rack_advance`: RFC 8985 6.2 step 2, a segment was delivered: remember the most recently
 * sent one delivered and its RTT. "If Segment.retransmitted is TRUE and Segment.rtt <
 * RACK.min_RTT … Return" (the ACK may be for the original; the sample is ambiguous).
 */
export function tcpRackAdvance(
  sk: TcpSock,
  sacked: number,
  endSeq: number,
  xmitUs: number,
  nowUs: number = sk.nowUs,
): void {
  const rttUs = nowUs - xmitUs;
  const minRtt = sk.minRttUs === 0 ? Number.POSITIVE_INFINITY : sk.minRttUs;
  if (rttUs < minRtt && sacked & TCPCB_RETRANS) return;
  sk.rackAdvanced = true;
  sk.rackRttUs = rttUs;
  const retrans = (sacked & TCPCB.SACKED_RETRANS) !== 0;
  if (tcpSkbSentAfter(xmitUs, retrans, endSeq, sk.rackMstampUs, sk.rackRetrans, sk.rackEndSeq)) {
    sk.rackMstampUs = xmitUs;
    sk.rackRetrans = retrans;
    sk.rackEndSeq = endSeq;
  }
}

/**
 * `tcp_rack_reo_timeout`: the reordering timer fired. Segments whose time has come are marked
 * lost; if any were, recovery starts (with PRR's first step) and they are retransmitted. The
 * RTO then runs again for what is left of the oldest segment's timeout.
 */
export function tcpRackReoTimeout(sk: TcpSock): void {
  const priorInFlight = sk.packetsInFlight;
  tcpRackDetectLoss(sk);
  if (priorInFlight !== sk.packetsInFlight) {
    if (sk.caState !== TCP_CA.Recovery) {
      tcpEnterRecovery(sk, false);
      tcpCwndReduction(sk, 1, false);
    }
    tcpXmitRetransmitQueue(sk);
  }
  // tcp_rearm_rto() with icsk_pending still ICSK_TIME_REO_TIMEOUT: the RTO resumes for what is
  // left of the oldest segment's, unless a retransmission just restarted it.
  if (tcpXmitTimerPending(sk, ICSK_TIME.RETRANS)) return;
  if (sk.packetsOut === 0) tcpRearmRto(sk);
  else tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, Math.max(tcpRtoDelta(sk), 1));
}

/**
 * `tcp_rack_update_reo_wnd`: RFC 8985 6.2 step 4, adapting reo_wnd to D-SACKs: "If a DSACK is
 * received … RACK.reo_wnd_mult += 1 … RACK.reo_wnd_persist = 16", at most once per round trip;
 * after 16 recoveries without one it returns to one step. Linux bounds the round trip with the
 * delivered count when the ACKed segment was sent; here, with its send time (RACK.xmit_ts).
 */
export function tcpRackUpdateReoWnd(sk: TcpSock): void {
  if (tcpNet(sk.net).sysctl.recovery.value & TCP_RACK.STATIC_REO_WND) return;
  // Disregard a D-SACK for data sent before reo_wnd was last widened.
  if (sk.rackMstampUs < sk.rackReoWndStampUs) sk.rackDsackSeen = false;
  if (sk.rackDsackSeen) {
    sk.rackReoWndSteps = Math.min(0xff, sk.rackReoWndSteps + 1);
    sk.rackDsackSeen = false;
    sk.rackReoWndStampUs = sk.nowUs;
    sk.rackReoWndPersist = TCP_RACK_RECOVERY_THRESH;
  } else if (sk.rackReoWndPersist === 0) {
    sk.rackReoWndSteps = 1;
  }
}
