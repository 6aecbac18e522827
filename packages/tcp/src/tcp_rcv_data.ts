/**
 * The data half of the receive path: in-order data to the receive queue, the out-of-order
 * queue with the SACK blocks (RFC 2018) and D-SACKs (RFC 2883) we report, FIN, and when to ACK
 * (delayed ACK, quickack).
 * @see net/ipv4/tcp_input.c tcp_data_queue(), tcp_ofo_queue(), tcp_fin(), __tcp_ack_snd_check()
 * @packageDocumentation
 */
import { consumeSkb, kfreeSkb, type SkBuff, SkbDropReason } from "@skbuff/core";
import { tcpNet } from "./netns.js";
import { POLL } from "./socket_api.js";
import { RCV_SHUTDOWN, skWake, tcpSetState, tcpTimeWait } from "./tcp.js";
import { tcpSendAck, tcpSendDelayedAck } from "./tcp_output.js";
import { tcpRcvDataRtt } from "./tcp_rcvbuf.js";
import { ICSK_ACK, skbInsertAfter, TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
import {
  after,
  before,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_CLOSING,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_SYN_RECV,
  TCP_TIME_WAIT,
} from "./tcp_states.js";
import { TCP_CHRONO, tcpChronoStop, tcpPush, tcpWmemQueued } from "./tcp_write.js";
import { TCP_FLAG, tcpDoff } from "./wire/tcphdr.js";

/** `TCP_MAX_QUICKACKS`. */
const TCP_MAX_QUICKACKS = 16;

/** `tcp_receive_window`: what is left of the window we advertised. */
export function tcpReceiveWindow(sk: TcpSock): number {
  return Math.max(0, (sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0);
}

/** `tcp_enter_quickack_mode`. */
export function tcpEnterQuickackMode(sk: TcpSock): void {
  sk.ack.quick = TCP_MAX_QUICKACKS;
  sk.ack.pingpong = false;
}

/** Rebuilds the SACK blocks we send from the out-of-order queue, `first` leading (RFC 2018 4). */
function tcpUpdateSackBlocks(sk: TcpSock, first: number | null): void {
  const ranges: [number, number][] = [];
  for (let s = sk.outOfOrderQueue.peek(); s !== null; s = s.next) {
    const cb = TCP_SKB_CB(s);
    const last = ranges[ranges.length - 1];
    if (last && !after(cb.seq, last[1])) {
      if (after(cb.endSeq, last[1])) last[1] = cb.endSeq;
    } else {
      ranges.push([cb.seq, cb.endSeq]);
    }
  }
  const order = (r: [number, number]): number => {
    if (first !== null && !before(first, r[0]) && before(first, r[1])) return -1;
    const i = sk.selectiveAcks.findIndex((p) => !before(p[0], r[0]) && !after(p[1], r[1]));
    return i < 0 ? 1000 : i;
  };
  ranges.sort((a, b) => order(a) - order(b));
  sk.selectiveAcks = ranges.slice(0, 4);
}

/** `tcp_dsack_set`: RFC 2883 4 (1): report a duplicate as the first SACK block. */
function tcpDsackSet(sk: TcpSock, seq: number, endSeq: number): void {
  if (!sk.rxOpt.sackOk || !tcpNet(sk.net).sysctl.dsack.value) return;
  sk.dsack = [seq, endSeq];
}

/** Queues in-order data (the header already pulled) and advances RCV.NXT. */
function tcpQueueRcv(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  sk.rcvNxt = cb.endSeq;
  if (skb.len > 0) {
    sk.receiveQueue.queueTail(skb);
    sk.rmemAlloc += skb.len;
    sk.bytesReceived += skb.len;
  }
  if (cb.tcpFlags & TCP_FLAG.FIN) tcpFin(sk);
  if (skb.len === 0) consumeSkb(skb, sk.net);
}

/** `tcp_ofo_queue`: moves segments that became in order to the receive queue. */
function tcpOfoQueue(sk: TcpSock): void {
  for (let skb = sk.outOfOrderQueue.peek(); skb !== null; skb = sk.outOfOrderQueue.peek()) {
    const cb = TCP_SKB_CB(skb);
    if (after(cb.seq, sk.rcvNxt)) break;
    sk.outOfOrderQueue.unlink(skb);
    sk.rmemAlloc -= skb.len;
    if (!after(cb.endSeq, sk.rcvNxt)) {
      tcpDsackSet(sk, cb.seq, cb.endSeq);
      consumeSkb(skb, sk.net);
      continue;
    }
    const trim = (sk.rcvNxt - cb.seq) >>> 0;
    if (trim) {
      skb.pull(Math.min(trim, skb.len));
      cb.seq = sk.rcvNxt;
    }
    tcpQueueRcv(sk, skb);
  }
}

/**
 * `tcp_data_queue`: in-order data to the receive queue (then whatever the out-of-order queue
 * can give), old data answered with a D-SACK, data beyond the window dropped, and the rest to
 * the out-of-order queue with an immediate ACK (RFC 5681 4.2: "an immediate ACK SHOULD be
 * generated when a segment arrives out of order"). Takes ownership.
 */
export function tcpDataQueue(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  skb.pull(tcpDoff(skb.head, skb.data) * 4);
  const fin = (cb.tcpFlags & TCP_FLAG.FIN) !== 0;
  if (skb.len === 0 && !fin) {
    consumeSkb(skb, sk.net);
    return;
  }
  if (skb.len > 0) sk.dataSegsIn++;
  sk.ack.pending |= ICSK_ACK.SCHED;
  if (skb.len > sk.ack.rcvMss) sk.ack.rcvMss = Math.min(skb.len, sk.advmss);
  if (cb.seq === sk.rcvNxt || (before(cb.seq, sk.rcvNxt) && after(cb.endSeq, sk.rcvNxt))) {
    if (tcpReceiveWindow(sk) === 0 && skb.len > 0) {
      tcpNet(sk.net).mib.TcpExtTCPZeroWindowDrop++;
      tcpEnterQuickackMode(sk);
      tcpSendAck(sk);
      kfreeSkb(skb, SkbDropReason.TCP_ZEROWINDOW, sk.net);
      return;
    }
    if (before(cb.seq, sk.rcvNxt)) {
      // Partial packet: seq < rcv_nxt < end_seq.
      tcpDsackSet(sk, cb.seq, sk.rcvNxt);
      skb.pull(Math.min((sk.rcvNxt - cb.seq) >>> 0, skb.len));
      cb.seq = sk.rcvNxt;
    }
    const hadOfo = !sk.ofoEmpty();
    if (skb.len > 0) tcpRcvDataRtt(sk, skb);
    tcpQueueRcv(sk, skb);
    if (hadOfo) {
      tcpOfoQueue(sk);
      tcpUpdateSackBlocks(sk, null);
      // RFC 5681 4.2: "an immediate ACK SHOULD be generated when … a segment … fills in all or
      // part of a gap in the sequence space."
      sk.ack.pending |= ICSK_ACK.PUSHED;
      if (sk.outOfOrderQueue.isEmpty()) sk.ack.quick = Math.max(sk.ack.quick, 1);
    }
    skWake(sk, POLL.IN | POLL.RDNORM);
    return;
  }
  if (!after(cb.endSeq, sk.rcvNxt)) {
    // A retransmission of data we have: D-SACK it and ACK at once.
    tcpNet(sk.net).mib.TcpExtTCPDSACKOldSent++;
    tcpDsackSet(sk, cb.seq, cb.endSeq);
    tcpEnterQuickackMode(sk);
    sk.ack.pending |= ICSK_ACK.PUSHED;
    kfreeSkb(skb, SkbDropReason.TCP_OLD_DATA, sk.net);
    return;
  }
  if (!before(cb.seq, (sk.rcvNxt + tcpReceiveWindow(sk)) >>> 0)) {
    tcpEnterQuickackMode(sk);
    tcpSendAck(sk);
    kfreeSkb(skb, SkbDropReason.TCP_OVERWINDOW, sk.net);
    return;
  }
  tcpDataQueueOfo(sk, skb);
}

/** `tcp_data_queue_ofo`: sorted insert, duplicates D-SACKed. */
function tcpDataQueueOfo(sk: TcpSock, skb: SkBuff): void {
  const tn = tcpNet(sk.net);
  const cb = TCP_SKB_CB(skb);
  tn.mib.TcpExtTCPOFOQueue++;
  let prev: SkBuff | null = null;
  for (let s = sk.outOfOrderQueue.peek(); s !== null; s = s.next) {
    const scb = TCP_SKB_CB(s);
    if (!before(cb.seq, scb.seq) && !after(cb.endSeq, scb.endSeq)) {
      tn.mib.TcpExtTCPDSACKOfoSent++;
      tcpDsackSet(sk, cb.seq, cb.endSeq);
      sk.ack.pending |= ICSK_ACK.PUSHED;
      kfreeSkb(skb, SkbDropReason.TCP_OFOMERGE, sk.net);
      return;
    }
    if (after(scb.seq, cb.seq)) break;
    prev = s;
  }
  skbInsertAfter(sk.outOfOrderQueue, prev, skb);
  sk.rmemAlloc += skb.len;
  tcpUpdateSackBlocks(sk, cb.seq);
  sk.ack.pending |= ICSK_ACK.PUSHED;
}

/**
 * `tcp_fin`: RFC 9293 3.10.7.4 eighth step: "If the FIN bit is set, … advance RCV.NXT over the
 * FIN, and send an acknowledgment for the FIN", and the state changes it brings.
 */
function tcpFin(sk: TcpSock): void {
  sk.shutdown |= RCV_SHUTDOWN;
  sk.ack.pending |= ICSK_ACK.PUSHED;
  switch (sk.state) {
    case TCP_SYN_RECV:
    case TCP_ESTABLISHED:
      tcpSetState(sk, TCP_CLOSE_WAIT);
      sk.ack.pingpong = true;
      break;
    case TCP_FIN_WAIT1:
      // Simultaneous close: "Enter the CLOSING state".
      tcpSendAck(sk);
      tcpSetState(sk, TCP_CLOSING);
      break;
    case TCP_FIN_WAIT2:
      tcpSendAck(sk);
      tcpTimeWait(sk, TCP_TIME_WAIT, 0);
      return;
    default:
  }
  // Out-of-order data beyond a FIN is meaningless.
  sk.outOfOrderQueue.purge((s) => consumeSkb(s, sk.net));
  sk.selectiveAcks = [];
  skWake(sk, POLL.IN | POLL.RDNORM | POLL.RDHUP);
}

/**
 * `__tcp_ack_snd_check`: ACK now when more than one full segment arrived since the last ACK
 * (RFC 5681 4.2: "an ACK SHOULD be generated for at least every second full-sized segment"),
 * in quickack mode or for out-of-order data; else delay it (RFC 1122 4.2.3.2).
 */
export function tcpAckSndCheck(sk: TcpSock): void {
  if (!(sk.ack.pending & ICSK_ACK.SCHED) || sk.state === TCP_CLOSE || sk.state === TCP_TIME_WAIT)
    return;
  const full = (sk.rcvNxt - sk.rcvWup) >>> 0 > sk.ack.rcvMss;
  if (full || sk.ack.quick > 0 || sk.ack.pending & ICSK_ACK.PUSHED || !sk.ofoEmpty()) {
    sk.ack.pending = 0;
    tcpSendAck(sk);
    return;
  }
  sk.ack.pending = ICSK_ACK.SCHED | ICSK_ACK.TIMER;
  tcpSendDelayedAck(sk);
}

/** `tcp_data_snd_check`: send what the ACK made room for. */
export function tcpDataSndCheck(sk: TcpSock): void {
  if (!sk.writeQueue.isEmpty()) tcpPush(sk);
  const queued = tcpWmemQueued(sk);
  // tcp_check_space → sk_stream_write_space: once a third of the buffer is free
  // (sk_stream_wspace >= sk_stream_min_wspace) SOCK_NOSPACE is cleared, ending the
  // sndbuf-limited chrono.
  if (sk.nospace && sk.sndbuf - queued >= queued >> 1) {
    sk.nospace = false;
    tcpChronoStop(sk, TCP_CHRONO.SNDBUF_LIMITED);
  }
  if (sk.sndbuf - queued > 0) skWake(sk, POLL.OUT | POLL.WRNORM);
}
