/**
 * {@link parsePacket}: an IPv4 datagram as a structured view, down to its transport, and
 * {@link summarizePacket}: the same as one line a person reads (tcpdump-like). Lenient where a
 * checker needs it to be: a datagram shorter than its total length (an ICMP error's quote) still
 * parses, and its transport shows what is there.
 * @packageDocumentation
 */
import { inetNtoa, ipFastCsum } from "@skbuff/core";
import {
  ICMP_TYPE,
  icmpChecksum,
  icmpCode,
  icmpComputeChecksum,
  icmpEchoId,
  icmpEchoSeq,
  icmpGateway,
  icmpType,
} from "@skbuff/icmp";
import {
  IP_DF,
  IP_MF,
  IP_OFFSET,
  ipCheck,
  ipDaddr,
  ipFragOff,
  ipId,
  ipIhl,
  ipProtocol,
  ipSaddr,
  ipTos,
  ipTotLen,
  ipTtl,
  ipVersion,
  setIpCheck,
} from "@skbuff/ipv4";
import {
  IPPROTO_TCP,
  TCP_FLAG,
  TCPHDR,
  type TcpOption,
  tcpAckSeq,
  tcpCheck,
  tcpComputeChecksum,
  tcpDest,
  tcpDoff,
  tcpFlags,
  tcpParseOptions,
  tcpSeq,
  tcpSource,
  tcpUrgPtr,
  tcpWindow,
} from "@skbuff/tcp";
import { icmpCodeName, icmpTypeName, protocolName, tcpFlagsTcpdump } from "./names.js";
import {
  IPPROTO_UDP,
  UDPHDR,
  udpCheck,
  udpComputeChecksum,
  udpDest,
  udpLen,
  udpSource,
} from "./wire/udp.js";

const IPPROTO_ICMP = 1;

/** An IPv4 datagram, parsed. */
export interface Ipv4View {
  readonly layer: "ipv4";
  /** The bytes parsed, from the IP header on. */
  readonly bytes: Uint8Array;
  readonly headerLength: number;
  readonly tos: number;
  readonly totalLength: number;
  readonly id: number;
  readonly df: boolean;
  readonly mf: boolean;
  /** Fragment offset in bytes. */
  readonly fragOffset: number;
  readonly ttl: number;
  readonly protocol: number;
  readonly checksum: number;
  /** Whether the header checksum verifies. */
  readonly checksumValid: boolean;
  /** The checksum the header should carry. */
  readonly checksumExpected: number;
  readonly src: string;
  readonly dst: string;
  /** The option bytes (empty without options). */
  readonly options: Uint8Array;
  /** What follows the header, up to the total length or the end of the bytes. */
  readonly payload: Uint8Array;
  /** The bytes end before the total length says (an ICMP error quotes only the start). */
  readonly truncated: boolean;
  /** The transport message, or an {@link OpaqueView} saying why it was not parsed. */
  readonly transport: TransportView;
}

/** A TCP segment, parsed. */
export interface TcpView {
  readonly layer: "tcp";
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly headerLength: number;
  /** The flags byte. */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  /** Whether the checksum verifies; null when the segment is truncated and it cannot be told. */
  readonly checksumValid: boolean | null;
  /** The checksum the segment should carry (null when truncated). */
  readonly checksumExpected: number | null;
  readonly urgent: number;
  /** The options in order; null when they are malformed. */
  readonly options: readonly TcpOption[] | null;
  readonly payload: Uint8Array;
  readonly truncated: boolean;
}

/** A UDP datagram, parsed. */
export interface UdpView {
  readonly layer: "udp";
  readonly srcPort: number;
  readonly dstPort: number;
  /** The length field. */
  readonly length: number;
  readonly checksum: number;
  /** Whether the checksum verifies (0 is "none" and passes); null when truncated. */
  readonly checksumValid: boolean | null;
  readonly checksumExpected: number | null;
  readonly payload: Uint8Array;
  readonly truncated: boolean;
}

/** An ICMP message, parsed. */
export interface IcmpView {
  readonly layer: "icmp";
  readonly type: number;
  readonly code: number;
  readonly checksum: number;
  /** Whether the checksum verifies; null when the message is truncated. */
  readonly checksumValid: boolean | null;
  readonly checksumExpected: number | null;
  /** The second word of the header. */
  readonly rest: number;
  /** Echo identifier (the high half of `rest`). */
  readonly id: number;
  /** Echo sequence number (the low half of `rest`). */
  readonly seq: number;
  /** What follows the 8-byte header: echo data, or the quoted datagram of an error. */
  readonly payload: Uint8Array;
  /** An error's quoted datagram, parsed; null for other messages or when it is not IPv4. */
  readonly quoted: Ipv4View | null;
  readonly truncated: boolean;
}

/** A transport that was not parsed, and why. */
export interface OpaqueView {
  readonly layer: "opaque";
  readonly protocol: number;
  /** `a fragment`, `a truncated TCP header (8 of 20 bytes)`, `an unknown protocol`, … */
  readonly reason: string;
  readonly bytes: Uint8Array;
}

/** What an IPv4 datagram carries. */
export type TransportView = TcpView | UdpView | IcmpView | OpaqueView;

/** Any layer's view. */
export type PacketView = Ipv4View | TransportView;

/**
 * Why `bytes` is not an IPv4 datagram (too short for its header, another version, an IHL below
 * 5), or null when it is one.
 */
export function notIpv4Reason(bytes: Uint8Array): string | null {
  if (bytes.length < 20) return `${bytes.length} bytes, fewer than an IPv4 header`;
  if (ipVersion(bytes, 0) !== 4) return `IP version ${ipVersion(bytes, 0)}`;
  const ihl = ipIhl(bytes, 0);
  if (ihl < 5) return `an IHL of ${ihl}`;
  if (ihl * 4 > bytes.length) return `${bytes.length} bytes, fewer than its ${ihl * 4}-byte header`;
  return null;
}

/**
 * An IPv4 datagram as a structured view, its transport parsed (TCP, UDP, ICMP; an ICMP error's
 * quote too). Null when `bytes` is not an IPv4 datagram ({@link notIpv4Reason}). Never throws.
 */
export function parsePacket(bytes: Uint8Array): Ipv4View | null {
  if (notIpv4Reason(bytes) !== null) return null;
  const b = bytes;
  const hlen = ipIhl(b, 0) * 4;
  const totalLength = ipTotLen(b, 0);
  const end = Math.min(Math.max(totalLength, hlen), b.length);
  const fragOff = ipFragOff(b, 0);
  const copy = b.slice(0, hlen);
  setIpCheck(copy, 0, 0);
  const checksumExpected = ipFastCsum(copy, 0, hlen >> 2);
  const base = {
    layer: "ipv4" as const,
    bytes,
    headerLength: hlen,
    tos: ipTos(b, 0),
    totalLength,
    id: ipId(b, 0),
    df: (fragOff & IP_DF) !== 0,
    mf: (fragOff & IP_MF) !== 0,
    fragOffset: (fragOff & IP_OFFSET) * 8,
    ttl: ipTtl(b, 0),
    protocol: ipProtocol(b, 0),
    checksum: ipCheck(b, 0),
    checksumValid: ipFastCsum(b, 0, hlen >> 2) === 0,
    checksumExpected,
    src: inetNtoa(ipSaddr(b, 0)),
    dst: inetNtoa(ipDaddr(b, 0)),
    options: b.slice(20, hlen),
    payload: b.slice(hlen, end),
    truncated: b.length < totalLength,
  };
  return { ...base, transport: parseTransport(base, ipSaddr(b, 0), ipDaddr(b, 0)) };
}

function parseTransport(
  ip: Omit<Ipv4View, "transport">,
  saddr: number,
  daddr: number,
): TransportView {
  const p = ip.payload;
  const opaque = (reason: string): OpaqueView => ({
    layer: "opaque",
    protocol: ip.protocol,
    reason,
    bytes: p,
  });
  if (ip.fragOffset !== 0) return opaque("a fragment");
  // A first fragment, or a quote: what is there may be less than the transport's own length.
  const partial = ip.truncated || ip.mf;
  switch (ip.protocol) {
    case IPPROTO_TCP: {
      if (p.length < TCPHDR.MIN_LEN) {
        return opaque(`a truncated TCP header (${p.length} of 20 bytes)`);
      }
      const hlen = tcpDoff(p, 0) * 4;
      if (hlen < TCPHDR.MIN_LEN) return opaque(`a TCP data offset of ${hlen / 4} words`);
      if (hlen > p.length) {
        return opaque(`a truncated TCP header (${p.length} of ${hlen} bytes)`);
      }
      const expected = partial ? null : tcpComputeChecksum(p, 0, p.length, saddr, daddr);
      return {
        layer: "tcp",
        srcPort: tcpSource(p, 0),
        dstPort: tcpDest(p, 0),
        seq: tcpSeq(p, 0),
        ack: tcpAckSeq(p, 0),
        headerLength: hlen,
        flags: tcpFlags(p, 0),
        window: tcpWindow(p, 0),
        checksum: tcpCheck(p, 0),
        checksumValid: expected === null ? null : expected === tcpCheck(p, 0),
        checksumExpected: expected,
        urgent: tcpUrgPtr(p, 0),
        options: tcpParseOptions(p, TCPHDR.MIN_LEN, hlen),
        payload: p.slice(hlen),
        truncated: partial,
      };
    }
    case IPPROTO_UDP: {
      if (p.length < UDPHDR.HLEN) {
        return opaque(`a truncated UDP header (${p.length} of 8 bytes)`);
      }
      const length = udpLen(p, 0);
      const short = partial || length > p.length || length < UDPHDR.HLEN;
      const expected = short ? null : udpComputeChecksum(p, 0, length, saddr, daddr);
      const check = udpCheck(p, 0);
      return {
        layer: "udp",
        srcPort: udpSource(p, 0),
        dstPort: udpDest(p, 0),
        length,
        checksum: check,
        checksumValid: expected === null ? null : check === 0 || check === expected,
        checksumExpected: expected,
        payload: p.slice(UDPHDR.HLEN, Math.max(UDPHDR.HLEN, Math.min(length, p.length))),
        truncated: short,
      };
    }
    case IPPROTO_ICMP: {
      if (p.length < 8) return opaque(`a truncated ICMP header (${p.length} of 8 bytes)`);
      const type = icmpType(p, 0);
      const payload = p.slice(8);
      const isError =
        type === ICMP_TYPE.DEST_UNREACH ||
        type === ICMP_TYPE.SOURCE_QUENCH ||
        type === ICMP_TYPE.REDIRECT ||
        type === ICMP_TYPE.TIME_EXCEEDED ||
        type === ICMP_TYPE.PARAMETERPROB;
      const expected = partial ? null : icmpComputeChecksum(p, 0, p.length);
      const checksum = icmpChecksum(p, 0);
      return {
        layer: "icmp",
        type,
        code: icmpCode(p, 0),
        checksum,
        checksumValid: expected === null ? null : expected === checksum,
        checksumExpected: expected,
        rest: icmpGateway(p, 0),
        id: icmpEchoId(p, 0),
        seq: icmpEchoSeq(p, 0),
        payload,
        quoted: isError ? parsePacket(payload) : null,
        truncated: partial,
      };
    }
    default:
      return opaque(`protocol ${ip.protocol}, which is not parsed`);
  }
}

// --- summary ----------------------------------------------------------------------------------

/** Up to `max` bytes as hex pairs (`45 00 00 54`), with `…` when there are more. */
export function hexBytes(b: Uint8Array, max = 16): string {
  const shown = [...b.subarray(0, max)].map((x) => x.toString(16).padStart(2, "0")).join(" ");
  return b.length > max ? `${shown} …` : shown;
}

/** A TCP option as tcpdump prints it: `mss 1460`, `nop`, `wscale 7`, `TS val 1 ecr 0`, … */
export function formatTcpOption(opt: TcpOption): string {
  switch (opt.kind) {
    case "mss":
      return `mss ${opt.value}`;
    case "wscale":
      return `wscale ${opt.value}`;
    case "ts":
      return `TS val ${opt.val} ecr ${opt.ecr}`;
    case "sack":
      return `sack ${opt.blocks.length} ${opt.blocks.map(([l, r]) => `{${l}:${r}}`).join("")}`;
    case "unknown":
      return `opt-${opt.type}${opt.data.length > 0 ? ` ${hexBytes(opt.data).replace(/ /g, "")}` : ""}`;
    default:
      return opt.kind;
  }
}

/** The options of a segment as tcpdump prints them: `<mss 1460,nop,wscale 7>`. */
export function formatTcpOptions(options: readonly TcpOption[] | null): string {
  if (options === null) return "<malformed options>";
  return `<${options.map(formatTcpOption).join(",")}>`;
}

function summarizeTransport(ip: Ipv4View): string {
  const t = ip.transport;
  switch (t.layer) {
    case "tcp": {
      let s = `TCP ${t.srcPort} > ${t.dstPort} [${tcpFlagsTcpdump(t.flags)}] seq ${t.seq}`;
      if ((t.flags & TCP_FLAG.ACK) !== 0) s += ` ack ${t.ack}`;
      s += ` win ${t.window}`;
      if ((t.flags & TCP_FLAG.URG) !== 0 || t.urgent !== 0) s += ` urg ${t.urgent}`;
      if (t.options === null || t.options.length > 0) s += ` ${formatTcpOptions(t.options)}`;
      if (t.payload.length > 0) s += ` length ${t.payload.length}`;
      if (t.checksumValid === false) s += " bad-cksum";
      return s;
    }
    case "udp": {
      let s = `UDP ${t.srcPort} > ${t.dstPort} length ${t.length - UDPHDR.HLEN}`;
      if (t.checksumValid === false) s += " bad-cksum";
      return s;
    }
    case "icmp": {
      let s = `ICMP ${icmpTypeName(t.type)}`;
      const codeName = icmpCodeName(t.type, t.code);
      if (codeName !== null) s += ` (${codeName})`;
      else if (t.code !== 0) s += ` code ${t.code}`;
      if (t.type === ICMP_TYPE.ECHO || t.type === ICMP_TYPE.ECHOREPLY) {
        s += ` id ${t.id} seq ${t.seq} length ${t.payload.length}`;
      }
      if (t.type === ICMP_TYPE.DEST_UNREACH && t.code === 4) s += ` mtu ${t.rest & 0xffff}`;
      if (t.type === ICMP_TYPE.PARAMETERPROB) s += ` pointer ${t.rest >>> 24}`;
      if (t.quoted !== null) s += ` [${summarizePacket(t.quoted.bytes)}]`;
      if (t.checksumValid === false) s += " bad-cksum";
      return s;
    }
    case "opaque": {
      const name = protocolName(t.protocol);
      // An unknown protocol needs no reason: it is not parsed, that is all.
      if (name.startsWith("proto ")) return `${name}, ${t.bytes.length} bytes`;
      return `${name}: ${t.reason}, ${t.bytes.length} bytes`;
    }
  }
}

/**
 * One line that says what `bytes` is, tcpdump-like:
 * `IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 1 len 60: TCP 80 > 40000 [S] seq 1000 win 65535 <mss 1460,nop,wscale 7>`.
 * Bytes that are not IPv4 are shown as hex.
 */
export function summarizePacket(bytes: Uint8Array): string {
  const ip = parsePacket(bytes);
  if (ip === null) return `not IPv4 (${notIpv4Reason(bytes)}): ${hexBytes(bytes)}`;
  let s = `IPv4 ${ip.src} > ${ip.dst} ttl ${ip.ttl} id ${ip.id}`;
  if (ip.tos !== 0) s += ` tos 0x${ip.tos.toString(16).padStart(2, "0")}`;
  if (ip.df) s += " DF";
  if (ip.mf) s += " MF";
  if (ip.fragOffset !== 0) s += ` frag ${ip.fragOffset}`;
  if (ip.options.length > 0) s += ` options ${hexBytes(ip.options)}`;
  s += ` len ${ip.totalLength}`;
  if (!ip.checksumValid) s += " bad-cksum";
  return `${s}: ${summarizeTransport(ip)}`;
}
