/**
 * TCP over IPv4, the entry points: `tcp_v4_rcv` (validation, checksum, lookup, dispatch),
 * `tcp_v4_do_rcv`, the LISTEN state (`tcp_conn_request`, SYN cookies), resets to segments for
 * no socket, and ICMP errors (`tcp_v4_err`).
 * @see net/ipv4/tcp_ipv4.c, net/ipv4/tcp_input.c tcp_conn_request()
 * @packageDocumentation
 */
import {
  CHECKSUM_UNNECESSARY,
  consumeSkb,
  ERRNO,
  kfreeSkb,
  NET_RX_DROP,
  NET_RX_SUCCESS,
  type NetDevice,
  PACKET_HOST,
  PACKET_LOOPBACK,
  type SkBuff,
  SkbDropReason,
  type Stack,
  traceable,
} from "@skbuff/core";
import { ipDaddr, ipIhl, ipRouteOutputKey, ipSaddr } from "@skbuff/ipv4";
import { secureTcpSeq, type TcpNet, tcpNet } from "./netns.js";
import {
  cookieInitTimestamp,
  cookieTimestampDecode,
  cookieV4Check,
  cookieV4InitSequence,
} from "./syncookies.js";
import { tcpDone, tcpRcvWscale } from "./tcp.js";
import {
  type SegOptions,
  tcpFillCb,
  tcpParseSegOptions,
  tcpRcvEstablished,
  tcpRcvStateProcess,
} from "./tcp_input.js";
import {
  RequestSock,
  reqskQueue,
  reqskTimerStart,
  TCP_TW,
  TcpTimewaitSock,
  tcpCheckReq,
  tcpCompleteHandshake,
  tcpTimewaitStateProcess,
  tcpTwAck,
  tcpV4SendSynack,
} from "./tcp_minisocks.js";
import { tcpMtuToMss, tcpSendRaw, tcpSyncMss, tcpTimeStamp } from "./tcp_output.js";
import { TCP_SKB_CB, TcpSock } from "./tcp_sock.js";
import { between, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_RECV, TCP_SYN_SENT } from "./tcp_states.js";
import { tcpRetransmitSkb } from "./tcp_write.js";
import {
  TCP_FLAG,
  tcpDest,
  tcpHdrCheckLen,
  tcpSeq,
  tcpSource,
  tcpVerifyChecksum,
} from "./wire/tcphdr.js";

/**
 * `tcp_v4_send_reset`: RFC 9293 3.10.7.1: "If the incoming segment has an ACK field, the reset
 * takes its sequence number from the ACK field of the segment; otherwise, the reset has
 * sequence number zero and the ACK field is set to the sum of the sequence number and segment
 * length of the incoming segment." Never in answer to a reset. Does not free the skb.
 */
export function tcpV4SendReset(net: Stack, skb: SkBuff): void {
  const cb = TCP_SKB_CB(skb);
  if (cb.tcpFlags & TCP_FLAG.RST) return;
  const nh = skb.networkHeader;
  const withAck = (cb.tcpFlags & TCP_FLAG.ACK) !== 0;
  tcpSendRaw(
    net,
    {
      sport: tcpDest(skb.head, skb.data),
      dport: tcpSource(skb.head, skb.data),
      seq: withAck ? cb.ackSeq : 0,
      ack: withAck ? 0 : cb.endSeq,
      flags: withAck ? TCP_FLAG.RST : TCP_FLAG.RST | TCP_FLAG.ACK,
      window: 0,
      options: [],
      payload: new Uint8Array(0),
    },
    ipDaddr(skb.head, nh),
    ipSaddr(skb.head, nh),
  );
}

/** Sends the reset a handler asked for and frees the skb with the reason it set. */
function resetAndDrop(net: Stack, skb: SkBuff): number {
  tcpV4SendReset(net, skb);
  kfreeSkb(skb, (skb.dropReason as SkbDropReason | null) ?? SkbDropReason.TCP_FLAGS, net);
  return NET_RX_DROP;
}

/**
 * `tcp_v4_rcv`: the IPv4 protocol handler (takes ownership; `skb.data` at the TCP header).
 * Header and checksum checks (`TcpInErrs`, `TcpInCsumErrors`), then the established hash
 * (connections, request socks, TIME_WAIT), then the listeners; no socket means a reset
 * (RFC 9293 3.10.7.1: "If the state is CLOSED … a reset is sent in response to any incoming
 * segment except another reset") and a NO_SOCKET drop.
 */
export const tcpV4Rcv = traceable("tcp_v4_rcv", function tcpV4Rcv(skb: SkBuff): number {
  const net = (skb.dev as NetDevice).net;
  const tn = tcpNet(net);
  if (skb.pktType !== PACKET_HOST && skb.pktType !== PACKET_LOOPBACK) {
    kfreeSkb(skb, SkbDropReason.OTHERHOST, net);
    return NET_RX_DROP;
  }
  tn.mib.TcpInSegs++;
  if (!tcpHdrCheckLen(skb.head, skb.data, skb.len)) {
    tn.mib.TcpInErrs++;
    kfreeSkb(skb, SkbDropReason.PKT_TOO_SMALL, net);
    return NET_RX_DROP;
  }
  const nh = skb.networkHeader;
  const saddr = ipSaddr(skb.head, nh);
  const daddr = ipDaddr(skb.head, nh);
  if (skb.ipSummed !== CHECKSUM_UNNECESSARY && !skb.csumValid) {
    // RFC 9293 3.1 / RFC 1122 4.2.2.7: "A TCP MUST … check the checksum of every segment".
    if (!tcpVerifyChecksum(skb.head, skb.data, skb.len, saddr, daddr)) {
      tn.mib.TcpInCsumErrors++;
      tn.mib.TcpInErrs++;
      kfreeSkb(skb, SkbDropReason.TCP_CSUM, net);
      return NET_RX_DROP;
    }
    skb.csumValid = true;
  }
  tcpFillCb(skb);
  const sport = tcpSource(skb.head, skb.data);
  const dport = tcpDest(skb.head, skb.data);
  const found = tn.hashinfo.lookupEstablished(daddr, dport, saddr, sport);
  if (found instanceof TcpSock) return tcpV4DoRcv(found, skb);
  if (found instanceof RequestSock) {
    const r = tcpCheckReq(found, skb);
    return r ? resetAndDrop(net, skb) : NET_RX_SUCCESS;
  }
  let isnHint = 0;
  if (found instanceof TcpTimewaitSock) {
    const opts = tcpParseSegOptions(skb);
    const verdict = tcpTimewaitStateProcess(found, skb, opts);
    if (verdict === TCP_TW.ACK) {
      tcpTwAck(found);
      consumeSkb(skb, net);
      return NET_RX_SUCCESS;
    }
    if (verdict === TCP_TW.RST) return resetAndDrop(net, skb);
    if (verdict === TCP_TW.SUCCESS) {
      if (TCP_SKB_CB(skb).tcpFlags & TCP_FLAG.RST) kfreeSkb(skb, SkbDropReason.TCP_RESET, net);
      else consumeSkb(skb, net);
      return NET_RX_SUCCESS;
    }
    isnHint = (found.sndNxt + 65535 + 2) >>> 0;
  }
  const listener = tn.hashinfo.lookupListener(daddr, dport);
  if (listener instanceof TcpSock) return tcpV4DoRcv(listener, skb, isnHint);
  tcpV4SendReset(net, skb);
  kfreeSkb(skb, SkbDropReason.NO_SOCKET, net);
  return NET_RX_DROP;
});

/**
 * `tcp_v4_do_rcv`: ESTABLISHED takes the fast path, LISTEN its own (cookie check, then
 * `tcp_rcv_state_process`'s LISTEN case), every other state `tcpRcvStateProcess`.
 */
export function tcpV4DoRcv(sk: TcpSock, skb: SkBuff, isnHint = 0): number {
  const net = sk.net;
  if (sk.state === TCP_ESTABLISHED) {
    tcpRcvEstablished(sk, skb);
    return NET_RX_SUCCESS;
  }
  if (sk.state === TCP_LISTEN) return tcpRcvListen(sk, skb, isnHint);
  if (tcpRcvStateProcess(sk, skb)) return resetAndDrop(net, skb);
  return NET_RX_SUCCESS;
}

/**
 * RFC 9293 3.10.7.2, LISTEN: "any acknowledgment is bad if it arrives on a connection still in
 * the LISTEN state. An acceptable reset segment should be formed for any arriving ACK-bearing
 * segment"; "An incoming RST segment could not be valid … it should be ignored"; a SYN starts a
 * connection. SYN+FIN is dropped (TCP_FLAGS) as Linux does.
 */
function tcpRcvListen(sk: TcpSock, skb: SkBuff, isnHint: number): number {
  const net = sk.net;
  const cb = TCP_SKB_CB(skb);
  const flags = cb.tcpFlags;
  if (!(flags & (TCP_FLAG.SYN | TCP_FLAG.RST)) && flags & TCP_FLAG.ACK) {
    const r = tcpV4CookieCheck(sk, skb);
    if (r !== null) return r ? resetAndDrop(net, skb) : NET_RX_SUCCESS;
  }
  if (flags & TCP_FLAG.ACK) {
    skb.dropReason = SkbDropReason.TCP_FLAGS;
    return resetAndDrop(net, skb);
  }
  if (flags & TCP_FLAG.RST) {
    kfreeSkb(skb, SkbDropReason.TCP_RESET, net);
    return NET_RX_DROP;
  }
  if (!(flags & TCP_FLAG.SYN) || flags & TCP_FLAG.FIN) {
    kfreeSkb(skb, SkbDropReason.TCP_FLAGS, net);
    return NET_RX_DROP;
  }
  return tcpConnRequest(sk, skb, isnHint);
}

/** A request sock for `skb`'s SYN to `listener`, options negotiated (`tcp_openreq_init`). */
function makeRequest(
  tn: TcpNet,
  listener: TcpSock,
  skb: SkBuff,
  opts: SegOptions,
): RequestSock | null {
  const net = listener.net;
  const nh = skb.networkHeader;
  const req = new RequestSock(net, listener);
  req.rcvSaddr = ipDaddr(skb.head, nh);
  req.daddr = ipSaddr(skb.head, nh);
  req.num = listener.num;
  req.dport = tcpSource(skb.head, skb.data);
  req.rcvIsn = TCP_SKB_CB(skb).seq;
  const r = ipRouteOutputKey(net, { daddr: req.daddr, saddr: req.rcvSaddr });
  if (typeof r === "number") return null;
  req.dstRoute = r.rt;
  req.advmss = tcpMtuToMss(r.rt.mtu);
  if (listener.rxOpt.userMss) req.advmss = Math.min(req.advmss, listener.rxOpt.userMss);
  // RFC 9293 3.7.1: "If an MSS Option is not received at connection setup, TCP implementations
  // MUST assume a default send MSS of 536".
  req.mss = Math.min(opts.mss || 536, 65535);
  if (listener.rxOpt.userMss) req.mss = Math.min(req.mss, listener.rxOpt.userMss);
  req.tstampOk = opts.ts !== null && tn.sysctl.timestamps.value === 1;
  req.tsRecent = opts.ts?.val ?? 0;
  req.sackOk = opts.sackOk && tn.sysctl.sack.value === 1;
  req.wscaleOk = opts.wscale >= 0 && tn.sysctl.windowScaling.value === 1;
  req.sndWscale = req.wscaleOk ? opts.wscale : 0;
  req.rcvWscale = req.wscaleOk ? tcpRcvWscale(tn) : 0;
  req.rcvWnd = Math.min(listener.rcvbuf >> 1, 65535);
  return req;
}

/**
 * `tcp_conn_request`: answers a SYN with a SYN-ACK, keeping a request sock in the SYN queue —
 * or, with `tcp_syncookies=2`, or `=1` and the SYN queue full, a SYN cookie and nothing kept.
 * A full accept queue drops the SYN (`ListenOverflows`, `ListenDrops`).
 */
export function tcpConnRequest(listener: TcpSock, skb: SkBuff, isnHint = 0): number {
  const net = listener.net;
  const tn = tcpNet(net);
  const queue = reqskQueue(listener);
  const cookies = tn.sysctl.syncookies.value;
  const synQueueFull =
    queue.size >= Math.min(Math.max(listener.maxAckBacklog, 1), tn.sysctl.maxSynBacklog.value);
  const wantCookie = isnHint === 0 && (cookies === 2 || (cookies === 1 && synQueueFull));
  if (!wantCookie && synQueueFull) {
    tn.mib.TcpExtTCPReqQFullDrop++;
    tn.mib.TcpExtListenDrops++;
    kfreeSkb(skb, SkbDropReason.SOCKET_BACKLOG, net);
    return NET_RX_DROP;
  }
  if (listener.acceptQueue.length > listener.maxAckBacklog) {
    tn.mib.TcpExtListenOverflows++;
    tn.mib.TcpExtListenDrops++;
    kfreeSkb(skb, SkbDropReason.SOCKET_BACKLOG, net);
    return NET_RX_DROP;
  }
  const opts = tcpParseSegOptions(skb);
  const req = makeRequest(tn, listener, skb, opts);
  if (req === null) {
    tn.mib.TcpExtListenDrops++;
    kfreeSkb(skb, SkbDropReason.IP_OUTNOROUTES, net);
    return NET_RX_DROP;
  }
  if (wantCookie) {
    if (cookies === 1) tn.mib.TcpExtTCPReqQFullDoCookies++;
    const c = cookieV4InitSequence(tn, fourTuple(req), req.rcvIsn, req.mss);
    req.sntIsn = c.isn;
    tn.mib.TcpExtSyncookiesSent++;
    const tsval = req.tstampOk
      ? cookieInitTimestamp(tcpTimeStamp(net), req.wscaleOk ? req.sndWscale : null, req.sackOk)
      : undefined;
    if (!req.tstampOk) {
      // Without timestamps a cookie cannot carry window scaling or SACK.
      req.wscaleOk = false;
      req.sackOk = false;
    }
    tcpV4SendSynack(req, tsval);
    consumeSkb(skb, net);
    return NET_RX_SUCCESS;
  }
  req.sntIsn = isnHint || secureTcpSeq(tn, req.rcvSaddr, req.daddr, req.num, req.dport);
  tn.hashinfo.ehashInsert(req);
  queue.add(req);
  tcpV4SendSynack(req);
  reqskTimerStart(req);
  consumeSkb(skb, net);
  return NET_RX_SUCCESS;
}

function fourTuple(req: RequestSock): {
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
} {
  return { saddr: req.rcvSaddr, daddr: req.daddr, sport: req.num, dport: req.dport };
}

/**
 * `tcp_v4_cookie_check` → `cookie_v4_check`: an ACK to a listener may carry our SYN cookie
 * (`ack - 1`). Returns null when cookies are off (the ACK then gets a reset), 0 when a
 * connection was made, 1 when the caller must reset (`SyncookiesFailed`).
 */
function tcpV4CookieCheck(listener: TcpSock, skb: SkBuff): number | null {
  const net = listener.net;
  const tn = tcpNet(net);
  if (tn.sysctl.syncookies.value === 0) return null;
  const cb = TCP_SKB_CB(skb);
  const nh = skb.networkHeader;
  const t = {
    saddr: ipDaddr(skb.head, nh),
    daddr: ipSaddr(skb.head, nh),
    sport: listener.num,
    dport: tcpSource(skb.head, skb.data),
  };
  const cookie = (cb.ackSeq - 1) >>> 0;
  const peerIsn = (cb.seq - 1) >>> 0;
  const mss = cookieV4Check(tn, t, peerIsn, cookie);
  if (mss === 0) {
    tn.mib.TcpExtSyncookiesFailed++;
    skb.dropReason = SkbDropReason.TCP_FLAGS;
    return 1;
  }
  tn.mib.TcpExtSyncookiesRecv++;
  const opts = tcpParseSegOptions(skb);
  const req = makeRequest(tn, listener, skb, { ...opts, mss, wscale: -1, sackOk: false });
  if (req === null) {
    kfreeSkb(skb, SkbDropReason.IP_OUTNOROUTES, net);
    return 0;
  }
  req.rcvIsn = peerIsn;
  req.sntIsn = cookie;
  req.mss = mss;
  if (opts.ts && tn.sysctl.timestamps.value) {
    const o = cookieTimestampDecode(opts.ts.ecr);
    req.tstampOk = true;
    req.sackOk = o.sackOk && tn.sysctl.sack.value === 1;
    req.wscaleOk = o.wscale !== null && tn.sysctl.windowScaling.value === 1;
    // The TSval we sent carried the peer's shift; ours is recomputed (`cookie_v4_check`).
    req.sndWscale = o.wscale ?? 0;
    req.rcvWscale = req.wscaleOk ? tcpRcvWscale(tn) : 0;
  }
  const r = tcpCompleteHandshake(listener, req, skb, () => {});
  return r;
}

/** ICMP destination-unreachable codes to errno (`icmp_err_convert`). */
const ICMP_ERR_CONVERT: readonly { errno: number; fatal: boolean }[] = [
  { errno: ERRNO.ENETUNREACH, fatal: false },
  { errno: ERRNO.EHOSTUNREACH, fatal: false },
  { errno: ERRNO.ENOPROTOOPT, fatal: true },
  { errno: ERRNO.ECONNREFUSED, fatal: true },
  { errno: ERRNO.EMSGSIZE, fatal: false },
  { errno: ERRNO.EOPNOTSUPP, fatal: false },
  { errno: ERRNO.ENETUNREACH, fatal: true },
  { errno: 112, fatal: true },
  { errno: 64, fatal: false },
  { errno: ERRNO.ENETUNREACH, fatal: true },
  { errno: ERRNO.EHOSTUNREACH, fatal: true },
  { errno: ERRNO.ENETUNREACH, fatal: false },
  { errno: ERRNO.EHOSTUNREACH, fatal: false },
  { errno: ERRNO.EHOSTUNREACH, fatal: true },
  { errno: ERRNO.EHOSTUNREACH, fatal: true },
  { errno: ERRNO.EHOSTUNREACH, fatal: true },
];

/**
 * `tcp_v4_err`: an ICMP error about a segment we sent (`skb.data` at the quoted IP header; the
 * skb is borrowed). Fragmentation needed lowers the path MTU and resends with the new MSS; in
 * SYN_SENT/SYN_RECV an unreachable aborts the attempt; otherwise errors are soft (RFC 1122
 * 4.2.3.9: "Destination Unreachable -- codes 0, 1, 5 … SHOULD be soft errors" and reported only
 * if the connection times out).
 */
export function tcpV4Err(skb: SkBuff, type: number, code: number, info: number): number {
  const net = (skb.dev as NetDevice | null)?.net;
  if (!net) return 0;
  const tn = tcpNet(net);
  const b = skb.head;
  const iph = skb.data;
  const th = iph + ipIhl(b, iph) * 4;
  if (th + 8 > skb.tail) return 0;
  const found = tn.hashinfo.lookupEstablished(
    ipSaddr(b, iph),
    tcpSource(b, th),
    ipDaddr(b, iph),
    tcpDest(b, th),
  );
  if (!(found instanceof TcpSock)) return 0;
  const sk = found;
  const seq = tcpSeq(b, th);
  if (sk.state !== TCP_SYN_SENT && !between(seq, sk.sndUna, sk.sndNxt)) return 0;
  let err: number;
  if (type === 3) {
    if (code === 4) {
      // ICMP_FRAG_NEEDED: RFC 1191 path MTU discovery.
      if (info > 0 && info < (sk.pmtu || 65536)) {
        sk.pmtu = Math.max(info, 68);
        tcpSyncMss(sk, sk.pmtu);
        const head = sk.rtxQueue.peek();
        if (head) tcpRetransmitSkb(sk, head);
      }
      return 0;
    }
    const e = ICMP_ERR_CONVERT[code] ?? { errno: ERRNO.EHOSTUNREACH, fatal: false };
    err = e.errno;
  } else if (type === 11) {
    err = ERRNO.EHOSTUNREACH;
  } else if (type === 12) {
    err = 71; // EPROTO
  } else return 0;
  if (sk.state === TCP_SYN_SENT || sk.state === TCP_SYN_RECV) {
    sk.err = err;
    tcpDone(sk);
    return 0;
  }
  sk.softErr = err;
  return 0;
}
