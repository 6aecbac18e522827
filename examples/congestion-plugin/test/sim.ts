/**
 * A small round-based simulator, local to this example (the idea of packages/tcp's test
 * simulator, written against the public API only): each round the sender fills cwnd and every
 * packet is acked one RTT later; a loss round sets ssthresh from the algorithm and ends fast
 * recovery with cwnd = ssthresh, as Linux does.
 */
import type { TcpCaState, TcpCcSock, TcpCongestionOps } from "@skbuff/tcp";

/** `TCP_CA_Open`. */
const CA_OPEN = 0 as TcpCaState;

/** A socket as a congestion-control algorithm sees it. */
export class SimSock implements TcpCcSock {
  sndCwnd = 10;
  sndSsthresh = 0x7fffffff;
  sndCwndCnt = 0;
  sndCwndClamp = 0x7fffffff;
  priorCwnd = 0;
  packetsInFlight = 0;
  isCwndLimited = true;
  srttUs = 8 * 100_000;
  minRttUs = 100_000;
  caState: TcpCaState = CA_OPEN;
  mssCache = 1448;
  nowUs = 0;
  caPriv: unknown = null;
}

/** Plays rounds of ACKs to `ops`. */
export class Sim {
  readonly sk = new SimSock();
  readonly cwnds: number[] = [];
  private ackSeq = 0;

  constructor(
    readonly ops: TcpCongestionOps,
    sock: Partial<Pick<SimSock, "sndCwnd" | "sndSsthresh">> = {},
    readonly rttUs = 100_000,
  ) {
    Object.assign(this.sk, sock);
    ops.init?.(this.sk);
  }

  /** One RTT: a full window sent and acked, or a loss and its recovery. */
  round(loss = false): number {
    const sk = this.sk;
    const sent = sk.sndCwnd;
    if (loss) {
      sk.priorCwnd = sk.sndCwnd;
      sk.sndSsthresh = this.ops.ssthresh(sk);
    }
    sk.packetsInFlight = sent;
    const start = sk.nowUs;
    for (let i = 0; i < sent; i++) {
      sk.packetsInFlight--;
      sk.nowUs = start + this.rttUs;
      this.ops.pktsAcked?.(sk, { pktsAcked: 1, rttUs: this.rttUs, inFlight: sk.packetsInFlight });
      if (!loss) this.ops.congAvoid(sk, ++this.ackSeq, 1);
    }
    if (loss) {
      sk.sndCwnd = sk.sndSsthresh;
      sk.sndCwndCnt = 0;
    }
    this.cwnds.push(sk.sndCwnd);
    return sk.sndCwnd;
  }

  /** Plays `n` rounds. */
  run(n: number): this {
    for (let i = 0; i < n; i++) this.round();
    return this;
  }
}
