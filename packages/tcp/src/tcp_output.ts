/**
 * The send side: building segments (`tcp_transmit_skb` with Linux's option layout), the write
 * queue (`tcp_sendmsg` → `tcp_push` → `tcp_write_xmit`), window selection, ACKs, FIN, RST, SYN
 * and retransmission.
 * @see net/ipv4/tcp_output.c
 * @packageDocumentation
 */
import {
  allocSkb,
  CHECKSUM_PARTIAL,
  consumeSkb,
  csumTcpudpMagic,
  type SkBuff,
  type Stack,
} from "@skbuff/core";
import { ipBuildAndSendPkt, ipQueueXmit, type Rtable } from "@skbuff/ipv4";
import { tcpNet } from "./netns.js";
import { TCP_NAGLE, TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
import { tcpStopDelack } from "./tcp_timer.js";
import { tcpEventNewDataSent, tcpPush, tcpQueueControl } from "./tcp_write.js";
import {
  IPPROTO_TCP,
  TCP_FLAG,
  TCPHDR,
  type TcpOption,
  type TcpRepr,
  tcpEmit,
  tcpHeaderLen,
} from "./wire/tcphdr.js";

/** Room for IP and link headers in front of a segment (`MAX_TCP_HEADER`). */
export const MAX_TCP_HEADER = 128;
/** `TCP_INIT_CWND` (RFC 6928). */
export const TCP_INIT_CWND = 10;
/** `TCP_TIMEOUT_INIT`: 1 s (RFC 6298 2.1). */
export const TCP_TIMEOUT_INIT = 1000;
/** `TCP_RTO_MIN`, `TCP_RTO_MAX` (ms). */
export const TCP_RTO_MIN = 200;
export const TCP_RTO_MAX = 120_000;
/** `TCP_MSS_DEFAULT` (RFC 9293 3.7.1: 536 when the peer sends no MSS option). */
export const TCP_MSS_DEFAULT = 536;
/** Largest IPv4 datagram. */
const IP_MAX_MTU = 65535;
/** Header lengths of IPv4 and TCP without options. */
const IPV4_TCP_HDRS = 40;
/** `TCPOLEN_TSTAMP_ALIGNED`. */
const TCPOLEN_TSTAMP_ALIGNED = 12;

/** The fields of one segment to build. */
export interface SegmentSpec {
  readonly sport: number;
  readonly dport: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

/**
 * Builds a segment from `spec` in a fresh skb (`skb.data` at the TCP header), leaving the
 * checksum to the device: `CHECKSUM_PARTIAL`, the field seeded with the pseudo-header sum.
 */
export function tcpBuildSegment(spec: SegmentSpec, saddr: number, daddr: number): SkBuff {
  // An explicit literal, not a spread: one object shape, and no copy of `sport`/`dport`.
  const repr: TcpRepr = {
    srcPort: spec.sport,
    dstPort: spec.dport,
    seq: spec.seq,
    ack: spec.ack,
    flags: spec.flags,
    window: spec.window,
    urgent: 0,
    options: spec.options,
    payload: spec.payload,
  };
  const hlen = tcpHeaderLen(repr);
  const len = hlen + spec.payload.length;
  const skb = allocSkb(MAX_TCP_HEADER + len);
  skb.reserve(MAX_TCP_HEADER);
  const o = skb.put(len);
  tcpEmit(repr, skb.head, o);
  skb.setTransportHeader(0);
  const pseudo = ~csumTcpudpMagic(saddr, daddr, len, IPPROTO_TCP, 0) & 0xffff;
  skb.head[o + TCPHDR.CHECK] = pseudo >>> 8;
  skb.head[o + TCPHDR.CHECK + 1] = pseudo & 0xff;
  skb.ipSummed = CHECKSUM_PARTIAL;
  skb.csumStart = o;
  skb.csumOffset = TCPHDR.CHECK;
  return skb;
}

/** The timestamp clock (`tcp_time_stamp_ts`): ms, u32. */
export function tcpTimeStamp(net: Stack): number {
  return Math.floor(net.clock.now()) >>> 0;
}

/**
 * `tcp_syn_options` / `tcp_synack_options` in Linux's order: `mss`, then `sackOK` with `TS`
 * (or `nop,nop,TS` without SACK, or `nop,nop,sackOK` without TS), then `nop,wscale`.
 */
export function tcpSynOptions(
  mss: number,
  opts: { sack: boolean; ts: boolean; wscale: number | null; tsval: number; tsecr: number },
): TcpOption[] {
  const out: TcpOption[] = [{ kind: "mss", value: mss }];
  if (opts.ts) {
    if (opts.sack) out.push({ kind: "sackOK" });
    else out.push({ kind: "nop" }, { kind: "nop" });
    out.push({ kind: "ts", val: opts.tsval, ecr: opts.tsecr });
  } else if (opts.sack) {
    out.push({ kind: "nop" }, { kind: "nop" }, { kind: "sackOK" });
  }
  if (opts.wscale !== null) out.push({ kind: "nop" }, { kind: "wscale", value: opts.wscale });
  return out;
}

/** `tcp_established_options`: `nop,nop,TS` and up to 4 (3 with TS) SACK blocks. */
export function tcpEstablishedOptions(sk: TcpSock): TcpOption[] {
  const out: TcpOption[] = [];
  if (sk.rxOpt.tstampOk) {
    out.push({ kind: "nop" }, { kind: "nop" });
    out.push({ kind: "ts", val: tcpTimeStamp(sk.net), ecr: sk.rxOpt.tsRecent });
  }
  if (sk.rxOpt.sackOk) {
    const blocks: (readonly [number, number])[] = [];
    if (sk.dsack) blocks.push(sk.dsack);
    for (const b of sk.selectiveAcks) blocks.push(b);
    const max = sk.rxOpt.tstampOk ? 3 : 4;
    if (blocks.length) {
      out.push({ kind: "nop" }, { kind: "nop" });
      out.push({ kind: "sack", blocks: blocks.slice(0, max) });
    }
  }
  return out;
}

/** `tcp_space` / `tcp_win_from_space`: half the free receive buffer (adv_win_scale 1). */
export function tcpSpace(sk: TcpSock): number {
  return Math.max(0, (sk.rcvbuf - sk.rmemAlloc) >> 1);
}

/** `tcp_full_space`. */
export function tcpFullSpace(sk: TcpSock): number {
  return sk.rcvbuf >> 1;
}

/**
 * `tcp_select_window`: the window to advertise, never shrinking what was offered (RFC 9293
 * 3.8.6.2.2: "the receiver SHOULD NOT shrink the window"), zero when less than an MSS is free
 * (RFC 1122 4.2.3.3 receiver SWS avoidance), scaled by our shift.
 */
export function tcpSelectWindow(sk: TcpSock): number {
  const cur = Math.max(0, sk.rcvWnd - ((sk.rcvNxt - sk.rcvWup) >>> 0));
  const wscale = sk.rxOpt.rcvWscale;
  let free = Math.min(tcpSpace(sk), sk.windowClamp || tcpFullSpace(sk));
  const full = Math.min(tcpFullSpace(sk), sk.windowClamp || tcpFullSpace(sk));
  if (free < full >> 1 && free < sk.ack.rcvMss) free = 0;
  let win = free;
  if (wscale) win = (win >> wscale) << wscale;
  else if (win > 65535) win = 65535;
  if (win < cur) win = (cur + ((1 << wscale) - 1)) & ~((1 << wscale) - 1);
  win = Math.min(win, 65535 << wscale);
  sk.rcvWnd = win;
  sk.rcvWup = sk.rcvNxt;
  return win >> wscale;
}

/**
 * `tcp_transmit_skb`: sends the segment held by `skb` (a queued data or control segment,
 * `TCP_SKB_CB` giving seq and flags); the queued skb is kept (a copy goes out). Returns 0 or a
 * negative errno.
 */
export function tcpTransmitSkb(sk: TcpSock, skb: SkBuff): number {
  const cb = TCP_SKB_CB(skb);
  const net = sk.net;
  const syn = (cb.tcpFlags & TCP_FLAG.SYN) !== 0;
  let options: TcpOption[];
  let window: number;
  if (syn) {
    options = tcpSynOptions(sk.advmss, {
      sack: sk.rxOpt.sackOk,
      ts: sk.rxOpt.tstampOk,
      wscale: sk.rxOpt.wscaleOk ? sk.rxOpt.rcvWscale : null,
      tsval: tcpTimeStamp(net),
      tsecr: sk.rxOpt.tsRecent,
    });
    // RFC 7323 2.2: "The window field in a segment where the SYN bit is set … MUST NOT be scaled."
    window = Math.min(sk.rcvWnd, 65535);
  } else {
    options = tcpEstablishedOptions(sk);
    window = tcpSelectWindow(sk);
  }
  const ackFlag = (cb.tcpFlags & TCP_FLAG.ACK) !== 0;
  const out = tcpBuildSegment(
    {
      sport: sk.num,
      dport: sk.dport,
      seq: cb.seq,
      ack: ackFlag ? sk.rcvNxt : 0,
      flags: cb.tcpFlags,
      window,
      options,
      payload: skb.head.subarray(skb.data, skb.tail),
    },
    sk.rcvSaddr,
    sk.daddr,
  );
  cb.when = net.clock.now();
  cb.txCount++;
  const tn = tcpNet(net);
  tn.mib.TcpOutSegs++;
  sk.segsOut++;
  if (skb.len > 0) {
    sk.dataSegsOut++;
    sk.lsndtime = net.clock.now();
  }
  if (ackFlag) tcpEventAckSent(sk);
  if (cb.tcpFlags & TCP_FLAG.RST) tn.mib.TcpOutRsts++;
  const err = ipQueueXmit(sk, out, IPPROTO_TCP, { df: true });
  return Math.min(err, 0);
}

/** `tcp_event_ack_sent`: an ACK went out, so none is pending. */
function tcpEventAckSent(sk: TcpSock): void {
  sk.ack.rcvSegs = 0;
  sk.ack.pending = 0;
  sk.dsack = null;
  if (sk.ack.quick > 0) sk.ack.quick--;
  tcpStopDelack(sk);
}

/** `tcp_mtu_to_mss`: MSS for a path MTU, without options. */
export function tcpMtuToMss(pmtu: number): number {
  return Math.max(Math.min(pmtu, IP_MAX_MTU) - IPV4_TCP_HDRS, 48);
}

/** `tcp_mss_to_mtu`. */
export function tcpMssToMtu(mss: number): number {
  return mss + IPV4_TCP_HDRS;
}

/** The path MTU of the socket's route (`dst_mtu`), 1500 without one. */
export function tcpPmtu(sk: TcpSock): number {
  const rt = sk.dstCache as Rtable | null;
  const mtu = rt ? rt.mtu : 1500;
  return sk.pmtu ? Math.min(sk.pmtu, mtu) : mtu;
}

/**
 * `tcp_sync_mss`: the send MSS for a path MTU: `min(pmtu - 40, peer's MSS)` less the options
 * every segment carries (RFC 6691: the MSS option counts no options).
 */
export function tcpSyncMss(sk: TcpSock, pmtu: number): number {
  let mss = Math.min(tcpMtuToMss(pmtu), sk.rxOpt.mssClamp);
  if (sk.rxOpt.userMss) mss = Math.min(mss, sk.rxOpt.userMss);
  if (sk.rxOpt.tstampOk) mss -= TCPOLEN_TSTAMP_ALIGNED;
  sk.mssCache = Math.max(mss, 48);
  return sk.mssCache;
}

/** `tcp_current_mss`. */
export function tcpCurrentMss(sk: TcpSock): number {
  return sk.mssCache;
}

/** Sends a segment with no data and the socket's state: an ACK, or an RST with `flags`. */
function tcpSendControl(sk: TcpSock, flags: number, seq: number): void {
  const skb = allocSkb(0);
  const cb = TCP_SKB_CB(skb);
  cb.seq = cb.endSeq = seq;
  cb.tcpFlags = flags;
  tcpTransmitSkb(sk, skb);
  consumeSkb(skb, sk.net);
}

/** `tcp_send_ack`. */
export function tcpSendAck(sk: TcpSock): void {
  tcpSendControl(sk, TCP_FLAG.ACK, sk.sndNxt);
}

/** `tcp_send_active_reset`: RST|ACK at `snd_nxt` (RFC 9293 3.10.4 ABORT). */
export function tcpSendActiveReset(sk: TcpSock): void {
  tcpSendControl(sk, TCP_FLAG.RST | TCP_FLAG.ACK, sk.sndNxt);
}

/** `tcp_send_fin`: a FIN after the queued data. */
export function tcpSendFin(sk: TcpSock): void {
  const tail = sk.writeQueue.peekTail();
  if (tail !== null && !(TCP_SKB_CB(tail).tcpFlags & (TCP_FLAG.SYN | TCP_FLAG.FIN))) {
    const cb = TCP_SKB_CB(tail);
    cb.tcpFlags |= TCP_FLAG.FIN;
    cb.endSeq = (cb.endSeq + 1) >>> 0;
    sk.writeSeq = (sk.writeSeq + 1) >>> 0;
  } else {
    tcpQueueControl(sk, TCP_FLAG.FIN | TCP_FLAG.ACK);
  }
  tcpPush(sk, sk.nonagle | TCP_NAGLE.OFF);
}

/** `tcp_send_delayed_ack`: schedules an ACK within `ato` (Linux's TCP_DELACK_MIN is 40 ms). */
export function tcpSendDelayedAck(sk: TcpSock): void {
  if (sk.delackTimer === null) sk.delackTimer = sk.net.createTimer(() => tcpDelackFire(sk));
  if (!sk.delackTimer.pending) sk.delackTimer.arm(sk.ack.ato);
}

function tcpDelackFire(sk: TcpSock): void {
  tcpNet(sk.net).mib.TcpExtDelayedACKs++;
  tcpSendAck(sk);
}

/**
 * `tcp_xmit_probe_skb`: an ACK with an old sequence number (SND.UNA - 1), which the peer must
 * answer with an ACK (RFC 9293 3.10.7.4: "If a segment's contents straddle the boundary … an
 * acknowledgment should be sent in reply"); serves keepalives (RFC 1122 4.2.3.6).
 */
export function tcpWriteWakeup(sk: TcpSock): void {
  tcpSendControl(sk, TCP_FLAG.ACK, (sk.sndUna - 1) >>> 0);
}

/** `tcp_send_probe0`: a zero-window probe (RFC 9293 3.8.6.1), counted as TCPWinProbe. */
export function tcpSendProbe0(sk: TcpSock): void {
  tcpNet(sk.net).mib.TcpExtTCPWinProbe++;
  tcpWriteWakeup(sk);
}

/** `tcp_send_synack` data for a request sock is built in tcp_minisocks; here: the SYN. */
export function tcpSendSyn(sk: TcpSock): void {
  const skb = tcpQueueControl(sk, TCP_FLAG.SYN);
  tcpTransmitSkb(sk, skb);
  tcpEventNewDataSent(sk, skb);
}

/** `tcp_send_synack` for a socket in SYN_RECV after a simultaneous open. */
export function tcpSendSynack(sk: TcpSock): void {
  const skb = sk.rtxQueue.peek();
  if (skb === null) return;
  TCP_SKB_CB(skb).tcpFlags |= TCP_FLAG.ACK;
  tcpTransmitSkb(sk, skb);
}

/** `ip_build_and_send_pkt` for a segment not tied to a full socket (RST, SYN-ACK). */
export function tcpSendRaw(net: Stack, spec: SegmentSpec, saddr: number, daddr: number): void {
  const skb = tcpBuildSegment(spec, saddr, daddr);
  const tn = tcpNet(net);
  tn.mib.TcpOutSegs++;
  if (spec.flags & TCP_FLAG.RST) tn.mib.TcpOutRsts++;
  ipBuildAndSendPkt(skb, net, saddr, daddr, IPPROTO_TCP, { df: (spec.flags & TCP_FLAG.RST) === 0 });
}
