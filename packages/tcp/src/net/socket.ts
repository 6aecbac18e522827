/**
 * `Socket`: Node's `net.Socket` over a {@link TcpSocketHandle}. What libuv's `uv_tcp_t` and
 * Node's `lib/net.js` do over a non-blocking file descriptor, this does over the stack's
 * Linux-semantics socket: read until `-EAGAIN` and wait for `POLL.IN`, write until the socket
 * takes everything and wait for `POLL.OUT`, `shutdown(SHUT_WR)` on `end()`, `close()` on
 * `destroy()`.
 *
 * The stack calls `onWakeup` synchronously, often from inside its receive softirq; a socket
 * only records the events there and acts on them from a microtask, never re-entering the stack.
 * @see lib/net.js (Node), deps/uv/src/unix/stream.c uv__read(), uv__write()
 * @packageDocumentation
 */
import { Duplex } from "node:stream";
import { type Clock, ERRNO, type Timer } from "@skbuff/core";
import {
  IPPROTO_TCP_LEVEL,
  POLL,
  SHUT_WR,
  SO,
  SOL_SOCKET,
  TCP_OPT,
  type TcpSocketApi,
  type TcpSocketHandle,
} from "../socket_api.js";
import { NetError, netError } from "./errors.js";
import { isIPv4 } from "./ip.js";

/** What every socket and server of one `stack.net` shares: the socket API and the clock. */
export interface NetContext {
  /** Makes the stack's TCP sockets. */
  readonly api: TcpSocketApi;
  /** The stack's clock: idle timeouts run on it. */
  readonly clock: Clock;
}

/** Options of `new Socket()`, as `net.Socket` takes them. */
export interface SocketOptions {
  /** Keep the writable side open after the peer's FIN (default false). */
  readonly allowHalfOpen?: boolean;
  /** The readable buffer size (default the stream default). */
  readonly readableHighWaterMark?: number;
  /** The writable buffer size (default the stream default). */
  readonly writableHighWaterMark?: number;
  /** Destroys the socket when aborted. */
  readonly signal?: AbortSignal;
}

/** How a socket is made inside `stack.net`: its context and, when accepted, its handle. */
export interface SocketInit extends SocketOptions {
  /** The stack's socket API and clock. */
  readonly net: NetContext;
  /** An accepted, connected handle (what `accept(2)` returned). */
  readonly handle?: TcpSocketHandle;
  /** Do not start reading an accepted socket (`pauseOnConnect`). */
  readonly pauseOnCreate?: boolean;
}

/** Options of `socket.connect()`, as `net.connect()` takes them. */
export interface ConnectOptions {
  /** Remote port (required; optional in the type so that `http.request` options fit). */
  readonly port?: number | string | null;
  /** Remote address (an IPv4 literal or `localhost`; default `localhost`). */
  readonly host?: string | null;
  /** Local address to bind before connecting. */
  readonly localAddress?: string;
  /** Local port to bind before connecting. */
  readonly localPort?: number;
  /** `setNoDelay(true)` once connected. */
  readonly noDelay?: boolean;
  /** `setKeepAlive(true, keepAliveInitialDelay)` once connected. */
  readonly keepAlive?: boolean;
  /** Milliseconds of idle before the first keepalive probe. */
  readonly keepAliveInitialDelay?: number;
  /** `setTimeout(timeout)`. */
  readonly timeout?: number;
}

/**
 * A `connect` listener. It is called without arguments; the loose parameter list lets callbacks
 * such as `http.request`'s `oncreate(err, socket)` be passed where Node's `net` takes them.
 */
export type ConnectListener = (...args: never[]) => void;

/** A socket's address, as `socket.address()` returns it. */
export interface AddressInfo {
  readonly address: string;
  readonly family: "IPv4";
  readonly port: number;
}

/** `readyState` values of `net.Socket`. */
export type SocketReadyState = "opening" | "open" | "readOnly" | "writeOnly" | "closed";

/** Bytes asked of `read(2)` at a time: libuv reads 64 KiB. */
const READ_CHUNK = 65536;

/** A write in progress: the callback runs once the stack has taken every byte. */
interface PendingWrite {
  readonly data: Uint8Array;
  offset: number;
  readonly cb: (error?: Error | null) => void;
}

/** `getaddrinfo`'s EAI_NONAME as Node reports it. */
const UV_EAI_NONAME = -3008;

/**
 * A TCP connection as a Duplex stream, like Node's `net.Socket`: the same events (`connect`,
 * `ready`, `data`, `end`, `close` with `hadError`, `error`, `timeout`, `drain`), the same
 * methods and properties, and backpressure in both directions through the stack's buffers.
 */
export class Socket extends Duplex {
  /** Whether `connect()` was called and has not finished yet. */
  connecting = false;
  /** Payload bytes read from the stack. */
  bytesRead = 0;
  /** The server that accepted this socket, if any. */
  server: unknown = null;

  readonly #net: NetContext;
  #handle: TcpSocketHandle | null = null;
  /** Poll events the stack reported that the microtask has not looked at yet. */
  #events = 0;
  #wakeQueued = false;
  /** The stream wants data: `_read` was called and `push()` has not returned false since. */
  #wantRead = false;
  #readEnded = false;
  #pendingWrite: PendingWrite | null = null;
  /** `_final` waiting for the connection to be established. */
  #pendingFinal: ((error?: Error | null) => void) | null = null;
  #bytesWritten = 0;
  #timer: Timer | null = null;
  #timeoutMs = 0;
  #noDelay: boolean | undefined;
  #keepAlive: { enable: boolean; delaySecs: number } | undefined;
  #local: AddressInfo | null = null;
  #peer: AddressInfo | null = null;
  /** Where `connect()` went, for error messages. */
  #connectTo: { address: string; port: number } | null = null;

  /** @param init - the stack context, the `net.Socket` options, and an accepted handle. */
  constructor(init: SocketInit) {
    super({
      allowHalfOpen: init.allowHalfOpen ?? false,
      emitClose: false,
      autoDestroy: true,
      readableHighWaterMark: init.readableHighWaterMark,
      writableHighWaterMark: init.writableHighWaterMark,
      signal: init.signal,
    });
    this.#net = init.net;
    if (init.handle !== undefined) {
      this.#attach(init.handle);
      this.#cacheAddresses();
      // lib/net.js: "If we have a handle, then start the flow of data into the buffer."
      if (init.pauseOnCreate) this.pause();
      else this.read(0);
    }
  }

  // --- connect ------------------------------------------------------------------------------

  /**
   * Opens the connection: `socket(2)`, `bind(2)` when a local address or port is given, then a
   * non-blocking `connect(2)`. `connect` and `ready` follow when the handshake completes; a
   * refusal or timeout destroys the socket with an error (`ECONNREFUSED`, `ETIMEDOUT`, …).
   */
  connect(options: ConnectOptions, connectListener?: ConnectListener): this;
  connect(port: number | string, host?: string, connectListener?: ConnectListener): this;
  connect(port: number | string, connectListener?: ConnectListener): this;
  connect(...args: unknown[]): this {
    const [options, cb] = normalizeConnectArgs(args);
    if (this.connecting || this.#handle !== null) {
      throw Object.assign(new Error("Socket is already connected or connecting"), {
        code: "ERR_SOCKET_CONNECTING",
      });
    }
    const port = validatePort(options.port);
    if (cb !== undefined) this.once("connect", cb as () => void);
    if (options.timeout !== undefined) this.setTimeout(options.timeout);
    if (options.noDelay) this.setNoDelay(true);
    if (options.keepAlive) this.setKeepAlive(true, options.keepAliveInitialDelay ?? 0);
    this.connecting = true;

    const host = options.host || "localhost";
    const address = resolveHost(host);
    if (address === null) {
      const err = new NetError("ENOTFOUND", UV_EAI_NONAME, "getaddrinfo", host);
      process.nextTick(() => this.destroy(err));
      return this;
    }
    this.#connectTo = { address, port };
    const h = this.#net.api.socket();
    this.#attach(h);
    if (options.localAddress !== undefined || options.localPort !== undefined) {
      const local = options.localAddress ?? "0.0.0.0";
      const r = h.bind(local, options.localPort ?? 0);
      if (r < 0) {
        const err = netError(r, "bind", local, options.localPort ?? 0);
        process.nextTick(() => this.destroy(err));
        return this;
      }
    }
    const r = h.connect(address, port);
    if (r === 0) {
      queueMicrotask(() => {
        if (this.#handle === h && this.connecting) this.#afterConnect();
      });
    } else if (r !== -ERRNO.EINPROGRESS) {
      const err = netError(r, "connect", address, port);
      process.nextTick(() => this.destroy(err));
    }
    return this;
  }

  /** The handshake completed: `connect`, `ready`, then whatever waited for it. */
  #afterConnect(): void {
    this.connecting = false;
    this.#cacheAddresses();
    this.#touch();
    this.emit("connect");
    this.emit("ready");
    if (this.destroyed) return;
    this.#pumpWrite();
    const final = this.#pendingFinal;
    if (final !== null && this.#pendingWrite === null) {
      this.#pendingFinal = null;
      this._final(final);
    }
    if (this.#wantRead) this.#pumpRead();
    else if (!this.isPaused()) this.read(0);
  }

  #attach(h: TcpSocketHandle): void {
    this.#handle = h;
    h.onWakeup = this.#onWakeup;
    if (this.#noDelay !== undefined) this.#applyNoDelay(h);
    if (this.#keepAlive !== undefined) this.#applyKeepAlive(h);
  }

  #cacheAddresses(): void {
    const h = this.#handle;
    if (h === null) return;
    this.#local = { address: h.localAddress, family: "IPv4", port: h.localPort };
    this.#peer = { address: h.remoteAddress, family: "IPv4", port: h.remotePort };
  }

  // --- wakeups ------------------------------------------------------------------------------

  /** `sk_data_ready` / `sk_write_space` / `sk_state_change`: note the events, act later. */
  readonly #onWakeup = (events: number): void => {
    this.#events |= events;
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(this.#runWakeup);
  };

  readonly #runWakeup = (): void => {
    this.#wakeQueued = false;
    const events = this.#events;
    this.#events = 0;
    const h = this.#handle;
    if (h === null || this.destroyed) return;
    if (this.connecting) {
      this.#connectWakeup(h, events);
      return;
    }
    this.#pumpRead();
    this.#pumpWrite();
    if (events & POLL.ERR && this.#handle === h && !this.destroyed) {
      // An error nobody read (the socket is paused, or has nothing to write): report it.
      const soError = h.getsockopt(SOL_SOCKET, SO.ERROR);
      if (typeof soError === "number" && soError !== 0) {
        const syscall = soError === ERRNO.EPIPE || this.#pendingWrite !== null ? "write" : "read";
        this.destroy(netError(soError, syscall));
      }
    }
  };

  /** A non-blocking connect finished when the socket polls writable or in error. */
  #connectWakeup(h: TcpSocketHandle, events: number): void {
    if ((events & (POLL.OUT | POLL.ERR | POLL.HUP)) === 0) return;
    const to = this.#connectTo;
    const soError = h.getsockopt(SOL_SOCKET, SO.ERROR);
    if (typeof soError === "number" && soError !== 0) {
      this.destroy(netError(soError, "connect", to?.address, to?.port));
    } else if (events & POLL.OUT) {
      this.#afterConnect();
    } else {
      this.destroy(netError(ERRNO.ECONNREFUSED, "connect", to?.address, to?.port));
    }
  }

  // --- reading ------------------------------------------------------------------------------

  /** @internal Readable: the stream wants more data. */
  override _read(_size: number): void {
    this.#wantRead = true;
    this.#pumpRead();
  }

  /** Reads until `-EAGAIN`, end of stream, an error, or until `push()` says stop. */
  #pumpRead(): void {
    const h = this.#handle;
    if (h === null || this.connecting || this.#readEnded) return;
    while (this.#wantRead && this.#handle === h && !this.destroyed) {
      const r = h.read(READ_CHUNK);
      if (typeof r === "number") {
        if (r !== -ERRNO.EAGAIN) this.destroy(netError(r, "read"));
        return;
      }
      if (r.length === 0) {
        this.#wantRead = false;
        this.#readEnded = true;
        this.push(null);
        return;
      }
      this.bytesRead += r.length;
      this.#touch();
      this.#wantRead = this.push(Buffer.from(r.buffer, r.byteOffset, r.byteLength));
    }
  }

  // --- writing ------------------------------------------------------------------------------

  /** @internal Writable: one chunk. */
  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    cb: (error?: Error | null) => void,
  ): void {
    this.#startWrite(chunk, cb);
  }

  /** @internal Writable: everything buffered, in one `write(2)` loop (like `writev`). */
  override _writev(
    chunks: Array<{ chunk: Buffer; encoding: BufferEncoding }>,
    cb: (error?: Error | null) => void,
  ): void {
    this.#startWrite(
      chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)),
      cb,
    );
  }

  #startWrite(data: Uint8Array, cb: (error?: Error | null) => void): void {
    if (this.#handle === null && !this.connecting) {
      cb(Object.assign(new Error("Socket is closed"), { code: "ERR_SOCKET_CLOSED" }));
      return;
    }
    this.#pendingWrite = { data, offset: 0, cb };
    this.#touch();
    this.#pumpWrite();
  }

  /** Writes until the stack took every byte (then the callback runs) or says `-EAGAIN`. */
  #pumpWrite(): void {
    const p = this.#pendingWrite;
    const h = this.#handle;
    if (p === null || h === null || this.connecting) return;
    while (p.offset < p.data.length) {
      const n = h.write(p.offset === 0 ? p.data : p.data.subarray(p.offset));
      if (n === -ERRNO.EAGAIN || n === 0) return; // POLL.OUT brings us back
      if (n < 0) {
        this.#pendingWrite = null;
        p.cb(netError(n, "write"));
        return;
      }
      p.offset += n;
      this.#bytesWritten += n;
      this.#touch();
    }
    this.#pendingWrite = null;
    p.cb();
    const final = this.#pendingFinal;
    if (final !== null) {
      this.#pendingFinal = null;
      this._final(final);
    }
  }

  /** @internal Writable: every write was taken; send FIN (`shutdown(SHUT_WR)`). */
  override _final(cb: (error?: Error | null) => void): void {
    const h = this.#handle;
    if (this.connecting || this.#pendingWrite !== null) {
      this.#pendingFinal = cb;
      return;
    }
    if (h === null) {
      cb();
      return;
    }
    const r = h.shutdown(SHUT_WR);
    // A connection the peer already reset has nothing to shut down: not an error (libuv agrees).
    if (r < 0 && r !== -ERRNO.ENOTCONN) cb(netError(r, "shutdown"));
    else cb();
  }

  /**
   * Half-closes once everything written was taken, then destroys when the write side finished
   * (what Node's HTTP server calls after a response without keep-alive).
   */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  // --- closing ------------------------------------------------------------------------------

  /** @internal Closes the handle (`close(2)`: FIN, or RST when data was left unread). */
  override _destroy(error: Error | null, cb: (error?: Error | null) => void): void {
    this.connecting = false;
    this.#timer?.cancel();
    this.#pendingWrite = null;
    this.#pendingFinal = null;
    const h = this.#handle;
    if (h !== null) {
      this.#handle = null;
      h.onWakeup = null;
      h.close();
    }
    cb(error);
    process.nextTick(() => this.emit("close", error != null));
  }

  // --- options ------------------------------------------------------------------------------

  /** `TCP_NODELAY`: turn Nagle's algorithm off (default `true`) or back on. */
  setNoDelay(noDelay = true): this {
    this.#noDelay = noDelay;
    if (this.#handle !== null) this.#applyNoDelay(this.#handle);
    return this;
  }

  #applyNoDelay(h: TcpSocketHandle): void {
    h.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, this.#noDelay ? 1 : 0);
  }

  /**
   * `SO_KEEPALIVE`, and `TCP_KEEPIDLE` from `initialDelay` (milliseconds, whole seconds are
   * used; 0 keeps the system default `net.ipv4.tcp_keepalive_time`).
   */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#keepAlive = { enable, delaySecs: Math.trunc(initialDelay / 1000) };
    if (this.#handle !== null) this.#applyKeepAlive(this.#handle);
    return this;
  }

  #applyKeepAlive(h: TcpSocketHandle): void {
    const ka = this.#keepAlive!;
    h.setsockopt(SOL_SOCKET, SO.KEEPALIVE, ka.enable ? 1 : 0);
    if (ka.enable && ka.delaySecs > 0) {
      h.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPIDLE, ka.delaySecs);
    }
  }

  /**
   * Emits `timeout` after `ms` milliseconds without reads or writes, measured on the stack's
   * clock (virtual time drives it). 0 disables. `callback` is added as a one-time listener.
   */
  setTimeout(ms: number, callback?: () => void): this {
    if (!Number.isFinite(ms) || ms < 0) {
      throw Object.assign(new RangeError(`The "msecs" argument must be >= 0, got ${ms}`), {
        code: "ERR_OUT_OF_RANGE",
      });
    }
    this.#timeoutMs = ms;
    if (ms === 0) {
      this.#timer?.cancel();
    } else if (!this.destroyed) {
      this.#timer ??= this.#net.clock.createTimer(this.#onIdle);
      this.#timer.arm(ms);
    }
    if (callback !== undefined) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    return this;
  }

  /** The idle timeout set by {@link Socket.setTimeout}, in ms (undefined when never set). */
  get timeout(): number | undefined {
    return this.#timer === null ? undefined : this.#timeoutMs;
  }

  readonly #onIdle = (): void => {
    if (!this.destroyed) this.emit("timeout");
  };

  /** Activity: restart the idle timer. */
  #touch(): void {
    if (this.#timeoutMs > 0 && this.#timer !== null && !this.destroyed) {
      this.#timer.arm(this.#timeoutMs);
    }
  }

  /** @internal Node's HTTP server calls this on activity it sees itself. */
  _unrefTimer(): void {
    this.#touch();
  }

  /** Does nothing: the stack, not Node's event loop, keeps a connection alive. */
  ref(): this {
    return this;
  }

  /** Does nothing: the stack, not Node's event loop, keeps a connection alive. */
  unref(): this {
    return this;
  }

  // --- addresses and state ------------------------------------------------------------------

  /** The local address (`getsockname(2)`), or `{}` before the socket has one. */
  address(): AddressInfo | Record<string, never> {
    const h = this.#handle;
    if (h !== null && h.localPort !== 0) {
      return { address: h.localAddress, family: "IPv4", port: h.localPort };
    }
    return this.#local ?? {};
  }

  /** Local IPv4 address. */
  get localAddress(): string | undefined {
    return (this.address() as Partial<AddressInfo>).address;
  }

  /** Local port. */
  get localPort(): number | undefined {
    return (this.address() as Partial<AddressInfo>).port;
  }

  /** Remote IPv4 address (`getpeername(2)`), once connected. */
  get remoteAddress(): string | undefined {
    return this.#peer?.address;
  }

  /** Remote port, once connected. */
  get remotePort(): number | undefined {
    return this.#peer?.port;
  }

  /** `"IPv4"` once connected. */
  get remoteFamily(): "IPv4" | undefined {
    return this.#peer?.family;
  }

  /** Payload bytes the stack has taken from this socket. */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Whether the socket is not connected yet (no handle, or connecting). */
  get pending(): boolean {
    return this.#handle === null || this.connecting;
  }

  /** `opening`, `open`, `readOnly`, `writeOnly` or `closed`, as `net.Socket` reports it. */
  get readyState(): SocketReadyState {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }
}

/** `localhost` and IPv4 literals; everything else would need a resolver. */
function resolveHost(host: string): string | null {
  if (host === "" || host === "localhost") return "127.0.0.1";
  return isIPv4(host) ? host : null;
}

function validatePort(port: unknown): number {
  const n = typeof port === "string" && port.trim() !== "" ? Number(port) : port;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw Object.assign(
      new RangeError(`Port should be >= 0 and < 65536. Received ${String(port)}.`),
      { code: "ERR_SOCKET_BAD_PORT" },
    );
  }
  return n;
}

/** `normalizeArgs()` of lib/net.js: `(options[, cb])` or `(port[, host][, cb])`. */
export function normalizeConnectArgs(
  args: readonly unknown[],
): [ConnectOptions, ConnectListener | undefined] {
  const last = args[args.length - 1];
  const cb = typeof last === "function" ? (last as ConnectListener) : undefined;
  const first = args[0];
  if (first !== null && typeof first === "object") return [first as ConnectOptions, cb];
  const host = typeof args[1] === "string" ? args[1] : undefined;
  return [{ port: first as number | string, host }, cb];
}
