/**
 * `stack.net`: Node's `net` module over one stack (`createServer`, `connect`,
 * `createConnection`, `Socket`, `Server`, `isIP`), and {@link netApi}, the plugin that provides
 * it under `TOKENS.net`.
 * @packageDocumentation
 */
import { type Clock, definePlugin, type Plugin, TOKENS } from "@skbuff/core";
import { TCP_PLUGIN, TCP_SOCKET_API } from "../plugin.js";
import type { TcpSocketApi } from "../socket_api.js";
import { isIP, isIPv4, isIPv6 } from "./ip.js";
import { type ListenOptions, Server, type ServerOptions } from "./server.js";
import {
  type ConnectListener,
  type ConnectOptions,
  type NetContext,
  normalizeConnectArgs,
  Socket,
  type SocketOptions,
} from "./socket.js";

/** Options of `connect()` / `createConnection()`: the socket's and the connection's. */
export type NetConnectOptions = ConnectOptions & SocketOptions;

/** The `net`-module-like API of one stack: what `stack.net` returns. */
export interface NetApi {
  /** A server; `connectionListener` is added as a `connection` listener. */
  createServer(connectionListener?: (socket: Socket) => void): Server;
  createServer(options: ServerOptions, connectionListener?: (socket: Socket) => void): Server;
  /** A socket connecting to `options.host:options.port` (or `port`, `host`). */
  connect(options: NetConnectOptions, connectListener?: ConnectListener): Socket;
  connect(port: number, host?: string, connectListener?: ConnectListener): Socket;
  connect(port: number, connectListener?: ConnectListener): Socket;
  /** The same as {@link NetApi.connect}. */
  createConnection(options: NetConnectOptions, connectListener?: ConnectListener): Socket;
  createConnection(port: number, host?: string, connectListener?: ConnectListener): Socket;
  createConnection(port: number, connectListener?: ConnectListener): Socket;
  /** `new Socket(options)`: an unconnected socket of this stack. */
  readonly Socket: new (
    options?: SocketOptions,
  ) => Socket;
  /** `new Server(options, listener)`: a server of this stack. */
  readonly Server: new (
    options?: ServerOptions | ((socket: Socket) => void),
    connectionListener?: (socket: Socket) => void,
  ) => Server;
  /** 4 for an IPv4 literal, 6 for IPv6, else 0. */
  isIP(input: string): number;
  /** Whether `input` is an IPv4 literal. */
  isIPv4(input: string): boolean;
  /** Whether `input` is an IPv6 literal. */
  isIPv6(input: string): boolean;
}

export type { ListenOptions };

/**
 * Builds the `net` API of one stack over its TCP socket API.
 * @param stack - anything with the stack's clock (a `Stack`).
 * @param api - the stack's TCP sockets.
 */
export function createNetApi(stack: { readonly clock: Clock }, api: TcpSocketApi): NetApi {
  const ctx: NetContext = { api, clock: stack.clock };

  class StackSocket extends Socket {
    constructor(options: SocketOptions = {}) {
      super({ ...options, net: ctx });
    }
  }

  class StackServer extends Server {
    constructor(
      options?: ServerOptions | ((socket: Socket) => void),
      connectionListener?: (socket: Socket) => void,
    ) {
      if (typeof options === "function") super(ctx, {}, options);
      else super(ctx, options ?? {}, connectionListener);
    }
  }

  const connect = (...args: unknown[]): Socket => {
    const [options] = normalizeConnectArgs(args);
    const socket = new StackSocket(options as SocketOptions);
    return (socket.connect as (...a: unknown[]) => Socket)(...args);
  };

  return {
    createServer: (
      options?: ServerOptions | ((socket: Socket) => void),
      connectionListener?: (socket: Socket) => void,
    ) => new StackServer(options, connectionListener),
    connect: connect as NetApi["connect"],
    createConnection: connect as NetApi["createConnection"],
    Socket: StackSocket,
    Server: StackServer,
    isIP,
    isIPv4,
    isIPv6,
  };
}

/**
 * `tcp()` already provides `stack.net`; this plugin provides it again (a fresh `NetApi` over the
 * same sockets) for code written when it was separate. Listing it is harmless. It requires
 * `skbuff:tcp`.
 */
export function netApi(): Plugin {
  return definePlugin({
    name: "skbuff:net",
    requires: [TCP_PLUGIN],
    register(ctx) {
      ctx.provide(TOKENS.net, createNetApi(ctx.stack, ctx.container.resolve(TCP_SOCKET_API)));
    },
  });
}

declare module "@skbuff/core" {
  /** `stack.net` is the {@link NetApi} once @skbuff/tcp is imported. */
  interface StackNet extends NetApi {}
}
