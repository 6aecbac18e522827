/**
 * The send side: building segments (`tcp_transmit_skb` with Linux's option layout), the write
 * queue (`tcp_sendmsg` → `tcp_push` → `tcp_write_xmit`), window selection, ACKs, FIN, RST, SYN
 * and retransmission.
 * @see net/ipv4/tcp_output.c
 * @packageDocumentation
 */
import { allocSkb, CHECKSUM_PARTIAL, csumTcpudpMagic, type SkBuff, type Stack } from "@skbuff/core";
import { ipBuildAndSendPkt, ipQueueXmit, type Rtable } from "@skbuff/ipv4";
import { tcpNet } from "./netns.js";
import { TCP_NAGLE, TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
import { tcpStopDelack } from "./tcp_timer.js";
import { tcpEventNewDataSent, tcpPush, tcpQueueControl } from "./tcp_write.js";
import {
  IPPROTO_TCP,
  TCP_FLAG,
  TCPHDR,
  TCPOLEN,
  TCPOLEN_SACK_BASE_ALIGNED,
  TCPOLEN_TSTAMP_ALIGNED,
  type TcpOption,
  type TcpRepr,
  tcpEmit,
  tcpEmitFixed,
  tcpEmitOption,
  tcpEmitSackBlock,
  tcpEmitSackHead,
  tcpEmitTsAligned,
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

/** `ip_queue_xmit`'s options for a socket's segments (DF: PMTU discovery), shared, never written. */
const XMIT_DF = { df: true } as const;

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
  const n = tcpSackBlocksToSend(sk);
  if (n > 0) {
    const blocks: (readonly [number, number])[] = [];
    if (sk.dsack) blocks.push(sk.dsack);
    for (const b of sk.selectiveAcks) blocks.push(b);
    out.push({ kind: "nop" }, { kind: "nop" });
    out.push({ kind: "sack", blocks: blocks.slice(0, n) });
  }
  return out;
}

/**
 * How many SACK blocks the next segment carries: the D-SACK first (RFC 2883 4), then ours, at
 * most 4, or 3 beside a timestamp (RFC 2018 3: "at most 3 SACK blocks" fit with the 10 bytes of
 * the Timestamp option).
 */
function tcpSackBlocksToSend(sk: TcpSock): number {
  if (!sk.rxOpt.sackOk) return 0;
  const n = (sk.dsack !== null ? 1 : 0) + sk.selectiveAcks.length;
  const max = sk.rxOpt.tstampOk ? 3 : 4;
  return Math.min(n, max);
}

/**
 * `tcp_options_write` for an established connection, straight into the header (no option
 * objects): `nop,nop,TS` then `nop,nop,SACK` with `nsack` blocks, D-SACK first. Returns the
 * offset after the options.
 */
function tcpWriteEstablishedOptions(
  sk: TcpSock,
  b: Uint8Array,
  o: number,
  nsack: number,
  now: number,
): number {
  if (sk.rxOpt.tstampOk) o = tcpEmitTsAligned(b, o, Math.floor(now) >>> 0, sk.rxOpt.tsRecent);
  if (nsack > 0) {
    o = tcpEmitSackHead(b, o, nsack);
    let left = nsack;
    const d = sk.dsack;
    if (d !== null) {
      o = tcpEmitSackBlock(b, o, d[0], d[1]);
      left--;
    }
    const sacks = sk.selectiveAcks;
    for (let i = 0; i < left; i++) {
      const blk = sacks[i]!;
      o = tcpEmitSackBlock(b, o, blk[0], blk[1]);
    }
  }
  return o;
}

/** `tcp_space` / `tcp_win_from_space`: half the free receive buffer (adv_win_scale 1). */
export function tcpSpace(sk: TcpSock): number {
  const free = sk.rcvbuf - sk.rmemAlloc;
  return free > 0 ? free >> 1 : 0;
}

/** `tcp_full_space`. */
export function tcpFullSpace(sk: TcpSock): number {
  return sk.rcvbuf >> 1;
}

/**
 * `tcp_select_window`: the window to advertise, never shrinking what was offered (RFC 9293
 * 3.8.6.2.2: "the receiver SHOULD NOT shrink the window"), zero when less than an MSS is free
 * (RFC 1122 4.2.3.3 receiver SWS avoidance), scaled by our shift. The free space follows the
 * receive buffer, which autotuning grows (`tcp_rcvbuf.ts`). Plain arithmetic, no allocation.
 */
export function tcpSelectWindow(sk: TcpSock): number {
  let cur = sk.rcvWnd - ((sk.rcvNxt - sk.rcvWup) >>> 0);
  if (cur < 0) cur = 0;
  const wscale = sk.rxOpt.rcvWscale;
  const fullSpace = sk.rcvbuf >> 1;
  const clamp = sk.windowClamp || fullSpace;
  let free = tcpSpace(sk);
  if (free > clamp) free = clamp;
  const full = Math.min(fullSpace, clamp);
  if (free < full >> 1 && free < sk.ack.rcvMss) free = 0;
  let win = free;
  if (wscale) win = (win >> wscale) << wscale;
  else if (win > 65535) win = 65535;
  if (win < cur) {
    const mask = (1 << wscale) - 1;
    win = (cur + mask) & ~mask;
  }
  const max = 65535 << wscale;
  if (win > max) win = max;
  sk.rcvWnd = win;
  sk.rcvWup = sk.rcvNxt;
  return win >> wscale;
}

/**
 * `tcp_transmit_skb`: sends the segment held by `skb` (a queued data or control segment,
 * `TCP_SKB_CB` giving seq and flags); the queued skb is kept. Returns 0 or a negative errno.
 *
 * As in Linux, the payload is not copied: a clone of the queued skb goes out, the TCP header
 * pushed into the headroom that `tcp_sendmsg` reserved ({@link MAX_TCP_HEADER}). The rule that
 * makes this safe (Linux's `skb_header_release` convention): the bytes in front of the queued
 * skb's `data` belong to whichever clone is being sent, which writes its TCP, IP and link
 * headers there; nobody writes the shared payload `[data, tail)` or the tailroom after it
 * (a receiver coalescing into a looped-back skb included) without `cow()` first. So a
 * queued skb is cloned only while no earlier clone of it is alive (`skb_cloned`): a
 * retransmission while the previous transmission is still held (in a device queue, or in the
 * peer's receive queue on loopback) sends a private copy instead (`pskb_copy`), since its
 * headers would overwrite the ones the held clone still carries. A queued skb without the
 * headroom goes out as a copy as well.
 * @see net/ipv4/tcp_output.c __tcp_transmit_skb()
 */
export function tcpTransmitSkb(sk: TcpSock, skb: SkBuff): number {
  const cb = TCP_SKB_CB(skb);
  const now = sk.net.clock.now();
  cb.when = now;
  cb.txCount++;
  let out: SkBuff;
  if (skb.headroom >= MAX_TCP_HEADER && !skb.isShared()) {
    // The clone goes to IP without TCP's control block, which stays with the queued skb:
    // "Cleanup our debris for IP stacks" (Linux clears the clone's cb) — and no copy is made.
    skb.cb = null;
    out = skb.clone();
    skb.cb = cb;
  } else out = tcpSkbCopy(skb);
  return tcpTransmitBuilt(sk, out, cb.seq, cb.tcpFlags, now);
}

/** `pskb_copy` for transmit: the payload of `skb` in a private skb with full headroom. */
function tcpSkbCopy(skb: SkBuff): SkBuff {
  const len = skb.len;
  const n = allocSkb(MAX_TCP_HEADER + len);
  n.reserve(MAX_TCP_HEADER);
  if (len > 0) n.head.set(skb.head.subarray(skb.data, skb.tail), n.put(len));
  return n;
}

/**
 * The body of `__tcp_transmit_skb` once the skb to send is chosen: pushes and writes the TCP
 * header (options written in place), leaves the checksum to the device (`CHECKSUM_PARTIAL`,
 * the field seeded with the pseudo-header sum, as `tcp_v4_send_check`), counts, and hands the
 * segment to IP. Takes ownership of `skb`, whose `data` is at the payload. `now` is the clock
 * read once for the segment (Linux's `tp->tcp_mstamp`): its TSval and `lsndtime` both come from it.
 */
function tcpTransmitBuilt(
  sk: TcpSock,
  skb: SkBuff,
  seq: number,
  flags: number,
  now: number,
): number {
  const net = sk.net;
  const syn = (flags & TCP_FLAG.SYN) !== 0;
  const ackFlag = (flags & TCP_FLAG.ACK) !== 0;
  const payloadLen = skb.len;
  let synOptions: TcpOption[] | null = null;
  let nsack = 0;
  let hlen: number;
  let window: number;
  if (syn) {
    synOptions = tcpSynOptions(sk.advmss, {
      sack: sk.rxOpt.sackOk,
      ts: sk.rxOpt.tstampOk,
      wscale: sk.rxOpt.wscaleOk ? sk.rxOpt.rcvWscale : null,
      tsval: Math.floor(now) >>> 0,
      tsecr: sk.rxOpt.tsRecent,
    });
    hlen = tcpHeaderLen({ options: synOptions });
    // RFC 7323 2.2: "The window field in a segment where the SYN bit is set … MUST NOT be scaled."
    window = Math.min(sk.rcvWnd, 65535);
  } else {
    nsack = tcpSackBlocksToSend(sk);
    hlen =
      TCPHDR.MIN_LEN +
      (sk.rxOpt.tstampOk ? TCPOLEN_TSTAMP_ALIGNED : 0) +
      (nsack > 0 ? TCPOLEN_SACK_BASE_ALIGNED + TCPOLEN.SACK_PERBLOCK * nsack : 0);
    window = tcpSelectWindow(sk);
  }
  const o = skb.push(hlen);
  skb.transportHeader = o;
  const b = skb.head;
  tcpEmitFixed(b, o, sk.num, sk.dport, seq, ackFlag ? sk.rcvNxt : 0, hlen, flags, window);
  if (synOptions !== null) {
    let i = o + TCPHDR.MIN_LEN;
    for (const opt of synOptions) i = tcpEmitOption(opt, b, i);
    b.fill(0, i, o + hlen);
  } else {
    tcpWriteEstablishedOptions(sk, b, o + TCPHDR.MIN_LEN, nsack, now);
  }
  const pseudo = ~csumTcpudpMagic(sk.rcvSaddr, sk.daddr, hlen + payloadLen, IPPROTO_TCP, 0);
  b[o + TCPHDR.CHECK] = (pseudo >>> 8) & 0xff;
  b[o + TCPHDR.CHECK + 1] = pseudo & 0xff;
  skb.ipSummed = CHECKSUM_PARTIAL;
  skb.csumStart = o;
  skb.csumOffset = TCPHDR.CHECK;
  const tn = tcpNet(net);
  tn.mib.TcpOutSegs++;
  sk.segsOut++;
  if (payloadLen > 0) {
    sk.dataSegsOut++;
    sk.lsndtime = now;
  }
  if (ackFlag) tcpEventAckSent(sk);
  if (flags & TCP_FLAG.RST) tn.mib.TcpOutRsts++;
  const err = ipQueueXmit(sk, skb, IPPROTO_TCP, XMIT_DF);
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

/**
 * Sends a segment with no data and the socket's state: an ACK, or an RST with `flags`. Like
 * `tcp_send_ack`, the skb is built with header room and sent itself, not cloned.
 */
function tcpSendControl(sk: TcpSock, flags: number, seq: number): void {
  const skb = allocSkb(MAX_TCP_HEADER);
  skb.reserve(MAX_TCP_HEADER);
  tcpTransmitBuilt(sk, skb, seq, flags, sk.net.clock.now());
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
