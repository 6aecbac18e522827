/**
 * ACK processing: `tcp_ack` — window update, retransmit-queue cleaning, RTT samples (RFC 6298),
 * SACK scoreboard (RFC 2018/6675), dupack counting, fast retransmit and PRR (RFC 6937), and
 * the congestion-control calls.
 * @see net/ipv4/tcp_input.c tcp_ack(), tcp_clean_rtx_queue(), tcp_sacktag_write_queue(),
 *   tcp_fastretrans_alert(), tcp_rtt_estimator()
 * @packageDocumentation
 */
import { consumeSkb, type SkBuff } from "@skbuff/core";
import { TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { tcpSetCaState } from "./tcp.js";
import { TCP_RTO_MAX, TCP_RTO_MIN } from "./tcp_output.js";
import { tcpProcessTlpAck, tcpScheduleLossProbe } from "./tcp_recovery.js";
import { TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { after, before } from "./tcp_states.js";
import {
  ICSK_TIME,
  tcpCheckProbeTimer,
  tcpClearXmitTimer,
  tcpResetXmitTimer,
  tcpXmitTimerPending,
} from "./tcp_timer.js";
import { TCP_CHRONO, tcpChronoStop, tcpSndbufExpand, tcpXmitRetransmitQueue } from "./tcp_write.js";
import { TCP_FLAG } from "./wire/tcphdr.js";

/** What one ACK did (`FLAG_*` of tcp_input.c). */
export const ACK_FLAG = {
  DATA: 0x01,
  WIN_UPDATE: 0x02,
  DATA_ACKED: 0x04,
  SYN_ACKED: 0x10,
  DATA_SACKED: 0x20,
  SND_UNA_ADVANCED: 0x400,
  DSACKING_ACK: 0x800,
} as const;

/** The segment's timestamps and SACK blocks, parsed by the caller. */
export interface AckInfo {
  readonly seq: number;
  readonly ack: number;
  readonly window: number;
  readonly flags: number;
  readonly dataLen: number;
  readonly tsecr: number | null;
  readonly sack: readonly (readonly [number, number])[];
}

/**
 * `tcp_rtt_estimator` + `tcp_set_rto` with a sample `mrtt` in µs. RFC 6298 2.2/2.3 with Linux's
 * scaling (srtt ×8, mdev ×4) and its floor: RTO = SRTT + max(4·RTTVAR, TCP_RTO_MIN).
 */
export function tcpRttEstimator(sk: TcpSock, mrttUs: number): void {
  let m = Math.max(1, Math.round(mrttUs));
  if (sk.minRttUs === 0 || m < sk.minRttUs) sk.minRttUs = m;
  if (sk.srttUs !== 0) {
    m -= sk.srttUs >> 3;
    sk.srttUs += m;
    if (m < 0) {
      m = -m;
      m -= sk.mdevUs >> 2;
      if (m > 0) m >>= 3;
    } else {
      m -= sk.mdevUs >> 2;
    }
    sk.mdevUs += m;
  } else {
    sk.srttUs = m << 3;
    sk.mdevUs = m << 1;
  }
  sk.rttvarUs = Math.max(sk.mdevUs, TCP_RTO_MIN * 1000);
  // RFC 6298 2.5: "A maximum value MAY be placed on RTO provided it is at least 60 seconds."
  sk.rto = Math.min(Math.ceil(((sk.srttUs >> 3) + sk.rttvarUs) / 1000), TCP_RTO_MAX);
}

/** `tcp_rearm_rto`: the retransmit timer runs while data is outstanding. */
export function tcpRearmRto(sk: TcpSock): void {
  if (sk.packetsOut === 0) {
    if (!tcpXmitTimerPending(sk, ICSK_TIME.PROBE0)) tcpClearXmitTimer(sk);
    return;
  }
  tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, sk.rto);
}

/**
 * `tcp_sacktag_write_queue`: marks segments the SACK blocks cover. Returns how many became
 * SACKed. A first block below SND.UNA, or inside the second, is a D-SACK (RFC 2883 4).
 */
function tcpSacktag(sk: TcpSock, info: AckInfo, priorSndUna: number): number {
  const tn = tcpNet(sk.net);
  let newly = 0;
  const blocks = info.sack;
  if (blocks.length === 0) return 0;
  const [s0, e0] = blocks[0]!;
  const b1 = blocks[1];
  if (before(s0, info.ack) || (b1 && !before(s0, b1[0]) && !after(e0, b1[1]))) {
    tn.mib.TcpExtTCPDSACKRecv++;
    sk.dsackDups++;
  }
  void priorSndUna;
  for (const [start, end] of blocks) {
    if (!after(end, sk.sndUna) || after(end, sk.sndNxt)) continue;
    for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
      const cb = TCP_SKB_CB(skb);
      if (before(cb.seq, start) || after(cb.endSeq, end)) continue;
      if (cb.sacked & TCPCB.SACKED_ACKED) continue;
      if (cb.sacked & TCPCB.SACKED_RETRANS) {
        cb.sacked &= ~TCPCB.SACKED_RETRANS;
        sk.retransOut--;
      }
      if (cb.sacked & TCPCB.LOST) {
        cb.sacked &= ~TCPCB.LOST;
        sk.lostOut--;
      }
      cb.sacked |= TCPCB.SACKED_ACKED;
      sk.sackedOut++;
      newly++;
    }
  }
  return newly;
}

/**
 * `tcp_clean_rtx_queue`: frees segments the ACK covers, takes an RTT sample (Karn: only from a
 * segment never retransmitted, or from the echoed timestamp, RFC 7323 4.1). Returns packets acked.
 */
function tcpCleanRtxQueue(
  sk: TcpSock,
  info: AckInfo,
): { acked: number; delivered: number; rttUs: number } {
  const now = sk.net.clock.now();
  let acked = 0;
  let delivered = 0;
  let seqRttMs = -1;
  for (let skb = sk.rtxQueue.peek(); skb !== null; skb = sk.rtxQueue.peek()) {
    const cb = TCP_SKB_CB(skb);
    if (after(cb.endSeq, info.ack)) break;
    sk.rtxQueue.unlink(skb);
    if (cb.sacked & TCPCB.SACKED_RETRANS) sk.retransOut--;
    if (cb.sacked & TCPCB.SACKED_ACKED) sk.sackedOut--;
    else delivered++;
    if (cb.sacked & TCPCB.LOST) sk.lostOut--;
    if (!(cb.sacked & TCPCB.EVER_RETRANS)) seqRttMs = now - cb.when;
    sk.packetsOut--;
    acked++;
    consumeSkb(skb as SkBuff, sk.net);
  }
  // tcp_clean_rtx_queue(): "if (!skb) tcp_chrono_stop(sk, TCP_CHRONO_BUSY);"
  if (sk.rtxQueue.isEmpty()) tcpChronoStop(sk, TCP_CHRONO.BUSY);
  sk.retransOut = Math.max(0, sk.retransOut);
  sk.sackedOut = Math.max(0, sk.sackedOut);
  sk.lostOut = Math.max(0, sk.lostOut);
  let rttUs = -1;
  if (info.tsecr !== null && info.tsecr !== 0 && acked > 0) {
    rttUs = Math.max(((Math.floor(now) >>> 0) - info.tsecr) >>> 0, 0) * 1000 || 1000;
    if (rttUs > TCP_RTO_MAX * 1000) rttUs = -1;
  }
  if (rttUs < 0 && seqRttMs >= 0) rttUs = Math.max(seqRttMs * 1000, 1);
  return { acked, delivered, rttUs };
}

/** `tcp_may_update_window` (RFC 9293 3.10.7.4 "If SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and SND.WL2 =< SEG.ACK)"). */
function tcpAckUpdateWindow(sk: TcpSock, info: AckInfo): number {
  let nwin = info.window;
  if (!(info.flags & TCP_FLAG.SYN)) nwin <<= sk.rxOpt.sndWscale;
  if (
    after(info.ack, sk.sndUna) ||
    after(info.seq, sk.sndWl1) ||
    (info.seq === sk.sndWl1 && nwin > sk.sndWnd)
  ) {
    sk.sndWl1 = info.seq;
    if (sk.sndWnd !== nwin) {
      sk.sndWnd = nwin;
      sk.maxWindow = Math.max(sk.maxWindow, nwin);
      return ACK_FLAG.WIN_UPDATE;
    }
  }
  return 0;
}

/** `tcp_mark_head_lost` / RFC 6675 IsLost: unSACKed segments with `reordering` SACKed above. */
function tcpMarkLost(sk: TcpSock, reno: boolean): void {
  if (reno) {
    const head = sk.rtxQueue.peek();
    if (head) {
      const cb = TCP_SKB_CB(head);
      if (!(cb.sacked & (TCPCB.LOST | TCPCB.SACKED_ACKED))) {
        cb.sacked |= TCPCB.LOST;
        sk.lostOut++;
      }
    }
    return;
  }
  let sackedAbove = 0;
  for (let skb = sk.rtxQueue.peekTail(); skb !== null; skb = skb.prev) {
    const cb = TCP_SKB_CB(skb);
    if (cb.sacked & TCPCB.SACKED_ACKED) {
      sackedAbove++;
      continue;
    }
    if (sackedAbove >= sk.reordering && !(cb.sacked & (TCPCB.LOST | TCPCB.SACKED_RETRANS))) {
      cb.sacked |= TCPCB.LOST;
      sk.lostOut++;
    }
  }
}

/** `tcp_enter_recovery`: RFC 6675 5 / RFC 5681 3.2 step 2, with PRR's initialisation. */
function tcpEnterRecovery(sk: TcpSock, reno: boolean): void {
  const tn = tcpNet(sk.net);
  if (reno) tn.mib.TcpExtTCPRenoRecovery++;
  else tn.mib.TcpExtTCPSackRecovery++;
  sk.priorSsthresh = sk.sndSsthresh;
  sk.undoMarker = sk.sndUna;
  sk.priorCwnd = sk.sndCwnd;
  if (sk.caOps) sk.sndSsthresh = sk.caOps.ssthresh(sk);
  sk.prrDelivered = 0;
  sk.prrOut = 0;
  sk.priorInFlight = sk.packetsInFlight;
  sk.highSeq = sk.sndNxt;
  tcpSetCaState(sk, TCP_CA.Recovery);
}

/**
 * `tcp_cwnd_reduction`: PRR (RFC 6937 3.1). "If pipe > ssthresh: sndcnt = CEIL(prr_delivered *
 * ssthresh / RecoverFS) - prr_out; else … sndcnt = MIN(ssthresh - pipe, limit)" with the
 * slow-start reduction bound.
 */
function tcpCwndReduction(sk: TcpSock, newlyAckedSacked: number, unaAdvanced: boolean): void {
  if (newlyAckedSacked <= 0) return;
  const inFlight = sk.packetsInFlight;
  const delta = sk.sndSsthresh - inFlight;
  sk.prrDelivered += newlyAckedSacked;
  let sndcnt: number;
  if (delta < 0) {
    const dividend = sk.sndSsthresh * sk.prrDelivered + Math.max(sk.priorCwnd, 1) - 1;
    sndcnt = Math.floor(dividend / Math.max(sk.priorCwnd, 1)) - sk.prrOut;
  } else if (unaAdvanced) {
    sndcnt = Math.min(delta, Math.max(sk.prrDelivered - sk.prrOut, newlyAckedSacked) + 1);
  } else {
    sndcnt = Math.min(delta, newlyAckedSacked);
  }
  // Force a fast retransmit upon entering fast recovery.
  sndcnt = Math.max(sndcnt, sk.prrOut === 0 ? 1 : 0);
  sk.sndCwnd = inFlight + sndcnt;
}

/**
 * `tcp_fastretrans_alert`: the CA state machine. Enters Recovery after `tcp_reordering`
 * duplicate ACKs (RFC 5681 3.2: "The fast retransmit algorithm uses the arrival of 3 duplicate
 * ACKs … as an indication that a segment has been lost") or SACKed segments; leaves it when
 * SND.UNA passes `high_seq`.
 */
function tcpFastretransAlert(
  sk: TcpSock,
  ackedPkts: number,
  newlySacked: number,
  isDupack: boolean,
  unaAdvanced: boolean,
): void {
  const reno = !sk.rxOpt.sackOk;
  if (reno) {
    if (isDupack) {
      // tcp_add_reno_sack: a duplicate ACK stands for one segment that left the network.
      sk.sackedOut = Math.min(sk.sackedOut + 1, Math.max(sk.packetsOut - 1, 0));
      newlySacked = 1;
    } else if (ackedPkts > 0) {
      sk.sackedOut = Math.max(0, sk.sackedOut - Math.max(ackedPkts - 1, 0));
      if (sk.caState !== TCP_CA.Recovery) sk.sackedOut = 0;
    }
  }
  // Leaving Recovery or Loss: RFC 6675 5: "the sender exits loss recovery" once SND.UNA ≥ RecoveryPoint.
  if (
    (sk.caState === TCP_CA.Recovery || sk.caState === TCP_CA.Loss) &&
    !before(sk.sndUna, sk.highSeq)
  ) {
    if (sk.caState === TCP_CA.Recovery) sk.sndCwnd = Math.max(sk.sndSsthresh, 2);
    if (reno) sk.sackedOut = 0;
    tcpSetCaState(sk, TCP_CA.Open);
  }
  switch (sk.caState) {
    case TCP_CA.Recovery:
      if (reno && unaAdvanced) tcpMarkLost(sk, true);
      else if (!reno) tcpMarkLost(sk, false);
      tcpCwndReduction(sk, ackedPkts + newlySacked, unaAdvanced);
      tcpXmitRetransmitQueue(sk);
      return;
    case TCP_CA.Loss:
      tcpXmitRetransmitQueue(sk);
      return;
    default: {
      if (sk.sackedOut + 1 > sk.reordering || sk.lostOut > 0) {
        tcpMarkLost(sk, reno);
        if (sk.lostOut === 0) tcpMarkLost(sk, true);
        tcpEnterRecovery(sk, reno);
        tcpCwndReduction(sk, ackedPkts + newlySacked, unaAdvanced);
        tcpXmitRetransmitQueue(sk);
        return;
      }
      tcpSetCaState(sk, sk.sackedOut > 0 ? TCP_CA.Disorder : TCP_CA.Open);
    }
  }
}

/**
 * `tcp_ack`: processes the ACK of a segment. Returns 1 when it was acceptable, 0 for an old
 * (duplicate or stale) ACK that is ignored, and -1 for an ACK of data not yet sent (RFC 9293
 * 3.10.7.4: "If the ACK acks something not yet sent (SEG.ACK > SND.NXT), then send an ACK,
 * drop the segment, and return").
 */
export function tcpAck(sk: TcpSock, info: AckInfo): number {
  const priorSndUna = sk.sndUna;
  const ack = info.ack;
  if (before(ack, priorSndUna)) return 0;
  if (after(ack, sk.sndNxt)) return -1;
  const tn = tcpNet(sk.net);
  const priorPackets = sk.packetsOut;
  const priorWnd = sk.sndWnd;
  let flag = tcpAckUpdateWindow(sk, info);
  sk.rcvTstamp = sk.net.clock.now();
  sk.probesOut = 0;
  let newlySacked = 0;
  if (info.sack.length && sk.rxOpt.sackOk) {
    newlySacked = tcpSacktag(sk, info, priorSndUna);
    if (newlySacked) flag |= ACK_FLAG.DATA_SACKED;
  }
  const unaAdvanced = after(ack, priorSndUna);
  let acked = 0;
  // tp->delivered - prior_delivered: segments this ACK delivered, newly SACKed or cumulatively
  // acknowledged without having been SACKed before (tcp_sacktag_one, tcp_clean_rtx_queue).
  let delivered = newlySacked;
  if (unaAdvanced) {
    flag |= ACK_FLAG.SND_UNA_ADVANCED | ACK_FLAG.DATA_ACKED;
    sk.bytesAcked += (ack - priorSndUna) >>> 0;
    sk.sndUna = ack;
    const r = tcpCleanRtxQueue(sk, info);
    acked = r.acked;
    delivered += r.delivered;
    if (r.rttUs > 0) tcpRttEstimator(sk, r.rttUs);
    sk.retransmits = 0;
    sk.backoff = 0;
    if (sk.retransOut === 0) sk.retransStamp = 0;
    sk.caOps?.pktsAcked?.(sk, { pktsAcked: acked, rttUs: r.rttUs, inFlight: sk.packetsInFlight });
    tcpProcessTlpAck(sk, ack);
    // tcp_set_xmit_timer: a loss probe when it may help, else the RTO.
    if (!tcpScheduleLossProbe(sk)) tcpRearmRto(sk);
  } else if (info.dataLen === 0 && !(info.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN))) {
    tn.mib.TcpExtTCPPureAcks++;
  }
  const isDupack =
    !unaAdvanced &&
    info.dataLen === 0 &&
    !(info.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN)) &&
    priorPackets > 0 &&
    sk.sndWnd === priorWnd &&
    (flag & ACK_FLAG.WIN_UPDATE) === 0;
  if (isDupack) sk.dupAcks++;
  else if (unaAdvanced) sk.dupAcks = 0;
  if (
    priorPackets > 0 &&
    (isDupack || newlySacked > 0 || sk.caState !== TCP_CA.Open || sk.sackedOut > 0)
  ) {
    tcpFastretransAlert(sk, acked, newlySacked, isDupack, unaAdvanced);
  }
  if (
    unaAdvanced &&
    sk.caOps &&
    (sk.caState === TCP_CA.Open || sk.caState === TCP_CA.Loss || sk.caState === TCP_CA.Disorder)
  ) {
    const cwnd = sk.sndCwnd;
    // tcp_cong_control(sk, ack, delivered, …) → tcp_cong_avoid(sk, ack, acked_sacked): cwnd grows
    // by what this ACK delivered, not by segments SACKed earlier, so the ACK that ends fast
    // recovery leaves cwnd at ssthresh (tcp_end_cwnd_reduction) instead of growing it again.
    sk.caOps.congAvoid(sk, ack, delivered);
    // tcp_new_space → tcp_should_expand_sndbuf: a larger window deserves a larger buffer.
    if (sk.sndCwnd > cwnd) tcpSndbufExpand(sk);
  }
  if (sk.packetsOut === 0 && !sk.writeQueue.isEmpty() && sk.sndWnd === 0) tcpCheckProbeTimer(sk);
  return 1;
}
