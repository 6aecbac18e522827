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

/**
 * The {@link TcpSkbCb} TCP puts in `skb.cb`: one class, so every control block has one shape,
 * and the sequence numbers kept as int32 (`v | 0`, read back `>>> 0`), so that a sequence number
 * at or above 2^31 (half of all ISNs) is held inside the object rather than boxed in a
 * separate heap number per field and per segment.
 */
class TcpSkbCbData implements TcpSkbCb {
  seqI32 = 0;
  endSeqI32 = 0;
  ackSeqI32 = 0;
  tcpFlags = 0;
  sacked = 0;
  when = 0;
  txCount = 0;

  get seq(): number {
    return this.seqI32 >>> 0;
  }
  set seq(v: number) {
    this.seqI32 = v | 0;
  }
  get endSeq(): number {
    return this.endSeqI32 >>> 0;
  }
  set endSeq(v: number) {
    this.endSeqI32 = v | 0;
  }
  get ackSeq(): number {
    return this.ackSeqI32 >>> 0;
  }
  set ackSeq(v: number) {
    this.ackSeqI32 = v | 0;
  }
}

/** `TCP_SKB_CB(skb)`: the control block, made on first use. */
export function TCP_SKB_CB(skb: SkBuff): TcpSkbCb {
  const cb = skb.cb;
  if (cb instanceof TcpSkbCbData) return cb;
  return tcpSkbCbInit(skb, cb);
}

/**
 * Puts a control block in `skb.cb`. A clone's `cb` is a plain copy of the original's own fields
 * (`skb_clone` copies the bytes of `cb`): its values are kept; anything else (no cb, or another
 * layer's) gives a zeroed one.
 */
function tcpSkbCbInit(skb: SkBuff, old: object | null): TcpSkbCb {
  const cb = new TcpSkbCbData();
  if (old !== null && typeof (old as Partial<TcpSkbCbData>).seqI32 === "number") {
    const o = old as TcpSkbCbData;
    cb.seqI32 = o.seqI32;
    cb.endSeqI32 = o.endSeqI32;
    cb.ackSeqI32 = o.ackSeqI32;
    cb.tcpFlags = o.tcpFlags;
    cb.sacked = o.sacked;
    cb.when = o.when;
    cb.txCount = o.txCount;
  }
  skb.cb = cb;
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
  /** SYN options seen. */
  sawMss = 0;
}

/** The `selective_acks` of every socket with no SACK block to report (shared, frozen). */
const NO_SELECTIVE_ACKS: readonly [number, number][] = Object.freeze([]);

/**
 * Socket options of a TCP socket that most sockets never set; 0 (false) means the sysctl
 * default. A socket shares {@link TCP_DEFAULT_USER_SETTINGS} until one is set.
 */
export class TcpUserSettings {
  /** TCP_KEEPIDLE, s. */
  keepaliveTime = 0;
  /** TCP_KEEPINTVL, s. */
  keepaliveIntvl = 0;
  /** TCP_KEEPCNT. */
  keepaliveProbes = 0;
  /** TCP_USER_TIMEOUT, ms. */
  userTimeout = 0;
  /** TCP_LINGER2, s (-1: no FIN_WAIT2 wait). */
  linger2 = 0;
  /** TCP_SYNCNT. */
  synRetries = 0;
  /** SO_LINGER on, and its time (s). */
  lingerOn = false;
  lingerTime = 0;
  /** TCP_NOTSENT_LOWAT, bytes. */
  notsentLowat = 0;
}

/** The settings of every socket that has set none (frozen: a first set makes a copy). */
const TCP_DEFAULT_USER_SETTINGS: Readonly<TcpUserSettings> = Object.freeze(new TcpUserSettings());

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
  // --- receive side (sequence numbers stored as int32: see the u32 accessors below)
  private rcvNxtI32 = 0;
  private copiedSeqI32 = 0;
  private rcvWupI32 = 0;
  rcvWnd = 0;
  rcvSsthresh = 0;
  windowClamp = 0;
  /** Bytes of the initial receive space (`rcvq_space.space`). */
  rcvSpace = 0;
  /** {@link TcpSock.outOfOrderQueue} once made (null until the first out-of-order check). */
  private ofoQueue: SkBuffHead | null = null;
  /** DSACK to report in the next ACK. */
  dsack: readonly [number, number] | null = null;
  /**
   * SACK blocks to report (`selective_acks`), most recent first. Replaced, never changed in
   * place: every socket without blocks shares one frozen empty array.
   */
  selectiveAcks: readonly [number, number][] = NO_SELECTIVE_ACKS;
  // --- receive buffer autotuning (tcp_rcvbuf.ts)
  /** `rcvq_space.seq` and `.time` (µs): where and when the current measurement began. */
  rcvqSpaceSeq = 0;
  rcvqSpaceTimeUs = 0;
  /** `rcv_rtt_est`: the receiver's RTT estimate (µs ×8), its window's end and start (µs, -1: none). */
  rcvRttUs = 0;
  rcvRttSeq = 0;
  rcvRttTimeUs = -1;
  /** `rcv_rtt_last_tsecr`: the last echoed timestamp taken as a sample. */
  rcvRttLastTsecr = 0;
  /** SO_RCVBUF was set: no receive-buffer autotuning (`SOCK_RCVBUF_LOCK`), 0 or 1. */
  rcvbufLocked = 0;
  // --- send side
  private sndUnaI32 = 0;
  private sndNxtI32 = 0;
  sndWnd = 0;
  private sndWl1I32 = 0;
  maxWindow = 0;
  private writeSeqI32 = 0;
  private pushedSeqI32 = 0;
  /** `SOCK_NOSPACE`: a write found the send buffer full and waits for room. */
  nospace = false;
  /** `chrono_type`, `chrono_start` (ms) and `chrono_stat[]` (ms per TCP_CHRONO, see tcp_write). */
  chronoType = 0;
  chronoStart = 0;
  /** {@link TcpSock.chronoStat} once made (null until a chrono is first charged or read). */
  private chronoStatArray: number[] | null = null;
  private issI32 = 0;
  private irsI32 = 0;
  mssCache = 536;
  advmss = 536;
  /** {@link TcpSock.rtxQueue} once made (null until first used). */
  private rtxQueueHead: SkBuffHead | null = null;
  readonly rxOpt = new TcpOptionsReceived();
  // --- TSO sizing / pacing
  /** `sk_pacing_rate`, bytes per second (0: not computed yet; see tcp_write). */
  pacingRate = 0;
  /** `tp->gso_segs`: segments per TSO skb that `tcp_sendmsg` builds (`tcp_xmit_size_goal`). */
  gsoSegs = 0;
  /** Segments per TSO frame of the last `tcp_write_xmit` (counts frames in flight, tcp_write). */
  tsoFrameSegs = 0;
  // --- RTT (RFC 6298)
  srttUs = 0;
  mdevUs = 0;
  mdevMaxUs = 0;
  rttvarUs = 0;
  private rttSeqI32 = 0;
  minRttUs = 0;
  /** Retransmission timeout, ms (`icsk_rto`). */
  rto = 1000;
  // --- congestion (TcpCcSock)
  sndCwnd = 10;
  sndSsthresh = 0x7fffffff;
  sndCwndCnt = 0;
  /**
   * `snd_cwnd_clamp`. Linux starts it at ~0U; any value past every reachable cwnd does, and the
   * largest int32 stays a small integer in V8 (a u32 at or above 2^31 is a boxed number).
   */
  sndCwndClamp = 0x7fffffff;
  priorCwnd = 0;
  priorSsthresh = 0;
  caPriv: unknown = null;
  caOps: TcpCongestionOps | null = null;
  caStateValue: TcpCaState = TCP_CA.Open;
  isCwndLimitedValue = false;
  /** Most packets in flight in the current window (`max_packets_out`; ends at cwndUsageSeq). */
  maxPacketsOut = 0;
  private cwndUsageSeqI32 = 0;
  packetsOut = 0;
  retransOut = 0;
  sackedOut = 0;
  lostOut = 0;
  /** Duplicate ACKs in a row without SACK (`sacked_out` for Reno). */
  dupAcks = 0;
  private highSeqI32 = 0;
  /** PRR (RFC 6937) state. */
  prrDelivered = 0;
  prrOut = 0;
  priorInFlight = 0;
  private undoMarkerI32 = 0;
  undoRetrans = 0;
  reordering = 3;
  /** SND.NXT when a tail loss probe was sent, null when none is outstanding (`tlp_high_seq`). */
  tlpHighSeq: number | null = null;
  // --- RACK (RFC 8985) and undo (`tp->rack`, `reord_seen`; see tcp_rack.ts)
  /** Send time (µs; -1: none yet) and end sequence of the most recently sent segment delivered (`rack.mstamp`, `rack.end_seq`). */
  rackMstampUs = -1;
  rackEndSeq = 0;
  /** That segment's delivery was of a retransmission (orders sends at one clock instant). */
  rackRetrans = false;
  /** RTT (µs) of that segment (`rack.rtt_us`). */
  rackRttUs = 0;
  /** A new delivery advanced RACK since the last loss scan (`rack.advanced`). */
  rackAdvanced = false;
  /** reo_wnd in units of min_rtt/4 (`rack.reo_wnd_steps`), and recoveries it persists (`reo_wnd_persist`). */
  rackReoWndSteps = 1;
  rackReoWndPersist = 0;
  /** A D-SACK asks to widen reo_wnd (`rack.dsack_seen`); when reo_wnd was last widened, µs. */
  rackDsackSeen = false;
  rackReoWndStampUs = 0;
  /** Times reordering was seen (`reord_seen`). */
  reordSeen = 0;
  /** `total_retrans` already counted into `undoRetrans` (Linux counts in tcp_retransmit_skb). */
  undoRetransSynced = 0;
  /** F-RTO (RFC 5682) watches the ACKs after this RTO for proof that it was spurious (`frto`). */
  frto = false;
  // --- icsk
  retransmits = 0;
  backoff = 0;
  probesOut = 0;
  readonly ack = new IcskAck();
  retransmitTimer: Timer | null = null;
  /** What {@link retransmitTimer} is armed for (`icsk_pending`, an `ICSK_TIME_*`), 0 for nothing. */
  icskPending = 0;
  delackTimer: Timer | null = null;
  keepaliveTimer: Timer | null = null;
  /** Time of the first unacked retransmission, for user timeout / retries2 (`retrans_stamp`). */
  retransStamp = 0;
  // --- user settings
  nonagle = 0;
  keepalive = false;
  /**
   * The rarer socket options (see {@link TcpUserSettings}): one shared frozen default until the
   * application sets one, read and written through the accessors of the same names below.
   */
  private userSettings: TcpUserSettings = TCP_DEFAULT_USER_SETTINGS;
  /** `sk_shutdown`: RCV_SHUTDOWN 1, SEND_SHUTDOWN 2. */
  shutdown = 0;
  /** Closed by the application (`SOCK_DEAD`). */
  dead = false;
  /** Listener: `sk_max_ack_backlog`. */
  maxAckBacklog = 0;
  /** {@link TcpSock.acceptQueue} once made (listeners only: null on every other socket). */
  private acceptQueueArray: TcpSock[] | null = null;
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

  // --- u32 sequence numbers. Each is kept as an int32 (`v | 0`) and read back as a u32
  // (`>>> 0`): V8 holds an int32 inside the object, while a field that has ever held a u32 at
  // or above 2^31 (half of all ISNs) costs every socket a separate boxed number.

  /** RCV.NXT (`rcv_nxt`): the next sequence number expected. */
  get rcvNxt(): number {
    return this.rcvNxtI32 >>> 0;
  }
  set rcvNxt(v: number) {
    this.rcvNxtI32 = v | 0;
  }

  /** Head of yet unread data (`copied_seq`). */
  get copiedSeq(): number {
    return this.copiedSeqI32 >>> 0;
  }
  set copiedSeq(v: number) {
    this.copiedSeqI32 = v | 0;
  }

  /** rcv_nxt at the last window update sent (`rcv_wup`). */
  get rcvWup(): number {
    return this.rcvWupI32 >>> 0;
  }
  set rcvWup(v: number) {
    this.rcvWupI32 = v | 0;
  }

  /** SND.UNA (`snd_una`): the first byte not yet acknowledged. */
  get sndUna(): number {
    return this.sndUnaI32 >>> 0;
  }
  set sndUna(v: number) {
    this.sndUnaI32 = v | 0;
  }

  /** SND.NXT (`snd_nxt`): the next sequence number to send. */
  get sndNxt(): number {
    return this.sndNxtI32 >>> 0;
  }
  set sndNxt(v: number) {
    this.sndNxtI32 = v | 0;
  }

  /** SND.WL1 (`snd_wl1`): the segment sequence number of the last window update. */
  get sndWl1(): number {
    return this.sndWl1I32 >>> 0;
  }
  set sndWl1(v: number) {
    this.sndWl1I32 = v | 0;
  }

  /** Tail of the data written by the application (`write_seq`). */
  get writeSeq(): number {
    return this.writeSeqI32 >>> 0;
  }
  set writeSeq(v: number) {
    this.writeSeqI32 = v | 0;
  }

  /** Last pushed sequence number (`pushed_seq`). */
  get pushedSeq(): number {
    return this.pushedSeqI32 >>> 0;
  }
  set pushedSeq(v: number) {
    this.pushedSeqI32 = v | 0;
  }

  /** Initial send sequence number (ISS). */
  get iss(): number {
    return this.issI32 >>> 0;
  }
  set iss(v: number) {
    this.issI32 = v | 0;
  }

  /** Initial receive sequence number (IRS). */
  get irs(): number {
    return this.irsI32 >>> 0;
  }
  set irs(v: number) {
    this.irsI32 = v | 0;
  }

  /** The segment timed for an RTT sample without timestamps (`rtt_seq`). */
  get rttSeq(): number {
    return this.rttSeqI32 >>> 0;
  }
  set rttSeq(v: number) {
    this.rttSeqI32 = v | 0;
  }

  /** Where the window of {@link TcpSock.maxPacketsOut} ends (`cwnd_usage_seq`). */
  get cwndUsageSeq(): number {
    return this.cwndUsageSeqI32 >>> 0;
  }
  set cwndUsageSeq(v: number) {
    this.cwndUsageSeqI32 = v | 0;
  }

  /** `high_seq`: snd_nxt when recovery started. */
  get highSeq(): number {
    return this.highSeqI32 >>> 0;
  }
  set highSeq(v: number) {
    this.highSeqI32 = v | 0;
  }

  /** `undo_marker`: snd_una when a reduction that may be undone began. */
  get undoMarker(): number {
    return this.undoMarkerI32 >>> 0;
  }
  set undoMarker(v: number) {
    this.undoMarkerI32 = v | 0;
  }

  // --- user settings kept in {@link TcpUserSettings}

  /** Sets one of the {@link TcpUserSettings}, giving the socket its own copy first. */
  private setUserSetting<K extends keyof TcpUserSettings>(key: K, v: TcpUserSettings[K]): void {
    if (this.userSettings[key] === v) return;
    if (this.userSettings === TCP_DEFAULT_USER_SETTINGS) this.userSettings = new TcpUserSettings();
    this.userSettings[key] = v;
  }

  /** TCP_KEEPIDLE, s (0: `tcp_keepalive_time`). */
  get keepaliveTime(): number {
    return this.userSettings.keepaliveTime;
  }
  set keepaliveTime(v: number) {
    this.setUserSetting("keepaliveTime", v);
  }

  /** TCP_KEEPINTVL, s (0: `tcp_keepalive_intvl`). */
  get keepaliveIntvl(): number {
    return this.userSettings.keepaliveIntvl;
  }
  set keepaliveIntvl(v: number) {
    this.setUserSetting("keepaliveIntvl", v);
  }

  /** TCP_KEEPCNT (0: `tcp_keepalive_probes`). */
  get keepaliveProbes(): number {
    return this.userSettings.keepaliveProbes;
  }
  set keepaliveProbes(v: number) {
    this.setUserSetting("keepaliveProbes", v);
  }

  /** TCP_USER_TIMEOUT, ms (0: none). */
  get userTimeout(): number {
    return this.userSettings.userTimeout;
  }
  set userTimeout(v: number) {
    this.setUserSetting("userTimeout", v);
  }

  /** TCP_LINGER2, s (0: `tcp_fin_timeout`, -1: no FIN_WAIT2 wait). */
  get linger2(): number {
    return this.userSettings.linger2;
  }
  set linger2(v: number) {
    this.setUserSetting("linger2", v);
  }

  /** TCP_SYNCNT (0: `tcp_syn_retries`). */
  get synRetries(): number {
    return this.userSettings.synRetries;
  }
  set synRetries(v: number) {
    this.setUserSetting("synRetries", v);
  }

  /** SO_LINGER is on. */
  get lingerOn(): boolean {
    return this.userSettings.lingerOn;
  }
  set lingerOn(v: boolean) {
    this.setUserSetting("lingerOn", v);
  }

  /** SO_LINGER time, s. */
  get lingerTime(): number {
    return this.userSettings.lingerTime;
  }
  set lingerTime(v: number) {
    this.setUserSetting("lingerTime", v);
  }

  /** TCP_NOTSENT_LOWAT, bytes (0: `tcp_notsent_lowat`). */
  get notsentLowat(): number {
    return this.userSettings.notsentLowat;
  }
  set notsentLowat(v: number) {
    this.setUserSetting("notsentLowat", v);
  }

  /** Out-of-order queue (`out_of_order_queue`), sorted by seq. Made on first use. */
  get outOfOrderQueue(): SkBuffHead {
    this.ofoQueue ??= new SkBuffHead();
    return this.ofoQueue;
  }

  /** Whether the out-of-order queue holds nothing (without making it). */
  ofoEmpty(): boolean {
    const q = this.ofoQueue;
    return q === null || q.isEmpty();
  }

  /** Sent and not acknowledged (`tcp_rtx_queue`). Made on first use. */
  get rtxQueue(): SkBuffHead {
    this.rtxQueueHead ??= new SkBuffHead();
    return this.rtxQueueHead;
  }

  /** `chrono_stat[]`: ms spent in each TCP_CHRONO (BUSY, RWND_LIMITED, SNDBUF_LIMITED). */
  get chronoStat(): number[] {
    this.chronoStatArray ??= [0, 0, 0];
    return this.chronoStatArray;
  }

  /** Listener: the accept queue (`icsk_accept_queue`), oldest first. Made on first use. */
  get acceptQueue(): TcpSock[] {
    this.acceptQueueArray ??= [];
    return this.acceptQueueArray;
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
