/**
 * The TCP header (RFC 9293 3.1), as a view over bytes: field offsets, one-line accessors with
 * their setters, the options (RFC 9293 3.2, RFC 7323, RFC 2018) and {@link TcpRepr}, the
 * validated form, with {@link tcpParse} / {@link tcpEmit}. Imports nothing but byte and checksum
 * helpers, so it can move to `@skbuff/tcp` unchanged.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |
 * |                    Acknowledgment Number                      |
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * |       |       |R|E|G|K|H|T|N|N|                               |
 * |           Checksum            |         Urgent Pointer        |
 * |                           [Options]                           |
 * ```
 *
 * The rule: after {@link tcpHdrCheckLen} succeeds for `(off, len)`, no accessor can read outside
 * the buffer. Accessors take the buffer and the offset of the TCP header in it.
 * @see include/uapi/linux/tcp.h struct tcphdr
 * @packageDocumentation
 */
import { csumPartial, csumTcpudpMagic, getU16, getU32, setU16, setU32 } from "@skbuff/core";

/** Byte offsets of the header's fields (`struct tcphdr`). */
export const TCPHDR = {
  SOURCE: 0,
  DEST: 2,
  SEQ: 4,
  ACK_SEQ: 8,
  /** Data offset (high 4 bits) and reserved bits. */
  DOFF: 12,
  /** CWR ECE URG ACK PSH RST SYN FIN. */
  FLAGS: 13,
  WINDOW: 14,
  CHECK: 16,
  URG_PTR: 18,
  /** Length of a header without options. */
  MIN_LEN: 20,
  /** Largest header (data offset 15). */
  MAX_LEN: 60,
} as const;

/** IP protocol number of TCP (`IPPROTO_TCP`). */
export const IPPROTO_TCP = 6;

/** Flag bits of the flags byte (`TCPHDR_*`, include/net/tcp.h). */
export const TCP_FLAG = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/** Option kinds (`TCPOPT_*`, include/net/tcp.h). */
export const TCPOPT = {
  EOL: 0,
  NOP: 1,
  MSS: 2,
  WINDOW: 3,
  SACK_PERM: 4,
  SACK: 5,
  TIMESTAMP: 8,
} as const;

/** Option lengths (`TCPOLEN_*`), kind and length bytes included. */
export const TCPOLEN = {
  MSS: 4,
  WINDOW: 3,
  SACK_PERM: 2,
  TIMESTAMP: 10,
  /** Length of the kind and length bytes of a SACK option; each block adds 8. */
  SACK_BASE: 2,
  SACK_PERBLOCK: 8,
} as const;

/**
 * Whether a segment of `len` bytes at `off` in `b` holds a whole header: the fixed 20 bytes,
 * then a data offset of at least 5 words that does not run past the segment.
 */
export function tcpHdrCheckLen(b: Uint8Array, off: number, len: number): boolean {
  if (off < 0 || len < TCPHDR.MIN_LEN || off + len > b.length) return false;
  const doff = tcpDoff(b, off) * 4;
  return doff >= TCPHDR.MIN_LEN && doff <= len;
}

export const tcpSource = (b: Uint8Array, o: number): number => getU16(b, o + TCPHDR.SOURCE);
export const tcpDest = (b: Uint8Array, o: number): number => getU16(b, o + TCPHDR.DEST);
export const tcpSeq = (b: Uint8Array, o: number): number => getU32(b, o + TCPHDR.SEQ);
export const tcpAckSeq = (b: Uint8Array, o: number): number => getU32(b, o + TCPHDR.ACK_SEQ);
/** Header length in 32-bit words. */
export const tcpDoff = (b: Uint8Array, o: number): number => b[o + TCPHDR.DOFF]! >> 4;
/** The flags byte (`tcp_flag_byte`). */
export const tcpFlags = (b: Uint8Array, o: number): number => b[o + TCPHDR.FLAGS]!;
export const tcpWindow = (b: Uint8Array, o: number): number => getU16(b, o + TCPHDR.WINDOW);
export const tcpCheck = (b: Uint8Array, o: number): number => getU16(b, o + TCPHDR.CHECK);
export const tcpUrgPtr = (b: Uint8Array, o: number): number => getU16(b, o + TCPHDR.URG_PTR);

export const setTcpSource = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + TCPHDR.SOURCE, v);
export const setTcpDest = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + TCPHDR.DEST, v);
export const setTcpSeq = (b: Uint8Array, o: number, v: number): void =>
  setU32(b, o + TCPHDR.SEQ, v);
export const setTcpAckSeq = (b: Uint8Array, o: number, v: number): void =>
  setU32(b, o + TCPHDR.ACK_SEQ, v);
/** Sets the data offset (in 32-bit words); the reserved bits become zero. */
export const setTcpDoff = (b: Uint8Array, o: number, words: number): void => {
  b[o + TCPHDR.DOFF] = (words & 0x0f) << 4;
};
export const setTcpFlags = (b: Uint8Array, o: number, v: number): void => {
  b[o + TCPHDR.FLAGS] = v;
};
export const setTcpWindow = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + TCPHDR.WINDOW, v);
export const setTcpCheck = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + TCPHDR.CHECK, v);
export const setTcpUrgPtr = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + TCPHDR.URG_PTR, v);

/**
 * The checksum of a segment of `len` bytes at `o` sent from `saddr` to `daddr` (u32 addresses),
 * over the IPv4 pseudo-header, with the checksum field taken as zero (RFC 9293 3.1: "The
 * checksum field is the 16-bit ones' complement of the ones' complement sum of all 16-bit words
 * in the header and text. … While computing the checksum, the checksum field itself is replaced
 * with zeros.").
 */
export function tcpComputeChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): number {
  const stored = tcpCheck(b, o);
  setTcpCheck(b, o, 0);
  const sum = csumTcpudpMagic(saddr, daddr, len, IPPROTO_TCP, csumPartial(b, o, len));
  setTcpCheck(b, o, stored);
  return sum;
}

/** Fills in the checksum of a segment of `len` bytes at `o` (see {@link tcpComputeChecksum}). */
export function tcpFillChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): void {
  setTcpCheck(b, o, tcpComputeChecksum(b, o, len, saddr, daddr));
}

/** Whether a segment of `len` bytes at `o` carries a correct checksum (it sums to zero). */
export function tcpVerifyChecksum(
  b: Uint8Array,
  o: number,
  len: number,
  saddr: number,
  daddr: number,
): boolean {
  return csumTcpudpMagic(saddr, daddr, len, IPPROTO_TCP, csumPartial(b, o, len)) === 0;
}

/** One TCP option, parsed. */
export type TcpOption =
  /** RFC 9293 3.2: "End of Option List". */
  | { readonly kind: "eol" }
  /** RFC 9293 3.2: "No-Operation". */
  | { readonly kind: "nop" }
  /** RFC 9293 3.7.1: Maximum Segment Size. */
  | { readonly kind: "mss"; readonly value: number }
  /** RFC 7323 2.2: Window Scale (the shift count). */
  | { readonly kind: "wscale"; readonly value: number }
  /** RFC 2018 2: SACK-Permitted. */
  | { readonly kind: "sackOK" }
  /** RFC 2018 3: SACK blocks, `[left, right)` edges. */
  | { readonly kind: "sack"; readonly blocks: readonly (readonly [number, number])[] }
  /** RFC 7323 3.2: Timestamps (TSval, TSecr). */
  | { readonly kind: "ts"; readonly val: number; readonly ecr: number }
  /** Any other kind, with its data (the bytes after kind and length). */
  | { readonly kind: "unknown"; readonly type: number; readonly data: Uint8Array };

/** The name of an option's kind: `mss`, `nop`, … */
export type TcpOptionName = TcpOption["kind"] | `opt-${number}`;

/**
 * Parses the options in `b[o .. end)` (the bytes after the fixed header up to the data offset).
 * Returns null when an option is malformed: a length byte missing, below 2, running past the
 * end, or wrong for a known kind (RFC 9293 3.2: "a TCP implementation MUST be prepared to handle
 * an illegal option length (e.g., zero)"). Parsing stops at EOL, which is kept in the list.
 */
export function tcpParseOptions(b: Uint8Array, o: number, end: number): TcpOption[] | null {
  const out: TcpOption[] = [];
  let i = o;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT.EOL) {
      out.push({ kind: "eol" });
      break;
    }
    if (kind === TCPOPT.NOP) {
      out.push({ kind: "nop" });
      i++;
      continue;
    }
    if (i + 1 >= end) return null;
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return null;
    switch (kind) {
      case TCPOPT.MSS:
        if (len !== TCPOLEN.MSS) return null;
        out.push({ kind: "mss", value: getU16(b, i + 2) });
        break;
      case TCPOPT.WINDOW:
        if (len !== TCPOLEN.WINDOW) return null;
        out.push({ kind: "wscale", value: b[i + 2]! });
        break;
      case TCPOPT.SACK_PERM:
        if (len !== TCPOLEN.SACK_PERM) return null;
        out.push({ kind: "sackOK" });
        break;
      case TCPOPT.TIMESTAMP:
        if (len !== TCPOLEN.TIMESTAMP) return null;
        out.push({ kind: "ts", val: getU32(b, i + 2), ecr: getU32(b, i + 6) });
        break;
      case TCPOPT.SACK: {
        if ((len - TCPOLEN.SACK_BASE) % TCPOLEN.SACK_PERBLOCK !== 0) return null;
        const blocks: [number, number][] = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([getU32(b, j), getU32(b, j + 4)]);
        out.push({ kind: "sack", blocks });
        break;
      }
      default:
        out.push({ kind: "unknown", type: kind, data: b.slice(i + 2, i + len) });
    }
    i += len;
  }
  return out;
}

/** Bytes `opt` takes on the wire. */
export function tcpOptionLen(opt: TcpOption): number {
  switch (opt.kind) {
    case "eol":
    case "nop":
      return 1;
    case "mss":
      return TCPOLEN.MSS;
    case "wscale":
      return TCPOLEN.WINDOW;
    case "sackOK":
      return TCPOLEN.SACK_PERM;
    case "ts":
      return TCPOLEN.TIMESTAMP;
    case "sack":
      return TCPOLEN.SACK_BASE + TCPOLEN.SACK_PERBLOCK * opt.blocks.length;
    case "unknown":
      return 2 + opt.data.length;
  }
}

/** Writes `opt` at `o`; returns the offset after it. */
export function tcpEmitOption(opt: TcpOption, b: Uint8Array, o: number): number {
  switch (opt.kind) {
    case "eol":
      b[o] = TCPOPT.EOL;
      return o + 1;
    case "nop":
      b[o] = TCPOPT.NOP;
      return o + 1;
    case "mss":
      b[o] = TCPOPT.MSS;
      b[o + 1] = TCPOLEN.MSS;
      setU16(b, o + 2, opt.value);
      return o + TCPOLEN.MSS;
    case "wscale":
      b[o] = TCPOPT.WINDOW;
      b[o + 1] = TCPOLEN.WINDOW;
      b[o + 2] = opt.value;
      return o + TCPOLEN.WINDOW;
    case "sackOK":
      b[o] = TCPOPT.SACK_PERM;
      b[o + 1] = TCPOLEN.SACK_PERM;
      return o + TCPOLEN.SACK_PERM;
    case "ts":
      b[o] = TCPOPT.TIMESTAMP;
      b[o + 1] = TCPOLEN.TIMESTAMP;
      setU32(b, o + 2, opt.val);
      setU32(b, o + 6, opt.ecr);
      return o + TCPOLEN.TIMESTAMP;
    case "sack": {
      const len = tcpOptionLen(opt);
      b[o] = TCPOPT.SACK;
      b[o + 1] = len;
      opt.blocks.forEach(([left, right], k) => {
        setU32(b, o + 2 + 8 * k, left);
        setU32(b, o + 6 + 8 * k, right);
      });
      return o + len;
    }
    case "unknown":
      b[o] = opt.type;
      b[o + 1] = 2 + opt.data.length;
      b.set(opt.data, o + 2);
      return o + 2 + opt.data.length;
  }
}

/** The name of an option's kind (`mss`, `nop`, `ts`, …; `opt-N` for unknown kind N). */
export function tcpOptionName(opt: TcpOption): TcpOptionName {
  return opt.kind === "unknown" ? `opt-${opt.type}` : opt.kind;
}

/** The validated, parsed form of a segment (smoltcp's `TcpRepr`). */
export interface TcpRepr {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** The flags byte, {@link TCP_FLAG} bits. */
  readonly flags: number;
  readonly window: number;
  readonly urgent: number;
  readonly options: readonly TcpOption[];
  readonly payload: Uint8Array;
}

/**
 * Parses the segment of `len` bytes at `o`. Returns null when the header does not fit
 * (see {@link tcpHdrCheckLen}) or its options are malformed. The checksum is not verified (it
 * needs the IP addresses: {@link tcpVerifyChecksum}). Never throws on untrusted bytes; `payload`
 * is a copy.
 */
export function tcpParse(b: Uint8Array, o: number, len: number): TcpRepr | null {
  if (!tcpHdrCheckLen(b, o, len)) return null;
  const hlen = tcpDoff(b, o) * 4;
  const options = tcpParseOptions(b, o + TCPHDR.MIN_LEN, o + hlen);
  if (options === null) return null;
  return {
    srcPort: tcpSource(b, o),
    dstPort: tcpDest(b, o),
    seq: tcpSeq(b, o),
    ack: tcpAckSeq(b, o),
    flags: tcpFlags(b, o),
    window: tcpWindow(b, o),
    urgent: tcpUrgPtr(b, o),
    options,
    payload: b.slice(o + hlen, o + len),
  };
}

/**
 * Bytes the header of `r` takes: 20 plus its options, padded to a 32-bit boundary.
 */
export function tcpHeaderLen(r: Pick<TcpRepr, "options">): number {
  let n = TCPHDR.MIN_LEN;
  for (const opt of r.options) n += tcpOptionLen(opt);
  return (n + 3) & ~3;
}

/** Bytes the segment of `r` takes. */
export function tcpBufferLen(r: TcpRepr): number {
  return tcpHeaderLen(r) + r.payload.length;
}

/**
 * Writes `r` at `o` (the buffer must hold {@link tcpBufferLen} bytes there) with a zero
 * checksum; fill it with {@link tcpFillChecksum} once the addresses are known. Options are
 * padded with zeros (RFC 9293 3.1: "The TCP header padding is used to ensure that the TCP
 * header ends, and data begins, on a 32-bit boundary. The padding is composed of zeros.").
 * @throws RangeError when the options do not fit in 40 bytes (a bug in the caller: the data
 *   offset could not describe the header).
 */
export function tcpEmit(r: TcpRepr, b: Uint8Array, o: number): void {
  const hlen = tcpHeaderLen(r);
  if (hlen > TCPHDR.MAX_LEN) {
    throw new RangeError(`tcpEmit: ${hlen - TCPHDR.MIN_LEN} bytes of options (at most 40)`);
  }
  tcpEmitFixed(b, o, r.srcPort, r.dstPort, r.seq, r.ack, hlen, r.flags, r.window);
  setTcpUrgPtr(b, o, r.urgent);
  let i = o + TCPHDR.MIN_LEN;
  for (const opt of r.options) i = tcpEmitOption(opt, b, i);
  b.fill(0, i, o + hlen);
  b.set(r.payload, o + hlen);
}

/*
 * The lower-level emitters below write a header field by field with no intermediate objects:
 * the established-state transmit path (`tcp_options_write`) builds every segment with them.
 */

/** `TCPOLEN_TSTAMP_ALIGNED`: `nop,nop,TS`, 12 bytes. */
export const TCPOLEN_TSTAMP_ALIGNED = 12;
/** `TCPOLEN_SACK_BASE_ALIGNED`: `nop,nop` and the SACK kind and length, 4 bytes. */
export const TCPOLEN_SACK_BASE_ALIGNED = 4;

/**
 * Writes the fixed 20 bytes of a header at `o`: ports, sequence and acknowledgment numbers, the
 * data offset for a header of `hlen` bytes (a multiple of 4, at most 60), the flags byte and the
 * window; checksum and urgent pointer zero.
 */
export function tcpEmitFixed(
  b: Uint8Array,
  o: number,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  hlen: number,
  flags: number,
  window: number,
): void {
  b[o] = srcPort >>> 8;
  b[o + 1] = srcPort;
  b[o + 2] = dstPort >>> 8;
  b[o + 3] = dstPort;
  b[o + 4] = seq >>> 24;
  b[o + 5] = seq >>> 16;
  b[o + 6] = seq >>> 8;
  b[o + 7] = seq;
  b[o + 8] = ack >>> 24;
  b[o + 9] = ack >>> 16;
  b[o + 10] = ack >>> 8;
  b[o + 11] = ack;
  b[o + 12] = (hlen >> 2) << 4;
  b[o + 13] = flags;
  b[o + 14] = window >>> 8;
  b[o + 15] = window;
  b[o + 16] = 0;
  b[o + 17] = 0;
  b[o + 18] = 0;
  b[o + 19] = 0;
}

/**
 * Writes `nop,nop,TS val ecr` (RFC 7323 Appendix A: "the Timestamps option … should be preceded
 * by two NOPs" to align it) at `o`; returns the offset after it.
 */
export function tcpEmitTsAligned(b: Uint8Array, o: number, val: number, ecr: number): number {
  b[o] = TCPOPT.NOP;
  b[o + 1] = TCPOPT.NOP;
  b[o + 2] = TCPOPT.TIMESTAMP;
  b[o + 3] = TCPOLEN.TIMESTAMP;
  setU32(b, o + 4, val);
  setU32(b, o + 8, ecr);
  return o + TCPOLEN_TSTAMP_ALIGNED;
}

/**
 * Writes `nop,nop` and the kind and length of a SACK option of `blocks` blocks at `o`; returns
 * the offset of the first block, to be written with {@link tcpEmitSackBlock}.
 */
export function tcpEmitSackHead(b: Uint8Array, o: number, blocks: number): number {
  b[o] = TCPOPT.NOP;
  b[o + 1] = TCPOPT.NOP;
  b[o + 2] = TCPOPT.SACK;
  b[o + 3] = TCPOLEN.SACK_BASE + TCPOLEN.SACK_PERBLOCK * blocks;
  return o + TCPOLEN_SACK_BASE_ALIGNED;
}

/** Writes one SACK block `[left, right)` at `o`; returns the offset after it. */
export function tcpEmitSackBlock(b: Uint8Array, o: number, left: number, right: number): number {
  setU32(b, o, left);
  setU32(b, o + 4, right);
  return o + TCPOLEN.SACK_PERBLOCK;
}
