/**
 * `struct tcp_sock` (with the `inet_connection_sock` parts it embeds) and the per-skb control
 * block `struct tcp_skb_cb`.
 * @see include/linux/tcp.h struct tcp_sock, include/net/inet_connection_sock.h,
 *   include/net/tcp.h struct tcp_skb_cb
 * @packageDocumentation
 */
import { type SkBuff, SkBuffHead, Sock, type Stack, type Timer } from "@skbuff/core";
import { TCP_CA, type TcpCaState, type TcpCcSock, type TcpCongestionOps } from "./congestion.js";
import { TCP_CLOSE } from "./tcp_states.js";

/** `struct tcp_skb_cb`: what TCP keeps per segment in `skb.cb`. */
export interface TcpSkbCb {
  /** Starting sequence number. */
  seq: number;
  /** SEQ + FIN + SYN + datalen. */
  endSeq: number;
  /** The flags byte (`tcp_flags`). */
  tcpFlags: number;
  /** `sacked`: {@link TCPCB} bits. */
  sacked: number;
  /** Acknowledgment number of a received segment. */
  ackSeq: number;
  /** Send time of the last transmission (ms), for RTT samples (`skb_mstamp`). */
  when: number;
  /** Times the segment was sent. */
  txCount: number;
}

/** `TCPCB_*` bits of {@link TcpSkbCb.sacked}. */
export const TCPCB = {
  SACKED_ACKED: 0x01,
  SACKED_RETRANS: 0x02,
  LOST: 0x04,
  EVER_RETRANS: 0x80,
} as const;

/** `TCP_SKB_CB(skb)`: the control block, made on first use. */
export function TCP_SKB_CB(skb: SkBuff): TcpSkbCb {
  let cb = skb.cb as TcpSkbCb | null;
  if (cb === null || (cb as Partial<TcpSkbCb>).endSeq === undefined) {
    cb = { seq: 0, endSeq: 0, tcpFlags: 0, sacked: 0, ackSeq: 0, when: 0, txCount: 0 };
    skb.cb = cb;
  }
  return cb;
}

/** `struct tcp_options_received`. */
export class TcpOptionsReceived {
  tstampOk = false;
  sackOk = false;
  wscaleOk = false;
  /** Window scale we use for the peer's windows. */
  sndWscale = 0;
  /** Window scale the peer applies to our windows. */
  rcvWscale = 0;
  /** Timestamp to echo (`ts_recent`) and when it was taken (ms). */
  tsRecent = 0;
  tsRecentStamp = 0;
  /** Timestamps of the segment being processed. */
  sawTstamp = false;
  rcvTsval = 0;
  rcvTsecr = 0;
  /** MSS the peer announced (clamped). */
  mssClamp = 536;
  /** TCP_MAXSEG. */
  userMss = 0;
  /** SACK blocks of the segment being processed. */
  sackBlocks: (readonly [number, number])[] = [];
  /** SYN options seen. */
  sawMss = 0;
}

/** Socket flags of the user side of a TCP socket. */
export const TCP_NAGLE = { OFF: 1, CORK: 2, PUSH: 4 } as const;

/** `icsk_ack` state. */
export class IcskAck {
  /** `ICSK_ACK_SCHED`/`ICSK_ACK_TIMER`/`ICSK_ACK_PUSHED` bits. */
  pending = 0;
  /** Segments left in quickack mode. */
  quick = 0;
  /** `ato`, ms. */
  ato = 40;
  /** Whether the delayed-ACK timer should become immediate (`pingpong` off). */
  pingpong = false;
  /** Full-sized segments received since the last ACK (`rcv_mss` bytes worth). */
  rcvSegs = 0;
  rcvMss = 536;
  lrcvtime = 0;
}

/** `ICSK_ACK_*`. */
export const ICSK_ACK = { SCHED: 1, TIMER: 2, PUSHED: 4 } as const;

/**
 * `struct tcp_sock`: the whole state of one connection (or listener). Sequence numbers are
 * u32, windows in bytes, times in ms of the stack clock unless the name says µs.
 */
export class TcpSock extends Sock implements TcpCcSock {
  // --- receive side
  rcvNxt = 0;
  copiedSeq = 0;
  rcvWup = 0;
  rcvWnd = 0;
  rcvSsthresh = 0;
  windowClamp = 0;
  /** Bytes of the initial receive space (`rcvq_space.space`). */
  rcvSpace = 0;
  /** Out-of-order queue (`out_of_order_queue`), sorted by seq. */
  readonly outOfOrderQueue = new SkBuffHead();
  /** DSACK to report in the next ACK. */
  dsack: readonly [number, number] | null = null;
  /** SACK blocks to report (`selective_acks`), most recent first. */
  selectiveAcks: [number, number][] = [];
  // --- send side
  sndUna = 0;
  sndNxt = 0;
  sndWnd = 0;
  sndWl1 = 0;
  maxWindow = 0;
  writeSeq = 0;
  pushedSeq = 0;
  /** `SOCK_NOSPACE`: a write found the send buffer full and waits for room. */
  nospace = false;
  /** `chrono_type`, `chrono_start` (ms) and `chrono_stat[]` (ms per TCP_CHRONO, see tcp_write). */
  chronoType = 0;
  chronoStart = 0;
  readonly chronoStat = [0, 0, 0];
  /** Initial sequence numbers. */
  iss = 0;
  irs = 0;
  mssCache = 536;
  advmss = 536;
  /** Sent and not acknowledged (`tcp_rtx_queue`). */
  readonly rtxQueue = new SkBuffHead();
  readonly rxOpt = new TcpOptionsReceived();
  // --- RTT (RFC 6298)
  srttUs = 0;
  mdevUs = 0;
  mdevMaxUs = 0;
  rttvarUs = 0;
  rttSeq = 0;
  minRttUs = 0;
  /** Retransmission timeout, ms (`icsk_rto`). */
  rto = 1000;
  // --- congestion (TcpCcSock)
  sndCwnd = 10;
  sndSsthresh = 0x7fffffff;
  sndCwndCnt = 0;
  sndCwndClamp = 0xffffffff;
  priorCwnd = 0;
  priorSsthresh = 0;
  caPriv: unknown = null;
  caOps: TcpCongestionOps | null = null;
  caStateValue: TcpCaState = TCP_CA.Open;
  isCwndLimitedValue = false;
  /** Most packets in flight in the current window, and where that window ends (`cwnd_usage_seq`). */
  maxPacketsOut = 0;
  cwndUsageSeq = 0;
  packetsOut = 0;
  retransOut = 0;
  sackedOut = 0;
  lostOut = 0;
  /** Duplicate ACKs in a row without SACK (`sacked_out` for Reno). */
  dupAcks = 0;
  /** `high_seq`: snd_nxt when recovery started. */
  highSeq = 0;
  /** PRR (RFC 6937) state. */
  prrDelivered = 0;
  prrOut = 0;
  priorInFlight = 0;
  undoMarker = 0;
  undoRetrans = 0;
  reordering = 3;
  /** SND.NXT when a tail loss probe was sent, null when none is outstanding (`tlp_high_seq`). */
  tlpHighSeq: number | null = null;
  // --- icsk
  retransmits = 0;
  backoff = 0;
  probesOut = 0;
  readonly ack = new IcskAck();
  retransmitTimer: Timer | null = null;
  delackTimer: Timer | null = null;
  keepaliveTimer: Timer | null = null;
  /** Time of the first unacked retransmission, for user timeout / retries2 (`retrans_stamp`). */
  retransStamp = 0;
  // --- user settings
  nonagle = 0;
  keepalive = false;
  keepaliveTime = 0;
  keepaliveIntvl = 0;
  keepaliveProbes = 0;
  userTimeout = 0;
  linger2 = 0;
  synRetries = 0;
  lingerOn = false;
  lingerTime = 0;
  notsentLowat = 0;
  /** `sk_shutdown`: RCV_SHUTDOWN 1, SEND_SHUTDOWN 2. */
  shutdown = 0;
  /** Closed by the application (`SOCK_DEAD`). */
  dead = false;
  /** Listener: `sk_max_ack_backlog` and the accept queue. */
  maxAckBacklog = 0;
  readonly acceptQueue: TcpSock[] = [];
  /** A child: the listener it will be accepted from. */
  parent: TcpSock | null = null;
  /** Wakes up the socket's owner with poll events (`sk_data_ready` …). */
  wakeup: ((events: number) => void) | null = null;
  // --- timestamps for tcp_info (ms)
  lsndtime = 0;
  lrcvtime = 0;
  rcvTstamp = 0;
  // --- counters
  totalRetrans = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  segsOut = 0;
  segsIn = 0;
  dataSegsIn = 0;
  dataSegsOut = 0;
  dsackDups = 0;
  /** Path MTU learnt from ICMP (0: the route's). */
  pmtu = 0;
  /** SO_SNDBUF was set: no send-buffer autotuning (`SOCK_SNDBUF_LOCK`). */
  sndbufLocked = false;
  /** Soft error (ICMP) reported if the connection times out (`sk_err_soft`). */
  softErr = 0;
  /** Urgent data is ignored: urgent pointer kept for tcp_info only. */
  urgData = 0;

  constructor(net: Stack) {
    super(net);
    this.state = TCP_CLOSE;
    this.protocol = 6;
  }

  /** `tcp_packets_in_flight`: packets_out - left_out + retrans_out. */
  get packetsInFlight(): number {
    return Math.max(0, this.packetsOut - (this.sackedOut + this.lostOut) + this.retransOut);
  }

  /**
   * `tcp_is_cwnd_limited`: in slow start, cwnd below twice the most packets in flight this
   * window; otherwise whether the last sends were stopped by cwnd.
   */
  get isCwndLimited(): boolean {
    if (this.sndCwnd < this.sndSsthresh) return this.sndCwnd < 2 * this.maxPacketsOut;
    return this.isCwndLimitedValue;
  }

  get caState(): TcpCaState {
    return this.caStateValue;
  }

  get nowUs(): number {
    return Math.round(this.net.clock.now() * 1000);
  }

  /** Bytes queued but not yet sent (`tcp_write_queue`). */
  get notSentBytes(): number {
    return (this.writeSeq - this.sndNxt) >>> 0;
  }

  /** Bytes readable (`SIOCINQ`). */
  get inq(): number {
    return (this.rcvNxt - this.copiedSeq) >>> 0;
  }
}

/** Inserts `skb` into `q` right after `prev` (at the head when `prev` is null). */
export function skbInsertAfter(q: SkBuffHead, prev: SkBuff | null, skb: SkBuff): void {
  if (prev === null) {
    q.queueHead(skb);
    return;
  }
  if (prev === q.peekTail()) {
    q.queueTail(skb);
    return;
  }
  const rest: SkBuff[] = [];
  for (let s = q.dequeueTail(); s !== null && s !== prev; s = q.dequeueTail()) rest.unshift(s);
  q.queueTail(prev);
  q.queueTail(skb);
  for (const s of rest) q.queueTail(s);
}
