/**
 * The receive side of a connection: `tcp_validate_incoming` (sequence check, PAWS, RFC 5961
 * RST/SYN handling), `tcp_rcv_established` with its header-prediction fast path, and
 * `tcp_rcv_state_process` (the RFC 9293 state machine for every state but LISTEN's SYN
 * handling). Options are parsed in tcp_options.ts, the data path is tcp_rcv_data.ts.
 * @see net/ipv4/tcp_input.c
 * @packageDocumentation
 */
import { consumeSkb, getU32, kfreeSkb, type SkBuff, SkbDropReason } from "@skbuff/core";

import { tcpNet } from "./netns.js";
import { POLL } from "./socket_api.js";
import {
  SEND_SHUTDOWN,
  skWake,
  tcpDone,
  tcpFinishConnect,
  tcpFinTime,
  tcpFinWait2Orphan,
  tcpReset,
  tcpSetState,
  tcpTimeWait,
} from "./tcp.js";
import { type AckInfo, tcpAck } from "./tcp_ack.js";
import {
  NO_SACK,
  type SackBlocks,
  type SegOptions,
  TCP_HLEN_TSTAMP_ALIGNED,
  TCPOPT_TSTAMP_ALIGNED,
  tcpFastParseOptions,
  tcpParseSegOptions,
} from "./tcp_options.js";
import { tcpPmtu, tcpSendAck, tcpSendSynack, tcpSyncMss } from "./tcp_output.js";
import {
  tcpAckSndCheck,
  tcpDataQueue,
  tcpDataSndCheck,
  tcpEnterQuickackMode,
  tcpReceiveWindow,
} from "./tcp_rcv_data.js";
import { TCP_SKB_CB, type TcpSkbCb, type TcpSock } from "./tcp_sock.js";
import {
  after,
  before,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_CLOSING,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_LAST_ACK,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
  TCP_TIME_WAIT,
} from "./tcp_states.js";
import { tcpResetKeepaliveTimer } from "./tcp_timer.js";
import { tcpPush } from "./tcp_write.js";
import {
  TCP_FLAG,
  TCPHDR,
  tcpAckSeq,
  tcpDoff,
  tcpFlags,
  tcpSeq,
  tcpWindow,
} from "./wire/tcphdr.js";

export { type SegOptions, TCP_MAX_WSCALE, tcpParseSegOptions } from "./tcp_options.js";

/** `TCP_PAWS_24DAYS`, ms. */
const TCP_PAWS_24DAYS = 24 * 24 * 3600 * 1000;

/** An {@link AckInfo} that is filled in place, one per nesting level of {@link tcpAckSkb}. */
class RcvAckInfo implements AckInfo {
  seq = 0;
  ack = 0;
  window = 0;
  flags = 0;
  dataLen = 0;
  tsecr: number | null = null;
  sack: SackBlocks = NO_SACK;
}

/**
 * The AckInfos {@link tcpAckSkb} lends to `tcpAck`, by depth: a segment is processed to the end
 * before the next one, but a transmit inside `tcpAck` may (on a device that delivers at once)
 * bring another segment in before the first `tcpAck` returns, and that one gets the next object.
 */
const ackInfoPool: RcvAckInfo[] = [new RcvAckInfo()];
let ackInfoDepth = 0;

/**
 * `tcp_ack` of a segment whose options {@link tcpFastParseOptions} read: its {@link AckInfo}
 * is filled into a reused object (valid for the call only) rather than allocated.
 */
function tcpAckSkb(sk: TcpSock, skb: SkBuff, cb: TcpSkbCb, sack: SackBlocks): number {
  const b = skb.head;
  const o = skb.data;
  let info = ackInfoPool[ackInfoDepth];
  if (info === undefined) {
    info = new RcvAckInfo();
    ackInfoPool.push(info);
  }
  info.seq = cb.seq;
  info.ack = cb.ackSeq;
  info.window = tcpWindow(b, o);
  info.flags = cb.tcpFlags;
  info.dataLen = skb.len - tcpDoff(b, o) * 4;
  info.tsecr = sk.rxOpt.sawTstamp ? sk.rxOpt.rcvTsecr : null;
  info.sack = sack;
  ackInfoDepth++;
  try {
    return tcpAck(sk, info);
  } finally {
    ackInfoDepth--;
    info.sack = NO_SACK;
  }
}

/** The {@link AckInfo} of a segment, for the SYN_SENT path's parsed options. */
function ackInfoOf(sk: TcpSock, skb: SkBuff, opts: SegOptions): AckInfo {
  const cb = TCP_SKB_CB(skb);
  const hlen = tcpDoff(skb.head, skb.data) * 4;
  return {
    seq: cb.seq,
    ack: tcpAckSeq(skb.head, skb.data),
    window: tcpWindow(skb.head, skb.data),
    flags: cb.tcpFlags,
    dataLen: skb.len - hlen,
    tsecr: sk.rxOpt.tstampOk && opts.ts ? opts.ts.ecr : null,
    sack: sk.rxOpt.sackOk ? opts.sack : [],
  };
}

/**
 * `tcp_sequence`: RFC 9293 3.10.7.4's acceptability test, "RCV.NXT =< SEG.SEQ < RCV.NXT+RCV.WND
 * or RCV.NXT =< SEG.SEQ+SEG.LEN-1 < RCV.NXT+RCV.WND", as Linux widens it (against RCV.WUP).
 */
function tcpSequence(sk: TcpSock, seq: number, endSeq: number): SkbDropReason | null {
  if (before(endSeq, sk.rcvWup)) return SkbDropReason.TCP_OLD_DATA;
  if (after(seq, (sk.rcvNxt + tcpReceiveWindow(sk)) >>> 0))
    return SkbDropReason.TCP_INVALID_SEQUENCE;
  return null;
}

/** `tcp_send_challenge_ack` (RFC 5961 3.2/4.2), limited to `tcp_challenge_ack_limit` a second. */
export function tcpSendChallengeAck(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  const now = Math.floor(sk.net.clock.now() / 1000);
  const st = tn.challengeAck;
  if (st.second !== now) {
    st.second = now;
    st.count = 0;
  }
  if (++st.count > tn.sysctl.challengeAckLimit.value) return;
  tn.mib.TcpExtTCPChallengeACK++;
  tcpSendAck(sk);
}

/**
 * `tcp_validate_incoming`: PAWS (RFC 7323 5.3), the sequence check, RST (RFC 5961 3.2: "If the
 * RST bit is set and the sequence number exactly matches the next expected sequence number
 * (RCV.NXT), then TCP MUST reset the connection … Otherwise … TCP MUST send an ACK (challenge
 * ACK)") and SYN (RFC 5961 4.2: "the receiver MUST send an ACK (challenge ACK) to the remote
 * peer"). Reads the timestamps {@link tcpFastParseOptions} left in `sk.rxOpt`. Frees the skb and
 * returns false when the segment goes no further.
 */
function tcpValidateIncoming(sk: TcpSock, skb: SkBuff): boolean {
  const cb = TCP_SKB_CB(skb);
  const rx = sk.rxOpt;
  const rst = (cb.tcpFlags & TCP_FLAG.RST) !== 0;
  const ts = rx.sawTstamp;
  if (ts && ((rx.tsRecent - rx.rcvTsval) | 0) > 1 && !rst) {
    if (sk.net.clock.now() < rx.tsRecentStamp + TCP_PAWS_24DAYS) {
      // RFC 7323 5.3 R1: "If SEG.TSval < TS.Recent … then the segment is not acceptable …
      // Send an acknowledgment in reply as specified in RFC 793".
      tcpNet(sk.net).mib.TcpExtPAWSEstab++;
      tcpSendAck(sk);
      kfreeSkb(skb, SkbDropReason.TCP_RFC7323_PAWS, sk.net);
      return false;
    }
  }
  const bad = tcpSequence(sk, cb.seq, cb.endSeq);
  if (bad !== null) {
    if (!rst) {
      if (cb.tcpFlags & TCP_FLAG.SYN) {
        tcpSendChallengeAck(sk);
        kfreeSkb(skb, SkbDropReason.TCP_INVALID_SYN, sk.net);
        return false;
      }
      if (bad === SkbDropReason.TCP_OLD_DATA) tcpEnterQuickackMode(sk);
      tcpSendAck(sk);
    }
    kfreeSkb(skb, bad, sk.net);
    return false;
  }
  if (rst) {
    if (cb.seq === sk.rcvNxt) tcpReset(sk);
    else tcpSendChallengeAck(sk);
    kfreeSkb(skb, SkbDropReason.TCP_RESET, sk.net);
    return false;
  }
  // RFC 7323 4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent then SEG.TSval
  // is copied to TS.Recent".
  if (ts && !after(cb.seq, sk.rcvWup) && ((rx.rcvTsval - rx.tsRecent) | 0) >= 0) {
    rx.tsRecent = rx.rcvTsval;
    rx.tsRecentStamp = sk.net.clock.now();
  }
  if (cb.tcpFlags & TCP_FLAG.SYN) {
    tcpSendChallengeAck(sk);
    kfreeSkb(skb, SkbDropReason.TCP_INVALID_SYN, sk.net);
    return false;
  }
  return true;
}

/** Sets the segment's control block from its header (`tcp_v4_fill_cb`). */
export function tcpFillCb(skb: SkBuff): void {
  const b = skb.head;
  const o = skb.data;
  const cb = TCP_SKB_CB(skb);
  const flags = tcpFlags(b, o);
  cb.seq = tcpSeq(b, o);
  cb.ackSeq = tcpAckSeq(b, o);
  cb.tcpFlags = flags;
  cb.endSeq =
    (cb.seq +
      skb.len -
      tcpDoff(b, o) * 4 +
      (flags & TCP_FLAG.SYN ? 1 : 0) +
      (flags & TCP_FLAG.FIN ? 1 : 0)) >>>
    0;
  cb.sacked = 0;
}

/**
 * Header prediction (`tcp_rcv_established`'s fast path, after Van Jacobson): whether `skb` is
 * the segment an established connection expects next, so that the general checks of
 * `tcpValidateIncoming` can be skipped. It must carry ACK and nothing else but PSH, the
 * header length of the options negotiated (no options, or just the aligned timestamp), the next
 * sequence number, an ACK of nothing unsent, the window last advertised, and the connection must
 * have no out-of-order data, an open receive window and receive memory to spare
 * (`tcp_fast_path_check`). With timestamps the segment's TSval must not be older than
 * TS.Recent (so it passes PAWS, RFC 7323 5.3), and TS.Recent is updated as RFC 7323 4.3 (2) says.
 * Returns false, with nothing changed, for the slow path.
 */
function tcpHeaderPredicted(sk: TcpSock, skb: SkBuff, cb: TcpSkbCb): boolean {
  const b = skb.head;
  const o = skb.data;
  const rx = sk.rxOpt;
  if (
    (cb.tcpFlags & ~TCP_FLAG.PSH) !== TCP_FLAG.ACK ||
    cb.seq !== sk.rcvNxt ||
    after(cb.ackSeq, sk.sndNxt) ||
    tcpDoff(b, o) * 4 !== (rx.tstampOk ? TCP_HLEN_TSTAMP_ALIGNED : TCPHDR.MIN_LEN) ||
    tcpWindow(b, o) << rx.sndWscale !== sk.sndWnd ||
    !sk.ofoEmpty() ||
    tcpReceiveWindow(sk) === 0 ||
    sk.rmemAlloc >= sk.rcvbuf
  )
    return false;
  if (!rx.tstampOk) {
    rx.sawTstamp = false;
    return true;
  }
  if (getU32(b, o + TCPHDR.MIN_LEN) !== TCPOPT_TSTAMP_ALIGNED) return false;
  const tsval = getU32(b, o + 24);
  if (((tsval - rx.tsRecent) | 0) < 0) return false;
  rx.sawTstamp = true;
  rx.rcvTsval = tsval;
  rx.rcvTsecr = getU32(b, o + 28);
  // RFC 7323 4.3 (2): "If SEG.TSval >= TS.Recent and SEG.SEQ =< Last.ACK.sent then SEG.TSval
  // is copied to TS.Recent" (`tcp_store_ts_recent`).
  if (!after(cb.seq, sk.rcvWup)) {
    rx.tsRecent = tsval;
    rx.tsRecentStamp = sk.net.clock.now();
  }
  return true;
}

/**
 * `tcp_rcv_established`: a segment for an ESTABLISHED socket. Takes ownership. The segment
 * `tcpHeaderPredicted` expects skips the general checks (`TcpExtTCPHPHits` when it
 * carries data, `TcpExtTCPHPAcks` when its ACK advances SND.UNA); every other segment takes the
 * slow path (options scanned, `tcpValidateIncoming`). Both then share the rest: the ACK,
 * the data, and what to send.
 */
export function tcpRcvEstablished(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  sk.segsIn++;
  if (tcpHeaderPredicted(sk, skb, cb)) {
    const mib = tcpNet(sk.net).mib;
    const priorSndUna = sk.sndUna;
    if (cb.endSeq !== cb.seq) mib.TcpExtTCPHPHits++;
    tcpRcvEstablishedAcked(sk, skb, cb, NO_SACK);
    if (sk.sndUna !== priorSndUna) mib.TcpExtTCPHPAcks++;
    return;
  }
  const sack = tcpFastParseOptions(sk, skb);
  if (!tcpValidateIncoming(sk, skb)) return;
  if (!(cb.tcpFlags & TCP_FLAG.ACK)) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
    return;
  }
  tcpRcvEstablishedAcked(sk, skb, cb, sack);
}

/** `tcp_rcv_established` from the ACK on (RFC 9293 3.10.7.4, fifth to eighth). */
function tcpRcvEstablishedAcked(sk: TcpSock, skb: SkBuff, cb: TcpSkbCb, sack: SackBlocks): void {
  if (tcpAckSkb(sk, skb, cb, sack) < 0) {
    tcpSendAck(sk);
    kfreeSkb(skb, SkbDropReason.TCP_ACK_UNSENT_DATA, sk.net);
    return;
  }
  sk.lrcvtime = sk.net.clock.now();
  tcpDataQueue(sk, skb);
  tcpDataSndCheck(sk);
  tcpAckSndCheck(sk);
}

/**
 * `tcp_rcv_synsent_state_process`: RFC 9293 3.10.7.3. Returns 1 when the caller must answer
 * with a reset ("If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a reset"), else 0 (skb freed).
 */
function tcpRcvSynsentStateProcess(sk: TcpSock, skb: SkBuff, opts: SegOptions): number {
  const cb = TCP_SKB_CB(skb);
  const flags = cb.tcpFlags;
  if (flags & TCP_FLAG.ACK) {
    if (!after(cb.ackSeq, sk.iss) || after(cb.ackSeq, sk.sndNxt)) {
      if (flags & TCP_FLAG.RST) {
        kfreeSkb(skb, SkbDropReason.TCP_RESET, sk.net);
        return 0;
      }
      return 1;
    }
    if (flags & TCP_FLAG.RST) {
      // "If the ACK was acceptable, then signal to the user "error: connection reset", drop the
      // segment, enter CLOSED state".
      tcpReset(sk);
      kfreeSkb(skb, SkbDropReason.TCP_RESET, sk.net);
      return 0;
    }
    if (!(flags & TCP_FLAG.SYN)) {
      kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
      return 0;
    }
    tcpApplySynOptions(sk, opts);
    sk.irs = cb.seq;
    sk.rcvNxt = sk.rcvWup = sk.copiedSeq = (cb.seq + 1) >>> 0;
    sk.sndWl1 = cb.seq;
    tcpAck(sk, ackInfoOf(sk, skb, opts));
    sk.sndWnd = tcpWindow(skb.head, skb.data);
    sk.maxWindow = Math.max(sk.maxWindow, sk.sndWnd);
    tcpSyncMss(sk, tcpPmtu(sk));
    tcpFinishConnect(sk);
    consumeSkb(skb, sk.net);
    tcpSendAck(sk);
    tcpPush(sk);
    return 0;
  }
  if (flags & TCP_FLAG.RST) {
    kfreeSkb(skb, SkbDropReason.TCP_RESET, sk.net);
    return 0;
  }
  if (flags & TCP_FLAG.SYN) {
    // Simultaneous open: "enter SYN-RECEIVED, form a SYN,ACK segment".
    tcpApplySynOptions(sk, opts);
    sk.irs = cb.seq;
    sk.rcvNxt = sk.rcvWup = sk.copiedSeq = (cb.seq + 1) >>> 0;
    sk.sndWl1 = cb.seq;
    sk.sndWnd = tcpWindow(skb.head, skb.data);
    tcpSetState(sk, TCP_SYN_RECV);
    tcpSyncMss(sk, tcpPmtu(sk));
    tcpSendSynack(sk);
    consumeSkb(skb, sk.net);
    return 0;
  }
  kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
  return 0;
}

/** Negotiates the SYN options (RFC 7323 2.2, RFC 2018 2, RFC 9293 3.7.1) on an active open. */
function tcpApplySynOptions(sk: TcpSock, opts: SegOptions): void {
  const rx = sk.rxOpt;
  rx.mssClamp = opts.mss || 536;
  if (rx.userMss) rx.mssClamp = Math.min(rx.mssClamp, rx.userMss);
  if (rx.wscaleOk && opts.wscale >= 0) rx.sndWscale = opts.wscale;
  else {
    rx.wscaleOk = false;
    rx.sndWscale = rx.rcvWscale = 0;
  }
  rx.sackOk = rx.sackOk && opts.sackOk;
  if (rx.tstampOk && opts.ts) {
    rx.tsRecent = opts.ts.val;
    rx.tsRecentStamp = sk.net.clock.now();
  } else rx.tstampOk = false;
}

/**
 * `tcp_rcv_state_process`: every state but ESTABLISHED's fast path. Returns 1 when the caller
 * must send a reset (and free the skb), else 0 with the skb freed.
 */
export function tcpRcvStateProcess(sk: TcpSock, skb: SkBuff): number {
  const cb = TCP_SKB_CB(skb);
  const tn = tcpNet(sk.net);
  sk.segsIn++;
  switch (sk.state) {
    case TCP_CLOSE:
      kfreeSkb(skb, SkbDropReason.TCP_CLOSE, sk.net);
      return 0;
    case TCP_LISTEN:
      // Handled by tcpV4DoRcv (tcp_ipv4.ts) before it gets here.
      kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
      return 0;
    case TCP_SYN_SENT:
      return tcpRcvSynsentStateProcess(sk, skb, tcpParseSegOptions(skb));
    default:
  }
  const sack = tcpFastParseOptions(sk, skb);
  if (!tcpValidateIncoming(sk, skb)) return 0;
  // RFC 9293 3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
  if (!(cb.tcpFlags & TCP_FLAG.ACK)) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
    return 0;
  }
  const acceptable = tcpAckSkb(sk, skb, cb, sack);
  if (acceptable <= 0) {
    if (sk.state === TCP_SYN_RECV) return 1;
    if (acceptable < 0) {
      tcpSendAck(sk);
      kfreeSkb(skb, SkbDropReason.TCP_ACK_UNSENT_DATA, sk.net);
      return 0;
    }
  }
  sk.lrcvtime = sk.net.clock.now();
  const ourFinAcked = sk.sndUna === sk.writeSeq;
  switch (sk.state) {
    case TCP_SYN_RECV:
      // "If SND.UNA =< SEG.ACK =< SND.NXT, then enter ESTABLISHED state and continue processing".
      sk.sndWnd = tcpWindow(skb.head, skb.data) << sk.rxOpt.sndWscale;
      sk.sndWl1 = cb.seq;
      tcpFinishConnect(sk);
      break;
    case TCP_FIN_WAIT1:
      if (ourFinAcked) {
        tcpSetState(sk, TCP_FIN_WAIT2);
        sk.shutdown |= SEND_SHUTDOWN;
        skWake(sk, POLL.OUT);
        if (sk.dead) {
          if (sk.linger2 < 0) {
            tcpDone(sk);
            tn.mib.TcpExtTCPAbortOnData++;
            skb.dropReason = SkbDropReason.TCP_CLOSE;
            return 1;
          }
          if (
            cb.endSeq !== cb.seq &&
            after((cb.endSeq - (cb.tcpFlags & TCP_FLAG.FIN)) >>> 0, sk.rcvNxt)
          ) {
            // Data after close(): RFC 1122 4.2.2.13 — reset.
            tn.mib.TcpExtTCPAbortOnData++;
            tcpDone(sk);
            skb.dropReason = SkbDropReason.TCP_CLOSE;
            return 1;
          }
          if (cb.tcpFlags & TCP_FLAG.FIN) {
            // The FIN is processed below by the full socket.
            tcpResetKeepaliveTimer(sk, tcpFinTime(sk));
          } else {
            tcpFinWait2Orphan(sk);
            if ((sk.state as number) === TCP_CLOSE) {
              consumeSkb(skb, sk.net);
              return 0;
            }
          }
        }
      }
      break;
    case TCP_CLOSING:
      if (ourFinAcked) {
        tcpTimeWait(sk, TCP_TIME_WAIT, 0);
        consumeSkb(skb, sk.net);
        return 0;
      }
      break;
    case TCP_LAST_ACK:
      if (ourFinAcked) {
        tcpDone(sk);
        consumeSkb(skb, sk.net);
        return 0;
      }
      break;
    default:
  }
  // Seventh: segment text.
  const dataLen = skb.len - tcpDoff(skb.head, skb.data) * 4;
  switch (sk.state) {
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      if (!before(cb.seq, sk.rcvNxt)) {
        // "This should not occur since a FIN has been received from the remote side. Ignore".
        consumeSkb(skb, sk.net);
        tcpDataSndCheck(sk);
        return 0;
      }
      break;
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
      // RFC 1122 4.2.2.13: data for a socket closed by the application means reset.
      if (
        sk.dead &&
        dataLen > 0 &&
        after(cb.endSeq - (cb.tcpFlags & TCP_FLAG.FIN ? 1 : 0), sk.rcvNxt)
      ) {
        // tcp_rcv_state_process(): "tcp_reset(sk, skb); return 1;" — the caller answers the
        // segment with a reset (RFC 9293 3.10.7: <SEQ=SEG.ACK><CTL=RST> when it carries an ACK).
        tn.mib.TcpExtTCPAbortOnData++;
        tcpDone(sk);
        skb.dropReason = SkbDropReason.TCP_CLOSE;
        return 1;
      }
      break;
    default:
  }
  if (sk.state === TCP_CLOSE || sk.state === TCP_TIME_WAIT) {
    consumeSkb(skb, sk.net);
    return 0;
  }
  tcpDataQueue(sk, skb);
  if (sk.state !== TCP_CLOSE && sk.state !== TCP_TIME_WAIT) {
    tcpDataSndCheck(sk);
    tcpAckSndCheck(sk);
  }

  return 0;
}
