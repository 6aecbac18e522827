/**
 * Sockets, the way Linux layers them: `struct sock_common` (addresses, ports, state) inside
 * `struct sock` (queues, route cache, protocol), referenced by `struct socket` (the BSD socket
 * the application holds), with `struct proto` (the transport's operations) and
 * `struct proto_ops` (the family's socket calls).
 * @see include/net/sock.h, include/linux/net.h
 * @packageDocumentation
 */
import type { DstEntry } from "./dst.js";
import type { SkBuff } from "./skbuff.js";
import { SkBuffHead } from "./skbuff_head.js";
import type { Stack } from "./stack.js";

/** Address families. */
export const AF_UNSPEC = 0;
export const AF_INET = 2;
/** Socket types. */
export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;

/** `struct sock_common`: the part shared with time-wait and request socks. */
export class SockCommon {
  /**
   * The addresses, kept as int32 (`v | 0`) and read back as u32 through {@link SockCommon.daddr}
   * and {@link SockCommon.rcvSaddr}: V8 holds an int32 inside the object, while a field that has
   * ever held a u32 at or above 2^31 (any address from 128.0.0.0 up) costs every sock a boxed
   * number.
   */
  private daddrI32 = 0;
  private rcvSaddrI32 = 0;
  /** Foreign port, `skc_dport`. */
  dport = 0;
  /** Local port, `skc_num`. */
  num = 0;
  family: number = AF_INET;
  /** Protocol-defined state (TCP_ESTABLISHED, …). */
  state = 0;
  /** SO_REUSEADDR. */
  reuse = false;
  /** SO_REUSEPORT. */
  reuseport = false;
  /** SO_BINDTODEVICE ifindex, 0 for any. */
  boundDevIf = 0;
  /** The transport's operations, `skc_prot`. */
  prot: Proto | null = null;
  /** The namespace, `skc_net`. */
  net: Stack;
  /** Next sock in the same established-hash bucket (`skc_nulls_node`); set by the hash table. */
  ehashNext: SockCommon | null = null;
  /** Neighbours in the bind bucket of the local port (`skc_bind_node`); set by the hash table. */
  bindNext: SockCommon | null = null;
  bindPrev: SockCommon | null = null;
  constructor(net: Stack) {
    this.net = net;
  }

  /** Foreign IPv4 address (u32), `skc_daddr`. */
  get daddr(): number {
    return this.daddrI32 >>> 0;
  }
  set daddr(v: number) {
    this.daddrI32 = v | 0;
  }

  /** Bound local IPv4 address (u32), `skc_rcv_saddr`. */
  get rcvSaddr(): number {
    return this.rcvSaddrI32 >>> 0;
  }
  set rcvSaddr(v: number) {
    this.rcvSaddrI32 = v | 0;
  }
}

/** `struct sock`: a transport endpoint inside the stack. */
export class Sock extends SockCommon {
  /** The queues once made: each is created on first use, so an idle sock holds none. */
  private receiveQueueHead: SkBuffHead | null = null;
  private writeQueueHead: SkBuffHead | null = null;
  private errorQueueHead: SkBuffHead | null = null;
  /** Input route cache, `sk_rx_dst`. */
  rxDst: DstEntry | null = null;
  /** Output route cache, `sk_dst_cache`. */
  dstCache: DstEntry | null = null;
  type = SOCK_STREAM;
  protocol = 0;
  /** The BSD socket that owns this sock, `sk_socket`. */
  socket: Socket | null = null;
  /** SO_RCVBUF / SO_SNDBUF, bytes. */
  rcvbuf = 131072;
  sndbuf = 16384;
  /** Bytes charged to the receive queue. */
  rmemAlloc = 0;
  /** Pending error (`sk_err`), a positive errno, 0 for none. */
  err = 0;
  /** SO_MARK, copied to `skb.mark` on output. */
  mark = 0;
  /** IP TTL for packets sent (IP_TTL); -1 means the sysctl default. */
  ttl = -1;

  /** Received data waiting for the application, `sk_receive_queue`. */
  get receiveQueue(): SkBuffHead {
    this.receiveQueueHead ??= new SkBuffHead();
    return this.receiveQueueHead;
  }

  /** Data queued for sending, `sk_write_queue`. */
  get writeQueue(): SkBuffHead {
    this.writeQueueHead ??= new SkBuffHead();
    return this.writeQueueHead;
  }

  /** Errors (ICMP, timestamps) for MSG_ERRQUEUE, `sk_error_queue`. */
  get errorQueue(): SkBuffHead {
    this.errorQueueHead ??= new SkBuffHead();
    return this.errorQueueHead;
  }
}

/** `socket_state`. */
export const SS_FREE = 0;
export const SS_UNCONNECTED = 1;
export const SS_CONNECTING = 2;
export const SS_CONNECTED = 3;
export const SS_DISCONNECTING = 4;

/** `struct socket`: the BSD socket an application holds. */
export class Socket {
  state = SS_UNCONNECTED;
  constructor(
    readonly type: number,
    readonly ops: ProtoOps,
    public sk: Sock | null,
  ) {}
}

/** A socket address for AF_INET. */
export interface SockaddrIn {
  readonly address: string;
  readonly port: number;
}

/**
 * `struct proto`: a transport's socket operations (TCP, UDP, ping). Optional members are the
 * ones a transport may not support (`EOPNOTSUPP`).
 */
export interface Proto {
  readonly name: string;
  init?(sk: Sock): void;
  close(sk: Sock, timeoutMs: number): void;
  connect?(sk: Sock, addr: SockaddrIn): number;
  disconnect?(sk: Sock, flags: number): number;
  accept?(sk: Sock, flags: number): Sock | number;
  bind?(sk: Sock, addr: SockaddrIn): number;
  shutdown?(sk: Sock, how: number): void;
  sendmsg(sk: Sock, data: Uint8Array, addr?: SockaddrIn): number;
  recvmsg?(sk: Sock, maxLen: number, flags: number): Uint8Array | number;
  setsockopt?(sk: Sock, level: number, name: number, value: number): number;
  getsockopt?(sk: Sock, level: number, name: number): number;
  /** Processes a packet queued on the socket's backlog (`backlog_rcv`). */
  backlogRcv?(sk: Sock, skb: SkBuff): number;
  hash?(sk: Sock): void;
  unhash?(sk: Sock): void;
  /** Picks and reserves a local port; 0 on success or a negative errno. */
  getPort?(sk: Sock, port: number): number;
}

/** `struct proto_ops`: the family's BSD calls, dispatching to the sock's `Proto`. */
export interface ProtoOps {
  readonly family: number;
  release(sock: Socket): void;
  bind(sock: Socket, addr: SockaddrIn): number;
  connect(sock: Socket, addr: SockaddrIn, flags: number): number;
  listen?(sock: Socket, backlog: number): number;
  accept?(sock: Socket, flags: number): Socket | number;
  shutdown(sock: Socket, how: number): number;
  sendmsg(sock: Socket, data: Uint8Array, addr?: SockaddrIn): number;
  recvmsg(sock: Socket, maxLen: number, flags: number): Uint8Array | number;
  setsockopt?(sock: Socket, level: number, name: number, value: number): number;
  getsockopt?(sock: Socket, level: number, name: number): number;
}

/** `struct net_proto_family`: creates sockets of one address family (`sock_register`). */
export interface NetProtoFamily {
  readonly family: number;
  create(net: Stack, type: number, protocol: number): Socket | number;
}
