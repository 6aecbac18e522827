/**
 * Receive-buffer autotuning ("dynamic right-sizing", DRS): the receiver estimates the RTT from
 * the data it gets (`rcv_rtt_est`), counts what the application read in each RTT
 * (`rcvq_space`) and, when that grows, grows `sk_rcvbuf` so that the window it advertises can
 * keep up with a sender in slow start, up to `tcp_rmem[2]`. Only with
 * `net.ipv4.tcp_moderate_rcvbuf` on (the default) and not once SO_RCVBUF fixed the buffer
 * (`SOCK_RCVBUF_LOCK`). The advertised window follows the buffer (`tcp_select_window`), so on
 * loopback it grows past 64 KiB with window scaling. Time is the stack's clock: on a virtual
 * clock that only jumps when a timer is due, no RTT passes until it jumps, and the first jump
 * then counts everything read so far as one RTT's worth (the buffer goes to `tcp_rmem[2]`).
 * @see net/ipv4/tcp_input.c tcp_rcv_space_adjust(), tcp_rcv_rtt_measure(),
 *   tcp_rcv_rtt_measure_ts(), tcp_init_buffer_space()
 * @packageDocumentation
 */
import type { SkBuff } from "@skbuff/core";
import { tcpNet } from "./netns.js";
import { TCP_INIT_CWND, tcpTimeStamp } from "./tcp_output.js";
import { TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
import { before } from "./tcp_states.js";

/**
 * `tcp_init_buffer_space`, the receive half: the first measurement starts now, from what was
 * read so far, with the initial window (at most `TCP_INIT_CWND` segments) as the space the
 * application is known to consume per RTT.
 */
export function tcpInitBufferSpace(sk: TcpSock): void {
  const initial = TCP_INIT_CWND * sk.advmss;
  sk.rcvSpace = Math.min(sk.rcvWnd, initial);
  sk.rcvqSpaceSeq = sk.copiedSeq;
  sk.rcvqSpaceTimeUs = sk.nowUs;
}

/**
 * `tcp_rcv_rtt_update`: takes an RTT sample (µs) into `rcv_rtt_est.rtt_us` (kept ×8). A sample
 * below the estimate replaces it; a per-window sample (`winDep`) above it is ignored, since it
 * measures a window, not a round trip; a timestamp sample above it is smoothed in with gain 1/8,
 * but only while nothing is waiting to be read (a full queue delays the echo).
 */
export function tcpRcvRttUpdate(sk: TcpSock, sampleUs: number, winDep: boolean): void {
  const old = sk.rcvRttUs;
  const m = sampleUs * 8;
  if (old === 0 || m < old) {
    sk.rcvRttUs = m;
    return;
  }
  if (winDep) return;
  if (sk.rcvNxt !== sk.copiedSeq) return;
  sk.rcvRttUs = old - (old >>> 3) + sampleUs;
}

/**
 * `tcp_rcv_rtt_measure`: without timestamps, the time it takes to receive one advertised
 * window of data is an upper bound of the RTT (a sender limited by our window sends it once per
 * RTT). `rcvNxt` is RCV.NXT once the segment is queued.
 */
export function tcpRcvRttMeasure(sk: TcpSock, rcvNxt: number): void {
  const started = sk.rcvRttTimeUs >= 0;
  if (started && before(rcvNxt, sk.rcvRttSeq)) return;
  const now = sk.nowUs;
  if (started) {
    const delta = now - sk.rcvRttTimeUs;
    tcpRcvRttUpdate(sk, delta > 0 ? delta : 1, true);
  }
  sk.rcvRttSeq = (rcvNxt + sk.rcvWnd) >>> 0;
  sk.rcvRttTimeUs = now;
}

/**
 * `tcp_rcv_rtt_measure_ts`: a full-sized segment echoing a timestamp not seen before gives an
 * RTT sample: now minus the echoed TSval (RFC 7323 4.1), at least one timestamp tick (1 ms).
 */
export function tcpRcvRttMeasureTs(sk: TcpSock, skb: SkBuff): void {
  const rx = sk.rxOpt;
  if (!rx.sawTstamp || rx.rcvTsecr === 0 || rx.rcvTsecr === sk.rcvRttLastTsecr) return;
  sk.rcvRttLastTsecr = rx.rcvTsecr;
  const cb = TCP_SKB_CB(skb);
  if ((cb.endSeq - cb.seq) >>> 0 < sk.ack.rcvMss) return;
  const delta = (tcpTimeStamp(sk.net) - rx.rcvTsecr) | 0;
  if (delta < 0) return;
  tcpRcvRttUpdate(sk, (delta === 0 ? 1 : delta) * 1000, false);
}

/**
 * The receiver's RTT bookkeeping for an in-order data segment about to be queued: the
 * timestamp sample (`tcp_rcv_established` takes it before queueing) and the per-window one
 * (`tcp_event_data_recv`, after: RCV.NXT is then the segment's end).
 */
export function tcpRcvDataRtt(sk: TcpSock, skb: SkBuff): void {
  if (sk.rxOpt.tstampOk) tcpRcvRttMeasureTs(sk, skb);
  tcpRcvRttMeasure(sk, TCP_SKB_CB(skb).endSeq);
}

/**
 * `tcp_rcv_space_adjust`, called after each read: once an RTT (`rcv_rtt_est`) has passed since
 * the measurement began, `copied` is what the application read in it. If that beat the last
 * RTT's, the buffer is grown for a window of `2 * copied + 16 * advmss` (2× for losses, a
 * cushion for variation) plus twice the growth rate, since the window we advertise now is for
 * the sender's next RTT, in which slow start may double it again; `tcp_space_from_win` turns
 * the window into buffer (×2 at `tcp_adv_win_scale` 1), capped by `tcp_rmem[2]`. The buffer
 * only grows.
 */
export function tcpRcvSpaceAdjust(sk: TcpSock): void {
  const now = sk.nowUs;
  const rtt = sk.rcvRttUs;
  const time = now - sk.rcvqSpaceTimeUs;
  if (rtt === 0 || time < rtt >>> 3) return;
  // Bytes read in the last RTT.
  const copied = (sk.copiedSeq - sk.rcvqSpaceSeq) >>> 0;
  const space = sk.rcvSpace;
  if (copied > space) {
    const tn = tcpNet(sk.net);
    if (tn.sysctl.moderateRcvbuf.value && !sk.rcvbufLocked && space > 0) {
      let rcvwin = 2 * copied + 16 * sk.advmss;
      const grow = Math.floor((rcvwin * (copied - space)) / space);
      rcvwin += 2 * grow;
      const max = tn.sysctl.rmem.value[2] ?? 6291456;
      const rcvbuf = Math.min(2 * rcvwin, max);
      if (rcvbuf > sk.rcvbuf) sk.rcvbuf = rcvbuf;
    }
    sk.rcvSpace = copied;
  }
  sk.rcvqSpaceSeq = sk.copiedSeq;
  sk.rcvqSpaceTimeUs = now;
}
