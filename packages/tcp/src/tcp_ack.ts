/**
 * ACK processing: `tcp_ack` — window update, retransmit-queue cleaning, RTT samples (RFC 6298),
 * SACK scoreboard (RFC 2018/6675), dupack counting, fast retransmit and PRR (RFC 6937), and
 * the congestion-control calls.
 * @see net/ipv4/tcp_input.c tcp_ack(), tcp_clean_rtx_queue(), tcp_sacktag_write_queue(),
 *   tcp_fastretrans_alert(), tcp_rtt_estimator()
 * @packageDocumentation
 */
import { consumeSkb, type SkBuff } from "@skbuff/core";
import { TCP_CA, TCP_INFINITE_SSTHRESH } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { tcpSetCaState } from "./tcp.js";
import {
  PARTIAL_UNDO,
  REXMIT,
  tcpProcessLoss,
  tcpTryUndoPartial,
  tcpXmitRecovery,
} from "./tcp_loss.js";
import { TCP_RTO_MAX, TCP_RTO_MIN } from "./tcp_output.js";
import {
  TCP_RACK,
  tcpIsRack,
  tcpRackAdvance,
  tcpRackMarkLost,
  tcpRackUpdateReoWnd,
  tcpSkbTimestampUs,
} from "./tcp_rack.js";
import { tcpProcessTlpAck, tcpRtoDelta, tcpScheduleLossProbe } from "./tcp_recovery.js";
import { TCP_SKB_CB, TCPCB, type TcpSkbCb, type TcpSock } from "./tcp_sock.js";
import { after, before } from "./tcp_states.js";
import {
  ICSK_TIME,
  tcpCheckProbeTimer,
  tcpClearXmitTimer,
  tcpResetXmitTimer,
  tcpXmitTimerPending,
} from "./tcp_timer.js";
import {
  tcpInitUndo,
  tcpTryKeepOpen,
  tcpTryUndoDsack,
  tcpTryUndoRecovery,
  tcpUndoRetransSync,
} from "./tcp_undo.js";
import { TCP_CHRONO, tcpChronoStop, tcpSndbufExpand, tcpXmitRetransmitQueue } from "./tcp_write.js";
import { TCP_FLAG } from "./wire/tcphdr.js";

/** What one ACK did (`FLAG_*` of tcp_input.c). */
export const ACK_FLAG = {
  DATA: 0x01,
  WIN_UPDATE: 0x02,
  DATA_ACKED: 0x04,
  SYN_ACKED: 0x10,
  DATA_SACKED: 0x20,
  /** Never-retransmitted data at or below `high_seq` was (s)acked (F-RTO, tcp_loss.ts). */
  ORIG_SACK_ACKED: 0x200,
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

/**
 * `tcp_rearm_rto`: the retransmit timer runs while data is outstanding. When a loss probe or
 * the reordering timer held it, the RTO takes over for what is left of the oldest segment's.
 */
export function tcpRearmRto(sk: TcpSock): void {
  if (sk.packetsOut === 0) {
    if (!tcpXmitTimerPending(sk, ICSK_TIME.PROBE0)) tcpClearXmitTimer(sk);
    return;
  }
  let rto = sk.rto;
  if (
    tcpXmitTimerPending(sk, ICSK_TIME.REO_TIMEOUT) ||
    tcpXmitTimerPending(sk, ICSK_TIME.LOSS_PROBE)
  ) {
    rto = Math.max(tcpRtoDelta(sk), 1);
  }
  tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, rto);
}

/**
 * `tcp_highest_sack_seq`: the end of the highest SACKed segment (SND.UNA when none is), the
 * "forward-most" point the receiver reported.
 */
export function tcpHighestSackSeq(sk: TcpSock): number {
  if (sk.sackedOut === 0) return sk.sndUna;
  for (let skb = sk.rtxQueue.peekTail(); skb !== null; skb = skb.prev) {
    const cb = TCP_SKB_CB(skb);
    if (cb.sacked & TCPCB.SACKED_ACKED) return cb.endSeq;
  }
  return sk.sndUna;
}

/**
 * `tcp_check_sack_reordering`: a hole below the highest SACK was filled by a segment that was
 * never retransmitted: that is reordering. RFC 8985 6.2 step 3: "If … the segment was not
 * retransmitted … RACK.reordering_seen = TRUE". The reordering degree (`tcpi_reordering`) grows
 * to the distance in segments, up to `tcp_max_reordering` (300).
 */
function tcpCheckSackReordering(sk: TcpSock, lowSeq: number): void {
  const fack = tcpHighestSackSeq(sk);
  if (!before(lowSeq, fack)) return;
  const mss = sk.mssCache;
  const metric = (fack - lowSeq) >>> 0;
  if (mss > 0 && metric > sk.reordering * mss) {
    sk.reordering = Math.min(Math.ceil(metric / mss), TCP_MAX_REORDERING);
  }
  sk.reordSeen++;
  tcpNet(sk.net).mib.TcpExtTCPSACKReorder++;
}

/** `sysctl_tcp_max_reordering`. */
const TCP_MAX_REORDERING = 300;

/**
 * `tcp_check_dsack` + `tcp_dsack_seen`: a first block below the ACK, or inside the second, is a
 * D-SACK (RFC 2883 4). It is counted (`dsack_dups`) unless dubious (longer than any window we
 * were offered, or more duplicates than we ever retransmitted); one that covers a
 * retransmission of the current episode takes one off `undoRetrans`, and, once reordering has
 * been seen, asks RACK to widen reo_wnd (unless it answers a loss probe). Returns the
 * duplicate segments it reports.
 */
function tcpCheckDsack(sk: TcpSock, info: AckInfo, priorSndUna: number): number {
  const [s0, e0] = info.sack[0]!;
  const b1 = info.sack[1];
  if (!before(s0, info.ack) && !(b1 && !before(s0, b1[0]) && !after(e0, b1[1]))) return 0;
  tcpNet(sk.net).mib.TcpExtTCPDSACKRecv++;
  if (!before(s0, e0)) return 0;
  const len = (e0 - s0) >>> 0;
  if (len > sk.maxWindow) return 0;
  let dupSegs = 1;
  let tlp = false;
  if (len > sk.mssCache) dupSegs = Math.ceil(len / Math.max(sk.mssCache, 1));
  else if (sk.tlpHighSeq !== null && sk.tlpHighSeq === e0) tlp = true;
  sk.dsackDups += dupSegs;
  if (sk.dsackDups > sk.totalRetrans) return 0;
  if (sk.reordSeen > 0 && !tlp) sk.rackDsackSeen = true;
  tcpUndoRetransSync(sk);
  if (
    sk.undoMarker !== 0 &&
    sk.undoRetrans > 0 &&
    !after(e0, priorSndUna) &&
    after(e0, sk.undoMarker)
  ) {
    sk.undoRetrans = Math.max(0, sk.undoRetrans - dupSegs);
  }
  return dupSegs;
}

/**
 * `tcp_sacktag_write_queue` / `tcp_sacktag_one`: marks segments the SACK blocks cover (RFC 2018,
 * RFC 6675 "SACKed"), tells RACK of each newly delivered one, and notes reordering: a newly
 * SACKed segment below the highest SACK that was never retransmitted filled a hole by itself.
 * A retransmitted segment SACKed and not marked lost keeps its retransmission in flight.
 * Returns how many became SACKed; a counted D-SACK sets `DSACKING_ACK` in {@link sackFlag}.
 */
function tcpSacktag(sk: TcpSock, info: AckInfo, priorSndUna: number): number {
  let newly = 0;
  if (info.sack.length === 0) return 0;
  const dsack = tcpCheckDsack(sk, info, priorSndUna) > 0;
  if (dsack) sackFlag |= ACK_FLAG.DSACKING_ACK;
  const blocks =
    info.sack.length > 1 ? [...info.sack].sort((a, b) => (a[0] - b[0]) | 0) : info.sack;
  let fack = tcpHighestSackSeq(sk);
  let reord = sk.sndNxt;
  for (const [start, end] of blocks) {
    if (!after(end, sk.sndUna) || after(end, sk.sndNxt)) continue;
    const dupSack = dsack && start === info.sack[0]![0] && end === info.sack[0]![1];
    for (let skb = sackBlockFirst(sk, start, end); skb !== null; skb = skb.next) {
      const cb = TCP_SKB_CB(skb);
      if (after(cb.endSeq, end)) break;
      const sacked = cb.sacked;
      if (dupSack && sacked & TCPCB_RETRANS) {
        // tcp_sacktag_one: "Account D-SACK for retransmitted packet."
        tcpUndoRetransSync(sk);
        if (sk.undoMarker !== 0 && sk.undoRetrans > 0 && after(cb.endSeq, sk.undoMarker)) {
          sk.undoRetrans--;
        }
        if (sacked & TCPCB.SACKED_ACKED && before(cb.seq, reord)) reord = cb.seq;
      }
      if (sacked & TCPCB.SACKED_ACKED) {
        if (dupSack) tcpDsackClearRetrans(sk, cb);
        continue;
      }
      tcpRackAdvance(sk, sacked, cb.endSeq, tcpSkbTimestampUs(skb));
      if (sacked & TCPCB.SACKED_RETRANS) {
        if (sacked & TCPCB.LOST) {
          cb.sacked &= ~(TCPCB.LOST | TCPCB.SACKED_RETRANS);
          sk.lostOut--;
          sk.retransOut--;
        }
      } else {
        if (!(sacked & TCPCB_RETRANS) && before(cb.seq, fack) && before(cb.seq, reord)) {
          reord = cb.seq;
        }
        if (!(sacked & TCPCB_RETRANS) && !after(cb.endSeq, sk.highSeq)) {
          sackFlag |= ACK_FLAG.ORIG_SACK_ACKED;
        }
        if (sacked & TCPCB.LOST) {
          cb.sacked &= ~TCPCB.LOST;
          sk.lostOut--;
        }
      }
      cb.sacked |= TCPCB.SACKED_ACKED;
      sk.sackedOut++;
      newly++;
      if (after(cb.endSeq, fack)) fack = cb.endSeq;
      if (dupSack) tcpDsackClearRetrans(sk, cb);
    }
  }
  if (sk.caState !== TCP_CA.Loss || sk.undoMarker !== 0) {
    if (before(reord, sk.sndNxt)) tcpCheckSackReordering(sk, reord);
  }
  return newly;
}

/**
 * `tcp_sacktag_one`'s D-SACK step: "We can detect redundant retransmission in S|R and plain R
 * frames and clear it": a duplicate reported for a retransmission still counted in flight
 * (not marked lost: a loss probe) takes it out of `retransOut`.
 * @see net/ipv4/tcp_input.c tcp_sacktag_one()
 */
function tcpDsackClearRetrans(sk: TcpSock, cb: TcpSkbCb): void {
  if (!(cb.sacked & TCPCB.SACKED_RETRANS)) return;
  cb.sacked &= ~TCPCB.SACKED_RETRANS;
  if (sk.retransOut > 0) sk.retransOut--;
}

/**
 * The first segment at or above `start` (Linux finds it in its rb-tree): walked to from the
 * head or from the tail, whichever is nearer in sequence space, so a SACK block near SND.NXT
 * (the usual case) costs what it covers, not the whole window.
 */
function sackBlockFirst(sk: TcpSock, start: number, end: number): SkBuff | null {
  if ((start - sk.sndUna) >>> 0 <= (sk.sndNxt - end) >>> 0) {
    for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
      if (!before(TCP_SKB_CB(skb).seq, start)) return skb;
    }
    return null;
  }
  let first: SkBuff | null = null;
  for (let skb = sk.rtxQueue.peekTail(); skb !== null; skb = skb.prev) {
    if (before(TCP_SKB_CB(skb).seq, start)) break;
    first = skb;
  }
  return first;
}

/** `ACK_FLAG` bits {@link tcpSacktag} found (`sack_state.flag`), read right after the call. */
let sackFlag = 0;

/** What an ACK in Loss sends ({@link REXMIT}), once cwnd has grown for it (`tcp_xmit_recovery`). */
let lossRexmit: number = REXMIT.NONE;

/** What {@link tcpCleanRtxQueue} found: packets acked, of them delivered, the RTT sample (µs, or -1). */
interface CleanRtxResult {
  acked: number;
  delivered: number;
  rttUs: number;
  /** `FLAG_ORIG_SACK_ACKED`: never-retransmitted data at or below `high_seq` was acked. */
  orig: boolean;
}

/** The one {@link CleanRtxResult}, filled by each call and read right after it (no allocation per ACK). */
const cleanRtxResult: CleanRtxResult = { acked: 0, delivered: 0, rttUs: -1, orig: false };

/**
 * The one `struct ack_sample` handed to `pktsAcked`, refilled per ACK: valid for the call only
 * (as Linux's, which lives on `tcp_clean_rtx_queue`'s stack).
 */
const ackSample: { pktsAcked: number; rttUs: number; inFlight: number } = {
  pktsAcked: 0,
  rttUs: -1,
  inFlight: 0,
};

/** `TCPCB_RETRANS`: retransmitted at some point. */
const TCPCB_RETRANS = TCPCB.SACKED_RETRANS | TCPCB.EVER_RETRANS;

/**
 * `tcp_clean_rtx_queue`: frees segments the ACK covers, takes an RTT sample (Karn: only from a
 * segment never retransmitted, or from the echoed timestamp, RFC 7323 4.1), tells RACK of each
 * delivered segment that was not SACKed before (unless the timestamp shows a spurious
 * retransmission was ACKed), and notes a hole below the highest SACK filled by an original
 * transmission as reordering. Returns packets acked.
 */
function tcpCleanRtxQueue(sk: TcpSock, info: AckInfo, priorFack: number): CleanRtxResult {
  const now = sk.net.clock.now();
  const sack = sk.rxOpt.sackOk;
  let acked = 0;
  let delivered = 0;
  let seqRttMs = -1;
  let reord = sk.sndNxt;
  const q = sk.rtxQueue;
  // RACK's clock in µs (`sk.nowUs`), read once for every segment of this ACK.
  let nowUs = -1;
  for (let skb = q.peek(); skb !== null; skb = q.peek()) {
    const cb = TCP_SKB_CB(skb);
    if (after(cb.endSeq, info.ack)) break;
    q.unlink(skb);
    const sacked = cb.sacked;
    if (sacked & TCPCB.SACKED_RETRANS) sk.retransOut--;
    if (!(sacked & TCPCB_RETRANS) && !(sacked & TCPCB.SACKED_ACKED) && before(cb.seq, reord)) {
      reord = cb.seq;
    }
    if (sacked & TCPCB.SACKED_ACKED) {
      sk.sackedOut--;
    } else {
      delivered++;
      // tcp_skb_spurious_retrans: the echoed timestamp predates this retransmission.
      const spurious =
        sacked & TCPCB_RETRANS &&
        info.tsecr !== null &&
        info.tsecr !== 0 &&
        before(info.tsecr, Math.floor(cb.when) >>> 0);
      if (sack && !spurious) {
        if (nowUs < 0) nowUs = Math.round(now * 1000);
        tcpRackAdvance(sk, sacked, cb.endSeq, Math.round(cb.when * 1000), nowUs);
      }
    }
    if (sacked & TCPCB.LOST) sk.lostOut--;
    if (!(sacked & TCPCB.EVER_RETRANS)) seqRttMs = now - cb.when;
    sk.packetsOut--;
    acked++;
    consumeSkb(skb as SkBuff, sk.net);
  }
  // tcp_clean_rtx_queue(): "if (!skb) tcp_chrono_stop(sk, TCP_CHRONO_BUSY);"
  if (q.isEmpty()) tcpChronoStop(sk, TCP_CHRONO.BUSY);
  if (sk.retransOut < 0) sk.retransOut = 0;
  if (sk.sackedOut < 0) sk.sackedOut = 0;
  if (sk.lostOut < 0) sk.lostOut = 0;
  // "Non-retransmitted hole got filled? That's reordering"
  if (acked > 0 && sack && before(reord, priorFack)) tcpCheckSackReordering(sk, reord);
  let rttUs = -1;
  if (info.tsecr !== null && info.tsecr !== 0 && acked > 0) {
    rttUs = Math.max(((Math.floor(now) >>> 0) - info.tsecr) >>> 0, 0) * 1000 || 1000;
    if (rttUs > TCP_RTO_MAX * 1000) rttUs = -1;
  }
  if (rttUs < 0 && seqRttMs >= 0) rttUs = Math.max(seqRttMs * 1000, 1);
  const r = cleanRtxResult;
  r.acked = acked;
  r.delivered = delivered;
  r.rttUs = rttUs;
  // `reord` is the lowest never-retransmitted, not SACKed segment acked here.
  r.orig = before(reord, sk.highSeq);
  return r;
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

/**
 * `tcp_mark_head_lost` / RFC 6675 IsLost: unSACKed segments with `reordering` SACKed above.
 * Used without RACK (`tcp_recovery` bit 0 off), and for Reno's head segment.
 */
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

/** `tcp_current_ssthresh`: ssthresh, or 3/4 of cwnd when that is larger and no reduction runs. */
function tcpCurrentSsthresh(sk: TcpSock): number {
  if (sk.caState === TCP_CA.CWR || sk.caState === TCP_CA.Recovery) return sk.sndSsthresh;
  return Math.max(sk.sndSsthresh, (sk.sndCwnd >> 1) + (sk.sndCwnd >> 2));
}

/**
 * `tcp_enter_recovery`: RFC 6675 5 / RFC 5681 3.2 step 2, with PRR's initialisation
 * (`tcp_init_cwnd_reduction`) and the undo state (`tcp_init_undo`).
 */
export function tcpEnterRecovery(sk: TcpSock, reno: boolean): void {
  const tn = tcpNet(sk.net);
  if (reno) tn.mib.TcpExtTCPRenoRecovery++;
  else tn.mib.TcpExtTCPSackRecovery++;
  sk.priorSsthresh = 0;
  tcpInitUndo(sk);
  if (sk.caState !== TCP_CA.CWR && sk.caState !== TCP_CA.Recovery) {
    sk.priorSsthresh = tcpCurrentSsthresh(sk);
    sk.highSeq = sk.sndNxt;
    sk.tlpHighSeq = null;
    sk.priorCwnd = sk.sndCwnd;
    sk.prrDelivered = 0;
    sk.prrOut = 0;
    sk.priorInFlight = sk.packetsInFlight;
    if (sk.caOps) sk.sndSsthresh = sk.caOps.ssthresh(sk);
  }
  tcpSetCaState(sk, TCP_CA.Recovery);
}

/**
 * `tcp_cwnd_reduction`: PRR (RFC 6937 3.1). "If pipe > ssthresh: sndcnt = CEIL(prr_delivered *
 * ssthresh / RecoverFS) - prr_out; else … sndcnt = MIN(ssthresh - pipe, limit)" with the
 * slow-start reduction bound.
 */
export function tcpCwndReduction(
  sk: TcpSock,
  newlyAckedSacked: number,
  unaAdvanced: boolean,
): void {
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
 * `tcp_end_cwnd_reduction`: recovery is over; unless it was undone, cwnd resumes at ssthresh
 * (RFC 6937 3.1: "cwnd = ssthresh" on exiting recovery).
 */
function tcpEndCwndReduction(sk: TcpSock): void {
  if (sk.sndSsthresh < TCP_INFINITE_SSTHRESH && sk.undoMarker !== 0) {
    sk.sndCwnd = Math.max(sk.sndSsthresh, 2);
  }
}

/**
 * `tcp_identify_packet_loss` with RACK: runs the time-based scan (RFC 8985 6.2). Returns
 * whether it armed the reordering timer, which then stands in for the RTO/TLP timer.
 */
function tcpIdentifyPacketLoss(sk: TcpSock): boolean {
  if (sk.rtxQueue.isEmpty()) return false;
  return tcpRackMarkLost(sk);
}

/**
 * `tcp_fastretrans_alert`: the CA state machine. With RACK (SACK and `tcp_recovery` bit 0),
 * recovery starts once a segment is marked lost (`tcp_time_to_recover`: "Trick#1: The loss is
 * proven"); without it, after `tcp_reordering` duplicate ACKs (RFC 5681 3.2: "The fast
 * retransmit algorithm uses the arrival of 3 duplicate ACKs … as an indication that a segment
 * has been lost") or SACKed segments. It leaves Recovery when SND.UNA passes `high_seq`,
 * undoing the reduction when it proves spurious. Returns whether RACK armed its timer.
 */
function tcpFastretransAlert(
  sk: TcpSock,
  info: AckInfo,
  ackedPkts: number,
  newlySacked: number,
  isDupack: boolean,
  unaAdvanced: boolean,
  flag: number,
  priorSndUna: number,
): boolean {
  const reno = !sk.rxOpt.sackOk;
  const rack = !reno && tcpIsRack(sk);
  let reoArmed = false;
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
  // Leaving Recovery: RFC 6675 5: "the sender exits loss recovery" once SND.UNA ≥ RecoveryPoint.
  if (sk.caState === TCP_CA.Recovery && !before(sk.sndUna, sk.highSeq)) {
    if (reno) sk.sackedOut = 0;
    if (tcpTryUndoRecovery(sk, info.tsecr)) return false;
    tcpEndCwndReduction(sk);
  }
  // Loss (after an RTO): F-RTO and undo (tcp_loss.ts); once undone or recovered, as in Open.
  if (sk.caState === TCP_CA.Loss) {
    const rexmit = tcpProcessLoss(sk, flag, isDupack, info.tsecr);
    if (rack) reoArmed = tcpIdentifyPacketLoss(sk);
    if (sk.caState === TCP_CA.Loss) {
      lossRexmit = rexmit;
      return reoArmed;
    }
  }
  switch (sk.caState) {
    case TCP_CA.Recovery:
      if (unaAdvanced) {
        // A partial ACK whose timestamp shows the original was delivered (tcp_loss.ts).
        const partial = tcpTryUndoPartial(sk, priorSndUna, info.tsecr);
        if (partial === PARTIAL_UNDO.HOLD) {
          tcpCwndReduction(sk, ackedPkts + newlySacked, unaAdvanced);
          return reoArmed;
        }
        if (partial === PARTIAL_UNDO.UNDONE && reno) return reoArmed;
      }
      if (reno) {
        if (unaAdvanced) tcpMarkLost(sk, true);
      } else {
        if (tcpTryUndoDsack(sk)) tcpTryKeepOpen(sk);
        if (rack) reoArmed = tcpIdentifyPacketLoss(sk);
        else tcpMarkLost(sk, false);
        if (sk.caState !== TCP_CA.Recovery) {
          // Undone: loss still evident (reordering, then loss) starts a new recovery.
          if (sk.lostOut === 0) return reoArmed;
          tcpEnterRecovery(sk, false);
        }
      }
      tcpCwndReduction(sk, ackedPkts + newlySacked, unaAdvanced);
      tcpXmitRetransmitQueue(sk);
      return reoArmed;
    default: {
      if (rack) {
        if (sk.caState <= TCP_CA.Disorder) tcpTryUndoDsack(sk);
        reoArmed = tcpIdentifyPacketLoss(sk);
        if (sk.lostOut === 0) {
          tcpTryKeepOpen(sk);
          return reoArmed;
        }
      } else if (sk.sackedOut + 1 > sk.reordering || sk.lostOut > 0) {
        tcpMarkLost(sk, reno);
        if (sk.lostOut === 0) tcpMarkLost(sk, true);
      } else {
        tcpSetCaState(sk, sk.sackedOut > 0 ? TCP_CA.Disorder : TCP_CA.Open);
        return false;
      }
      tcpEnterRecovery(sk, reno);
      tcpCwndReduction(sk, ackedPkts + newlySacked, unaAdvanced);
      tcpXmitRetransmitQueue(sk);
      return reoArmed;
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
  const sack = sk.rxOpt.sackOk;
  // prior_fack: the highest SACKed sequence before this ACK.
  const priorFack = sack ? tcpHighestSackSeq(sk) : priorSndUna;
  let flag = tcpAckUpdateWindow(sk, info);
  sk.rcvTstamp = sk.net.clock.now();
  sk.probesOut = 0;
  let newlySacked = 0;
  if (info.sack.length && sack) {
    sackFlag = 0;
    newlySacked = tcpSacktag(sk, info, priorSndUna);
    flag |= sackFlag;
    if (newlySacked) flag |= ACK_FLAG.DATA_SACKED;
  }
  const unaAdvanced = after(ack, priorSndUna);
  let acked = 0;
  let setXmitTimer = false;
  // tp->delivered - prior_delivered: segments this ACK delivered, newly SACKed or cumulatively
  // acknowledged without having been SACKed before (tcp_sacktag_one, tcp_clean_rtx_queue).
  let delivered = newlySacked;
  if (unaAdvanced) {
    flag |= ACK_FLAG.SND_UNA_ADVANCED | ACK_FLAG.DATA_ACKED;
    sk.bytesAcked += (ack - priorSndUna) >>> 0;
    sk.sndUna = ack;
    const r = tcpCleanRtxQueue(sk, info, priorFack);
    acked = r.acked;
    delivered += r.delivered;
    if (r.orig) flag |= ACK_FLAG.ORIG_SACK_ACKED;
    const rttUs = r.rttUs;
    if (rttUs > 0) tcpRttEstimator(sk, rttUs);
    sk.retransmits = 0;
    sk.backoff = 0;
    // Kept through Recovery/Loss: undo compares echoed timestamps with it (tcp_packet_delayed).
    if (sk.retransOut === 0 && sk.caState <= TCP_CA.Disorder) sk.retransStamp = 0;
    const pktsAcked = sk.caOps?.pktsAcked;
    if (pktsAcked !== undefined) {
      ackSample.pktsAcked = acked;
      ackSample.rttUs = rttUs;
      ackSample.inFlight = sk.packetsInFlight;
      pktsAcked.call(sk.caOps, sk, ackSample);
    }
    tcpProcessTlpAck(sk, ack);
    setXmitTimer = true;
  } else if (info.dataLen === 0 && !(info.flags & (TCP_FLAG.SYN | TCP_FLAG.FIN))) {
    tn.mib.TcpExtTCPPureAcks++;
  }
  if (delivered > 0 && sack && tn.sysctl.recovery.value & TCP_RACK.LOSS_DETECTION) {
    tcpRackUpdateReoWnd(sk);
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
  // tcp_ack_is_dubious(); with nothing in flight, only a D-SACK (which may undo) gets here.
  if (
    (priorPackets > 0 &&
      (isDupack ||
        newlySacked > 0 ||
        flag & ACK_FLAG.DSACKING_ACK ||
        sk.caState !== TCP_CA.Open ||
        sk.sackedOut > 0)) ||
    (priorPackets === 0 && flag & ACK_FLAG.DSACKING_ACK)
  ) {
    // tcp_identify_packet_loss(): "if (tcp_rack_mark_lost(sk)) *ack_flag &= ~FLAG_SET_XMIT_TIMER"
    if (
      tcpFastretransAlert(sk, info, acked, newlySacked, isDupack, unaAdvanced, flag, priorSndUna)
    ) {
      setXmitTimer = false;
    }
  }
  // tcp_set_xmit_timer: a loss probe when it may help, else the RTO.
  if (setXmitTimer && !tcpScheduleLossProbe(sk)) tcpRearmRto(sk);
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
  if (lossRexmit !== REXMIT.NONE) {
    const rexmit = lossRexmit;
    lossRexmit = REXMIT.NONE;
    tcpXmitRecovery(sk, rexmit);
  }
  if (sk.packetsOut === 0 && !sk.writeQueue.isEmpty() && sk.sndWnd === 0) tcpCheckProbeTimer(sk);
  return 1;
}
