/**
 * Undo of a congestion-window reduction that turned out to be spurious: every retransmission
 * of the episode came back as a D-SACK (RFC 2883 5, "the sender could … restore the congestion
 * window"; RFC 3708), or the ACK echoes a timestamp older than the first retransmission (the
 * original was delivered, RFC 7323 4.1 / Eifel, RFC 3522).
 *
 * `undoMarker` is SND.UNA when the reduction started (0: nothing to undo); `undoRetrans` counts
 * retransmissions since then not yet D-SACKed (-1: none sent). Linux counts them in
 * `tcp_retransmit_skb`; here they are taken from `totalRetrans` when needed.
 * @see net/ipv4/tcp_input.c tcp_init_undo(), tcp_undo_cwnd_reduction(), tcp_try_undo_recovery(),
 *   tcp_try_undo_dsack(), tcp_try_undo_loss(), tcp_try_keep_open()
 * @packageDocumentation
 */
import { TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { tcpSetCaState } from "./tcp.js";
import { TCP_RACK_RECOVERY_THRESH } from "./tcp_rack.js";
import { TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { before, TCP_SYN_SENT } from "./tcp_states.js";

/** `tcp_init_undo`: a reduction starts; remember where, and the retransmissions in flight. */
export function tcpInitUndo(sk: TcpSock): void {
  sk.undoMarker = sk.sndUna;
  sk.undoRetrans = sk.retransOut;
  if (sk.undoRetrans === 0) sk.undoRetrans = -1;
  sk.undoRetransSynced = sk.totalRetrans;
}

/** Counts retransmissions sent since the last look into `undoRetrans` (`tcp_retransmit_skb`). */
export function tcpUndoRetransSync(sk: TcpSock): void {
  const sent = sk.totalRetrans - sk.undoRetransSynced;
  if (sent > 0) {
    if (sk.undoRetrans < 0) sk.undoRetrans = 0;
    sk.undoRetrans += sent;
  }
  sk.undoRetransSynced = sk.totalRetrans;
}

/**
 * `tcp_packet_delayed`: with a retransmission recorded (`retransStamp`), only an ACK echoing a
 * timestamp from before it acknowledges an original transmission (`tsecr` null: no timestamp
 * on the segment, so no proof); without one, nothing was retransmitted in the episode, so
 * nothing can have been lost and resent. (Linux reads the latter from `retrans_stamp` being 0;
 * the stack's clock may read 0 at a retransmission, so a zero stamp also asks `undoRetrans`.)
 */
export function tcpPacketDelayed(sk: TcpSock, tsecr: number | null): boolean {
  if (sk.retransStamp !== 0) {
    return tsecr !== null && tsecr !== 0 && before(tsecr, Math.floor(sk.retransStamp) >>> 0);
  }
  tcpUndoRetransSync(sk);
  return sk.undoMarker !== 0 && sk.undoRetrans < 0 && sk.state !== TCP_SYN_SENT;
}

/** `tcp_may_undo`: every retransmission was D-SACKed, or the original was delivered. */
export function tcpMayUndo(sk: TcpSock, tsecr: number | null): boolean {
  tcpUndoRetransSync(sk);
  return sk.undoMarker !== 0 && (sk.undoRetrans === 0 || tcpPacketDelayed(sk, tsecr));
}

/**
 * `tcp_undo_cwnd_reduction`: cwnd and ssthresh go back to what they were before the episode
 * (the algorithm's `undoCwnd`); with `unmarkLoss`, no segment stays marked lost. RACK looks at
 * the queue again on the next ACK.
 */
export function tcpUndoCwndReduction(sk: TcpSock, unmarkLoss: boolean): void {
  if (unmarkLoss) {
    for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
      TCP_SKB_CB(skb).sacked &= ~TCPCB.LOST;
    }
    sk.lostOut = 0;
  }
  if (sk.priorSsthresh) {
    sk.sndCwnd = sk.caOps ? sk.caOps.undoCwnd(sk) : Math.max(sk.sndCwnd, sk.priorCwnd);
    if (sk.priorSsthresh > sk.sndSsthresh) sk.sndSsthresh = sk.priorSsthresh;
  }
  sk.undoMarker = 0;
  sk.rackAdvanced = true;
}

/** `tcp_any_retrans_done`: a retransmission is in flight or the oldest segment was resent. */
export function tcpAnyRetransDone(sk: TcpSock): boolean {
  if (sk.retransOut > 0) return true;
  const head = sk.rtxQueue.peek();
  return head !== null && (TCP_SKB_CB(head).sacked & TCPCB.EVER_RETRANS) !== 0;
}

/** `tcp_try_keep_open`: Disorder while SACKed, lost or retransmitted segments remain, else Open. */
export function tcpTryKeepOpen(sk: TcpSock): void {
  const state =
    sk.sackedOut + sk.lostOut > 0 || tcpAnyRetransDone(sk) ? TCP_CA.Disorder : TCP_CA.Open;
  if (sk.caState !== state) {
    tcpSetCaState(sk, state);
    sk.highSeq = sk.sndNxt;
  }
}

/**
 * `tcp_try_undo_recovery`: SND.UNA passed the recovery point. If the episode was spurious the
 * reduction is undone (TcpExtTCPFullUndo, or TcpExtTCPLossUndo after an RTO); otherwise a
 * widened RACK reo_wnd has one recovery less to persist. Without SACK, an ACK exactly at the
 * recovery point keeps the state until data above it is acknowledged (RFC 6582 3.2 step 4
 * guards against false fast retransmits; Linux: "For Reno it is MUST to prevent false fast
 * retransmits (RFC2582). SACK TCP is safe.") and returns true; otherwise the state returns to
 * Open and it returns false.
 */
export function tcpTryUndoRecovery(sk: TcpSock, tsecr: number | null): boolean {
  if (tcpMayUndo(sk, tsecr)) {
    const mib = tcpNet(sk.net).mib;
    if (sk.caState === TCP_CA.Loss) mib.TcpExtTCPLossUndo++;
    else mib.TcpExtTCPFullUndo++;
    tcpUndoCwndReduction(sk, false);
  } else if (sk.rackReoWndPersist > 0) {
    sk.rackReoWndPersist--;
  }
  if (!sk.rxOpt.sackOk && sk.sndUna === sk.highSeq) {
    if (!tcpAnyRetransDone(sk)) sk.retransStamp = 0;
    return true;
  }
  tcpSetCaState(sk, TCP_CA.Open);
  return false;
}

/**
 * `tcp_try_undo_dsack`: D-SACKs came back for every retransmission of the episode: it was
 * reordering, not loss (TcpExtTCPDSACKUndo). RACK keeps its widened reo_wnd one recovery longer.
 */
export function tcpTryUndoDsack(sk: TcpSock): boolean {
  tcpUndoRetransSync(sk);
  if (sk.undoMarker === 0 || sk.undoRetrans !== 0) return false;
  sk.rackReoWndPersist = Math.min(TCP_RACK_RECOVERY_THRESH, sk.rackReoWndPersist + 1);
  tcpUndoCwndReduction(sk, false);
  tcpNet(sk.net).mib.TcpExtTCPDSACKUndo++;
  return true;
}

/**
 * `tcp_try_undo_loss`: in Loss, an ACK shows the RTO was spurious — timestamps or D-SACKs
 * (`tcp_may_undo`), or F-RTO (`frtoUndo`, RFC 5682 3.1 step 3.b: "declare the timeout
 * spurious", TcpExtTCPSpuriousRTOs). cwnd and ssthresh are restored and no segment stays marked
 * lost (TcpExtTCPLossUndo). Without SACK, an ACK exactly at the recovery point keeps the state
 * until data above it is acknowledged (RFC 6582 against false fast retransmits), and only an
 * F-RTO undo returns to Open; with SACK, the state returns to Open.
 */
export function tcpTryUndoLoss(sk: TcpSock, tsecr: number | null, frtoUndo = false): boolean {
  if (!frtoUndo && !tcpMayUndo(sk, tsecr)) return false;
  tcpUndoCwndReduction(sk, true);
  const mib = tcpNet(sk.net).mib;
  mib.TcpExtTCPLossUndo++;
  if (frtoUndo) mib.TcpExtTCPSpuriousRTOs++;
  sk.retransmits = 0;
  if (!sk.rxOpt.sackOk && sk.sndUna === sk.highSeq) {
    if (!tcpAnyRetransDone(sk)) sk.retransStamp = 0;
    return true;
  }
  if (frtoUndo || sk.rxOpt.sackOk) tcpSetCaState(sk, TCP_CA.Open);
  return true;
}
