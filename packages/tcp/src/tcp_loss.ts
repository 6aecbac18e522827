/**
 * Recovery from a retransmission timeout: the Loss state. The RTO marks the oldest segment lost
 * and, with RACK, only the segments RACK's timer has given up on; cwnd shrinks to what is still
 * in flight plus the one retransmission. F-RTO (RFC 5682, SACK-enhanced, Linux's
 * `tcp_frto=2`) then watches the next ACKs: data sent before the timeout and never
 * retransmitted coming back means the timeout was spurious, and the reduction is undone.
 * @see net/ipv4/tcp_input.c tcp_enter_loss(), tcp_timeout_mark_lost(), tcp_process_loss(),
 *   tcp_try_undo_partial()
 * @packageDocumentation
 */
import { CA_EVENT, TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { tcpSetCaState } from "./tcp.js";
import { ACK_FLAG, tcpHighestSackSeq } from "./tcp_ack.js";
import { tcpIsRack, tcpMarkSkbLost, tcpRackSkbTimeout, tcpSkbTimestampUs } from "./tcp_rack.js";
import { TCP_NAGLE, TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { after, before } from "./tcp_states.js";
import {
  tcpAnyRetransDone,
  tcpInitUndo,
  tcpPacketDelayed,
  tcpTryKeepOpen,
  tcpTryUndoLoss,
  tcpTryUndoRecovery,
  tcpUndoCwndReduction,
} from "./tcp_undo.js";
import { tcpWriteXmit, tcpXmitRetransmitQueue } from "./tcp_write.js";

/** `REXMIT_*`: what an ACK in Loss asks to send next (`tcp_xmit_recovery`). */
export const REXMIT = { NONE: 0, LOST: 1, NEW: 2 } as const;

/** `sysctl_tcp_max_reordering`. */
const TCP_MAX_REORDERING = 300;

/**
 * `tcp_timeout_mark_lost`: the oldest segment is lost; so is every later one, unless RACK is on
 * and the segment was sent less than RACK.rtt ago. RFC 8985 6.3: "RACK marks the first
 * outstanding segment as lost (since it was sent an RTO ago); for all the other segments, RACK
 * only marks the segment as lost if the time elapsed since the segment was transmitted is at
 * least the sum of the recent RTT and the reordering window" (Linux leaves the reordering
 * window out here). A SACKed head means the receiver reneged (RFC 2018 8): SACKs are forgotten.
 */
export function tcpTimeoutMarkLost(sk: TcpSock): void {
  const head = sk.rtxQueue.peek();
  if (head === null) return;
  const isReneg = (TCP_SKB_CB(head).sacked & TCPCB.SACKED_ACKED) !== 0;
  if (isReneg) {
    tcpNet(sk.net).mib.TcpExtTCPSACKReneging++;
    sk.sackedOut = 0;
  } else if (!sk.rxOpt.sackOk) {
    sk.sackedOut = 0;
  }
  const rack = tcpIsRack(sk);
  const now = sk.nowUs;
  for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
    const cb = TCP_SKB_CB(skb);
    if (isReneg) cb.sacked &= ~TCPCB.SACKED_ACKED;
    else if (rack && skb !== head && tcpRackSkbTimeout(sk, tcpSkbTimestampUs(skb), 0, now) > 0) {
      continue;
    }
    tcpMarkSkbLost(sk, skb);
  }
  // The head goes out again now (tcp_retransmit_timer): a retransmission of it still counted
  // in flight, such as a loss probe's, is replaced by this one.
  const cb = TCP_SKB_CB(head);
  if (cb.sacked & TCPCB.SACKED_RETRANS) {
    cb.sacked &= ~TCPCB.SACKED_RETRANS;
    sk.retransOut = Math.max(0, sk.retransOut - 1);
  }
}

/** `tcp_current_ssthresh`: ssthresh, or 3/4 of cwnd when that is larger and no reduction runs. */
function tcpCurrentSsthresh(sk: TcpSock): number {
  if (sk.caState === TCP_CA.CWR || sk.caState === TCP_CA.Recovery) return sk.sndSsthresh;
  return Math.max(sk.sndSsthresh, (sk.sndCwnd >> 1) + (sk.sndCwnd >> 2));
}

/**
 * `tcp_enter_loss`: the RTO expired. RFC 5681 3.1: "ssthresh MUST be set to no more than …
 * FlightSize / 2" — once per window of data, not again for a timeout of the same
 * retransmission — and the undo state is recorded. cwnd becomes what is still in flight plus
 * one (Linux's reading of "the loss window, LW, which equals 1 full-sized segment": the segments
 * RACK did not mark lost are still in the network). F-RTO (RFC 5682 3.1 step 1) arms unless a
 * recovery was already under way, except for a repeated timeout of the same segment (3.2).
 */
export function tcpEnterLoss(sk: TcpSock): void {
  const ca = sk.caOps;
  const newRecovery = sk.caState < TCP_CA.Recovery;
  tcpTimeoutMarkLost(sk);
  if (
    sk.caState <= TCP_CA.Disorder ||
    !after(sk.highSeq, sk.sndUna) ||
    (sk.caState === TCP_CA.Loss && sk.retransmits === 0)
  ) {
    sk.priorSsthresh = tcpCurrentSsthresh(sk);
    sk.priorCwnd = sk.sndCwnd;
    if (ca) sk.sndSsthresh = ca.ssthresh(sk);
    ca?.cwndEvent?.(sk, CA_EVENT.LOSS);
    tcpInitUndo(sk);
  }
  sk.sndCwnd = sk.packetsInFlight + 1;
  sk.sndCwndCnt = 0;
  // "Timeout in disordered state after receiving substantial DUPACKs suggests that the degree
  // of reordering is over-estimated."
  const reordering = tcpNet(sk.net).sysctl.reordering.value;
  if (sk.caState <= TCP_CA.Disorder && sk.sackedOut >= reordering) {
    sk.reordering = Math.min(sk.reordering, reordering);
  }
  sk.dupAcks = 0;
  tcpSetCaState(sk, TCP_CA.Loss);
  sk.highSeq = sk.sndNxt;
  sk.tlpHighSeq = null;
  sk.frto = tcpNet(sk.net).sysctl.frto.value !== 0 && (newRecovery || sk.retransmits > 0);
}

/**
 * `tcp_process_loss`: an ACK in Loss. It may show the timeout spurious (timestamps or
 * D-SACKs, `tcp_try_undo_loss`); otherwise F-RTO, RFC 5682 3.1 (SACK-enhanced):
 * - step 2.b: the first ACK advances SND.UNA below the recovery point: "transmit up to two new
 *   (previously unsent) segments" rather than retransmissions;
 * - step 3.b: a later ACK (cumulatively or by SACK) acknowledges data sent before the timeout
 *   and never retransmitted: "declare the timeout spurious" (TcpExtTCPSpuriousRTOs);
 * - step 3.a: a duplicate ACK or a SACK once new data was sent: the loss was real, recovery
 *   continues conventionally.
 * SND.UNA reaching the recovery point ends Loss (`tcp_try_undo_recovery`). `flag` holds the
 * {@link ACK_FLAG} bits of the ACK. Returns what to send ({@link REXMIT}).
 */
export function tcpProcessLoss(
  sk: TcpSock,
  flag: number,
  isDupack: boolean,
  tsecr: number | null,
): number {
  const recovered = !before(sk.sndUna, sk.highSeq);
  if (flag & ACK_FLAG.SND_UNA_ADVANCED && tcpTryUndoLoss(sk, tsecr, false)) return REXMIT.NONE;
  if (sk.frto) {
    if (flag & ACK_FLAG.ORIG_SACK_ACKED && tcpTryUndoLoss(sk, tsecr, true)) return REXMIT.NONE;
    if (after(sk.sndNxt, sk.highSeq)) {
      if (flag & ACK_FLAG.DATA_SACKED || isDupack) sk.frto = false;
    } else if (flag & ACK_FLAG.SND_UNA_ADVANCED && !recovered) {
      sk.highSeq = sk.sndNxt;
      if (!sk.writeQueue.isEmpty() && after((sk.sndUna + sk.sndWnd) >>> 0, sk.sndNxt)) {
        return REXMIT.NEW;
      }
      sk.frto = false;
    }
  }
  if (recovered) {
    tcpTryUndoRecovery(sk, tsecr);
    return REXMIT.NONE;
  }
  return REXMIT.LOST;
}

/**
 * `tcp_xmit_recovery`: after the ACK grew cwnd, sends what {@link tcpProcessLoss} asked for.
 * New data for F-RTO's step 2.b, Nagle off; if none could go, F-RTO gives up and the lost
 * segments go instead (RFC 5682 2.1 step 2.b: "If the TCP sender is not able to transmit any
 * previously unsent data … a TCP sender SHOULD continue with the conventional RTO recovery
 * algorithm").
 */
export function tcpXmitRecovery(sk: TcpSock, rexmit: number): void {
  if (rexmit === REXMIT.NONE) return;
  if (rexmit === REXMIT.NEW) {
    tcpWriteXmit(sk, TCP_NAGLE.OFF);
    if (after(sk.sndNxt, sk.highSeq)) return;
    sk.frto = false;
  }
  tcpXmitRetransmitQueue(sk);
}

/** `TRY_UNDO_PARTIAL_*`: what {@link tcpTryUndoPartial} found. */
export const PARTIAL_UNDO = { NO: 0, HOLD: 1, UNDONE: 2 } as const;

/**
 * `tcp_try_undo_partial`: a partial ACK in Recovery whose timestamp predates the first
 * retransmission (RFC 3522, Eifel) filled the hole with the original: it was reordering, and
 * the reordering degree grows (TcpExtTCPTSReorder). With retransmissions still out it only
 * holds (new data is clocked out, nothing more is retransmitted: HOLD); with none, the
 * reduction is undone (TcpExtTCPPartialUndo) and the state goes back to Open or Disorder.
 */
export function tcpTryUndoPartial(sk: TcpSock, priorSndUna: number, tsecr: number | null): number {
  if (sk.undoMarker === 0 || !tcpPacketDelayed(sk, tsecr)) return PARTIAL_UNDO.NO;
  const tn = tcpNet(sk.net);
  // tcp_check_sack_reordering(sk, prior_snd_una, 1)
  const fack = tcpHighestSackSeq(sk);
  if (before(priorSndUna, fack)) {
    const mss = sk.mssCache;
    const metric = (fack - priorSndUna) >>> 0;
    if (mss > 0 && metric > sk.reordering * mss) {
      sk.reordering = Math.min(Math.ceil(metric / mss), TCP_MAX_REORDERING);
    }
    sk.reordSeen++;
    tn.mib.TcpExtTCPTSReorder++;
  }
  if (sk.retransOut > 0) return PARTIAL_UNDO.HOLD;
  if (!tcpAnyRetransDone(sk)) sk.retransStamp = 0;
  tcpUndoCwndReduction(sk, true);
  tn.mib.TcpExtTCPPartialUndo++;
  tcpTryKeepOpen(sk);
  return PARTIAL_UNDO.UNDONE;
}
