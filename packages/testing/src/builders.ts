/**
 * Packets from readable descriptions: {@link ipv4Packet} wraps a transport built by
 * {@link tcpSegment}, {@link udpDatagram}, {@link icmpEcho} or {@link icmpError} (or raw bytes)
 * and returns the bytes of the datagram, every checksum filled in.
 *
 * ```ts
 * const syn = ipv4Packet({
 *   src: "192.0.2.2", dst: "192.0.2.1",
 *   inner: tcpSegment({ sport: 40000, dport: 80, seq: 1000, flags: "S",
 *                       options: [{ kind: "mss", value: 1460 }, "nop", { kind: "wscale", value: 7 }] }),
 * });
 * ```
 *
 * A transport builder is finalized lazily: TCP and UDP checksums cover the IPv4 pseudo-header
 * (RFC 9293 3.1, RFC 768), so {@link ipv4Packet} calls {@link TransportBuilder.build} with its
 * addresses once it knows them.
 * @packageDocumentation
 */
import { inetAton, ipFastCsum } from "@skbuff/core";
import { ICMP_TYPE, type IcmpRepr, icmpBufferLen, icmpEmit, setIcmpChecksum } from "@skbuff/icmp";
import { IP_DF, IP_MF, ipv4Emit, setIpCheck } from "@skbuff/ipv4";
import {
  IPPROTO_TCP,
  setTcpCheck,
  type TcpOption,
  type TcpRepr,
  tcpBufferLen,
  tcpEmit,
  tcpFillChecksum,
  tcpHeaderLen,
} from "@skbuff/tcp";
import { tcpFlagsFromLetters } from "./names.js";
import {
  IPPROTO_UDP,
  setUdpCheck,
  type UdpRepr,
  udpBufferLen,
  udpEmit,
  udpFillChecksum,
} from "./wire/udp.js";

/** IP protocol number of ICMP (`IPPROTO_ICMP`). */
const IPPROTO_ICMP = 1;

/** Bytes, or text sent as its UTF-8 encoding. */
export type PayloadInput = Uint8Array | string;

/** The addresses of the IPv4 pseudo-header a transport checksum covers. */
export interface PseudoHeader {
  readonly src: string;
  readonly dst: string;
}

/**
 * A transport message waiting for its IP header: what {@link tcpSegment}, {@link udpDatagram},
 * {@link icmpEcho} and {@link icmpError} return, and what {@link ipv4Packet} takes as `inner`.
 */
export interface TransportBuilder {
  /** The IP protocol number (6, 17, 1). */
  readonly protocol: number;
  /** `TCP`, `UDP` or `ICMP`, for messages. */
  readonly name: string;
  /**
   * The message's bytes. TCP and UDP checksums are computed over the pseudo-header of `addrs`;
   * without `addrs` they are left zero (for UDP: "no checksum"). A checksum given to the builder
   * is written as it is, in every case.
   */
  build(addrs?: PseudoHeader): Uint8Array;
}

/** Dotted quad to u32, or a TypeError naming what was wrong. */
function addr(text: string, what: string): number {
  const a = inetAton(text);
  if (a === null) throw new TypeError(`${what}: ${JSON.stringify(text)} is not an IPv4 address`);
  return a;
}

function bytesOf(p: PayloadInput | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  return typeof p === "string" ? new TextEncoder().encode(p) : p;
}

function checkUint(name: string, v: number, bits: 8 | 16 | 32): void {
  const max = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  if (!Number.isInteger(v) || v < 0 || v > max) {
    throw new RangeError(`${name}: ${v} is not an integer from 0 to ${max}`);
  }
}

// --- IPv4 --------------------------------------------------------------------------------------

/** What {@link ipv4Packet} builds a datagram from. */
export interface Ipv4PacketOptions {
  readonly src: string;
  readonly dst: string;
  /** Default 64. */
  readonly ttl?: number;
  /** Identification, default 0. */
  readonly id?: number;
  /** Type of service byte (DSCP and ECN), default 0. */
  readonly tos?: number;
  /** Don't Fragment, default false. */
  readonly df?: boolean;
  /** More Fragments, default false. */
  readonly mf?: boolean;
  /** Fragment offset in bytes (a multiple of 8), default 0. */
  readonly fragOffset?: number;
  /** The protocol number; default that of `inner`. Needed with `payload`. */
  readonly protocol?: number;
  /** Option bytes, padded with zeros (End of Option List) to a multiple of 4; at most 40. */
  readonly options?: Uint8Array | readonly number[];
  /** The bytes after the header, as they are. Give this or `inner`. */
  readonly payload?: PayloadInput;
  /** A transport message, finalized with this datagram's addresses. Give this or `payload`. */
  readonly inner?: TransportBuilder;
  /** Total length to write instead of the real one (to build malformed packets). */
  readonly totalLength?: number;
  /** Header checksum to write instead of the right one (to build corrupt packets). */
  readonly checksum?: number;
}

/**
 * The bytes of an IPv4 datagram (RFC 791 3.1). The header checksum is computed unless
 * `checksum` is given; the transport is built from `inner` with this header's addresses.
 * @throws TypeError or RangeError for a description that cannot be built (a bad address, both
 *   or neither of `payload` and `inner` with no protocol, options over 40 bytes)
 */
export function ipv4Packet(o: Ipv4PacketOptions): Uint8Array {
  const saddr = addr(o.src, "ipv4Packet src");
  const daddr = addr(o.dst, "ipv4Packet dst");
  if (o.inner !== undefined && o.payload !== undefined) {
    throw new TypeError("ipv4Packet: give either payload or inner, not both");
  }
  const protocol = o.protocol ?? o.inner?.protocol;
  if (protocol === undefined) {
    throw new TypeError("ipv4Packet: give inner (a transport builder), or payload and protocol");
  }
  const body =
    o.inner !== undefined ? o.inner.build({ src: o.src, dst: o.dst }) : bytesOf(o.payload);
  const raw = o.options === undefined ? new Uint8Array(0) : Uint8Array.from(o.options);
  const options = new Uint8Array((raw.length + 3) & ~3);
  options.set(raw);
  if (options.length > 40) {
    throw new RangeError(`ipv4Packet: ${raw.length} bytes of options (at most 40)`);
  }
  const fragOffset = o.fragOffset ?? 0;
  if (fragOffset % 8 !== 0 || fragOffset < 0 || fragOffset > 0x1fff * 8) {
    throw new RangeError(`ipv4Packet fragOffset: ${fragOffset} is not a multiple of 8 up to 65528`);
  }
  const hlen = 20 + options.length;
  const ttl = o.ttl ?? 64;
  const id = o.id ?? 0;
  const tos = o.tos ?? 0;
  checkUint("ipv4Packet ttl", ttl, 8);
  checkUint("ipv4Packet id", id, 16);
  checkUint("ipv4Packet tos", tos, 8);
  checkUint("ipv4Packet protocol", protocol, 8);
  const out = new Uint8Array(hlen + body.length);
  ipv4Emit(
    {
      tos,
      totLen: o.totalLength ?? out.length,
      id,
      fragOff: (o.df ? IP_DF : 0) | (o.mf ? IP_MF : 0) | (fragOffset >> 3),
      ttl,
      protocol,
      saddr,
      daddr,
      ...(options.length > 0 ? { options } : {}),
    },
    out,
    0,
    ipFastCsum,
  );
  if (o.checksum !== undefined) setIpCheck(out, 0, o.checksum);
  out.set(body, hlen);
  return out;
}

// --- ICMP --------------------------------------------------------------------------------------

function icmpBuilder(repr: IcmpRepr, checksum: number | undefined): TransportBuilder {
  return {
    protocol: IPPROTO_ICMP,
    name: "ICMP",
    build() {
      const b = new Uint8Array(icmpBufferLen(repr));
      icmpEmit(repr, b, 0);
      if (checksum !== undefined) setIcmpChecksum(b, 0, checksum);
      return b;
    },
  };
}

/** What {@link icmpEcho} builds a message from. */
export interface IcmpEchoOptions {
  readonly id: number;
  readonly seq: number;
  readonly payload?: PayloadInput;
  /** An echo reply (type 0) instead of a request (type 8). */
  readonly reply?: boolean;
  /** Checksum to write instead of the right one. */
  readonly checksum?: number;
}

/** An ICMP echo request (or, with `reply`, an echo reply), RFC 792. */
export function icmpEcho(o: IcmpEchoOptions): TransportBuilder {
  checkUint("icmpEcho id", o.id, 16);
  checkUint("icmpEcho seq", o.seq, 16);
  return icmpBuilder(
    {
      kind: o.reply ? "echo-reply" : "echo-request",
      id: o.id,
      seq: o.seq,
      data: bytesOf(o.payload),
    },
    o.checksum,
  );
}

/** What {@link icmpError} builds a message from. */
export interface IcmpErrorOptions {
  /** 3 destination unreachable, 11 time exceeded, 12 parameter problem, 4, 5, … */
  readonly type: number;
  readonly code: number;
  /**
   * The offending datagram, from its IP header on, as much of it as should be quoted (RFC 792:
   * "the internet header plus the first 64 bits of the original datagram's data").
   */
  readonly quote: Uint8Array;
  /** Next-hop MTU of a "fragmentation needed" (RFC 1191). */
  readonly mtu?: number;
  /** The octet a parameter problem points at. */
  readonly pointer?: number;
  /** Checksum to write instead of the right one. */
  readonly checksum?: number;
}

/** An ICMP error message quoting a datagram (RFC 792). */
export function icmpError(o: IcmpErrorOptions): TransportBuilder {
  checkUint("icmpError type", o.type, 8);
  checkUint("icmpError code", o.code, 8);
  const data = o.quote;
  let repr: IcmpRepr;
  switch (o.type) {
    case ICMP_TYPE.DEST_UNREACH:
      repr = { kind: "dest-unreach", code: o.code, mtu: o.mtu ?? 0, data };
      break;
    case ICMP_TYPE.TIME_EXCEEDED:
      repr = { kind: "time-exceeded", code: o.code, data };
      break;
    case ICMP_TYPE.PARAMETERPROB:
      repr = { kind: "param-problem", code: o.code, pointer: o.pointer ?? 0, data };
      break;
    default:
      repr = { kind: "other", type: o.type, code: o.code, rest: 0, data };
  }
  return icmpBuilder(repr, o.checksum);
}

// --- UDP ---------------------------------------------------------------------------------------

/** What {@link udpDatagram} builds a datagram from. */
export interface UdpDatagramOptions {
  readonly sport: number;
  readonly dport: number;
  readonly payload?: PayloadInput;
  /** Checksum to write instead of the right one; `0` sends none (RFC 768). */
  readonly checksum?: number;
}

/** A UDP datagram (RFC 768), its checksum computed over the IPv4 pseudo-header. */
export function udpDatagram(o: UdpDatagramOptions): TransportBuilder {
  checkUint("udpDatagram sport", o.sport, 16);
  checkUint("udpDatagram dport", o.dport, 16);
  const repr: UdpRepr = { srcPort: o.sport, dstPort: o.dport, payload: bytesOf(o.payload) };
  return {
    protocol: IPPROTO_UDP,
    name: "UDP",
    build(addrs) {
      const b = new Uint8Array(udpBufferLen(repr));
      udpEmit(repr, b, 0);
      if (o.checksum !== undefined) {
        setUdpCheck(b, 0, o.checksum);
      } else if (addrs !== undefined) {
        const s = addr(addrs.src, "udpDatagram src");
        const d = addr(addrs.dst, "udpDatagram dst");
        udpFillChecksum(b, 0, b.length, s, d);
      }
      return b;
    },
  };
}

// --- TCP ---------------------------------------------------------------------------------------

/** A TCP option, as {@link tcpSegment} takes it. */
export type TcpOptionInput =
  | "nop"
  | "eol"
  | "sackOK"
  | { readonly kind: "mss"; readonly value: number }
  | { readonly kind: "wscale"; readonly value: number }
  | { readonly kind: "sackOK" }
  | { readonly kind: "ts"; readonly val: number; readonly ecr: number }
  | { readonly kind: "sack"; readonly blocks: readonly (readonly [number, number])[] }
  /** Any option kind with its data, for malformed or unusual options. */
  | { readonly kind: "raw"; readonly type: number; readonly data?: Uint8Array };

function tcpOption(opt: TcpOptionInput): TcpOption {
  if (typeof opt === "string") return { kind: opt };
  switch (opt.kind) {
    case "mss":
      checkUint("tcpSegment option mss", opt.value, 16);
      return opt;
    case "wscale":
      checkUint("tcpSegment option wscale", opt.value, 8);
      return opt;
    case "ts":
      checkUint("tcpSegment option ts val", opt.val, 32);
      checkUint("tcpSegment option ts ecr", opt.ecr, 32);
      return opt;
    case "raw":
      return { kind: "unknown", type: opt.type, data: opt.data ?? new Uint8Array(0) };
    default:
      return opt;
  }
}

/** What {@link tcpSegment} builds a segment from. */
export interface TcpSegmentOptions {
  readonly sport: number;
  readonly dport: number;
  /** Default 0. */
  readonly seq?: number;
  /** Default 0. */
  readonly ack?: number;
  /**
   * Flag letters (`S`, `SA`, `A`, `PA`, `FA`, `R`, `RA`; `F S R P A U E C` in any order, `.` for
   * ACK as in packetdrill) or the flags byte. Default none.
   */
  readonly flags?: string | number;
  /** Window, default 65535. */
  readonly win?: number;
  /** Urgent pointer, default 0. */
  readonly urg?: number;
  /** In the order given, padded with zeros to a 32-bit boundary. */
  readonly options?: readonly TcpOptionInput[];
  readonly payload?: PayloadInput;
  /** Checksum to write instead of the right one. */
  readonly checksum?: number;
}

/** A TCP segment (RFC 9293 3.1), its checksum computed over the IPv4 pseudo-header. */
export function tcpSegment(o: TcpSegmentOptions): TransportBuilder {
  const flags =
    typeof o.flags === "number"
      ? o.flags
      : o.flags === undefined
        ? 0
        : tcpFlagsFromLetters(o.flags);
  const repr: TcpRepr = {
    srcPort: o.sport,
    dstPort: o.dport,
    seq: o.seq ?? 0,
    ack: o.ack ?? 0,
    flags,
    window: o.win ?? 65535,
    urgent: o.urg ?? 0,
    options: (o.options ?? []).map(tcpOption),
    payload: bytesOf(o.payload),
  };
  checkUint("tcpSegment sport", repr.srcPort, 16);
  checkUint("tcpSegment dport", repr.dstPort, 16);
  checkUint("tcpSegment seq", repr.seq, 32);
  checkUint("tcpSegment ack", repr.ack, 32);
  checkUint("tcpSegment flags", repr.flags, 8);
  checkUint("tcpSegment win", repr.window, 16);
  checkUint("tcpSegment urg", repr.urgent, 16);
  if (tcpHeaderLen(repr) > 60) {
    throw new RangeError(
      `tcpSegment options: ${tcpHeaderLen(repr) - 20} bytes with padding (at most 40)`,
    );
  }
  return {
    protocol: IPPROTO_TCP,
    name: "TCP",
    build(addrs) {
      const b = new Uint8Array(tcpBufferLen(repr));
      tcpEmit(repr, b, 0);
      if (o.checksum !== undefined) {
        setTcpCheck(b, 0, o.checksum);
      } else if (addrs !== undefined) {
        const s = addr(addrs.src, "tcpSegment src");
        const d = addr(addrs.dst, "tcpSegment dst");
        tcpFillChecksum(b, 0, b.length, s, d);
      }
      return b;
    },
  };
}
