/**
 * The write queue: `tcp_sendmsg` copies into MSS-sized segments, `tcp_push` → `tcp_write_xmit`
 * sends what cwnd (RFC 5681), the peer's window and Nagle (RFC 896) allow, and sent segments
 * wait on the retransmit queue (`tcp_retransmit_skb`, `tcp_xmit_retransmit_queue`).
 * @see net/ipv4/tcp.c tcp_sendmsg_locked(), net/ipv4/tcp_output.c tcp_write_xmit()
 * @packageDocumentation
 */
import { allocSkb, type SkBuff, tp } from "@skbuff/core";
import { CA_EVENT, TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { MAX_TCP_HEADER, TCP_INIT_CWND, tcpCurrentMss, tcpTransmitSkb } from "./tcp_output.js";
import { tcpScheduleLossProbe } from "./tcp_recovery.js";
import { skbInsertAfter, TCP_NAGLE, TCP_SKB_CB, TCPCB, type TcpSock } from "./tcp_sock.js";
import { after, before, TCP_CLOSE_WAIT, TCP_ESTABLISHED } from "./tcp_states.js";
import { ICSK_TIME, tcpCheckProbeTimer, tcpResetXmitTimer } from "./tcp_timer.js";
import { TCP_FLAG } from "./wire/tcphdr.js";

/**
 * `enum tcp_chrono`: what the socket's time goes to while it has data to send (tcpi_busy_time,
 * tcpi_rwnd_limited, tcpi_sndbuf_limited); a higher value takes precedence.
 */
export const TCP_CHRONO = { UNSPEC: 0, BUSY: 1, RWND_LIMITED: 2, SNDBUF_LIMITED: 3 } as const;

/** `tcp_chrono_set`: charges the running chrono up to now and starts `type`. */
function tcpChronoSet(sk: TcpSock, type: number): void {
  const now = sk.net.clock.now();
  if (sk.chronoType > TCP_CHRONO.UNSPEC) {
    sk.chronoStat[sk.chronoType - 1] =
      (sk.chronoStat[sk.chronoType - 1] ?? 0) + now - sk.chronoStart;
  }
  sk.chronoStart = now;
  sk.chronoType = type;
}

/** `tcp_chrono_start`: "the highest priority enum takes precedence over the other conditions". */
export function tcpChronoStart(sk: TcpSock, type: number): void {
  if (type > sk.chronoType) tcpChronoSet(sk, type);
}

/**
 * `tcp_chrono_stop`: with nothing queued or in flight every chrono stops; else, when `type` is
 * the running one, the socket is back to plain busy.
 */
export function tcpChronoStop(sk: TcpSock, type: number): void {
  if (sk.rtxQueue.isEmpty() && sk.writeQueue.isEmpty()) tcpChronoSet(sk, TCP_CHRONO.UNSPEC);
  else if (type === sk.chronoType) tcpChronoSet(sk, TCP_CHRONO.BUSY);
}

/** `tcp_add_write_queue_tail`: "Queue it, remembering where we must start sending." */
function tcpAddWriteQueueTail(sk: TcpSock, skb: SkBuff): void {
  sk.writeQueue.queueTail(skb);
  if (sk.writeQueue.peek() === skb) tcpChronoStart(sk, TCP_CHRONO.BUSY);
}

/** Queues a control segment (SYN or FIN, no data) at the tail of the write queue. */
export function tcpQueueControl(sk: TcpSock, flags: number): SkBuff {
  const skb = allocSkb(0);
  const cb = TCP_SKB_CB(skb);
  cb.seq = sk.writeSeq;
  cb.endSeq = (sk.writeSeq + 1) >>> 0;
  cb.tcpFlags = flags;
  sk.writeSeq = cb.endSeq;
  // Linux queues the SYN straight on the retransmit queue (tcp_connect_queue_skb), so only a
  // FIN starts the busy chrono here.
  if (flags & TCP_FLAG.SYN) sk.writeQueue.queueTail(skb);
  else tcpAddWriteQueueTail(sk, skb);
  return skb;
}

/** Smallest new write-queue segment buffer (grown in place up to the MSS). */
const SENDMSG_MIN_ALLOC = 2048;

/**
 * `tcp_sendmsg`: copies `data` into the write queue (filling the tail segment, then new
 * MSS-sized ones) up to the send buffer, then pushes. Returns bytes taken.
 */
export function tcpSendmsgLocked(sk: TcpSock, data: Uint8Array): number {
  const mss = tcpCurrentMss(sk);
  let copied = 0;
  while (copied < data.length) {
    const space = sk.sndbuf - tcpWmemQueued(sk);
    if (space <= 0) {
      // wait_for_space: "set_bit(SOCK_NOSPACE, &sk->sk_socket->flags)".
      sk.nospace = true;
      break;
    }
    let skb = sk.writeQueue.peekTail();
    const cb = skb ? TCP_SKB_CB(skb) : null;
    const want = Math.min(data.length - copied, space);
    if (skb !== null && cb !== null && !(cb.tcpFlags & (TCP_FLAG.FIN | TCP_FLAG.SYN))) {
      // The unsent tail segment grows (doubling, up to the MSS) as small writes fill it.
      const cap = skb.end - skb.data;
      if (skb.tailroom < want && cap < mss) {
        skb.expandHead(0, Math.min(mss, Math.max(2 * cap, skb.tail - skb.data + want)) - cap);
      }
    }
    if (
      skb === null ||
      cb === null ||
      cb.tcpFlags & (TCP_FLAG.FIN | TCP_FLAG.SYN) ||
      skb.tailroom === 0
    ) {
      // Sized to the write, not to the MSS: a 64-byte write must not zero 64 KiB (loopback).
      skb = allocSkb(Math.min(mss, Math.max(want, SENDMSG_MIN_ALLOC)));
      const ncb = TCP_SKB_CB(skb);
      ncb.seq = ncb.endSeq = sk.writeSeq;
      ncb.tcpFlags = TCP_FLAG.ACK;
      tcpAddWriteQueueTail(sk, skb);
    }
    const n = Math.min(skb.tailroom, data.length - copied, space);
    const o = skb.put(n);
    skb.head.set(data.subarray(copied, copied + n), o);
    const scb = TCP_SKB_CB(skb);
    scb.endSeq = (scb.endSeq + n) >>> 0;
    sk.writeSeq = (sk.writeSeq + n) >>> 0;
    copied += n;
  }
  return copied;
}

/**
 * `tcp_sndbuf_expand`: room for two windows of `max(cwnd, 10, reordering + 1)` segments, each
 * charged at its true size (`SKB_TRUESIZE` rounded to a power of two), up to `tcp_wmem[2]`;
 * not when SO_SNDBUF was set.
 */
export function tcpSndbufExpand(sk: TcpSock): void {
  if (sk.sndbufLocked) return;
  const truesize = sk.mssCache + MAX_TCP_HEADER + 576;
  const perMss = 2 ** Math.ceil(Math.log2(truesize));
  const nrSegs = Math.max(TCP_INIT_CWND, sk.sndCwnd, sk.reordering + 1);
  const max = tcpNet(sk.net).sysctl.wmem.value[2] ?? 4194304;
  sk.sndbuf = Math.min(Math.max(sk.sndbuf, 2 * nrSegs * perMss), max);
}

/** Bytes charged to the send buffer: queued unsent plus unacknowledged. */
export function tcpWmemQueued(sk: TcpSock): number {
  return (sk.writeSeq - sk.sndUna) >>> 0;
}

/** `tcp_push`: marks the pushed point and sends what the windows and Nagle allow. */
export function tcpPush(sk: TcpSock, nonagle: number = sk.nonagle): void {
  sk.pushedSeq = sk.writeSeq;
  if (tcpWriteXmit(sk, nonagle)) tcpCheckProbeTimer(sk);
}

/** `tcp_snd_wnd_test`: the segment fits in the peer's window. */
function tcpSndWndTest(sk: TcpSock, endSeq: number): boolean {
  return !after(endSeq, (sk.sndUna + sk.sndWnd) >>> 0);
}

/**
 * `tcp_nagle_test`: RFC 896 as Linux does it. A full segment, a FIN, TCP_NODELAY (unless
 * corked) or nothing unacknowledged lets a segment go; a small one waits while data is in
 * flight, and always while corked.
 */
function tcpNagleTest(sk: TcpSock, skb: SkBuff, mss: number, nonagle: number): boolean {
  const cb = TCP_SKB_CB(skb);
  if (skb.len >= mss || cb.tcpFlags & TCP_FLAG.FIN) return true;
  if (nonagle & TCP_NAGLE.PUSH) return true;
  if (nonagle & TCP_NAGLE.CORK) return false;
  if (nonagle & TCP_NAGLE.OFF) return true;
  return sk.packetsOut === 0;
}

/** `tcp_fragment`: splits `skb` after `len` bytes; the tail is queued right after it. */
function tcpFragment(sk: TcpSock, skb: SkBuff, len: number, q = sk.writeQueue): void {
  const cb = TCP_SKB_CB(skb);
  const rest = skb.len - len;
  const nskb = allocSkb(Math.max(rest, 0));
  const o = nskb.put(rest);
  nskb.head.set(skb.head.subarray(skb.data + len, skb.tail), o);
  const ncb = TCP_SKB_CB(nskb);
  ncb.seq = (cb.seq + len) >>> 0;
  ncb.endSeq = cb.endSeq;
  ncb.tcpFlags = cb.tcpFlags;
  cb.tcpFlags &= ~(TCP_FLAG.FIN | TCP_FLAG.PSH);
  cb.endSeq = ncb.seq;
  skb.trim(len);
  ncb.sacked = cb.sacked;
  ncb.when = cb.when;
  if (q === sk.rtxQueue) {
    sk.packetsOut++;
    if (cb.sacked & TCPCB.LOST) sk.lostOut++;
    if (cb.sacked & TCPCB.SACKED_RETRANS) sk.retransOut++;
    if (cb.sacked & TCPCB.SACKED_ACKED) sk.sackedOut++;
  }
  skbInsertAfter(q, skb, nskb);
}

/**
 * `tcp_write_xmit`: sends queued segments while cwnd (RFC 5681), the peer's window and Nagle
 * allow; moves each sent one to the retransmit queue and arms the retransmit timer. Returns
 * whether something is still queued and nothing is in flight (the caller arms the probe timer).
 */
export function tcpWriteXmit(sk: TcpSock, nonagle: number = sk.nonagle): boolean {
  const mss = tcpCurrentMss(sk);
  if (sk.packetsOut === 0 && !sk.writeQueue.isEmpty()) tcpCwndRestartAfterIdle(sk);
  let sent = 0;
  let cwndLimited = false;
  let rwndLimited = false;
  for (let skb = sk.writeQueue.peek(); skb !== null; skb = sk.writeQueue.peek()) {
    const cb = TCP_SKB_CB(skb);
    if (sk.packetsInFlight >= sk.sndCwnd && !(cb.tcpFlags & TCP_FLAG.SYN)) {
      cwndLimited = true;
      break;
    }
    if (!tcpSndWndTest(sk, cb.endSeq)) {
      const room = (sk.sndUna + sk.sndWnd - cb.seq) | 0;
      if (room <= 0 || skb.len === 0 || room >= skb.len) {
        rwndLimited = true;
        break;
      }
      // Part of the segment fits: send that part (tcp_mss_split_point), if it is worth it.
      if (room < mss && sk.packetsOut > 0) {
        rwndLimited = true;
        break;
      }
      tcpFragment(sk, skb, room);
      continue;
    }
    if (skb.len > mss) {
      tcpFragment(sk, skb, mss);
      continue;
    }
    // Only the last segment can be short: the ones before it are pushed (Linux passes
    // TCP_NAGLE_PUSH for every skb but the last).
    const isLast = skb === sk.writeQueue.peekTail();
    if (!tcpNagleTest(sk, skb, mss, isLast ? nonagle : TCP_NAGLE.PUSH)) break;
    if (skb.len > 0 && (isLast || (sent > 0 && tcpBurstEnds(sk, skb, mss)))) {
      cb.tcpFlags |= TCP_FLAG.PSH;
    }
    const err = tcpTransmitSkb(sk, skb);
    if (err !== 0 && err !== -105) break;
    tcpEventNewDataSent(sk, skb);
    sent++;
  }
  if (rwndLimited) tcpChronoStart(sk, TCP_CHRONO.RWND_LIMITED);
  else tcpChronoStop(sk, TCP_CHRONO.RWND_LIMITED);
  // tcp_cwnd_validate: remember how much of cwnd this window used.
  if (!before(sk.sndUna, sk.cwndUsageSeq) || cwndLimited || sk.packetsOut > sk.maxPacketsOut) {
    sk.maxPacketsOut = sk.packetsOut;
    sk.cwndUsageSeq = sk.sndNxt;
    sk.isCwndLimitedValue = cwndLimited;
  }
  // "The following conditions together indicate the starvation is caused by insufficient
  // sender buffer: 1) just sent some data 2) not cwnd limited 3) no more data to send
  // 4) application is hitting buffer limit (SOCK_NOSPACE)".
  if (
    (sent > 0 || cwndLimited) &&
    !sk.isCwndLimited &&
    sk.writeQueue.isEmpty() &&
    sk.nospace &&
    (sk.state === TCP_ESTABLISHED || sk.state === TCP_CLOSE_WAIT)
  ) {
    tcpChronoStart(sk, TCP_CHRONO.SNDBUF_LIMITED);
  }
  // tcp_write_xmit ends with tcp_schedule_loss_probe() when it sent something.
  if (sent > 0 && sk.caState === TCP_CA.Open) tcpScheduleLossProbe(sk);
  return sk.packetsOut === 0 && !sk.writeQueue.isEmpty();
}

/**
 * Whether `skb` ends a slow-start burst: cwnd or the peer's window stops the next segment of
 * this `tcp_write_xmit` pass. Linux's recorded traces (the packetdrill scripts) show a
 * cwnd-limited flight in slow start carrying PSH on its last segment (`P. 1:10001(10000)` for a
 * 30000-byte write with cwnd 10, then `P.` on each ACK-clocked burst), while a cwnd-limited
 * flight in congestion avoidance does not (`. 10001:17001(7000)` after fast recovery), and a lone
 * segment split off the front of a larger one (limited transmit, a probe) does not either ("PSH
 * and FIN should only be set in the second packet", `tcp_fragment`). This models that output;
 * Linux gets it from TSO sizing (`tcp_tso_autosize`, pacing rate 200% in slow start, 120% after)
 * and `tcp_mark_push` on skbs the stack does not build the same way.
 */
function tcpBurstEnds(sk: TcpSock, skb: SkBuff, mss: number): boolean {
  if (sk.sndCwnd >= sk.sndSsthresh) return false;
  if (sk.packetsInFlight + 1 >= sk.sndCwnd) return true;
  const next = skb.next;
  if (next === null) return true;
  const ncb = TCP_SKB_CB(next);
  return !tcpSndWndTest(sk, (ncb.seq + Math.min(next.len, mss)) >>> 0);
}

/**
 * `tcp_cwnd_restart`: RFC 5681 4.1: "if the TCP has not sent data in an interval exceeding the
 * retransmission timeout, … TCP SHOULD set cwnd to no more than RW before beginning
 * transmission" (`tcp_slow_start_after_idle`); Linux halves cwnd per idle RTO down to RW.
 */
function tcpCwndRestartAfterIdle(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  if (!tn.sysctl.slowStartAfterIdle.value || sk.dataSegsOut === 0) return;
  const idle = sk.net.clock.now() - sk.lsndtime;
  if (idle <= sk.rto || sk.caState !== TCP_CA.Open) return;
  sk.caOps?.cwndEvent?.(sk, CA_EVENT.CWND_RESTART);
  const restart = Math.min(TCP_INIT_CWND, sk.sndCwnd);
  sk.sndSsthresh = Math.max(sk.sndSsthresh, (sk.sndCwnd >> 1) + (sk.sndCwnd >> 2));
  let cwnd = sk.sndCwnd;
  for (let d = idle - sk.rto; d > 0 && cwnd > restart; d -= sk.rto) cwnd >>= 1;
  sk.sndCwnd = Math.max(cwnd, restart);
  sk.sndCwndCnt = 0;
}

/** `tcp_event_new_data_sent`: the segment moves to the retransmit queue. */
export function tcpEventNewDataSent(sk: TcpSock, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  sk.writeQueue.unlink(skb);
  sk.rtxQueue.queueTail(skb);
  const wasIdle = sk.packetsOut === 0;
  sk.sndNxt = cb.endSeq;
  sk.packetsOut++;
  if (wasIdle) {
    sk.caOps?.cwndEvent?.(sk, 0);
    tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, sk.rto);
  } else if (sk.retransmitTimer && !sk.retransmitTimer.pending) {
    tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, sk.rto);
  }
}

/**
 * `tcp_retransmit_skb`: sends `skb` from the retransmit queue again; fires the
 * `skbuff:tcp_retransmit_skb` tracepoint.
 */
export function tcpRetransmitSkb(sk: TcpSock, skb: SkBuff): number {
  const cb = TCP_SKB_CB(skb);
  // The peer may have acknowledged part of it: send only what is new to it.
  if (before(cb.seq, sk.sndUna) && after(cb.endSeq, sk.sndUna) && skb.len > 0) {
    const trim = (sk.sndUna - cb.seq) >>> 0;
    skb.pull(Math.min(trim, skb.len));
    cb.seq = sk.sndUna;
  }
  // The path MTU may have shrunk since it was sent (tcp_retransmit_skb's tcp_fragment).
  if (skb.len > tcpCurrentMss(sk)) tcpFragment(sk, skb, tcpCurrentMss(sk), sk.rtxQueue);
  if (tp.tcpRetransmitSkb.hasSubscribers) tp.tcpRetransmitSkb.publish({ sk, skb });
  const err = tcpTransmitSkb(sk, skb);
  if (err !== 0 && err !== -105) return err;
  const tn = tcpNet(sk.net);
  tn.mib.TcpRetransSegs++;
  if (cb.tcpFlags & TCP_FLAG.SYN) tn.mib.TcpExtTCPSynRetrans++;
  sk.totalRetrans++;
  if (!(cb.sacked & TCPCB.SACKED_RETRANS)) sk.retransOut++;
  cb.sacked |= TCPCB.SACKED_RETRANS | TCPCB.EVER_RETRANS;
  if (!sk.retransStamp) sk.retransStamp = cb.when;
  return 0;
}

/**
 * `tcp_xmit_retransmit_queue`: in Recovery or Loss, retransmits segments marked lost while
 * cwnd allows (PRR or slow start set cwnd).
 */
export function tcpXmitRetransmitQueue(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  for (let skb = sk.rtxQueue.peek(); skb !== null; skb = skb.next) {
    if (sk.packetsInFlight >= sk.sndCwnd) break;
    const cb = TCP_SKB_CB(skb);
    if (!(cb.sacked & TCPCB.LOST) || cb.sacked & (TCPCB.SACKED_RETRANS | TCPCB.SACKED_ACKED))
      continue;
    if (tcpRetransmitSkb(sk, skb) !== 0) break;
    if (sk.caState === TCP_CA.Recovery) {
      tn.mib.TcpExtTCPFastRetrans++;
      sk.prrOut++;
    }
    if (skb === sk.rtxQueue.peek()) tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, sk.rto);
  }
}
