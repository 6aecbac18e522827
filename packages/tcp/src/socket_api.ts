/**
 * The Linux-semantics socket API of TCP: what `struct socket` + `inet_stream_ops` give a
 * process (socket/bind/listen/accept/connect/read/write/shutdown/close, socket options, poll),
 * with kernel-style results (`-errno`). The packetdrill runner drives it, and the Node-style
 * `stack.net` is built on it.
 *
 * Every call is non-blocking: where a blocking call would sleep, it returns `-EAGAIN` (or
 * `-EINPROGRESS` for connect), and the socket's `onWakeup` is called later with the poll
 * events that changed (`sk_data_ready`, `sk_write_space`, `sk_state_change`,
 * `sk_error_report`). `onWakeup` is called synchronously from the stack (often from inside the
 * receive softirq): a listener must not call back into the socket from inside it; defer
 * (`queueMicrotask`) and act then.
 * @packageDocumentation
 */
import type { TcpInfo } from "./tcp_info.js";

/** poll(2) event bits, as Linux numbers them. */
export const POLL = {
  IN: 0x0001,
  PRI: 0x0002,
  OUT: 0x0004,
  ERR: 0x0008,
  HUP: 0x0010,
  RDNORM: 0x0040,
  WRNORM: 0x0100,
  RDHUP: 0x2000,
} as const;

/** `send(2)` flag: don't block (every call here is non-blocking; accepted). */
export const MSG_DONTWAIT = 0x40;
/** `send(2)` flag: no SIGPIPE on a broken connection (there are no signals here; accepted). */
export const MSG_NOSIGNAL = 0x4000;
/**
 * `send(2)` flag: more data follows — `tcp_push` sets no PSH and holds a partial segment back
 * as TCP_CORK does, for this call only.
 */
export const MSG_MORE = 0x8000;

/** `shutdown(2)` how. */
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;

/** Socket option levels and names (Linux values). */
export const SOL_SOCKET = 1;
export const IPPROTO_TCP_LEVEL = 6;
export const IPPROTO_IP_LEVEL = 0;
export const SO = {
  REUSEADDR: 2,
  ERROR: 4,
  KEEPALIVE: 9,
  LINGER: 13,
  REUSEPORT: 15,
  SNDBUF: 7,
  RCVBUF: 8,
  RCVLOWAT: 18,
  SNDLOWAT: 19,
} as const;
export const TCP_OPT = {
  NODELAY: 1,
  MAXSEG: 2,
  CORK: 3,
  KEEPIDLE: 4,
  KEEPINTVL: 5,
  KEEPCNT: 6,
  SYNCNT: 7,
  LINGER2: 8,
  DEFER_ACCEPT: 9,
  WINDOW_CLAMP: 10,
  INFO: 11,
  QUICKACK: 12,
  CONGESTION: 13,
  USER_TIMEOUT: 18,
  NOTSENT_LOWAT: 25,
} as const;
export const IP_OPT = { TOS: 1, TTL: 2 } as const;

/** A TCP socket with Linux semantics. */
export interface TcpSocketHandle {
  /** `bind(2)`: 0 or -errno (`-EADDRINUSE`, `-EADDRNOTAVAIL`, `-EINVAL`). Port 0 picks one. */
  bind(address: string, port: number): number;
  /** `listen(2)`: 0 or -errno. */
  listen(backlog: number): number;
  /** `accept(2)`: a connected socket, or `-EAGAIN` when the accept queue is empty, or -errno. */
  accept(): TcpSocketHandle | number;
  /** `connect(2)`: `-EINPROGRESS` (the SYN is sent; wait for POLL.OUT or an error), or -errno. */
  connect(address: string, port: number): number;
  /** `read(2)`: data, an empty array at end of stream, `-EAGAIN`, or -errno (`-ECONNRESET`). */
  read(maxBytes: number): Uint8Array | number;
  /**
   * `write(2)`, or `send(2)` with `flags` ({@link MSG_MORE}: more data follows, hold a partial
   * segment and set no PSH; {@link MSG_DONTWAIT} and {@link MSG_NOSIGNAL} are accepted, every
   * call being non-blocking and signal-free): bytes taken (may be fewer than given), `-EAGAIN`,
   * or -errno (`-EPIPE`).
   */
  write(data: Uint8Array, flags?: number): number;
  /** `shutdown(2)`: 0 or -errno (`-ENOTCONN`). */
  shutdown(how: number): number;
  /** `close(2)`: from here on the kernel side finishes the connection (FIN or RST). */
  close(): void;
  /** `setsockopt(2)` with an integer (or a string for TCP_CONGESTION): 0 or -errno. */
  setsockopt(level: number, name: number, value: number | string): number;
  /** `getsockopt(2)`: the value or -errno (SO_ERROR returns and clears the pending error). */
  getsockopt(level: number, name: number): number | string;
  /** Current poll events (`tcp_poll`). */
  poll(): number;
  /** Called with the poll events that may have changed. */
  onWakeup: ((events: number) => void) | null;
  /** `ioctl(SIOCINQ)`: bytes readable. */
  readonly inq: number;
  /** `ioctl(SIOCOUTQ)`: bytes not yet acknowledged. */
  readonly outq: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** TCP state (`TCP_ESTABLISHED`, …), Linux's numbers. */
  readonly state: number;
  /** `getsockopt(TCP_INFO)`. */
  tcpInfo(): TcpInfo;
}

/** Makes TCP sockets in one stack (`socket(AF_INET, SOCK_STREAM, 0)`). */
export interface TcpSocketApi {
  socket(): TcpSocketHandle;
}
