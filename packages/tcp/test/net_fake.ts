/**
 * An in-memory {@link TcpSocketApi} with Linux socket semantics, to test `stack.net` without the
 * TCP engine: non-blocking calls with `-errno` results, small buffers so `-EAGAIN` and
 * `POLL.OUT` backpressure really happen, FIN, RST (close with unread data), `ECONNREFUSED` and
 * configurable connect errors. Data and FIN/RST reach the peer at once and wake it synchronously,
 * from inside the call, as the kernel would from its softirq; the handshake and errors that come
 * back from the network arrive a macrotask later (`setImmediate`).
 */
import { ERRNO } from "@skbuff/core";
import {
  POLL,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO,
  SOL_SOCKET,
  type TcpSocketApi,
  type TcpSocketHandle,
} from "../src/socket_api.js";

/** Linux TCP states used here. */
export const STATE = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  CLOSE: 7,
  LISTEN: 10,
} as const;

/** Options of {@link FakeNet}. */
export interface FakeNetOptions {
  /** Receive buffer of each socket in bytes (the peer's send window). Default 4096. */
  readonly rcvbuf?: number;
  /** Local addresses besides 127.0.0.0/8 and 0.0.0.0. */
  readonly localAddresses?: readonly string[];
  /** What connecting to a destination does: an errno name, raised as the network would. */
  readonly connectErrors?: Readonly<
    Record<string, "ENETUNREACH" | "EHOSTUNREACH" | "ETIMEDOUT" | "ECONNREFUSED">
  >;
}

/** One in-memory network: every socket it makes can reach every listener. */
export class FakeNet implements TcpSocketApi {
  readonly rcvbuf: number;
  readonly #local: Set<string>;
  readonly #connectErrors: FakeNetOptions["connectErrors"];
  /** Bound sockets by `addr:port`. */
  readonly bound = new Map<string, FakeHandle>();
  /** Every socket made, in order. */
  readonly sockets: FakeHandle[] = [];
  #nextPort = 49152;

  constructor(options: FakeNetOptions = {}) {
    this.rcvbuf = options.rcvbuf ?? 4096;
    this.#local = new Set(["0.0.0.0", ...(options.localAddresses ?? [])]);
    this.#connectErrors = options.connectErrors ?? {};
  }

  socket(): FakeHandle {
    const h = new FakeHandle(this);
    this.sockets.push(h);
    return h;
  }

  isLocal(address: string): boolean {
    return address.startsWith("127.") || this.#local.has(address);
  }

  connectError(address: string): string | undefined {
    return this.#connectErrors?.[address];
  }

  ephemeralPort(): number {
    return this.#nextPort++;
  }

  /** The listener a SYN to `address:port` reaches. */
  listenerFor(address: string, port: number): FakeHandle | undefined {
    for (const key of [`${address}:${port}`, `0.0.0.0:${port}`]) {
      const h = this.bound.get(key);
      if (h?.state === STATE.LISTEN) return h;
    }
    return undefined;
  }
}

/** A fake TCP socket. */
export class FakeHandle implements TcpSocketHandle {
  onWakeup: ((events: number) => void) | null = null;
  localAddress = "0.0.0.0";
  localPort = 0;
  remoteAddress = "0.0.0.0";
  remotePort = 0;
  state: number = STATE.CLOSE;
  /** Every setsockopt, as `level:name` → value. */
  readonly options = new Map<string, number | string>();
  /** Whether close() sent RST to the peer. */
  sentRst = false;
  /** Whether the socket was closed by its owner. */
  closed = false;

  readonly #net: FakeNet;
  #peer: FakeHandle | null = null;
  readonly #rcv: Uint8Array[] = [];
  #rcvBytes = 0;
  /** The peer sent FIN. */
  #finReceived = false;
  /** We sent FIN (shutdown SHUT_WR or close). */
  #finSent = false;
  #soError = 0;
  /** A write was refused with -EAGAIN: wake with POLL.OUT when there is room. */
  #writeBlocked = false;
  #backlog = 0;
  readonly #acceptQueue: FakeHandle[] = [];

  constructor(net: FakeNet) {
    this.#net = net;
  }

  get inq(): number {
    return this.#rcvBytes;
  }

  get outq(): number {
    return 0;
  }

  get peer(): FakeHandle | null {
    return this.#peer;
  }

  bind(address: string, port: number): number {
    if (this.localPort !== 0) return -ERRNO.EINVAL;
    if (!this.#net.isLocal(address)) return -ERRNO.EADDRNOTAVAIL;
    const p = port === 0 ? this.#net.ephemeralPort() : port;
    for (const [key, h] of this.#net.bound) {
      const [a, kp] = key.split(":");
      if (Number(kp) !== p || h.closed) continue;
      if (a === address || a === "0.0.0.0" || address === "0.0.0.0") return -ERRNO.EADDRINUSE;
    }
    this.localAddress = address;
    this.localPort = p;
    this.#net.bound.set(`${address}:${p}`, this);
    return 0;
  }

  listen(backlog: number): number {
    if (this.localPort === 0 && this.bind("0.0.0.0", 0) < 0) return -ERRNO.EADDRINUSE;
    this.state = STATE.LISTEN;
    this.#backlog = backlog;
    return 0;
  }

  accept(): FakeHandle | number {
    if (this.state !== STATE.LISTEN) return -ERRNO.EINVAL;
    return this.#acceptQueue.shift() ?? -ERRNO.EAGAIN;
  }

  connect(address: string, port: number): number {
    if (this.state !== STATE.CLOSE || this.closed) return -ERRNO.EISCONN;
    const error = this.#net.connectError(address);
    if (error === "ENETUNREACH") return -ERRNO.ENETUNREACH; // no route: refused at once
    if (this.localPort === 0) {
      this.localAddress = "127.0.0.1";
      this.localPort = this.#net.ephemeralPort();
    }
    this.remoteAddress = address;
    this.remotePort = port;
    this.state = STATE.SYN_SENT;
    setImmediate(() => this.#synArrives(address, port, error));
    return -ERRNO.EINPROGRESS;
  }

  #synArrives(address: string, port: number, error: string | undefined): void {
    if (this.state !== STATE.SYN_SENT) return;
    const listener = this.#net.listenerFor(address, port);
    const refused =
      error !== undefined
        ? ERRNO[error as keyof typeof ERRNO]
        : listener === undefined || listener.#acceptQueue.length >= Math.max(1, listener.#backlog)
          ? ERRNO.ECONNREFUSED
          : 0;
    if (refused !== 0 || listener === undefined) {
      this.state = STATE.CLOSE;
      this.#soError = refused;
      this.#wake(POLL.ERR | POLL.HUP);
      return;
    }
    const child = new FakeHandle(this.#net);
    this.#net.sockets.push(child);
    child.localAddress = address;
    child.localPort = port;
    child.remoteAddress = this.localAddress;
    child.remotePort = this.localPort;
    child.state = STATE.ESTABLISHED;
    child.#peer = this;
    this.#peer = child;
    this.state = STATE.ESTABLISHED;
    listener.#acceptQueue.push(child);
    listener.#wake(POLL.IN | POLL.RDNORM);
    this.#wake(POLL.OUT | POLL.WRNORM);
  }

  read(maxBytes: number): Uint8Array | number {
    if (this.state === STATE.LISTEN) return -ERRNO.ENOTCONN;
    if (this.#rcvBytes > 0) {
      const out = new Uint8Array(Math.min(maxBytes, this.#rcvBytes));
      let n = 0;
      while (n < out.length) {
        const head = this.#rcv[0]!;
        const take = Math.min(head.length, out.length - n);
        out.set(head.subarray(0, take), n);
        n += take;
        if (take === head.length) this.#rcv.shift();
        else this.#rcv[0] = head.subarray(take);
      }
      this.#rcvBytes -= n;
      // tcp_cleanup_rbuf(): the window opened, the peer's sk_write_space runs.
      const peer = this.#peer;
      if (peer !== null) peer.#windowOpened();
      return out;
    }
    if (this.#soError !== 0) {
      const e = this.#soError;
      this.#soError = 0;
      return -e;
    }
    if (this.#finReceived) return new Uint8Array(0);
    if (this.state === STATE.CLOSE) {
      return this.#peer === null ? -ERRNO.ENOTCONN : new Uint8Array(0);
    }
    return -ERRNO.EAGAIN;
  }

  write(data: Uint8Array): number {
    if (this.#soError !== 0) {
      const e = this.#soError;
      this.#soError = 0;
      return -e;
    }
    if (this.state === STATE.SYN_SENT) return -ERRNO.EAGAIN;
    if (this.#finSent || this.state === STATE.CLOSE) return -ERRNO.EPIPE;
    const peer = this.#peer;
    if (peer === null) return -ERRNO.ENOTCONN;
    if (peer.closed) {
      // The data reaches a closed socket, which answers with RST (tcp_v4_send_reset()) a
      // round trip later; the write itself succeeds.
      setImmediate(() => peer.#resetPeer());
      return data.length;
    }
    const room = this.#net.rcvbuf - peer.#rcvBytes;
    if (room <= 0) {
      this.#writeBlocked = true;
      return -ERRNO.EAGAIN;
    }
    const n = Math.min(room, data.length);
    peer.#rcv.push(data.slice(0, n));
    peer.#rcvBytes += n;
    if (n < data.length) this.#writeBlocked = true;
    peer.#wake(POLL.IN | POLL.RDNORM);
    return n;
  }

  shutdown(how: number): number {
    if (this.state !== STATE.ESTABLISHED) return -ERRNO.ENOTCONN;
    if ((how === SHUT_WR || how === SHUT_RDWR) && !this.#finSent) this.#sendFin();
    if (how === SHUT_RD || how === SHUT_RDWR) this.#finReceived = true;
    return 0;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onWakeup = null;
    if (this.state === STATE.LISTEN) {
      // inet_csk_listen_stop(): children nobody accepted are reset.
      for (const child of this.#acceptQueue.splice(0)) {
        child.sentRst = true;
        child.#resetPeer();
        child.closed = true;
        child.state = STATE.CLOSE;
      }
    } else if (this.#rcvBytes > 0 || this.#soError !== 0) {
      // tcp_close(): "If data was left unread, send RST" (RFC 2525 2.17).
      this.sentRst = this.#peer !== null && !this.#peer.closed;
      this.#resetPeer();
    } else if (!this.#finSent && this.state === STATE.ESTABLISHED) {
      this.#sendFin();
    }
    this.state = STATE.CLOSE;
    this.#net.bound.delete(`${this.localAddress}:${this.localPort}`);
  }

  setsockopt(level: number, name: number, value: number | string): number {
    this.options.set(`${level}:${name}`, value);
    return 0;
  }

  getsockopt(level: number, name: number): number | string {
    if (level === SOL_SOCKET && name === SO.ERROR) {
      const e = this.#soError;
      this.#soError = 0;
      return e;
    }
    return this.options.get(`${level}:${name}`) ?? 0;
  }

  poll(): number {
    let mask = 0;
    if (this.state === STATE.LISTEN) return this.#acceptQueue.length > 0 ? POLL.IN : 0;
    if (this.#soError !== 0) mask |= POLL.ERR;
    if (this.#rcvBytes > 0 || this.#finReceived) mask |= POLL.IN | POLL.RDNORM;
    if (this.#finReceived) mask |= POLL.RDHUP;
    if (this.state === STATE.CLOSE || (this.#finReceived && this.#finSent)) mask |= POLL.HUP;
    const peer = this.#peer;
    if (
      this.state === STATE.ESTABLISHED &&
      !this.#finSent &&
      peer !== null &&
      this.#net.rcvbuf - peer.#rcvBytes > 0
    ) {
      mask |= POLL.OUT | POLL.WRNORM;
    }
    return mask;
  }

  tcpInfo(): ReturnType<TcpSocketHandle["tcpInfo"]> {
    throw new Error("tcp_info is not simulated");
  }

  #sendFin(): void {
    this.#finSent = true;
    const peer = this.#peer;
    if (peer === null || peer.closed) return;
    peer.#finReceived = true;
    peer.#wake(POLL.IN | POLL.RDNORM | POLL.RDHUP);
  }

  /** The peer receives RST: tcp_reset() sets ECONNRESET, drops the queue and closes. */
  #resetPeer(): void {
    const peer = this.#peer;
    if (peer === null || peer.closed || peer.state === STATE.CLOSE) return;
    // tcp_reset(): "case TCP_CLOSE_WAIT: sk->sk_err = EPIPE", otherwise ECONNRESET.
    peer.#soError = peer.#finReceived && !peer.#finSent ? ERRNO.EPIPE : ERRNO.ECONNRESET;
    peer.state = STATE.CLOSE;
    peer.#wake(POLL.ERR | POLL.HUP | POLL.IN);
  }

  #windowOpened(): void {
    if (!this.#writeBlocked || this.closed) return;
    this.#writeBlocked = false;
    this.#wake(POLL.OUT | POLL.WRNORM);
  }

  #wake(events: number): void {
    this.onWakeup?.(events);
  }
}
