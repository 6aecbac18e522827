/**
 * `stack.net`: Node's `net` module over the stack's Linux-semantics TCP sockets.
 * @packageDocumentation
 */
export { NetError, netError } from "./errors.js";
export { isIP, isIPv4, isIPv6 } from "./ip.js";
export {
  createNetApi,
  type ListenOptions,
  type NetApi,
  type NetConnectOptions,
  netApi,
} from "./net.js";
export { Server, type ServerOptions } from "./server.js";
export {
  type AddressInfo,
  type ConnectListener,
  type ConnectOptions,
  type NetContext,
  Socket,
  type SocketInit,
  type SocketOptions,
  type SocketReadyState,
} from "./socket.js";
