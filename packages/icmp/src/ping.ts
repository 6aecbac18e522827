/**
 * Ping sockets (`SOCK_DGRAM`, `IPPROTO_ICMP`): unprivileged ICMP echo. A socket owns an echo
 * identifier (its "port"); echo requests it sends carry it, and echo replies and ICMP errors that
 * quote it come back to it. {@link PingSock} is the `struct sock`, {@link PingSocket} the handle
 * an application holds.
 * @see net/ipv4/ping.c
 * @packageDocumentation
 */
import {
  allocSkb,
  consumeSkb,
  type ErrnoError,
  IPPROTO_ICMP,
  inetAton,
  inetNtoa,
  kfreeSkb,
  NET_SKB_PAD,
  type NetDevice,
  type SkBuff,
  SkbDropReason,
  SOCK_DGRAM,
  Sock,
  type Stack,
  tp,
  traceable,
} from "@skbuff/core";
import {
  IPHDR,
  ipBuildAndSendPkt,
  ipDaddr,
  ipRouteOutputKey,
  ipSaddr,
  ipTtl,
  ipv4Net,
  RTN,
} from "@skbuff/ipv4";
import { icmpMsgOut } from "./mib.js";
import { icmpNet, type NetnsIcmp } from "./netns.js";
import { ERRNO, errnoError, ICMP_ERR_CONVERT, PingError } from "./ping_error.js";
import {
  ICMP_TYPE,
  ICMP_UNREACH,
  ICMPHDR,
  icmpEchoId,
  icmpEchoSeq,
  icmpFillChecksum,
  icmpType,
  NR_ICMP_UNREACH,
  setIcmpCode,
  setIcmpEchoId,
  setIcmpEchoSeq,
  setIcmpType,
} from "./wire/icmphdr.js";

/** An echo reply as a ping socket receives it. */
export interface PingMessage {
  /** Who replied (dotted quad). */
  readonly from: string;
  /** The address it was sent to (dotted quad). */
  readonly to: string;
  readonly id: number;
  readonly seq: number;
  /** TTL of the reply's IP header. */
  readonly ttl: number;
  /** The echo data (a copy). */
  readonly data: Uint8Array;
  /** When it arrived, ms on the stack's clock. */
  readonly tstamp: number;
}

/** `struct ping_sock` / the ping part of `struct inet_sock`. */
export class PingSock extends Sock {
  /** The echo identifier, 0 while unbound (`inet_num`). */
  ident = 0;
  /** IP_PMTUDISC_DO: set DF, and refuse to send more than the route's MTU (EMSGSIZE). */
  pmtudiscDo = false;
  /** SO_BROADCAST: may send to a broadcast address. */
  broadcast = false;
  /** Called for each echo reply, from the receive softirq. */
  onMessage: ((msg: PingMessage) => void) | null = null;
  /** Called for each ICMP error about an echo request (as with IP_RECVERR). */
  onError: ((err: PingError) => void) | null = null;
  /** Replies queued while nobody listens (`onMessage` null), for {@link PingSocket.recv}. */
  readonly pending: PingMessage[] = [];

  constructor(net: Stack) {
    super(net);
    this.type = SOCK_DGRAM;
    this.protocol = IPPROTO_ICMP;
  }
}

function nsOf(net: Stack): NetnsIcmp {
  const ns = icmpNet(net);
  if (ns === undefined) throw errnoError(ERRNO.EPROTO, "the icmp() plugin is not in this stack");
  return ns;
}

/**
 * `ping_get_port`: gives the socket an echo identifier: `ident` if free, or (with 0) the next
 * free one after the table's rover. Returns 0 or a negative errno.
 * @see net/ipv4/ping.c ping_get_port()
 */
export function pingGetPort(sk: PingSock, ident: number): number {
  const ns = nsOf(sk.net);
  const table = ns.pingTable;
  if (ident === 0) {
    let result = ns.pingRover;
    let found = 0;
    for (let i = 0; i < 0x10000; i++) {
      result = (result + 1) & 0xffff;
      if (result === 0) continue; // "avoid zero"
      if (!table.has(result)) {
        found = result;
        break;
      }
    }
    if (found === 0) return -ERRNO.EADDRINUSE;
    ns.pingRover = found;
    ident = found;
  } else if (table.has(ident)) {
    return -ERRNO.EADDRINUSE;
  }
  sk.ident = ident;
  table.set(ident, sk);
  return 0;
}

/** `ping_unhash`: frees the socket's identifier. */
export function pingUnhash(sk: PingSock): void {
  const ns = icmpNet(sk.net);
  if (ns !== undefined && ns.pingTable.get(sk.ident) === sk) ns.pingTable.delete(sk.ident);
  sk.ident = 0;
}

/**
 * `ping_lookup`: the socket an echo reply or error with identifier `ident` belongs to, given
 * the packet's (outer) IP header: a socket bound to an address only sees packets to it.
 * @see net/ipv4/ping.c ping_lookup()
 */
export function pingLookup(net: Stack, skb: SkBuff, ident: number): PingSock | null {
  const sk = icmpNet(net)?.pingTable.get(ident);
  if (sk === undefined) return null;
  if (sk.rcvSaddr !== 0 && sk.rcvSaddr !== ipDaddr(skb.head, skb.networkHeader)) return null;
  if (sk.boundDevIf !== 0 && sk.boundDevIf !== skb.skbIif) return null;
  return sk;
}

/**
 * `ping_rcv`: an echo reply (`data` at the ICMP header's end, `transportHeader` at it) goes to the
 * socket owning its identifier. Takes ownership; returns null when delivered, else the drop
 * reason.
 * @see net/ipv4/ping.c ping_rcv()
 */
function pingRcvImpl(skb: SkBuff): SkbDropReason | null {
  const net = (skb.dev as NetDevice).net;
  // "Push ICMP header back"
  skb.push(skb.data - skb.transportHeader);
  const sk = pingLookup(net, skb, icmpEchoId(skb.head, skb.data));
  if (sk === null) {
    kfreeSkb(skb, SkbDropReason.NO_SOCKET, net);
    return SkbDropReason.NO_SOCKET;
  }
  return pingQueueRcvSkb(sk, skb);
}

/**
 * `ping_queue_rcv_skb`: hands the reply to the socket's `onMessage`, or queues it (up to
 * `rcvbuf` bytes) for {@link PingSocket.recv}.
 * @see net/ipv4/ping.c __ping_queue_rcv_skb()
 */
function pingQueueRcvSkb(sk: PingSock, skb: SkBuff): SkbDropReason | null {
  const b = skb.head;
  const nh = skb.networkHeader;
  const o = skb.data;
  const msg: PingMessage = {
    from: inetNtoa(ipSaddr(b, nh)),
    to: inetNtoa(ipDaddr(b, nh)),
    id: icmpEchoId(b, o),
    seq: icmpEchoSeq(b, o),
    ttl: ipTtl(b, nh),
    data: b.slice(o + ICMPHDR.LEN, skb.tail),
    tstamp: skb.tstamp,
  };
  const cb = sk.onMessage;
  if (cb === null) {
    if (sk.rmemAlloc + skb.len > sk.rcvbuf) {
      kfreeSkb(skb, SkbDropReason.SOCKET_RCVBUFF, sk.net);
      return SkbDropReason.SOCKET_RCVBUFF;
    }
    sk.rmemAlloc += msg.data.length + ICMPHDR.LEN;
    sk.pending.push(msg);
    consumeSkb(skb, sk.net);
    return null;
  }
  consumeSkb(skb, sk.net);
  callGuarded(sk.net, () => cb(msg));
  return null;
}

/** Runs an application callback from the packet path: what it throws is reported, not raised. */
function callGuarded(net: Stack, fn: () => void): void {
  try {
    fn();
  } catch (error) {
    if (tp.handlerError.hasSubscribers) tp.handlerError.publish({ stack: net, error });
    else
      process.emitWarning(`A ping socket callback threw: ${String(error)}`, {
        type: "SkbuffWarning",
      });
  }
}

/**
 * `ping_err`: an ICMP error quoting one of our echo requests (`skb.data` at the quoted IP header,
 * `offset` to the quoted ICMP header) becomes the socket's error: `sk.err`, and `onError` with
 * the details, as ping(8) sees them with IP_RECVERR.
 *
 * RFC 1122 (4.1.3.3): "UDP MUST pass to the application layer all ICMP error messages that it
 * receives from the IP layer." Ping sockets follow the same rule.
 * @see net/ipv4/ping.c ping_err()
 */
export function pingErr(
  skb: SkBuff,
  offset: number,
  type: number,
  code: number,
  info: number,
): void {
  const net = (skb.dev as NetDevice).net;
  const b = skb.head;
  const inner = skb.data + offset;
  const ident = icmpEchoId(b, inner);
  const sk = pingLookup(net, skb, ident);
  if (sk === null) return; // "No socket for error"
  let errno: number;
  let fatal = false;
  switch (type) {
    case ICMP_TYPE.SOURCE_QUENCH:
    case ICMP_TYPE.REDIRECT:
      // "This is not a real error but ping wants to see it. Report it with some fake errno."
      errno = ERRNO.EREMOTEIO;
      break;
    case ICMP_TYPE.PARAMETERPROB:
      errno = ERRNO.EPROTO;
      fatal = true;
      break;
    case ICMP_TYPE.DEST_UNREACH:
      errno = ERRNO.EHOSTUNREACH;
      if (code <= NR_ICMP_UNREACH) {
        fatal = ICMP_ERR_CONVERT[code]!.fatal;
        errno = ICMP_ERR_CONVERT[code]!.errno;
      }
      if (code === ICMP_UNREACH.FRAG_NEEDED) fatal = sk.pmtudiscDo;
      break;
    default:
      // ICMP_TIME_EXCEEDED and the rest.
      errno = ERRNO.EHOSTUNREACH;
      break;
  }
  const err = new PingError({
    errno,
    icmpType: type,
    icmpCode: code,
    from: inetNtoa(ipSaddr(b, skb.networkHeader)),
    info,
    id: ident,
    seq: icmpEchoSeq(b, inner),
    fatal,
  });
  sk.err = errno;
  const cb = sk.onError;
  if (cb !== null) callGuarded(net, () => cb(err));
}

/** Options of one echo request. */
export interface PingSendOptions {
  /** TTL of this request; default the socket's (IP_TTL), else `ip_default_ttl`. */
  readonly ttl?: number;
  /** TOS byte. */
  readonly tos?: number;
}

/**
 * `ping_v4_sendmsg`: sends an echo request with the socket's identifier, sequence number `seq`
 * and `payload`, to `daddr` (u32). Binds the socket first when it has no identifier. Returns the
 * bytes of ICMP sent (header + payload) or a negative errno: `-ENETUNREACH` (no route),
 * `-EACCES` (a broadcast without SO_BROADCAST), `-EMSGSIZE` (DF and bigger than the MTU).
 * @see net/ipv4/ping.c ping_v4_sendmsg()
 */
export function pingV4Sendmsg(
  sk: PingSock,
  daddr: number,
  payload: Uint8Array,
  seq: number,
  opts: PingSendOptions = {},
): number {
  const net = sk.net;
  const ns = nsOf(net);
  if (sk.ident === 0) {
    const err = pingGetPort(sk, 0);
    if (err < 0) return err;
  }
  const len = ICMPHDR.LEN + payload.length;
  if (len + IPHDR.MIN_LEN > 0xffff) return -ERRNO.EMSGSIZE;
  const r = ipRouteOutputKey(net, { daddr, saddr: sk.rcvSaddr, oif: sk.boundDevIf });
  if (typeof r === "number") {
    ipv4Net(net).mib.IpOutNoRoutes++;
    return r;
  }
  if (r.rt.rtType === RTN.BROADCAST && !sk.broadcast) return -ERRNO.EACCES;
  // __ip_append_data: with IP_PMTUDISC_DO nothing bigger than the MTU leaves ("local error:
  // message too long").
  if (sk.pmtudiscDo && len + IPHDR.MIN_LEN > r.rt.mtu) return -ERRNO.EMSGSIZE;
  const skb = allocSkb(NET_SKB_PAD + IPHDR.MAX_LEN + len);
  skb.reserve(NET_SKB_PAD + IPHDR.MAX_LEN);
  const o = skb.put(len);
  const b = skb.head;
  setIcmpType(b, o, ICMP_TYPE.ECHO);
  setIcmpCode(b, o, 0);
  setIcmpEchoId(b, o, sk.ident);
  setIcmpEchoSeq(b, o, seq & 0xffff);
  b.set(payload, o + ICMPHDR.LEN);
  icmpFillChecksum(b, o, len);
  skb.resetTransportHeader();
  skb.dst = r.rt;
  icmpMsgOut(ns.mib, ns.msgMib, icmpType(b, o));
  const ret = ipBuildAndSendPkt(
    skb,
    net,
    r.saddr,
    daddr,
    IPPROTO_ICMP,
    {
      df: sk.pmtudiscDo,
      ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
      ...(opts.tos !== undefined ? { tos: opts.tos } : {}),
    },
    sk,
  );
  return ret < 0 ? ret : len;
}

/** Parses a dotted quad or throws EINVAL. */
function addrOf(text: string, what: string): number {
  const a = typeof text === "string" ? inetAton(text) : null;
  if (a === null)
    throw errnoError(ERRNO.EINVAL, `${what} ${JSON.stringify(text)} is not an IPv4 address`);
  return a;
}

/**
 * A ping socket, as an application holds it (`socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)`):
 *
 * ```ts
 * const s = new PingSocket(stack);
 * s.onMessage = (m) => console.log(`${m.data.length} bytes from ${m.from}: icmp_seq=${m.seq} ttl=${m.ttl}`);
 * s.sendto("127.0.0.1", new Uint8Array(56), 1);
 * ```
 * Errors of the calls are thrown as {@link ErrnoError}s; ICMP errors about sent requests arrive
 * as {@link PingError}s on `onError`.
 */
export class PingSocket {
  readonly sk: PingSock;
  private closed = false;

  constructor(stack: Stack) {
    nsOf(stack);
    this.sk = new PingSock(stack);
  }

  /** The echo identifier (0 until bound or first used). */
  get ident(): number {
    return this.sk.ident;
  }

  /** Called for each echo reply. */
  get onMessage(): ((msg: PingMessage) => void) | null {
    return this.sk.onMessage;
  }
  set onMessage(fn: ((msg: PingMessage) => void) | null) {
    this.sk.onMessage = fn;
  }

  /** Called for each ICMP error about a request this socket sent. */
  get onError(): ((err: PingError) => void) | null {
    return this.sk.onError;
  }
  set onError(fn: ((err: PingError) => void) | null) {
    this.sk.onError = fn;
  }

  /** IP_TTL: the TTL of requests (-1: `ip_default_ttl`). */
  get ttl(): number {
    return this.sk.ttl;
  }
  set ttl(v: number) {
    if (!Number.isInteger(v) || (v !== -1 && (v < 1 || v > 255)))
      throw errnoError(ERRNO.EINVAL, `TTL ${v} is not 1..255`);
    this.sk.ttl = v;
  }

  /** IP_MTU_DISCOVER = IP_PMTUDISC_DO: set DF and refuse requests bigger than the MTU. */
  get dontFragment(): boolean {
    return this.sk.pmtudiscDo;
  }
  set dontFragment(v: boolean) {
    this.sk.pmtudiscDo = v;
  }

  /** SO_BROADCAST. */
  get broadcast(): boolean {
    return this.sk.broadcast;
  }
  set broadcast(v: boolean) {
    this.sk.broadcast = v;
  }

  /** The last error (`SO_ERROR`), a positive errno or 0; reading clears it. */
  takeError(): number {
    const e = this.sk.err;
    this.sk.err = 0;
    return e;
  }

  /**
   * `ping_bind` (+ `ping_get_port`): binds to a local address (`0.0.0.0` or omitted: any) and an
   * identifier (0 or omitted: the next free one).
   * @throws ErrnoError EADDRNOTAVAIL (the address is not ours), EADDRINUSE (identifier taken),
   *   EINVAL (already bound)
   * @see net/ipv4/ping.c ping_bind()
   */
  bind(address = "0.0.0.0", ident = 0): void {
    this.checkOpen();
    const sk = this.sk;
    if (sk.ident !== 0) throw errnoError(ERRNO.EINVAL, "the socket is already bound");
    if (!Number.isInteger(ident) || ident < 0 || ident > 0xffff)
      throw errnoError(ERRNO.EINVAL, `identifier ${ident} is not 0..65535`);
    const a = addrOf(address, "address");
    if (a !== 0 && !ipv4Net(sk.net).isLocal(a))
      throw errnoError(
        ERRNO.EADDRNOTAVAIL,
        `${address} is not an address of stack '${sk.net.name}'`,
        "bind",
      );
    sk.rcvSaddr = a;
    const err = pingGetPort(sk, ident);
    if (err < 0) {
      sk.rcvSaddr = 0;
      throw errnoError(-err, undefined, "bind");
    }
  }

  /**
   * Sends an echo request to `dst` with sequence number `seq` and `payload` as its data.
   * Returns the bytes of ICMP sent.
   * @throws ErrnoError ENETUNREACH (no route), EMSGSIZE, EACCES, EINVAL
   */
  sendto(dst: string, payload: Uint8Array, seq: number, opts: PingSendOptions = {}): number {
    this.checkOpen();
    const daddr = addrOf(dst, "destination");
    const r = pingV4Sendmsg(this.sk, daddr, payload, seq, opts);
    if (r === -ERRNO.EMSGSIZE)
      throw errnoError(ERRNO.EMSGSIZE, "local error: message too long", "sendto");
    if (r < 0) throw errnoError(-r, undefined, "sendto");
    return r;
  }

  /** The next queued reply when `onMessage` is not set, or null. */
  recv(): PingMessage | null {
    const m = this.sk.pending.shift() ?? null;
    if (m !== null) this.sk.rmemAlloc -= m.data.length + ICMPHDR.LEN;
    return m;
  }

  /** `ping_close`: frees the identifier; nothing more is delivered. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    pingUnhash(this.sk);
    this.sk.onMessage = null;
    this.sk.onError = null;
    this.sk.pending.length = 0;
    this.sk.rmemAlloc = 0;
  }

  private checkOpen(): void {
    if (this.closed) throw errnoError(ERRNO.EBADF, "the socket is closed");
  }
}

/**
 * `ping_rcv`: delivers an echo reply to the ping socket with its echo id, or says why not.
 * @see net/ipv4/ping.c ping_rcv()
 */
export const pingRcv = traceable("ping_rcv", pingRcvImpl);
