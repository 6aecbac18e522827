/**
 * `struct netns_ipv4`'s TCP part: the per-stack state TCP finds from a stack with
 * {@link tcpNet} (one array read): sysctls, counters, socket tables, secrets, and the
 * congestion-control algorithms registered in the stack's container.
 * @see include/net/netns/ipv4.h, net/core/secure_seq.c
 * @packageDocumentation
 */
import { netGeneric, registerPernetId, type Stack } from "@skbuff/core";
import {
  TCP_CONGESTION_OPS,
  type TcpCongestionOps,
  tcpCongAvoidAi,
  tcpInSlowStart,
  tcpSlowStart,
} from "./congestion.js";
import { InetHashinfo } from "./inet_hashtables.js";
import type { TcpMib } from "./mib.js";
import type { TcpSysctls } from "./sysctl.js";
import type { TcpSock } from "./tcp_sock.js";

const TCP_NET_ID = registerPernetId();

/** TCP state of one stack. */
export class TcpNet {
  readonly hashinfo = new InetHashinfo();
  /** Every live TcpSock (for teardown when the stack closes). */
  readonly socks = new Set<TcpSock>();
  /** Challenge ACKs sent in the current second (`tcp_challenge_ack_limit`). */
  readonly challengeAck = { second: -1, count: 0 };
  /** Drops a closing listener's request socks (set by tcp_minisocks). */
  closeRequests: ((listener: TcpSock) => void) | null = null;
  /** Per-stack secrets of the ISN generator and of SYN cookies (`net_secret`, `syncookie_secret`). */
  readonly isnSecret: Uint32Array;
  readonly cookieSecret: Uint32Array;

  constructor(
    readonly net: Stack,
    readonly sysctl: TcpSysctls,
    readonly mib: TcpMib,
    secretSeed: number,
  ) {
    this.isnSecret = makeSecret(secretSeed ^ 0x5bd1e995);
    this.cookieSecret = makeSecret(secretSeed ^ 0x27d4eb2d);
    this.hashinfo.perturb(mix(secretSeed, 0x9e3779b9));
    net.gen[TCP_NET_ID] = this;
  }

  /** Registered congestion-control algorithms (`tcp_cong_list`). */
  congestionOps(): TcpCongestionOps[] {
    const c = this.net.container;
    return c.isRegistered(TCP_CONGESTION_OPS, true) ? c.resolveAll(TCP_CONGESTION_OPS) : [];
  }

  /** `tcp_ca_find`: the algorithm of this name, if registered. */
  findCongestion(name: string): TcpCongestionOps | undefined {
    return this.congestionOps().find((o) => o.name === name);
  }

  /**
   * The algorithm of a new socket: the sysctl's, else reno, else the first registered, else
   * the built-in {@link TCP_RENO_FALLBACK}.
   */
  defaultCongestion(): TcpCongestionOps {
    return (
      this.findCongestion(this.sysctl.congestionControl.value) ??
      this.findCongestion("reno") ??
      this.congestionOps()[0] ??
      TCP_RENO_FALLBACK
    );
  }
}

/** `net->ipv4` TCP state of a stack (undefined when the tcp plugin is not in it). */
export function tcpNet(net: Stack): TcpNet {
  return netGeneric<TcpNet>(net, TCP_NET_ID);
}

/**
 * What TCP uses when no algorithm is registered at all: RFC 5681 slow start and additive
 * increase, halving on loss (`tcp_reno_*`). Not registered: it only keeps a stack without
 * congestion plugins working.
 */
export const TCP_RENO_FALLBACK: TcpCongestionOps = {
  name: "reno",
  ssthresh: (sk) => Math.max(sk.sndCwnd >> 1, 2),
  congAvoid(sk, _ack, acked) {
    if (!sk.isCwndLimited) return;
    if (tcpInSlowStart(sk)) {
      acked = tcpSlowStart(sk, acked);
      if (acked === 0) return;
    }
    tcpCongAvoidAi(sk, sk.sndCwnd, acked);
  },
  undoCwnd: (sk) => Math.max(sk.sndCwnd, sk.priorCwnd),
};

function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x85ebca6b)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

function makeSecret(seed: number): Uint32Array {
  const s = new Uint32Array(4);
  let h = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    h = mix(h, i + 1);
    s[i] = h;
  }
  return s;
}

/**
 * A keyed 32-bit hash of `words` (a few rounds of a multiply-xorshift mix per word, seeded by
 * the 128-bit key): our stand-in for siphash. Not cryptographic; unpredictable enough to a peer
 * that does not know the key, which is what RFC 6528 and SYN cookies need here.
 */
export function keyedHash(key: Uint32Array, ...words: number[]): number {
  let h = key[0]! ^ key[2]!;
  let g = key[1]! ^ key[3]!;
  for (const w of words) {
    h = mix(h ^ (w >>> 0), g);
    g = mix(g, h ^ key[1]!);
  }
  return mix(h, g ^ key[3]!);
}

/**
 * `secure_tcp_seq`: the ISN of a connection. RFC 6528 3: "ISN = M + F(localip, localport,
 * remoteip, remoteport, secretkey)", where "M is the 4 microsecond timer".
 */
export function secureTcpSeq(
  tn: TcpNet,
  saddr: number,
  daddr: number,
  sport: number,
  dport: number,
): number {
  const m = Math.floor((tn.net.clock.now() * 1000) / 4);
  return (keyedHash(tn.isnSecret, saddr, daddr, (sport << 16) | dport) + m) >>> 0;
}
