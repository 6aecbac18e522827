/**
 * The receive side of a connection: option parsing, `tcp_validate_incoming` (sequence check,
 * PAWS, RFC 5961 RST/SYN handling), `tcp_rcv_established`, `tcp_rcv_state_process` (the RFC
 * 9293 state machine for every state but LISTEN's SYN handling) and the data path (receive
 * queue, out-of-order queue, SACK/DSACK, delayed ACK, FIN).
 * @see net/ipv4/tcp_input.c
 * @packageDocumentation
 */
import { consumeSkb, kfreeSkb, type SkBuff, SkbDropReason } from "@skbuff/core";

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
import { tcpPmtu, tcpSendAck, tcpSendSynack, tcpSyncMss } from "./tcp_output.js";
import {
  tcpAckSndCheck,
  tcpDataQueue,
  tcpDataSndCheck,
  tcpEnterQuickackMode,
  tcpReceiveWindow,
} from "./tcp_rcv_data.js";
import { TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
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
  tcpAckSeq,
  tcpDoff,
  tcpFlags,
  tcpParseOptions,
  tcpSeq,
  tcpWindow,
} from "./wire/tcphdr.js";

/** The options of one segment (`tcp_parse_options`). */
export interface SegOptions {
  mss: number;
  wscale: number;
  sackOk: boolean;
  ts: { val: number; ecr: number } | null;
  sack: (readonly [number, number])[];
}

/** `TCP_MAX_WSCALE` (RFC 7323 2.3: "the shift count … MUST be limited to 14"). */
export const TCP_MAX_WSCALE = 14;
/** `TCP_PAWS_24DAYS`, ms. */
const TCP_PAWS_24DAYS = 24 * 24 * 3600 * 1000;

/**
 * `tcp_parse_options` of the segment at `skb.data`: malformed options are ignored (as Linux
 * does), MSS and window scale only count on a SYN.
 */
export function tcpParseSegOptions(skb: SkBuff): SegOptions {
  const b = skb.head;
  const o = skb.data;
  const out: SegOptions = { mss: 0, wscale: -1, sackOk: false, ts: null, sack: [] };
  const hlen = tcpDoff(b, o) * 4;
  if (hlen <= 20) return out;
  const opts = tcpParseOptions(b, o + 20, o + hlen);
  if (opts === null) return out;
  const syn = (tcpFlags(b, o) & TCP_FLAG.SYN) !== 0;
  for (const opt of opts) {
    switch (opt.kind) {
      case "mss":
        if (syn && opt.value) out.mss = opt.value;
        break;
      case "wscale":
        if (syn) out.wscale = Math.min(opt.value, TCP_MAX_WSCALE);
        break;
      case "sackOK":
        if (syn) out.sackOk = true;
        break;
      case "ts":
        out.ts = { val: opt.val, ecr: opt.ecr };
        break;
      case "sack":
        out.sack = opt.blocks.map(([l, r]) => [l >>> 0, r >>> 0] as const);
        break;
      default:
    }
  }
  return out;
}

/** The {@link AckInfo} of a segment. */
export function ackInfoOf(sk: TcpSock, skb: SkBuff, opts: SegOptions): AckInfo {
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
 * peer"). Frees the skb and returns false when the segment goes no further.
 */
function tcpValidateIncoming(sk: TcpSock, skb: SkBuff, opts: SegOptions): boolean {
  const cb = TCP_SKB_CB(skb);
  const tn = tcpNet(sk.net);
  const rst = (cb.tcpFlags & TCP_FLAG.RST) !== 0;
  const ts = sk.rxOpt.tstampOk ? opts.ts : null;
  if (ts && ((sk.rxOpt.tsRecent - ts.val) | 0) > 1 && !rst) {
    if (sk.net.clock.now() < sk.rxOpt.tsRecentStamp + TCP_PAWS_24DAYS) {
      // RFC 7323 5.3 R1: "If SEG.TSval < TS.Recent … then the segment is not acceptable …
      // Send an acknowledgment in reply as specified in RFC 793".
      tn.mib.TcpExtPAWSEstab++;
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
  if (ts && !after(cb.seq, sk.rcvWup) && ((ts.val - sk.rxOpt.tsRecent) | 0) >= 0) {
    sk.rxOpt.tsRecent = ts.val;
    sk.rxOpt.tsRecentStamp = sk.net.clock.now();
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

/** `tcp_rcv_established`: a segment for an ESTABLISHED socket. Takes ownership. */
export function tcpRcvEstablished(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  const tn = tcpNet(sk.net);
  const opts = tcpParseSegOptions(skb);
  sk.segsIn++;
  // Header prediction (counted only): the next expected segment, ACK only flags, window same.
  if (cb.seq === sk.rcvNxt && (cb.tcpFlags & ~TCP_FLAG.PSH) === TCP_FLAG.ACK)
    tn.mib.TcpExtTCPHPHits++;
  if (!tcpValidateIncoming(sk, skb, opts)) return;
  if (!(cb.tcpFlags & TCP_FLAG.ACK)) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
    return;
  }
  const r = tcpAck(sk, ackInfoOf(sk, skb, opts));
  if (r < 0) {
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
  const _tn = tcpNet(sk.net);
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
  const opts = tcpParseSegOptions(skb);
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
      return tcpRcvSynsentStateProcess(sk, skb, opts);
    default:
  }
  if (!tcpValidateIncoming(sk, skb, opts)) return 0;
  // RFC 9293 3.10.7.4 fifth: "if the ACK bit is off, drop the segment and return".
  if (!(cb.tcpFlags & TCP_FLAG.ACK)) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, sk.net);
    return 0;
  }
  const acceptable = tcpAck(sk, ackInfoOf(sk, skb, opts));
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
