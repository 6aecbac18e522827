/**
 * A small deterministic simulator for congestion-control tables: a socket with just the fields
 * of {@link TcpCcSock}, and a driver that plays whole rounds (RTTs) of ACKs to it.
 *
 * The model, one round at a time: at the start of a round the sender sends a full cwnd (or
 * less, if told it is application-limited); one RTT later the ACKs come back, one per packet,
 * `ackSpacingUs` apart (0: all at once; a bottleneck spaces them by its per-packet time). Each
 * ACK runs `pktsAcked` then `congAvoid`, as Linux's `tcp_ack` does. The next round starts one
 * RTT after this one (or when the bottleneck has delivered the window, if later).
 *
 * A loss round is fast recovery in one RTT: on entry `prior_cwnd = cwnd`,
 * `ssthresh = ops.ssthresh(sk)` and the state goes to Recovery (`tcp_init_cwnd_reduction`); the
 * ACKs of the round run `pktsAcked` only; on exit cwnd = ssthresh, `CA_EVENT.COMPLETE_CWR`, and
 * the state goes back to Open (`tcp_end_cwnd_reduction`).
 */
import {
  type AckSample,
  CA_EVENT,
  TCP_CA,
  TCP_INFINITE_SSTHRESH,
  type TcpCaState,
  type TcpCcSock,
  type TcpCongestionOps,
} from "../src/congestion.js";

/** A socket as a congestion-control algorithm sees it; every field is writable for tests. */
export class SimSock implements TcpCcSock {
  sndCwnd = 10;
  sndSsthresh = TCP_INFINITE_SSTHRESH;
  sndCwndCnt = 0;
  sndCwndClamp = 0x7fffffff;
  priorCwnd = 0;
  packetsInFlight = 0;
  isCwndLimited = true;
  srttUs = 0;
  minRttUs = 0;
  caState: TcpCaState = TCP_CA.Open;
  mssCache = 1448;
  nowUs = 0;
  /** `null` until `init`, as the engine's TcpSock has it. */
  caPriv: unknown = null;
}

/** How one round is played. */
export interface RoundOptions {
  /** This round's RTT, µs (default: the simulator's). */
  readonly rttUs?: number;
  /** Time between the round's ACKs, µs (default: the simulator's). */
  readonly ackSpacingUs?: number;
  /** A loss is detected in this round: fast recovery instead of growth. */
  readonly loss?: boolean;
  /** The application sends only this many packets (not cwnd-limited when below cwnd). */
  readonly appLimitedTo?: number;
}

/** One line of {@link CcSim.history}: the state at the end of a round. */
export interface RoundRecord {
  readonly round: number;
  /** When the round's packets were sent, µs. */
  readonly startUs: number;
  /** When its last ACK arrived, µs. */
  readonly endUs: number;
  readonly cwnd: number;
  readonly ssthresh: number;
  readonly loss: boolean;
}

/** Options of {@link CcSim}. */
export interface CcSimOptions {
  /** Base RTT, µs (default 100 ms). */
  readonly rttUs?: number;
  /** Default ACK spacing, µs (default 0). */
  readonly ackSpacingUs?: number;
  /** Initial socket fields (cwnd 10 and infinite ssthresh unless given). */
  readonly sock?: Partial<Pick<SimSock, "sndCwnd" | "sndSsthresh" | "sndCwndClamp" | "nowUs">>;
}

/** Drives a {@link TcpCongestionOps} round by round. */
export class CcSim {
  readonly sk = new SimSock();
  readonly history: RoundRecord[] = [];
  readonly rttUs: number;
  readonly ackSpacingUs: number;
  /** When the next round's packets go out, µs. */
  nextRoundUs: number;
  private ackSeq = 0;

  constructor(
    readonly ops: TcpCongestionOps,
    options: CcSimOptions = {},
  ) {
    this.rttUs = options.rttUs ?? 100_000;
    this.ackSpacingUs = options.ackSpacingUs ?? 0;
    Object.assign(this.sk, options.sock);
    this.nextRoundUs = this.sk.nowUs;
    ops.init?.(this.sk);
  }

  /** Plays one round; returns its record. */
  round(options: RoundOptions = {}): RoundRecord {
    const sk = this.sk;
    const rtt = options.rttUs ?? this.rttUs;
    const spacing = options.ackSpacingUs ?? this.ackSpacingUs;
    const start = this.nextRoundUs;
    const sent =
      options.appLimitedTo === undefined ? sk.sndCwnd : Math.min(options.appLimitedTo, sk.sndCwnd);
    sk.isCwndLimited = sent >= sk.sndCwnd;
    sk.nowUs = Math.max(sk.nowUs, start);
    sk.packetsInFlight = sent;

    if (options.loss) this.enterRecovery();

    for (let i = 0; i < sent; i++) {
      sk.nowUs = start + rtt + i * spacing;
      sk.packetsInFlight--;
      this.ackSeq++;
      sk.srttUs = sk.srttUs === 0 ? rtt * 8 : sk.srttUs - (sk.srttUs >> 3) + rtt;
      sk.minRttUs = sk.minRttUs === 0 ? rtt : Math.min(sk.minRttUs, rtt);
      const sample: AckSample = { pktsAcked: 1, rttUs: rtt, inFlight: sk.packetsInFlight + 1 };
      this.ops.pktsAcked?.(sk, sample);
      if (sk.caState === TCP_CA.Open) this.ops.congAvoid(sk, this.ackSeq, 1);
    }

    if (options.loss) this.exitRecovery();

    this.nextRoundUs = start + Math.max(rtt, sent * spacing);
    const record: RoundRecord = {
      round: this.history.length,
      startUs: start,
      endUs: sk.nowUs,
      cwnd: sk.sndCwnd,
      ssthresh: sk.sndSsthresh,
      loss: options.loss ?? false,
    };
    this.history.push(record);
    return record;
  }

  /** Plays `n` rounds, with a loss in the rounds listed in `lossAt` (indexes into history). */
  run(n: number, options: RoundOptions & { readonly lossAt?: readonly number[] } = {}): this {
    const { lossAt = [], ...roundOptions } = options;
    for (let i = 0; i < n; i++) {
      const loss = lossAt.includes(this.history.length);
      this.round({ ...roundOptions, loss });
    }
    return this;
  }

  /** Plays rounds until `until` holds (checked after each round), at most `max` rounds. */
  runUntil(until: (sk: SimSock) => boolean, options: RoundOptions = {}, max = 10_000): this {
    for (let i = 0; i < max && !until(this.sk); i++) this.round(options);
    return this;
  }

  /** `tcp_init_cwnd_reduction` + `tcp_set_ca_state(Recovery)`. */
  enterRecovery(): void {
    const sk = this.sk;
    sk.priorCwnd = sk.sndCwnd;
    sk.sndSsthresh = this.ops.ssthresh(sk);
    this.setState(TCP_CA.Recovery);
  }

  /** `tcp_end_cwnd_reduction` + back to Open: cwnd = ssthresh. */
  exitRecovery(): void {
    const sk = this.sk;
    sk.sndCwnd = sk.sndSsthresh;
    sk.sndCwndCnt = 0;
    this.ops.cwndEvent?.(sk, CA_EVENT.COMPLETE_CWR);
    this.setState(TCP_CA.Open);
  }

  /** `tcp_undo_cwnd_reduction`: the reduction was spurious. */
  undo(): void {
    this.sk.sndCwnd = this.ops.undoCwnd(this.sk);
  }

  /** The connection sits idle for `us` with nothing in flight, then sends again (TX_START). */
  idle(us: number): void {
    this.nextRoundUs = Math.max(this.nextRoundUs, this.sk.nowUs) + us;
    this.sk.nowUs = this.nextRoundUs;
    this.sk.packetsInFlight = 0;
    this.ops.cwndEvent?.(this.sk, CA_EVENT.TX_START);
  }

  /** `tcp_set_ca_state`: tells the algorithm first, as Linux does. */
  setState(state: TcpCaState): void {
    this.ops.setState?.(this.sk, state);
    this.sk.caState = state;
  }

  /** Ends the connection (`tcp_cleanup_congestion_control`). */
  close(): void {
    this.ops.release?.(this.sk);
  }
}
