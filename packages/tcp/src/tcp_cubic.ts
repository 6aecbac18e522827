/**
 * CUBIC (RFC 9438) as Linux implements it, with HyStart (hybrid slow start): the window grows
 * along a cubic function of the time since the last congestion event, centred on the window
 * where that event happened (`W_max`), never slower than a Reno flow would grow.
 *
 * Units follow Linux: windows in packets, the CUBIC clock in ms (`tcp_jiffies32`, read from
 * `sk.nowUs`), HyStart delays in µs. Where Linux uses fixed point because the kernel has no
 * floating point (`cubic_root()`'s table and Newton step, `bic_scale`, `cube_factor`), this file
 * uses plain arithmetic: `Math.cbrt` for K and C = 0.4 exactly (Linux's 410/1024 ≈ 0.4004).
 * Windows stay integers, as they are in Linux, so the results match it to within a packet.
 * @see net/ipv4/tcp_cubic.c
 * @packageDocumentation
 */
import {
  type AckSample,
  CA_EVENT,
  TCP_CA,
  type TcpCaEvent,
  type TcpCaState,
  type TcpCcSock,
  type TcpCongestionOps,
  tcpCongAvoidAi,
  tcpInSlowStart,
  tcpSlowStart,
} from "./congestion.js";
import { tcpRenoUndoCwnd } from "./tcp_cong_reno.js";

/** Scale of {@link CUBIC_BETA} (`BICTCP_BETA_SCALE`). */
export const BICTCP_BETA_SCALE = 1024;
/**
 * β_cubic ×1024 (Linux's `beta` module parameter, 717/1024 ≈ 0.7).
 * RFC 9438 (4.6): "The parameter β_cubic SHOULD be set to 0.7".
 */
export const CUBIC_BETA = 717;
/** C, segments/s³. RFC 9438 (5.1): "C SHOULD be set to 0.4". Linux: bic_scale 41 → 410/1024. */
export const CUBIC_C = 0.4;

/** HyStart detection methods (`hystart_detect` bits). */
export const HYSTART = {
  /** Ack-train: ACKs of one round keep arriving closely spaced for longer than minRTT/2. */
  ACK_TRAIN: 0x1,
  /** Delay increase: this round's minimum RTT exceeds the connection's by a threshold. */
  DELAY: 0x2,
} as const;

/** CUBIC's tunables, Linux's module parameters with their defaults. */
export interface CubicParams {
  /** `fast_convergence` (default true). */
  readonly fastConvergence: boolean;
  /** `beta`, scaled by 1024 (default 717). */
  readonly beta: number;
  /** `tcp_friendliness`: track a Reno window and never grow slower (default true). */
  readonly tcpFriendliness: boolean;
  /** `hystart` (default true). */
  readonly hystart: boolean;
  /** `hystart_detect`, a mask of {@link HYSTART} (default 3: both). */
  readonly hystartDetect: number;
  /** `hystart_low_window`: HyStart only acts from this cwnd up (default 16). */
  readonly hystartLowWindow: number;
  /** `hystart_ack_delta_us`: ACKs closer than this form a train (default 2000). */
  readonly hystartAckDeltaUs: number;
}

/** Linux's defaults for {@link CubicParams}. */
export const CUBIC_DEFAULTS: CubicParams = Object.freeze({
  fastConvergence: true,
  beta: CUBIC_BETA,
  tcpFriendliness: true,
  hystart: true,
  hystartDetect: HYSTART.ACK_TRAIN | HYSTART.DELAY,
  hystartLowWindow: 16,
  hystartAckDeltaUs: 2000,
});

/** Samples of a round HyStart needs before judging its delay (`HYSTART_MIN_SAMPLES`). */
const HYSTART_MIN_SAMPLES = 8;
/** Bounds of the delay-increase threshold, µs (`HYSTART_DELAY_MIN`, `HYSTART_DELAY_MAX`). */
const HYSTART_DELAY_MIN_US = 4000;
const HYSTART_DELAY_MAX_US = 16000;
/**
 * `curr_rtt` before a round's first sample: above any RTT (Linux: ~0U). The largest int32, not
 * Infinity or a u32, so that V8 keeps the field a small integer rather than a boxed number.
 */
export const HYSTART_NO_RTT = 0x7fffffff;

/** The socket clock's tick for CUBIC, `HZ` with 1 jiffy = 1 ms. */
const HZ = 1000;

/**
 * Per-socket CUBIC state (`struct bictcp`), kept in `sk.caPriv` from `init` to `release`.
 * Exported for tests and tracing; the engine treats `caPriv` as opaque.
 */
export interface BictcpCa {
  /** Increase cwnd by 1 after this many packets acked. */
  cnt: number;
  /** W_max: cwnd before the last reduction (after fast convergence). 0: no loss yet. */
  lastMaxCwnd: number;
  /** cwnd when `cnt` was last computed. */
  lastCwnd: number;
  /** When `cnt` was last computed, ms. */
  lastTime: number;
  /** Plateau of the cubic function: W_max, or cwnd at epoch start if above it. */
  bicOriginPoint: number;
  /** K, seconds from epoch start to the plateau. */
  bicK: number;
  /** Minimum RTT seen, µs (0: none yet). */
  delayMin: number;
  /** Start of the current congestion-avoidance epoch, ms; `undefined` between epochs. */
  epochStart: number | undefined;
  /** Packets acked since the Reno estimate last grew. */
  ackCnt: number;
  /** W_est: the window Reno would have now. */
  tcpCwnd: number;
  /** HyStart: RTT samples taken this round. */
  sampleCnt: number;
  /** HyStart: the slow-start exit point was found. */
  found: boolean;
  /** HyStart: when this round began, µs. */
  roundStart: number;
  /** HyStart: the round ends once `ackedTotal` passes this (Linux: `snd_una` past `end_seq`). */
  endSeq: number;
  /** HyStart: last ACK of the current ack train, µs. */
  lastAck: number;
  /** HyStart: minimum RTT of this round, µs (`HYSTART_NO_RTT` before the first sample). */
  currRtt: number;
  /**
   * Packets acked over the connection, counted from `pktsAcked`: stands in for `snd_una`, which
   * {@link TcpCcSock} does not carry.
   */
  ackedTotal: number;
  /**
   * Last time an ACK was seen, ms: stands in for `lsndtime` (not in {@link TcpCcSock}) when an
   * idle period is measured on `CA_EVENT.TX_START`. It is at or after the last send, so the
   * idle time is under-, never over-estimated.
   */
  lastActive: number;
}

function bictcpClockMs(sk: TcpCcSock): number {
  return Math.floor(sk.nowUs / 1000);
}

/**
 * The socket's CUBIC state. Linux's `icsk_ca_priv` is zeroed memory before `init` runs (the
 * SYN-ACK is acked, and `pkts_acked` called, before `tcp_init_congestion_control`), so a socket
 * without state gets a fresh one here rather than an error.
 */
function ca(sk: TcpCcSock): BictcpCa {
  if (sk.caPriv === null || sk.caPriv === undefined) sk.caPriv = freshState(sk);
  return sk.caPriv as BictcpCa;
}

/**
 * `struct bictcp` as a class, so every field lives inside the object from the start (one object
 * of fixed shape per socket, no out-of-object property store).
 */
class Bictcp implements BictcpCa {
  cnt = 0;
  lastMaxCwnd = 0;
  lastCwnd = 0;
  lastTime = 0;
  bicOriginPoint = 0;
  bicK = 0;
  delayMin = 0;
  epochStart: number | undefined = undefined;
  ackCnt = 0;
  tcpCwnd = 0;
  sampleCnt = 0;
  found = false;
  roundStart = 0;
  endSeq = 0;
  lastAck = 0;
  currRtt = HYSTART_NO_RTT;
  ackedTotal = 0;
  lastActive: number;

  constructor(lastActive: number) {
    this.lastActive = lastActive;
  }
}

/** A reset `struct bictcp` with a HyStart round starting now. */
function freshState(sk: TcpCcSock): BictcpCa {
  const c = new Bictcp(bictcpClockMs(sk));
  bictcpHystartReset(sk, c);
  return c;
}

/** `bictcp_reset`: forgets W_max, the epoch and HyStart's verdict. */
function bictcpReset(c: BictcpCa): void {
  c.cnt = 0;
  c.lastMaxCwnd = 0;
  c.lastCwnd = 0;
  c.lastTime = 0;
  c.bicOriginPoint = 0;
  c.bicK = 0;
  c.delayMin = 0;
  c.epochStart = undefined;
  c.ackCnt = 0;
  c.tcpCwnd = 0;
  c.sampleCnt = 0;
  c.found = false;
}

/** `bictcp_hystart_reset`: starts a HyStart round at the current ACK. */
function bictcpHystartReset(sk: TcpCcSock, c: BictcpCa): void {
  c.roundStart = c.lastAck = sk.nowUs;
  c.endSeq = c.ackedTotal + sk.packetsInFlight;
  c.currRtt = HYSTART_NO_RTT;
  c.sampleCnt = 0;
}

/**
 * Makes a CUBIC table with other tunables than Linux's defaults (tests, experiments). The
 * registered `cubic` is {@link tcpCubic}, made with {@link CUBIC_DEFAULTS}.
 */
export function createCubic(params: Partial<CubicParams> = {}, name = "cubic"): TcpCongestionOps {
  const p: CubicParams = { ...CUBIC_DEFAULTS, ...params };
  // beta_scale: Reno's growth per ack mapped onto CUBIC's β, ×8 (Linux: 15 for β = 717).
  const betaScale = Math.floor(
    Math.floor((8 * (BICTCP_BETA_SCALE + p.beta)) / 3) / (BICTCP_BETA_SCALE - p.beta),
  );

  /** @see net/ipv4/tcp_cubic.c cubictcp_init() */
  function init(sk: TcpCcSock): void {
    sk.caPriv = freshState(sk);
  }

  /**
   * Drops the per-socket state (`caPriv = null`, the engine's "none"). Linux's `icsk_ca_priv`
   * is inline in the socket and CUBIC has no `release`.
   */
  function release(sk: TcpCcSock): void {
    sk.caPriv = null;
  }

  /**
   * Idle periods do not count as CUBIC time.
   *
   * RFC 9438 (4.2): "The elapsed time t in Figure 1 MUST NOT include periods during which cwnd
   * has not been updated due to application-limited behavior". On the first send after idle,
   * the epoch start moves forward by the idle time, so growth resumes on the same curve.
   * @see net/ipv4/tcp_cubic.c cubictcp_cwnd_event()
   */
  function cwndEvent(sk: TcpCcSock, ev: TcpCaEvent): void {
    if (ev !== CA_EVENT.TX_START) return;
    const c = ca(sk);
    const now = bictcpClockMs(sk);
    const delta = now - c.lastActive;
    if (c.epochStart !== undefined && delta > 0) {
      c.epochStart += delta;
      if (c.epochStart > now) c.epochStart = now;
    }
  }

  /**
   * Computes `cnt`, the packets to ack per 1-packet increase, from the cubic function and the
   * Reno estimate.
   * @see net/ipv4/tcp_cubic.c bictcp_update()
   */
  function bictcpUpdate(c: BictcpCa, cwnd: number, acked: number, now: number): void {
    c.ackCnt += acked;

    // The cubic function is evaluated at most every HZ/32 while cwnd stands still.
    if (c.lastCwnd === cwnd && now - c.lastTime <= Math.floor(HZ / 32)) return;

    // ... and at most once per jiffy; a cwnd reduction ends the epoch and forces a recompute.
    if (c.epochStart === undefined || now !== c.lastTime) {
      c.lastCwnd = cwnd;
      c.lastTime = now;

      if (c.epochStart === undefined) {
        c.epochStart = now;
        c.ackCnt = acked;
        // RFC 9438 (4.3): "W_est is set equal to cwnd_epoch at the start of the congestion
        // avoidance stage."
        c.tcpCwnd = cwnd;
        if (c.lastMaxCwnd <= cwnd) {
          c.bicK = 0;
          c.bicOriginPoint = cwnd;
        } else {
          // RFC 9438 (4.2): "K = cubic_root((W_max - cwnd_epoch)/C)" (Figure 2). Linux:
          // cubic_root(), a table lookup and one Newton-Raphson step; Math.cbrt is exact.
          c.bicK = Math.cbrt((c.lastMaxCwnd - cwnd) / CUBIC_C);
          c.bicOriginPoint = c.lastMaxCwnd;
        }
      }

      // RFC 9438 (4.2): "W_cubic(t) = C*(t-K)^3 + W_max" (Figure 1), evaluated one RTT ahead:
      // "target = W_cubic(t + RTT)" — Linux uses the minimum RTT, rounded up to a jiffy.
      const t = (now - c.epochStart + Math.ceil(c.delayMin / 1000)) / HZ;
      const offs = Math.abs(t - c.bicK);
      const delta = Math.floor(CUBIC_C * offs * offs * offs);
      const bicTarget = t < c.bicK ? c.bicOriginPoint - delta : c.bicOriginPoint + delta;

      // RFC 9438 (4.4, 4.5): "cwnd MUST be incremented by (target - cwnd)/cwnd for each
      // received new ACK" — as a count: one packet per cwnd/(target - cwnd) acked.
      c.cnt = bicTarget > cwnd ? Math.floor(cwnd / (bicTarget - cwnd)) : 100 * cwnd;

      // Before the first loss the curve is flat at cwnd; Linux grows at least 5% per RTT.
      if (c.lastMaxCwnd === 0 && c.cnt > 20) c.cnt = 20;
    }

    if (p.tcpFriendliness) {
      // RFC 9438 (4.3): "W_est = W_est + α_cubic * segments_acked / cwnd" (Figure 4), with
      // α_cubic = 3(1-β)/(1+β): W_est grows one packet per cwnd·8/beta_scale acked. Linux keeps
      // α_cubic (the RFC raises it to 1 once W_est reaches cwnd_prior) and compares W_est with
      // cwnd rather than with W_cubic(t), pulling cwnd up to W_est at Reno's pace:
      // "If so, CUBIC is in the Reno-friendly region and cwnd SHOULD be set to W_est".
      const perPacket = Math.floor((cwnd * betaScale) / 8);
      if (perPacket > 0) {
        while (c.ackCnt > perPacket) {
          c.ackCnt -= perPacket;
          c.tcpCwnd++;
        }
      }
      if (c.tcpCwnd > cwnd) {
        const maxCnt = Math.floor(cwnd / (c.tcpCwnd - cwnd));
        if (c.cnt > maxCnt) c.cnt = maxCnt;
      }
    }

    // RFC 9438 (4.2): the target is at most 1.5·cwnd; Linux: at most 1 packet per 2 acked.
    c.cnt = Math.max(c.cnt, 2);
  }

  /**
   * Slow start below ssthresh (RFC 9438 (4.10): "CUBIC MUST employ a slow-start algorithm when
   * cwnd is no more than ssthresh"), the cubic window above.
   * @see net/ipv4/tcp_cubic.c cubictcp_cong_avoid()
   */
  function congAvoid(sk: TcpCcSock, _ack: number, acked: number): void {
    const c = ca(sk);
    const now = bictcpClockMs(sk);
    c.lastActive = now;
    if (!sk.isCwndLimited) return;
    if (tcpInSlowStart(sk)) {
      acked = tcpSlowStart(sk, acked);
      if (acked === 0) return;
    }
    bictcpUpdate(c, sk.sndCwnd, acked, now);
    tcpCongAvoidAi(sk, c.cnt, acked);
  }

  /**
   * Remembers W_max (with fast convergence) and returns β·cwnd.
   *
   * RFC 9438 (4.7): "To speed up this bandwidth release by existing flows, the following fast
   * convergence mechanism SHOULD be implemented": if cwnd < W_max, "W_max = cwnd * (1 +
   * β_cubic) / 2", otherwise "W_max = cwnd".
   * RFC 9438 (4.6): "ssthresh = flight_size * β_cubic", at least 2 segments; Linux, as for
   * Reno, multiplies cwnd.
   * @see net/ipv4/tcp_cubic.c cubictcp_recalc_ssthresh()
   */
  function ssthresh(sk: TcpCcSock): number {
    const c = ca(sk);
    const cwnd = sk.sndCwnd;
    c.epochStart = undefined; // end of epoch
    if (cwnd < c.lastMaxCwnd && p.fastConvergence) {
      c.lastMaxCwnd = Math.floor((cwnd * (BICTCP_BETA_SCALE + p.beta)) / (2 * BICTCP_BETA_SCALE));
    } else {
      c.lastMaxCwnd = cwnd;
    }
    return Math.max(Math.floor((cwnd * p.beta) / BICTCP_BETA_SCALE), 2);
  }

  /**
   * A retransmission timeout starts over: W_max, the epoch and HyStart are forgotten.
   * @see net/ipv4/tcp_cubic.c cubictcp_state()
   */
  function setState(sk: TcpCcSock, newState: TcpCaState): void {
    if (newState !== TCP_CA.Loss) return;
    const c = ca(sk);
    bictcpReset(c);
    bictcpHystartReset(sk, c);
  }

  /**
   * HyStart: leaves slow start (ssthresh = cwnd) before the first loss when the path looks
   * full — an ACK train longer than half the minimum RTT, or a round whose RTT rose by more
   * than minRTT/8 (clamped to 4–16 ms).
   * @see net/ipv4/tcp_cubic.c hystart_update()
   */
  function hystartUpdate(sk: TcpCcSock, c: BictcpCa, delay: number): void {
    if (c.ackedTotal > c.endSeq) bictcpHystartReset(sk, c);

    // HyStart acts only once cwnd is at least hystart_low_window.
    if (sk.sndCwnd < p.hystartLowWindow) return;

    if (p.hystartDetect & HYSTART.ACK_TRAIN) {
      const now = sk.nowUs;
      if (now - c.lastAck <= p.hystartAckDeltaUs) {
        c.lastAck = now;
        // No pacing here, so hystart_ack_delay() is 0 and the threshold is delay_min / 2.
        const threshold = c.delayMin >>> 1;
        if (now - c.roundStart > threshold) {
          c.found = true;
          sk.sndSsthresh = sk.sndCwnd;
        }
      }
    }

    if (p.hystartDetect & HYSTART.DELAY) {
      if (c.currRtt > delay) c.currRtt = delay;
      if (c.sampleCnt < HYSTART_MIN_SAMPLES) {
        c.sampleCnt++;
      } else {
        const thresh = Math.min(
          Math.max(c.delayMin >>> 3, HYSTART_DELAY_MIN_US),
          HYSTART_DELAY_MAX_US,
        );
        if (c.currRtt > c.delayMin + thresh) {
          c.found = true;
          sk.sndSsthresh = sk.sndCwnd;
        }
      }
    }
  }

  /**
   * Tracks the minimum RTT and runs HyStart while in slow start.
   * @see net/ipv4/tcp_cubic.c cubictcp_acked()
   */
  function pktsAcked(sk: TcpCcSock, sample: AckSample): void {
    const c = ca(sk);
    const now = bictcpClockMs(sk);
    c.ackedTotal += sample.pktsAcked;
    c.lastActive = now;

    // Some calls are for duplicates without timestamps.
    if (sample.rttUs < 0) return;

    // Discard delay samples right after fast recovery.
    if (c.epochStart !== undefined && now - c.epochStart < HZ) return;

    const delay = sample.rttUs === 0 ? 1 : sample.rttUs;
    if (c.delayMin === 0 || c.delayMin > delay) c.delayMin = delay;

    if (!c.found && tcpInSlowStart(sk) && p.hystart) hystartUpdate(sk, c, delay);
  }

  return Object.freeze({
    name,
    init,
    release,
    ssthresh,
    congAvoid,
    setState,
    cwndEvent,
    pktsAcked,
    undoCwnd: tcpRenoUndoCwnd,
  });
}

/**
 * The `cubic` congestion-control table, Linux's default algorithm. Register it with
 * `ctx.container.register(TCP_CONGESTION_OPS, { useValue: tcpCubic })`.
 * @see net/ipv4/tcp_cubic.c struct tcp_congestion_ops cubictcp
 */
export const tcpCubic: TcpCongestionOps = createCubic();
