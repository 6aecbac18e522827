/**
 * `stack.ping()`: ping(8) with `-c 1`, over a ping socket. Each call opens a socket (a fresh
 * echo identifier), sends one echo request with the stack's next sequence number and a payload
 * like ping(8)'s (a time stamp, then bytes counting up), and settles when the reply, an ICMP
 * error quoting the request, or the timeout comes. One timer on the stack's clock serves every
 * pending call.
 * @packageDocumentation
 */
import {
  ConfigError,
  ErrnoError,
  inetAton,
  type PingOptions,
  type PingReply,
  type PingService,
  type Stack,
  type Timer,
} from "@skbuff/core";
import { IPHDR } from "@skbuff/ipv4";
import type { NetnsIcmp } from "./netns.js";
import { PingSocket } from "./ping.js";
import { errnoError, type PingError } from "./ping_error.js";
import { ICMP_TYPE, ICMPHDR } from "./wire/icmphdr.js";

/** ping(8)'s default data size (`-s`). */
export const PING_DEFAULT_SIZE = 56;
/** Default wait for the reply, ms. */
export const PING_DEFAULT_TIMEOUT_MS = 1000;
/** The largest echo data an IPv4 datagram can carry. */
const PING_MAX_SIZE = 0xffff - IPHDR.MIN_LEN - ICMPHDR.LEN;
/** `sizeof(struct timeval)` on a 64-bit host: ping(8) stamps this much of the data. */
const TIMEVAL_LEN = 16;

const ETIMEDOUT = 110;

/** One call in flight. */
interface Pending {
  readonly socket: PingSocket;
  readonly seq: number;
  readonly sentAt: number;
  readonly deadline: number;
  readonly resolve: (r: PingReply) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * ping(8)'s payload: bytes `0, 1, 2, …` (mod 256) with a `struct timeval` of the send time (the
 * stack's clock, seconds and microseconds, little-endian 64-bit each) over the first 16 bytes
 * when there is room.
 */
export function pingPayload(size: number, nowMs: number): Uint8Array {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = i & 0xff;
  if (size >= TIMEVAL_LEN) {
    const v = new DataView(data.buffer);
    const sec = Math.floor(nowMs / 1000);
    const usec = Math.floor((nowMs - sec * 1000) * 1000);
    v.setBigUint64(0, BigInt(sec), true);
    v.setBigUint64(8, BigInt(usec), true);
  }
  return data;
}

/** The {@link PingService} of one stack. */
export class IcmpPingService implements PingService {
  private readonly pending = new Set<Pending>();
  private readonly timer: Timer;
  private closed = false;

  constructor(
    private readonly net: Stack,
    private readonly ns: NetnsIcmp,
  ) {
    this.timer = net.createTimer(() => this.expire());
  }

  /**
   * Sends one echo request to `dst` and resolves with the reply. Rejects with `ENETUNREACH`
   * when there is no route, `EMSGSIZE` when `dontFragment` is set and the request is bigger
   * than the MTU, a {@link PingError} (`EHOSTUNREACH`, `ENETUNREACH`, `ECONNREFUSED`, … with
   * `icmpType`, `icmpCode` and `from`) when an ICMP error about the request comes back, and
   * `ETIMEDOUT` when nothing came within `timeoutMs` of the stack's clock.
   */
  ping(dst: string, options: PingOptions = {}): Promise<PingReply> {
    try {
      return this.start(dst, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private start(dst: string, options: PingOptions): Promise<PingReply> {
    if (this.closed) throw errnoError(9, "the stack is closed");
    if (typeof dst !== "string" || inetAton(dst) === null)
      throw new ConfigError("dst", dst, "an IPv4 address like 192.0.2.1");
    const size = options.size ?? PING_DEFAULT_SIZE;
    if (!Number.isInteger(size) || size < 0 || size > PING_MAX_SIZE) {
      throw new ConfigError("size", options.size, `an integer from 0 to ${PING_MAX_SIZE}`);
    }
    const timeoutMs = options.timeoutMs ?? PING_DEFAULT_TIMEOUT_MS;
    if (typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) || timeoutMs < 0) {
      throw new ConfigError("timeoutMs", options.timeoutMs, "a number of milliseconds >= 0");
    }
    if (
      options.ttl !== undefined &&
      (!Number.isInteger(options.ttl) || options.ttl < 1 || options.ttl > 255)
    ) {
      throw new ConfigError("ttl", options.ttl, "an integer from 1 to 255");
    }
    const socket = new PingSocket(this.net);
    try {
      if (options.source !== undefined) socket.bind(options.source);
      if (options.ttl !== undefined) socket.ttl = options.ttl;
      socket.dontFragment = options.dontFragment === true;
      this.ns.pingSeq = (this.ns.pingSeq + 1) & 0xffff;
      const seq = this.ns.pingSeq;
      const now = this.net.clock.now();
      const payload = pingPayload(size, now);
      return new Promise<PingReply>((resolve, reject) => {
        const p: Pending = { socket, seq, sentAt: now, deadline: now + timeoutMs, resolve, reject };
        socket.onMessage = (m) => {
          if (m.seq !== seq) return;
          this.settle(p);
          resolve({
            seq,
            ttl: m.ttl,
            rttMs: this.net.clock.now() - p.sentAt,
            bytes: m.data.length,
            from: m.from,
          });
        };
        socket.onError = (e: PingError) => {
          if (e.seq !== seq) return;
          // Redirects and source quench are advice, not a failure of this request.
          if (e.icmpType === ICMP_TYPE.REDIRECT || e.icmpType === ICMP_TYPE.SOURCE_QUENCH) return;
          this.settle(p);
          reject(e);
        };
        this.pending.add(p);
        try {
          socket.sendto(dst, payload, seq);
        } catch (error) {
          this.settle(p);
          reject(error);
          return;
        }
        this.rearm();
      });
    } catch (error) {
      socket.close();
      throw error;
    }
  }

  /** The call is over: close its socket and forget it. */
  private settle(p: Pending): void {
    p.socket.close();
    if (this.pending.delete(p)) this.rearm();
  }

  /** Arms the timer for the earliest deadline, or stops it. */
  private rearm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.pending) if (p.deadline < next) next = p.deadline;
    if (next === Number.POSITIVE_INFINITY) this.timer.cancel();
    else if (this.timer.expires !== next) this.timer.armAt(next);
  }

  /** The timer fired: every call past its deadline fails with ETIMEDOUT. */
  private expire(): void {
    const now = this.net.clock.now();
    for (const p of [...this.pending]) {
      if (p.deadline > now) continue;
      this.settle(p);
      p.reject(
        new ErrnoError(
          "ETIMEDOUT",
          ETIMEDOUT,
          `no reply to icmp_seq=${p.seq} within ${p.deadline - p.sentAt} ms`,
        ),
      );
    }
    this.rearm();
  }

  /** The stack is closing: every pending call fails (`ECANCELED`). */
  close(): void {
    this.closed = true;
    for (const p of [...this.pending]) {
      this.settle(p);
      p.reject(
        new ErrnoError(
          "ECANCELED",
          125,
          `stack '${this.net.name}' closed before the reply to icmp_seq=${p.seq}`,
        ),
      );
    }
    this.timer.cancel();
  }
}
