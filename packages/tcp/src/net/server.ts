/**
 * `Server`: Node's `net.Server` over a listening {@link TcpSocketHandle}: `bind(2)` +
 * `listen(2)`, then `accept(2)` until `-EAGAIN` each time the listener polls readable, handing
 * each connection out as a connected {@link Socket}.
 * @see lib/net.js (Node) Server, onconnection(); net/ipv4/inet_connection_sock.c inet_csk_accept()
 * @packageDocumentation
 */
import { EventEmitter } from "node:events";
import { ERRNO } from "@skbuff/core";
import { SO, SOL_SOCKET, type TcpSocketHandle } from "../socket_api.js";
import { netError } from "./errors.js";
import { type AddressInfo, type NetContext, Socket } from "./socket.js";

/** Options of `createServer()`, as `net.createServer` takes them. */
export interface ServerOptions {
  /** Accepted sockets keep their write side open after the peer's FIN (default false). */
  readonly allowHalfOpen?: boolean;
  /** Accepted sockets start paused (default false). */
  readonly pauseOnConnect?: boolean;
  /** `setNoDelay(true)` on accepted sockets. */
  readonly noDelay?: boolean;
  /** `setKeepAlive(true, keepAliveInitialDelay)` on accepted sockets. */
  readonly keepAlive?: boolean;
  /** Milliseconds of idle before the first keepalive probe. */
  readonly keepAliveInitialDelay?: number;
}

/** Options of `server.listen()`. */
export interface ListenOptions {
  /** Port (0 or absent: the stack picks one). */
  readonly port?: number;
  /** Local address (default `0.0.0.0`). */
  readonly host?: string;
  /** Accept-queue length (default 511, as Node). */
  readonly backlog?: number;
}

/** Node's default backlog. */
const DEFAULT_BACKLOG = 511;

/**
 * A listening TCP server, like `net.Server`: `listening`, `connection`, `close` and `error`
 * events, `listen()`, `close()`, `address()`, `getConnections()`, `maxConnections`.
 */
export class Server extends EventEmitter {
  /** Refuse (close) connections beyond this many open ones. */
  maxConnections: number | undefined = undefined;

  readonly #net: NetContext;
  readonly #options: ServerOptions;
  #handle: TcpSocketHandle | null = null;
  #connections = 0;
  #wakeQueued = false;
  /** `close()` was called: emit `close` once the last connection is gone. */
  #closing = false;

  /**
   * @param net - the stack's socket API and clock.
   * @param options - the `net.createServer` options.
   * @param connectionListener - added as a `connection` listener.
   */
  constructor(
    net: NetContext,
    options: ServerOptions = {},
    connectionListener?: (socket: Socket) => void,
  ) {
    super();
    this.#net = net;
    this.#options = options;
    if (connectionListener !== undefined) this.on("connection", connectionListener);
  }

  /**
   * `bind(2)` + `listen(2)`. `listening` follows; `EADDRINUSE` / `EADDRNOTAVAIL` come as an
   * `error` event, as with Node.
   */
  listen(port?: number, host?: string, backlog?: number, listeningListener?: () => void): this;
  listen(port: number, host: string, listeningListener?: () => void): this;
  listen(port: number, listeningListener?: () => void): this;
  listen(options: ListenOptions, listeningListener?: () => void): this;
  listen(listeningListener?: () => void): this;
  listen(...args: unknown[]): this {
    const last = args[args.length - 1];
    const cb = typeof last === "function" ? (last as () => void) : undefined;
    const first = args[0];
    let options: ListenOptions;
    if (first !== null && typeof first === "object") options = first as ListenOptions;
    else {
      options = {
        port: typeof first === "number" || typeof first === "string" ? Number(first) : 0,
        host: typeof args[1] === "string" ? args[1] : undefined,
        backlog: typeof args[2] === "number" ? args[2] : undefined,
      };
    }
    if (this.#handle !== null) {
      throw Object.assign(new Error("Listen method has been called more than once"), {
        code: "ERR_SERVER_ALREADY_LISTEN",
      });
    }
    if (cb !== undefined) this.once("listening", cb);
    const host =
      options.host === undefined || options.host === "localhost"
        ? options.host === "localhost"
          ? "127.0.0.1"
          : "0.0.0.0"
        : options.host;
    const port = options.port ?? 0;
    const h = this.#net.api.socket();
    // libuv sets SO_REUSEADDR on every TCP listener, so TIME_WAIT does not block a restart.
    h.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1);
    let r = h.bind(host, port);
    if (r >= 0) r = h.listen(options.backlog ?? DEFAULT_BACKLOG);
    if (r < 0) {
      h.close();
      const err = netError(r, "listen", host, port);
      process.nextTick(() => this.emit("error", err));
      return this;
    }
    this.#handle = h;
    this.#closing = false;
    h.onWakeup = this.#onWakeup;
    process.nextTick(() => {
      if (this.#handle === h) this.emit("listening");
    });
    return this;
  }

  /** Whether the server is listening. */
  get listening(): boolean {
    return this.#handle !== null;
  }

  /** The bound address, or null when not listening. */
  address(): AddressInfo | null {
    const h = this.#handle;
    return h === null ? null : { address: h.localAddress, family: "IPv4", port: h.localPort };
  }

  /** `sk_data_ready` on the listener: accept from a microtask, never inside the stack. */
  readonly #onWakeup = (_events: number): void => {
    if (this.#wakeQueued) return;
    this.#wakeQueued = true;
    queueMicrotask(this.#acceptAll);
  };

  /** `accept(2)` until the queue is empty. */
  readonly #acceptAll = (): void => {
    this.#wakeQueued = false;
    const h = this.#handle;
    while (h !== null && this.#handle === h) {
      const r = h.accept();
      if (typeof r === "number") {
        if (r !== -ERRNO.EAGAIN) this.emit("error", netError(r, "accept"));
        return;
      }
      this.#onConnection(r);
    }
  };

  #onConnection(handle: TcpSocketHandle): void {
    if (this.maxConnections !== undefined && this.#connections >= this.maxConnections) {
      handle.close();
      this.emit("drop", {
        localAddress: handle.localAddress,
        localPort: handle.localPort,
        localFamily: "IPv4",
        remoteAddress: handle.remoteAddress,
        remotePort: handle.remotePort,
        remoteFamily: "IPv4",
      });
      return;
    }
    const o = this.#options;
    const socket = new Socket({
      net: this.#net,
      handle,
      allowHalfOpen: o.allowHalfOpen ?? false,
      pauseOnCreate: o.pauseOnConnect ?? false,
    });
    if (o.noDelay) socket.setNoDelay(true);
    if (o.keepAlive) socket.setKeepAlive(true, o.keepAliveInitialDelay ?? 0);
    socket.server = this;
    this.#connections++;
    socket.once("close", () => {
      this.#connections--;
      this.#maybeEmitClose();
    });
    this.emit("connection", socket);
  }

  /**
   * Stops accepting (closes the listener; connections not yet accepted are reset). `close` is
   * emitted once every accepted connection has closed too. `cb` gets
   * `ERR_SERVER_NOT_RUNNING` when the server was not listening.
   */
  close(cb?: (err?: Error) => void): this {
    if (cb !== undefined) {
      if (this.#handle === null) {
        this.once("close", () =>
          cb(
            Object.assign(new Error("Server is not running."), {
              code: "ERR_SERVER_NOT_RUNNING",
            }),
          ),
        );
      } else {
        this.once("close", () => cb());
      }
    }
    const h = this.#handle;
    if (h !== null) {
      this.#handle = null;
      h.onWakeup = null;
      h.close();
    }
    this.#closing = true;
    this.#maybeEmitClose();
    return this;
  }

  #maybeEmitClose(): void {
    if (!this.#closing || this.#handle !== null || this.#connections > 0) return;
    this.#closing = false;
    process.nextTick(() => this.emit("close"));
  }

  /** The number of open accepted connections. */
  getConnections(cb: (err: Error | null, count: number) => void): this {
    const n = this.#connections;
    process.nextTick(() => cb(null, n));
    return this;
  }

  /** Does nothing: the stack, not Node's event loop, keeps a server alive. */
  ref(): this {
    return this;
  }

  /** Does nothing: the stack, not Node's event loop, keeps a server alive. */
  unref(): this {
    return this;
  }
}
