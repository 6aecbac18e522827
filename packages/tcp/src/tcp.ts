/**
 * The user side of TCP (`net/ipv4/tcp.c`) and its state bookkeeping: `tcp_set_state`,
 * `tcp_done`, connect, listen, send, receive, shutdown, close, poll.
 * @see net/ipv4/tcp.c, net/ipv4/tcp_ipv4.c tcp_v4_connect()
 * @packageDocumentation
 */
import { consumeSkb, ERRNO, kfreeSkb, SkbDropReason } from "@skbuff/core";
import { ipRouteOutputKey, type Rtable } from "@skbuff/ipv4";
import { TCP_CA, type TcpCaState } from "./congestion.js";
import { secureTcpSeq, tcpNet } from "./netns.js";
import { copyBytes } from "./skb_copy.js";
import { POLL } from "./socket_api.js";
import { tcpTimeWaitEnter } from "./tcp_minisocks.js";
import {
  TCP_INIT_CWND,
  TCP_TIMEOUT_INIT,
  tcpFullSpace,
  tcpMtuToMss,
  tcpSendAck,
  tcpSendActiveReset,
  tcpSendFin,
  tcpSendSyn,
  tcpSpace,
  tcpSyncMss,
} from "./tcp_output.js";
import { tcpInitBufferSpace, tcpRcvSpaceAdjust } from "./tcp_rcvbuf.js";
import { TCP_NAGLE, type TcpSock } from "./tcp_sock.js";
import {
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_ESTABLISHED,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_LAST_ACK,
  TCP_LISTEN,
  TCP_SYN_RECV,
  TCP_SYN_SENT,
} from "./tcp_states.js";
import { tcpDeleteTimers, tcpReleaseIdleXmitTimer, tcpResetKeepaliveTimer } from "./tcp_timer.js";
import { skStreamIsWriteable, tcpPush, tcpSendmsgLocked, tcpSndbufExpand } from "./tcp_write.js";

/** `sk_shutdown` bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
/** The TCP_LINGER2/`tcp_fin_timeout` orphan timeout is capped at TIME_WAIT's length. */
export const TCP_TIMEWAIT_LEN = 60_000;

/** Wakes the socket's owner (`sk_data_ready`, `sk_write_space`, `sk_state_change`). */
export function skWake(sk: TcpSock, events: number): void {
  sk.wakeup?.(events);
}

/** `tcp_set_state`: keeps TcpCurrEstab and the hashes in step with the state. */
export function tcpSetState(sk: TcpSock, state: number): void {
  const old = sk.state;
  const tn = tcpNet(sk.net);
  if (state === TCP_ESTABLISHED && old !== TCP_ESTABLISHED) tn.mib.TcpCurrEstab++;
  if (state !== TCP_ESTABLISHED && old === TCP_ESTABLISHED) tn.mib.TcpCurrEstab--;
  sk.state = state;
  if (state === TCP_CLOSE) {
    tn.hashinfo.ehashRemove(sk);
    if (old === TCP_LISTEN) tn.hashinfo.listenUnhash(sk);
  }
}

/** `tcp_fin_time`: how long an orphan may stay in FIN_WAIT2 (TCP_LINGER2 or `tcp_fin_timeout`), ms. */
export function tcpFinTime(sk: TcpSock): number {
  const s = sk.linger2 > 0 ? sk.linger2 : tcpNet(sk.net).sysctl.finTimeout.value;
  return s * 1000;
}

/**
 * An orphan reached FIN_WAIT2: beyond TIME_WAIT's length the full socket waits on the keepalive
 * timer; otherwise it becomes a FIN_WAIT2 mini-sock at once (`tcp_close`, `tcp_rcv_state_process`).
 */
export function tcpFinWait2Orphan(sk: TcpSock): void {
  const tmo = tcpFinTime(sk);
  if (tmo > TCP_TIMEWAIT_LEN) tcpResetKeepaliveTimer(sk, tmo - TCP_TIMEWAIT_LEN);
  else tcpTimeWait(sk, TCP_FIN_WAIT2, tmo);
}

/** `tcp_set_ca_state`: tells the algorithm, then changes. */
export function tcpSetCaState(sk: TcpSock, state: TcpCaState): void {
  if (sk.caStateValue === state) return;
  sk.caOps?.setState?.(sk, state);
  sk.caStateValue = state;
}

/**
 * `tcp_done`: the connection is over: CLOSE, out of the hashes, timers given back; an orphan
 * is destroyed, a socket the application holds is woken with HUP.
 */
export function tcpDone(sk: TcpSock): void {
  if (sk.state === TCP_SYN_SENT || sk.state === TCP_SYN_RECV) tcpNet(sk.net).mib.TcpAttemptFails++;
  tcpSetState(sk, TCP_CLOSE);
  sk.shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
  tcpDeleteTimers(sk);
  tcpNet(sk.net).hashinfo.bindUnhash(sk);
  if (sk.dead) tcpDestroySock(sk);
  else skWake(sk, POLL.IN | POLL.OUT | POLL.HUP | POLL.RDHUP | (sk.err ? POLL.ERR : 0));
}

/** `tcp_v4_destroy_sock`: frees every queued segment and the CA state. */
export function tcpDestroySock(sk: TcpSock): void {
  const net = sk.net;
  const tn = tcpNet(net);
  tcpDeleteTimers(sk);
  for (const q of [sk.writeQueue, sk.rtxQueue, sk.receiveQueue, sk.outOfOrderQueue]) {
    q.purge((skb) => consumeSkb(skb, net));
  }
  sk.rmemAlloc = 0;
  sk.caOps?.release?.(sk);
  sk.caOps = null;
  for (const child of sk.acceptQueue.splice(0)) {
    tcpSendActiveReset(child);
    child.dead = true;
    tcpDone(child);
  }
  tn.socks.delete(sk);
}

/** `tcp_write_err`: a timeout ends the connection with the soft error or ETIMEDOUT. */
export function tcpWriteErr(sk: TcpSock): void {
  sk.err = sk.softErr || ERRNO.ETIMEDOUT;
  tcpDone(sk);
}

/**
 * `tcp_reset`: the peer reset the connection. "ECONNREFUSED" in SYN_SENT, "EPIPE" in
 * CLOSE_WAIT, "ECONNRESET" otherwise.
 */
export function tcpReset(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  switch (sk.state) {
    case TCP_SYN_SENT:
      sk.err = ERRNO.ECONNREFUSED;
      break;
    case TCP_CLOSE_WAIT:
      sk.err = ERRNO.EPIPE;
      break;
    case TCP_CLOSE:
      return;
    default:
      sk.err = ERRNO.ECONNRESET;
  }
  if (sk.state === TCP_ESTABLISHED || sk.state === TCP_CLOSE_WAIT) tn.mib.TcpEstabResets++;
  sk.writeQueue.purge((skb) => consumeSkb(skb, sk.net));
  tcpDone(sk);
}

/** `tcp_select_initial_window`'s window scale: enough for `tcp_rmem[2]` (RFC 7323 2.3). */
export function tcpRcvWscale(tn: ReturnType<typeof tcpNet>): number {
  let space = Math.max(tn.sysctl.rmem.value[2] ?? 0, 65535);
  let ws = 0;
  while (space > 65535 && ws < 14) {
    space >>= 1;
    ws++;
  }
  return ws;
}

/** `tcp_init_sock`: defaults of a new socket, from the sysctls. */
export function tcpInitSock(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  sk.rcvbuf = tn.sysctl.rmem.value[1] ?? 131072;
  sk.sndbuf = tn.sysctl.wmem.value[1] ?? 16384;
  sk.reordering = tn.sysctl.reordering.value;
  sk.sndCwnd = TCP_INIT_CWND;
  sk.sndSsthresh = 0x7fffffff;
  sk.rto = TCP_TIMEOUT_INIT;
  sk.mssCache = 536;
  sk.caOps = tn.defaultCongestion();
  tn.socks.add(sk);
}

/** Sets the SYN options this socket will offer, from the sysctls. */
export function tcpSetSynOptions(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  sk.rxOpt.tstampOk = tn.sysctl.timestamps.value === 1;
  sk.rxOpt.sackOk = tn.sysctl.sack.value === 1;
  sk.rxOpt.wscaleOk = tn.sysctl.windowScaling.value === 1;
  sk.rxOpt.rcvWscale = sk.rxOpt.wscaleOk ? tcpRcvWscale(tn) : 0;
  sk.rcvWnd = Math.min(tcpFullSpace(sk), 65535);
  sk.windowClamp = sk.rxOpt.wscaleOk ? 65535 << 14 : 65535;
}

/**
 * `tcp_finish_connect` / the SYN_RECV → ESTABLISHED step: the connection is up. Starts
 * cwnd at the initial window (RFC 6928) and the CA algorithm, and wakes the owner.
 */
export function tcpFinishConnect(sk: TcpSock): void {
  tcpSetState(sk, TCP_ESTABLISHED);
  sk.ack.quick = 16;
  sk.ack.rcvMss = Math.min(sk.advmss, sk.mssCache);
  sk.rcvTstamp = sk.net.clock.now();
  // tcp_finish_connect() / tcp_create_openreq_child(): "icsk->icsk_ack.lrcvtime = tcp_jiffies32",
  // so tcpi_last_data_recv counts from the establishment until the first data arrives.
  sk.lrcvtime = sk.net.clock.now();
  sk.caOps?.init?.(sk);
  tcpSndbufExpand(sk);
  tcpInitBufferSpace(sk);
  // The SYN is acknowledged: the retransmit timer has nothing to do until data is sent.
  tcpReleaseIdleXmitTimer(sk);
  if (sk.keepalive)
    tcpResetKeepaliveTimer(
      sk,
      (sk.keepaliveTime || tcpNet(sk.net).sysctl.keepaliveTime.value) * 1000,
    );
  if (sk.parent !== null) {
    const parent = sk.parent;
    if (parent.state === TCP_LISTEN) {
      parent.acceptQueue.push(sk);
      skWake(parent, POLL.IN | POLL.RDNORM);
    }
    return;
  }
  skWake(sk, POLL.OUT | POLL.WRNORM);
}

/** `tcp_time_wait`: the socket becomes a TIME_WAIT mini-sock for 2MSL, then is done. */
export function tcpTimeWait(sk: TcpSock, state: number, timeoMs: number): void {
  tcpTimeWaitEnter(sk, state, timeoMs);
  const tn = tcpNet(sk.net);
  tcpSetState(sk, TCP_CLOSE);
  // The TIME_WAIT sock took over the port and the 4-tuple.
  tn.hashinfo.bindUnhash(sk);
  sk.shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
  tcpDeleteTimers(sk);
  if (sk.dead) tcpDestroySock(sk);
  else skWake(sk, POLL.IN | POLL.HUP | POLL.RDHUP);
}

/**
 * `tcp_v4_connect`: routes, picks the source address and port, chooses the ISN (RFC 6528) and
 * sends the SYN. Returns -EINPROGRESS or -errno.
 */
export function tcpV4Connect(sk: TcpSock, daddr: number, dport: number): number {
  const tn = tcpNet(sk.net);
  if (sk.state === TCP_SYN_SENT) return -ERRNO.EALREADY;
  if (sk.state !== TCP_CLOSE) return -ERRNO.EISCONN;
  if (dport <= 0 || dport > 65535) return -ERRNO.EINVAL;
  const r = ipRouteOutputKey(sk.net, { daddr, saddr: sk.rcvSaddr, oif: sk.boundDevIf });
  if (typeof r === "number") return r;
  sk.dstCache = r.rt;
  sk.daddr = daddr;
  sk.dport = dport;
  if (sk.rcvSaddr === 0) sk.rcvSaddr = r.saddr;
  if (sk.num === 0) {
    const err = tn.hashinfo.getPort(sk, 0, tn.sysctl.localPortRange.value);
    if (err) return err;
  }
  if (tn.hashinfo.lookupEstablished(sk.rcvSaddr, sk.num, daddr, dport)) {
    return -ERRNO.EADDRNOTAVAIL;
  }
  tcpSetSynOptions(sk);
  sk.advmss = tcpMtuToMss((r.rt as Rtable).mtu);
  if (sk.rxOpt.userMss) sk.advmss = Math.min(sk.advmss, sk.rxOpt.userMss);
  sk.rxOpt.mssClamp = sk.advmss;
  tcpSyncMss(sk, (r.rt as Rtable).mtu);
  sk.iss = secureTcpSeq(tn, sk.rcvSaddr, daddr, sk.num, dport);
  sk.sndUna = sk.sndNxt = sk.writeSeq = sk.pushedSeq = sk.iss;
  sk.rxOpt.tsRecent = 0;
  sk.err = 0;
  tcpSetState(sk, TCP_SYN_SENT);
  tn.hashinfo.ehashInsert(sk);
  tn.mib.TcpActiveOpens++;
  tcpSendSyn(sk);
  return -ERRNO.EINPROGRESS;
}

/** `inet_csk_listen_start`. */
export function tcpListen(sk: TcpSock, backlog: number): number {
  const tn = tcpNet(sk.net);
  const somax = tn.sysctl.somaxconn.value;
  sk.maxAckBacklog = Math.min(Math.max(backlog, 0), somax);
  if (sk.state === TCP_LISTEN) return 0;
  if (sk.state !== TCP_CLOSE) return -ERRNO.EINVAL;
  if (sk.num === 0) {
    const err = tn.hashinfo.getPort(sk, 0, tn.sysctl.localPortRange.value);
    if (err) return err;
  } else if (tn.hashinfo.bindConflictListen(sk)) {
    return -ERRNO.EADDRINUSE;
  }
  tcpSetState(sk, TCP_LISTEN);
  tn.hashinfo.listenHash(sk);
  return 0;
}

/** `tcp_sendmsg`: bytes taken, or -errno (`-EPIPE` after shutdown, `-EAGAIN` when full). */
export function tcpSendmsg(sk: TcpSock, data: Uint8Array, flags = 0): number {
  if (sk.err) return -sk.err;
  if (sk.shutdown & SEND_SHUTDOWN) return -ERRNO.EPIPE;
  if (sk.state === TCP_SYN_SENT || sk.state === TCP_SYN_RECV) return -ERRNO.EAGAIN;
  if (sk.state !== TCP_ESTABLISHED && sk.state !== TCP_CLOSE_WAIT) {
    return sk.state === TCP_CLOSE || sk.state === TCP_LISTEN ? -ERRNO.ENOTCONN : -ERRNO.EPIPE;
  }
  if (data.length === 0) return 0;
  // tcpSendmsgLocked ends with tcp_push (PSH unless MSG_MORE).
  const n = tcpSendmsgLocked(sk, data, flags);
  if (n === 0) return -ERRNO.EAGAIN;
  return n;
}

/** `Uint8Array`'s own `slice`: always a copy, even of a Node `Buffer` (whose `slice` is a view). */
const u8Slice = Uint8Array.prototype.slice;

/**
 * `tcp_recvmsg` + `tcp_cleanup_rbuf`: copies in-order data into one new buffer of
 * `min(maxLen, bytes readable)` bytes; lets receive-buffer autotuning see the read
 * (`tcp_rcv_space_adjust`), then opens the window with an ACK when reading doubled it (so a
 * zero window reopens). Always a copy, never a view: on loopback a received skb shares its bytes
 * with the sender's retransmit queue.
 */
export function tcpRecvmsg(sk: TcpSock, maxLen: number): Uint8Array | number {
  if (sk.state === TCP_LISTEN) return -ERRNO.ENOTCONN;
  const q = sk.receiveQueue;
  let avail = 0;
  for (let skb = q.peek(); skb !== null && avail < maxLen; skb = skb.next) avail += skb.len;
  const want = Math.min(avail, maxLen);
  if (want <= 0) {
    if (sk.err) {
      const e = sk.err;
      sk.err = 0;
      return -e;
    }
    if (sk.shutdown & RCV_SHUTDOWN) return new Uint8Array(0);
    if (sk.state === TCP_CLOSE) return -ERRNO.ENOTCONN;
    return -ERRNO.EAGAIN;
  }
  const head = q.peek();
  let out: Uint8Array;
  let copied = 0;
  if (head !== null && head.len >= want) {
    // The usual small read: one skb has it all, copied out in one step.
    out = u8Slice.call(head.head, head.data, head.data + want);
    copied = want;
    if (want === head.len) {
      q.unlink(head);
      consumeSkb(head, sk.net);
    } else head.pull(want);
  } else out = new Uint8Array(want);
  while (copied < want) {
    const skb = q.peek();
    if (skb === null) break;
    const left = want - copied;
    const n = Math.min(skb.len, left);
    copyBytes(out, copied, skb.head, skb.data, n);
    copied += n;
    if (n === skb.len) {
      q.unlink(skb);
      consumeSkb(skb, sk.net);
    } else skb.pull(n);
  }
  sk.rmemAlloc -= copied;
  sk.copiedSeq = (sk.copiedSeq + copied) >>> 0;
  tcpRcvSpaceAdjust(sk);
  tcpCleanupRbuf(sk);
  return out;
}

/** `tcp_cleanup_rbuf`: a window update when the window we can offer doubled. */
function tcpCleanupRbuf(sk: TcpSock): void {
  if (sk.state !== TCP_ESTABLISHED && sk.state !== TCP_FIN_WAIT1 && sk.state !== TCP_FIN_WAIT2)
    return;
  const now = Math.max(0, (sk.rcvWup + sk.rcvWnd - sk.rcvNxt) | 0);
  const space = tcpSpace(sk);
  if (now * 2 <= tcpFullSpace(sk) && space >= 2 * now && space - now >= sk.ack.rcvMss)
    tcpSendAck(sk);
}

/** `tcp_close_state`: the state a close or shutdown(SHUT_WR) moves to; whether a FIN is due. */
function tcpCloseState(sk: TcpSock): boolean {
  switch (sk.state) {
    case TCP_ESTABLISHED:
    case TCP_SYN_RECV:
      tcpSetState(sk, TCP_FIN_WAIT1);
      return true;
    case TCP_CLOSE_WAIT:
      tcpSetState(sk, TCP_LAST_ACK);
      return true;
    default:
      return false;
  }
}

/** `tcp_shutdown`: SHUT_WR (or RDWR) sends a FIN after the queued data. */
export function tcpShutdown(sk: TcpSock, how: number): number {
  const mask = how + 1; // SHUT_RD 0 → RCV 1, SHUT_WR 1 → SEND 2, SHUT_RDWR 2 → 3
  if (sk.state === TCP_CLOSE || sk.state === TCP_LISTEN || sk.state === TCP_SYN_SENT) {
    if (sk.state === TCP_SYN_SENT) {
      tcpDone(sk);
      return 0;
    }
    return -ERRNO.ENOTCONN;
  }
  sk.shutdown |= mask & RCV_SHUTDOWN;
  if (mask & SEND_SHUTDOWN && !(sk.shutdown & SEND_SHUTDOWN)) {
    if (tcpCloseState(sk)) tcpSendFin(sk);
    sk.shutdown |= SEND_SHUTDOWN;
  }
  skWake(sk, POLL.IN | POLL.OUT);
  return 0;
}

/**
 * `tcp_close`: RFC 2525 2.17 / RFC 9293 3.10.4: unread data means a reset ("If a TCP connection
 * is closed by the application while there is still data in the receive buffer … a RST should
 * be sent"); SO_LINGER 0 aborts; otherwise a FIN after the queued data, and the socket lives on
 * as an orphan.
 */
export function tcpClose(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  sk.dead = true;
  sk.wakeup = null;
  sk.shutdown = RCV_SHUTDOWN | SEND_SHUTDOWN;
  if (sk.state === TCP_LISTEN) {
    tcpSetState(sk, TCP_CLOSE);
    tn.hashinfo.bindUnhash(sk);
    tn.closeRequests?.(sk);
    tcpDestroySock(sk);
    return;
  }
  let unread = 0;
  sk.receiveQueue.purge((skb) => {
    unread += skb.len;
    consumeSkb(skb, sk.net);
  });
  sk.rmemAlloc = 0;
  if (sk.state === TCP_CLOSE) {
    tn.hashinfo.bindUnhash(sk);
    tcpDestroySock(sk);
    return;
  }
  if (sk.state === TCP_SYN_SENT) {
    tcpDone(sk);
    return;
  }
  if (unread > 0) {
    tn.mib.TcpExtTCPAbortOnClose++;
    tcpSetState(sk, TCP_CLOSE);
    tcpSendActiveReset(sk);
    tcpDone(sk);
    return;
  }
  if (sk.lingerOn && sk.lingerTime === 0) {
    tn.mib.TcpExtTCPAbortOnLinger++;
    tcpSendActiveReset(sk);
    tcpDone(sk);
    return;
  }
  if (tcpCloseState(sk)) tcpSendFin(sk);
  if (sk.state === TCP_FIN_WAIT2) {
    if (sk.linger2 < 0) {
      tn.mib.TcpExtTCPAbortOnLinger++;
      tcpSendActiveReset(sk);
      tcpDone(sk);
      return;
    }
    tcpFinWait2Orphan(sk);
    return;
  }
  if (sk.state === TCP_CLOSE) tcpDestroySock(sk);
}

/** `tcp_disconnect`: aborts (RST when synchronized) and returns the socket to CLOSE. */
export function tcpDisconnect(sk: TcpSock): number {
  if (sk.state === TCP_LISTEN) {
    tcpSetState(sk, TCP_CLOSE);
  } else if (sk.state !== TCP_CLOSE && sk.state !== TCP_SYN_SENT) {
    tcpSendActiveReset(sk);
  }
  tcpDone(sk);
  for (const q of [sk.writeQueue, sk.rtxQueue, sk.receiveQueue, sk.outOfOrderQueue]) {
    q.purge((skb) => kfreeSkb(skb, SkbDropReason.TCP_CLOSE, sk.net));
  }
  sk.rmemAlloc = 0;
  sk.shutdown = 0;
  sk.packetsOut = sk.retransOut = sk.sackedOut = sk.lostOut = 0;
  sk.caStateValue = TCP_CA.Open;
  sk.sndCwnd = TCP_INIT_CWND;
  sk.dstCache = null;
  sk.daddr = sk.dport = 0;
  return 0;
}

/** `tcp_poll`. */
export function tcpPoll(sk: TcpSock): number {
  let mask = 0;
  if (sk.state === TCP_LISTEN) return sk.acceptQueue.length > 0 ? POLL.IN | POLL.RDNORM : 0;
  if (sk.err) mask |= POLL.ERR;
  if (sk.shutdown === (RCV_SHUTDOWN | SEND_SHUTDOWN) || sk.state === TCP_CLOSE) mask |= POLL.HUP;
  if (sk.shutdown & RCV_SHUTDOWN) mask |= POLL.IN | POLL.RDNORM | POLL.RDHUP;
  if (sk.state !== TCP_SYN_SENT && sk.state !== TCP_SYN_RECV && sk.state !== TCP_CLOSE) {
    if (!sk.receiveQueue.isEmpty()) mask |= POLL.IN | POLL.RDNORM;
    if (!(sk.shutdown & SEND_SHUTDOWN)) {
      const lowat = sk.notsentLowat || tcpNet(sk.net).sysctl.notsentLowat.value;
      if (skStreamIsWriteable(sk) && sk.notSentBytes < lowat) {
        mask |= POLL.OUT | POLL.WRNORM;
      }
    } else mask |= POLL.OUT | POLL.WRNORM;
  }
  return mask;
}

/** Sets TCP_NODELAY / TCP_CORK and pushes what they held back. */
export function tcpSetNagle(sk: TcpSock, bit: number, on: boolean): void {
  if (on) sk.nonagle |= bit;
  else sk.nonagle &= ~bit;
  if ((bit === TCP_NAGLE.OFF && on) || (bit === TCP_NAGLE.CORK && !on)) {
    if (sk.state === TCP_ESTABLISHED || sk.state === TCP_CLOSE_WAIT)
      // __tcp_sock_set_nodelay(): "nonagle |= TCP_NAGLE_OFF|TCP_NAGLE_PUSH;
      // tcp_push_pending_frames(sk);" — TCP_NAGLE_PUSH overrides a cork (tcp_nagle_test), so
      // TCP_NODELAY on a corked socket sends what it held. Uncorking pushes too.
      tcpPush(sk, sk.nonagle | TCP_NAGLE.PUSH);
  }
}
