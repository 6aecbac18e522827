/**
 * The mini-socks: TIME_WAIT socks (`inet_timewait_sock`), request socks (`tcp_request_sock`,
 * state NEW_SYN_RECV) with SYN-ACK retransmission, and making the child socket when the
 * handshake completes (`tcp_check_req` → `tcp_create_openreq_child`).
 * @see net/ipv4/tcp_minisocks.c, net/ipv4/inet_timewait_sock.c
 * @packageDocumentation
 */

import {
  consumeSkb,
  kfreeSkb,
  type SkBuff,
  SkbDropReason,
  SockCommon,
  type Stack,
  type Timer,
} from "@skbuff/core";
import type { Rtable } from "@skbuff/ipv4";
import { tcpNet } from "./netns.js";
import { TCP_TIMEWAIT_LEN, tcpInitSock, tcpSetState } from "./tcp.js";
import { tcpRttEstimator } from "./tcp_ack.js";
import { type SegOptions, tcpParseSegOptions, tcpRcvStateProcess } from "./tcp_input.js";
import { TCP_RTO_MAX, tcpSendRaw, tcpSyncMss, tcpSynOptions, tcpTimeStamp } from "./tcp_output.js";
import { TCP_SKB_CB, TcpSock } from "./tcp_sock.js";
import {
  after,
  before,
  TCP_CLOSE,
  TCP_FIN_WAIT2,
  TCP_NEW_SYN_RECV,
  TCP_SYN_RECV,
  TCP_TIME_WAIT,
} from "./tcp_states.js";
import { TCP_FLAG, tcpAckSeq, tcpWindow } from "./wire/tcphdr.js";

/** `struct tcp_timewait_sock`. */
export class TcpTimewaitSock extends SockCommon {
  sndNxt = 0;
  rcvNxt = 0;
  rcvWnd = 0;
  rcvWscale = 0;
  tstampOk = false;
  tsRecent = 0;
  tsRecentStamp = 0;
  /** TIME_WAIT or FIN_WAIT2 (`tw_substate`). */
  substate = TCP_TIME_WAIT as number;
  timer: Timer | null = null;
  constructor(net: Stack) {
    super(net);
    this.state = TCP_TIME_WAIT;
  }
}

/** `tcp_time_wait` (the part that makes the mini-sock): takes over the 4-tuple and the port. */
export function tcpTimeWaitEnter(sk: TcpSock, state: number, timeoMs: number): void {
  const tn = tcpNet(sk.net);
  const tw = new TcpTimewaitSock(sk.net);
  tw.daddr = sk.daddr;
  tw.dport = sk.dport;
  tw.rcvSaddr = sk.rcvSaddr;
  tw.reuse = sk.reuse;
  tw.prot = sk.prot;
  tw.sndNxt = sk.sndNxt;
  tw.rcvNxt = sk.rcvNxt;
  tw.rcvWnd = sk.rcvWnd;
  tw.rcvWscale = sk.rxOpt.rcvWscale;
  tw.tstampOk = sk.rxOpt.tstampOk;
  tw.tsRecent = sk.rxOpt.tsRecent;
  tw.tsRecentStamp = sk.rxOpt.tsRecentStamp;
  tw.substate = state;
  tn.hashinfo.ehashRemove(sk);
  tw.num = sk.num;
  tn.hashinfo.ehashInsert(tw);
  tn.hashinfo.bindHash(tw, sk.num);
  tw.timer = sk.net.createTimer(() => {
    tn.mib.TcpExtTW++;
    inetTwskKill(tw);
  });
  tw.timer.arm(state === TCP_TIME_WAIT || timeoMs <= 0 ? TCP_TIMEWAIT_LEN : timeoMs);
}

/** `inet_twsk_kill`: out of the hashes, timer given back. */
export function inetTwskKill(tw: TcpTimewaitSock): void {
  const tn = tcpNet(tw.net);
  tn.hashinfo.ehashRemove(tw);
  tn.hashinfo.bindUnhash(tw);
  if (tw.timer) tw.net.deleteTimer(tw.timer);
  tw.timer = null;
}

/** What a TIME_WAIT sock says about a segment (`enum tcp_tw_status`). */
export const TCP_TW = { SUCCESS: 0, RST: 1, ACK: 2, SYN: 3 } as const;

/**
 * `tcp_timewait_state_process`: RFC 9293 3.10.7.4 in TIME-WAIT: "The only thing that can
 * arrive in this state is a retransmission of the remote FIN. Acknowledge it, and restart the
 * 2 MSL timeout." A RST kills the TIME_WAIT sock unless `tcp_rfc1337` (RFC 1337 "TIME-WAIT
 * Assassination Hazards": "ignore RST segments in TIME-WAIT state"). A new SYN beyond RCV.NXT
 * may reopen the connection (`TCP_TW_SYN`). Does not free the skb.
 */
export function tcpTimewaitStateProcess(
  tw: TcpTimewaitSock,
  skb: SkBuff,
  opts: SegOptions,
): (typeof TCP_TW)[keyof typeof TCP_TW] {
  const tn = tcpNet(tw.net);
  const cb = TCP_SKB_CB(skb);
  const flags = cb.tcpFlags;
  const ts = tw.tstampOk ? opts.ts : null;
  const pawsReject = ts !== null && ((tw.tsRecent - ts.val) | 0) > 1;
  if (tw.substate === TCP_FIN_WAIT2) {
    // A FIN_WAIT2 mini-sock: the peer's FIN moves it to TIME_WAIT; new data means a reset.
    if (flags & TCP_FLAG.RST) {
      inetTwskKill(tw);
      return TCP_TW.SUCCESS;
    }
    const dataLen = (cb.endSeq - cb.seq - (flags & TCP_FLAG.FIN ? 1 : 0)) >>> 0;
    if (dataLen > 0 && after(cb.endSeq, tw.rcvNxt)) {
      inetTwskKill(tw);
      return TCP_TW.RST;
    }
    if (flags & TCP_FLAG.FIN && cb.endSeq === (tw.rcvNxt + 1) >>> 0) {
      tw.rcvNxt = cb.endSeq;
      tw.substate = TCP_TIME_WAIT;
      tw.timer?.arm(TCP_TIMEWAIT_LEN);
      return TCP_TW.ACK;
    }
    return flags & TCP_FLAG.SYN || cb.seq !== tw.rcvNxt ? TCP_TW.ACK : TCP_TW.SUCCESS;
  }
  if (flags & TCP_FLAG.RST) {
    if (tn.sysctl.rfc1337.value === 0) {
      inetTwskKill(tw);
      return TCP_TW.SUCCESS;
    }
    tw.timer?.arm(TCP_TIMEWAIT_LEN);
    return TCP_TW.SUCCESS;
  }
  if (flags & TCP_FLAG.SYN && !(flags & TCP_FLAG.ACK) && !pawsReject && after(cb.seq, tw.rcvNxt)) {
    tn.mib.TcpExtTWRecycled++;
    inetTwskKill(tw);
    return TCP_TW.SYN;
  }
  if (pawsReject) return TCP_TW.ACK;
  if (flags & TCP_FLAG.FIN && cb.endSeq === tw.rcvNxt) {
    tw.timer?.arm(TCP_TIMEWAIT_LEN);
    return TCP_TW.ACK;
  }
  if (flags & TCP_FLAG.SYN || cb.seq !== tw.rcvNxt || cb.endSeq !== cb.seq) return TCP_TW.ACK;
  return TCP_TW.SUCCESS;
}

/** `tcp_v4_timewait_ack`: ACK from a TIME_WAIT sock. */
export function tcpTwAck(tw: TcpTimewaitSock): void {
  tcpSendRaw(
    tw.net,
    {
      sport: tw.num,
      dport: tw.dport,
      seq: tw.sndNxt,
      ack: tw.rcvNxt,
      flags: TCP_FLAG.ACK,
      window: Math.min(tw.rcvWnd >> tw.rcvWscale, 65535),
      options: tw.tstampOk
        ? [
            { kind: "nop" },
            { kind: "nop" },
            { kind: "ts", val: tcpTimeStamp(tw.net), ecr: tw.tsRecent },
          ]
        : [],
      payload: new Uint8Array(0),
    },
    tw.rcvSaddr,
    tw.daddr,
  );
}

/** `struct tcp_request_sock`: a SYN answered, its ACK awaited. */
export class RequestSock extends SockCommon {
  /** Our ISN (`snt_isn`) and the peer's (`rcv_isn`). */
  sntIsn = 0;
  rcvIsn = 0;
  mss = 536;
  advmss = 536;
  sackOk = false;
  tstampOk = false;
  wscaleOk = false;
  sndWscale = 0;
  rcvWscale = 0;
  tsRecent = 0;
  rcvWnd = 65535;
  numRetrans = 0;
  /** When the first SYN-ACK went out (`snt_synack`, ms), -1 before. */
  sntSynack = -1;
  timer: Timer | null = null;
  /** The route towards the peer. */
  dstRoute: Rtable | null = null;
  constructor(
    net: Stack,
    readonly listener: TcpSock,
  ) {
    super(net);
    this.state = TCP_NEW_SYN_RECV;
  }
}

/** Request socks per listener (`icsk_accept_queue.qlen`). */
const reqsOf = new WeakMap<TcpSock, Set<RequestSock>>();

/** The listener's SYN queue. */
export function reqskQueue(listener: TcpSock): Set<RequestSock> {
  let s = reqsOf.get(listener);
  if (!s) {
    s = new Set();
    reqsOf.set(listener, s);
  }
  return s;
}

/** `inet_csk_reqsk_queue_drop`: forget a request sock. */
export function reqskDrop(req: RequestSock): void {
  const tn = tcpNet(req.net);
  tn.hashinfo.ehashRemove(req);
  reqskQueue(req.listener).delete(req);
  if (req.timer) req.net.deleteTimer(req.timer);
  req.timer = null;
}

/** Drops every request sock of a closing listener. */
export function reqskQueueClose(listener: TcpSock): void {
  for (const req of [...reqskQueue(listener)]) reqskDrop(req);
}

/** `tcp_v4_send_synack`: the SYN-ACK of a request sock (or a cookie's, without one kept). */
export function tcpV4SendSynack(req: RequestSock, tsval?: number): void {
  const net = req.net;
  // tcp_make_synack(): "Timestamp first SYNACK".
  if (req.sntSynack < 0) req.sntSynack = net.clock.now();
  tcpSendRaw(
    net,
    {
      sport: req.num,
      dport: req.dport,
      seq: req.sntIsn,
      ack: (req.rcvIsn + 1) >>> 0,
      flags: TCP_FLAG.SYN | TCP_FLAG.ACK,
      window: Math.min(req.rcvWnd, 65535),
      options: tcpSynOptions(req.advmss, {
        sack: req.sackOk,
        ts: req.tstampOk,
        wscale: req.wscaleOk ? req.rcvWscale : null,
        tsval: tsval ?? tcpTimeStamp(net),
        tsecr: req.tsRecent,
      }),
      payload: new Uint8Array(0),
    },
    req.rcvSaddr,
    req.daddr,
  );
}

/**
 * `reqsk_timer_handler`: retransmits the SYN-ACK with exponential backoff from 1 s, up to
 * `tcp_synack_retries` times, then drops the request.
 */
export function reqskTimerStart(req: RequestSock): void {
  const tn = tcpNet(req.net);
  req.timer = req.net.createTimer(() => {
    if (req.numRetrans >= tn.sysctl.synackRetries.value) {
      reqskDrop(req);
      return;
    }
    req.numRetrans++;
    tn.mib.TcpRetransSegs++;
    tn.mib.TcpExtTCPSynRetrans++;
    tcpV4SendSynack(req);
    req.timer?.arm(Math.min(1000 << req.numRetrans, 120_000));
  });
  req.timer.arm(1000);
}

/**
 * `tcp_create_openreq_child`: the full socket of a completed handshake, in SYN_RECV, hashed in
 * place of the request sock.
 */
export function tcpCreateOpenreqChild(req: RequestSock, skb: SkBuff): TcpSock {
  const listener = req.listener;
  const net = listener.net;
  const tn = tcpNet(net);
  const sk = new TcpSock(net);
  sk.prot = listener.prot;
  tcpInitSock(sk);
  sk.rcvbuf = listener.rcvbuf;
  sk.rcvbufLocked = listener.rcvbufLocked;
  sk.sndbuf = listener.sndbuf;
  sk.nonagle = listener.nonagle;
  sk.keepalive = listener.keepalive;
  sk.keepaliveTime = listener.keepaliveTime;
  sk.keepaliveIntvl = listener.keepaliveIntvl;
  sk.keepaliveProbes = listener.keepaliveProbes;
  sk.userTimeout = listener.userTimeout;
  sk.linger2 = listener.linger2;
  if (listener.caOps && listener.caOps !== sk.caOps) sk.caOps = listener.caOps;
  sk.daddr = req.daddr;
  sk.dport = req.dport;
  sk.rcvSaddr = req.rcvSaddr;
  sk.parent = listener;
  const rx = sk.rxOpt;
  rx.sackOk = req.sackOk;
  rx.tstampOk = req.tstampOk;
  rx.wscaleOk = req.wscaleOk;
  rx.sndWscale = req.sndWscale;
  rx.rcvWscale = req.rcvWscale;
  rx.tsRecent = req.tsRecent;
  rx.tsRecentStamp = net.clock.now();
  rx.mssClamp = req.mss;
  rx.userMss = listener.rxOpt.userMss;
  sk.advmss = req.advmss;
  sk.iss = req.sntIsn;
  sk.irs = req.rcvIsn;
  sk.sndUna = sk.iss;
  sk.sndNxt = sk.writeSeq = sk.pushedSeq = (sk.iss + 1) >>> 0;
  sk.rcvNxt = sk.rcvWup = sk.copiedSeq = (req.rcvIsn + 1) >>> 0;
  sk.rcvWnd = req.rcvWnd;
  sk.windowClamp = rx.wscaleOk ? 65535 << 14 : 65535;
  sk.sndWl1 = req.rcvIsn;
  sk.sndWnd = tcpWindow(skb.head, skb.data) << rx.sndWscale;
  sk.maxWindow = sk.sndWnd;
  sk.state = TCP_SYN_RECV;
  tn.hashinfo.bindHash(sk, listener.num);
  tn.hashinfo.ehashInsert(sk);
  const r = req.dstRoute;
  sk.dstCache = r;
  tcpSyncMss(sk, r ? r.mtu : 1500);
  tn.mib.TcpPassiveOpens++;
  return sk;
}

/**
 * `tcp_check_req` + `tcp_child_process`: a segment for a request sock. A retransmitted SYN gets
 * the SYN-ACK again; RST drops the request; the ACK of our SYN makes the child (when the accept
 * queue has room: else `ListenOverflows`/`ListenDrops`, and a reset with
 * `tcp_abort_on_overflow`). Returns 1 when the caller must send a reset. Takes the skb.
 */
export function tcpCheckReq(req: RequestSock, skb: SkBuff): number {
  const net = req.net;
  const tn = tcpNet(net);
  const cb = TCP_SKB_CB(skb);
  const flags = cb.tcpFlags;
  const listener = req.listener;
  if (cb.seq === req.rcvIsn && flags & TCP_FLAG.SYN && !(flags & TCP_FLAG.RST)) {
    tcpV4SendSynack(req);
    consumeSkb(skb, net);
    return 0;
  }
  if (flags & TCP_FLAG.ACK && tcpAckSeq(skb.head, skb.data) !== (req.sntIsn + 1) >>> 0) {
    kfreeSkb(skb, SkbDropReason.TCP_INVALID_SEQUENCE, net);
    return 1;
  }
  // RFC 9293: the segment must fall in the window we offered.
  if (
    before(cb.endSeq, (req.rcvIsn + 1) >>> 0) ||
    after(cb.seq, (req.rcvIsn + 1 + req.rcvWnd) >>> 0)
  ) {
    kfreeSkb(skb, SkbDropReason.TCP_INVALID_SEQUENCE, net);
    return 0;
  }
  if (flags & (TCP_FLAG.RST | TCP_FLAG.SYN)) {
    tn.mib.TcpExtEmbryonicRsts++;
    reqskDrop(req);
    kfreeSkb(
      skb,
      flags & TCP_FLAG.RST ? SkbDropReason.TCP_RESET : SkbDropReason.TCP_INVALID_SYN,
      net,
    );
    return flags & TCP_FLAG.RST ? 0 : 1;
  }
  if (!(flags & TCP_FLAG.ACK)) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, net);
    return 0;
  }
  return tcpCompleteHandshake(listener, req, skb, () => reqskDrop(req));
}

/**
 * `tcp_synack_rtt_meas`: the handshake's RTT sample seeds srtt and the RTO of the child (RFC 6298
 * 2.2: "When the first RTT measurement R is made, the host MUST set SRTT <- R, RTTVAR <- R/2,
 * RTO <- SRTT + max (G, K*RTTVAR)"): the time since the first SYN-ACK when it was not
 * retransmitted (Karn), else the echoed timestamp, as `tcp_ack_update_rtt(sk, FLAG_SYN_ACKED, …)`.
 */
function tcpSynackRttMeas(sk: TcpSock, req: RequestSock, skb: SkBuff): void {
  const now = sk.net.clock.now();
  let rttUs = -1;
  if (req.numRetrans === 0 && req.sntSynack >= 0) rttUs = (now - req.sntSynack) * 1000;
  if (rttUs < 0 && sk.rxOpt.tstampOk) {
    const ecr = tcpParseSegOptions(skb).ts?.ecr ?? 0;
    if (ecr !== 0) rttUs = (((Math.floor(now) >>> 0) - ecr) >>> 0) * 1000;
  }
  if (rttUs < 0 || rttUs > TCP_RTO_MAX * 1000) return;
  tcpRttEstimator(sk, Math.max(rttUs, 1));
}

/** Makes the child for `req` and hands it the ACK; shared by request socks and cookies. */
export function tcpCompleteHandshake(
  listener: TcpSock,
  req: RequestSock,
  skb: SkBuff,
  onDone: () => void,
): number {
  const net = listener.net;
  const tn = tcpNet(net);
  // sk_acceptq_is_full: "ack_backlog > max_ack_backlog".
  if (listener.acceptQueue.length > listener.maxAckBacklog) {
    tn.mib.TcpExtListenOverflows++;
    tn.mib.TcpExtListenDrops++;
    if (tn.sysctl.abortOnOverflow.value) onDone();
    kfreeSkb(skb, SkbDropReason.SOCKET_BACKLOG, net);
    return tn.sysctl.abortOnOverflow.value ? 1 : 0;
  }
  onDone();
  const child = tcpCreateOpenreqChild(req, skb);
  tcpSynackRttMeas(child, req, skb);
  const rst = tcpRcvStateProcess(child, skb);
  if (rst) {
    tcpSetState(child, TCP_CLOSE);
    return 1;
  }
  return 0;
}
