/**
 * The ICMP header (RFC 792), as a view over bytes: field offsets, one-line accessors with their
 * setters, and {@link IcmpRepr}, the validated form, with {@link icmpParse} / {@link icmpEmit}.
 * Imports nothing but byte and checksum helpers.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Type      |     Code      |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   echo: Identifier            |   echo: Sequence Number       |
 * |   errors: unused (0)          |   frag needed: Next-Hop MTU   |
 * |   parameter problem: Pointer  |                               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     Data: echo payload, or the offending IP header + 64 bits …
 * ```
 *
 * The rule: after {@link icmpHdrCheckLen} succeeds for `(off, len)`, no accessor can read outside
 * the buffer. Accessors take the buffer and the offset of the ICMP header in it.
 * @see include/uapi/linux/icmp.h
 * @packageDocumentation
 */
import { csumFold, csumPartial, getU16, getU32, setU16, setU32 } from "@skbuff/core";

/** Byte offsets of the header's fields (`struct icmphdr`). */
export const ICMPHDR = {
  TYPE: 0,
  CODE: 1,
  CHECKSUM: 2,
  /** Echo / echo reply / timestamp: identifier (`un.echo.id`). */
  ID: 4,
  /** Echo / echo reply / timestamp: sequence number (`un.echo.sequence`). */
  SEQUENCE: 6,
  /** Redirect: the gateway address (`un.gateway`); the whole second word. */
  GATEWAY: 4,
  /** Errors: the unused word (`un.frag.__unused`). */
  UNUSED: 4,
  /** Destination unreachable, fragmentation needed: next-hop MTU (`un.frag.mtu`, RFC 1191). */
  MTU: 6,
  /** Parameter problem: the pointer, the high byte of the second word. */
  POINTER: 4,
  /** Length of the header (`sizeof(struct icmphdr)`). */
  LEN: 8,
} as const;

/** ICMP types (`ICMP_*`, include/uapi/linux/icmp.h). */
export const ICMP_TYPE = {
  ECHOREPLY: 0,
  DEST_UNREACH: 3,
  SOURCE_QUENCH: 4,
  REDIRECT: 5,
  ECHO: 8,
  TIME_EXCEEDED: 11,
  PARAMETERPROB: 12,
  TIMESTAMP: 13,
  TIMESTAMPREPLY: 14,
  INFO_REQUEST: 15,
  INFO_REPLY: 16,
  ADDRESS: 17,
  ADDRESSREPLY: 18,
} as const;
/** One of {@link ICMP_TYPE}. */
export type IcmpType = (typeof ICMP_TYPE)[keyof typeof ICMP_TYPE];

/** The highest ICMP type Linux knows (`NR_ICMP_TYPES`); anything above is a mystery. */
export const NR_ICMP_TYPES = 18;

/** Codes of destination unreachable (`ICMP_NET_UNREACH` …). */
export const ICMP_UNREACH = {
  NET_UNREACH: 0,
  HOST_UNREACH: 1,
  PROT_UNREACH: 2,
  PORT_UNREACH: 3,
  FRAG_NEEDED: 4,
  SR_FAILED: 5,
  NET_UNKNOWN: 6,
  HOST_UNKNOWN: 7,
  HOST_ISOLATED: 8,
  NET_ANO: 9,
  HOST_ANO: 10,
  NET_UNR_TOS: 11,
  HOST_UNR_TOS: 12,
  PKT_FILTERED: 13,
  PREC_VIOLATION: 14,
  PREC_CUTOFF: 15,
} as const;

/** The highest destination-unreachable code (`NR_ICMP_UNREACH`). */
export const NR_ICMP_UNREACH = 15;

/** Codes of time exceeded. */
export const ICMP_EXC = {
  /** TTL count exceeded in transit. */
  TTL: 0,
  /** Fragment reassembly time exceeded. */
  FRAGTIME: 1,
} as const;

/** Codes of redirect. */
export const ICMP_REDIR = { NET: 0, HOST: 1, NETTOS: 2, HOSTTOS: 3 } as const;

/** Whether a header of `ICMPHDR.LEN` bytes fits at `off` in a buffer of `len` bytes from 0. */
export function icmpHdrCheckLen(off: number, len: number): boolean {
  return off >= 0 && len - off >= ICMPHDR.LEN;
}

export const icmpType = (b: Uint8Array, o: number): number => b[o + ICMPHDR.TYPE]!;
export const icmpCode = (b: Uint8Array, o: number): number => b[o + ICMPHDR.CODE]!;
export const icmpChecksum = (b: Uint8Array, o: number): number => getU16(b, o + ICMPHDR.CHECKSUM);
export const icmpEchoId = (b: Uint8Array, o: number): number => getU16(b, o + ICMPHDR.ID);
export const icmpEchoSeq = (b: Uint8Array, o: number): number => getU16(b, o + ICMPHDR.SEQUENCE);
/** The whole second word (`un.gateway`, host order): redirect gateway, or the `info` of errors. */
export const icmpGateway = (b: Uint8Array, o: number): number => getU32(b, o + ICMPHDR.GATEWAY);
/** The first half of the second word of an error (`un.frag.__unused`). */
export const icmpUnused = (b: Uint8Array, o: number): number => getU16(b, o + ICMPHDR.UNUSED);
export const icmpFragMtu = (b: Uint8Array, o: number): number => getU16(b, o + ICMPHDR.MTU);
export const icmpPointer = (b: Uint8Array, o: number): number => b[o + ICMPHDR.POINTER]!;

export const setIcmpType = (b: Uint8Array, o: number, v: number): void => {
  b[o + ICMPHDR.TYPE] = v;
};
export const setIcmpCode = (b: Uint8Array, o: number, v: number): void => {
  b[o + ICMPHDR.CODE] = v;
};
export const setIcmpChecksum = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + ICMPHDR.CHECKSUM, v);
export const setIcmpEchoId = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + ICMPHDR.ID, v);
export const setIcmpEchoSeq = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + ICMPHDR.SEQUENCE, v);
export const setIcmpGateway = (b: Uint8Array, o: number, v: number): void =>
  setU32(b, o + ICMPHDR.GATEWAY, v);
export const setIcmpUnused = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + ICMPHDR.UNUSED, v);
export const setIcmpFragMtu = (b: Uint8Array, o: number, v: number): void =>
  setU16(b, o + ICMPHDR.MTU, v);
export const setIcmpPointer = (b: Uint8Array, o: number, v: number): void => {
  b[o + ICMPHDR.POINTER] = v;
};

/**
 * The checksum to store in a message of `len` bytes at `o`: the Internet checksum of the whole
 * message with its checksum field taken as zero (RFC 792: "The checksum is the 16-bit ones's
 * complement of the one's complement sum of the ICMP message starting with the ICMP Type.
 * For computing the checksum, the checksum field should be zero.").
 */
export function icmpComputeChecksum(b: Uint8Array, o: number, len: number): number {
  const stored = icmpChecksum(b, o);
  setIcmpChecksum(b, o, 0);
  const sum = csumFold(csumPartial(b, o, len));
  setIcmpChecksum(b, o, stored);
  return sum;
}

/** Fills in the checksum of a message of `len` bytes at `o`. */
export function icmpFillChecksum(b: Uint8Array, o: number, len: number): void {
  setIcmpChecksum(b, o, 0);
  setIcmpChecksum(b, o, csumFold(csumPartial(b, o, len)));
}

/** Whether a message of `len` bytes at `o` carries a correct checksum (it sums to zero). */
export function icmpChecksumValid(b: Uint8Array, o: number, len: number): boolean {
  return csumFold(csumPartial(b, o, len)) === 0;
}

/** Echo request or echo reply. */
export interface IcmpEchoRepr {
  readonly kind: "echo-request" | "echo-reply";
  readonly id: number;
  readonly seq: number;
  readonly data: Uint8Array;
}

/** Destination unreachable; `data` quotes the offending IP header and at least 64 bits more. */
export interface IcmpDestUnreachRepr {
  readonly kind: "dest-unreach";
  readonly code: number;
  /** Next-hop MTU with code `FRAG_NEEDED` (RFC 1191), else 0. */
  readonly mtu: number;
  readonly data: Uint8Array;
}

/** Time exceeded (TTL in transit, or reassembly). */
export interface IcmpTimeExceededRepr {
  readonly kind: "time-exceeded";
  readonly code: number;
  readonly data: Uint8Array;
}

/** Parameter problem; `pointer` is the octet of the quoted header where the error was found. */
export interface IcmpParamProblemRepr {
  readonly kind: "param-problem";
  readonly code: number;
  readonly pointer: number;
  readonly data: Uint8Array;
}

/** Any other message: its type, code and the raw second word. */
export interface IcmpOtherRepr {
  readonly kind: "other";
  readonly type: number;
  readonly code: number;
  /** The second word of the header, host order. */
  readonly rest: number;
  readonly data: Uint8Array;
}

/** The validated, parsed form of an ICMP message (smoltcp's `Icmpv4Repr`). */
export type IcmpRepr =
  | IcmpEchoRepr
  | IcmpDestUnreachRepr
  | IcmpTimeExceededRepr
  | IcmpParamProblemRepr
  | IcmpOtherRepr;

/**
 * Parses the ICMP message of `len` bytes at `o`. Returns null when it is truncated (shorter than
 * its header) or, with `verifyChecksum` (the default), when its checksum is wrong. Never throws on
 * untrusted bytes. `data` is a copy.
 */
export function icmpParse(
  b: Uint8Array,
  o: number,
  len: number,
  verifyChecksum = true,
): IcmpRepr | null {
  if (len < ICMPHDR.LEN || o < 0 || o + len > b.length) return null;
  if (verifyChecksum && !icmpChecksumValid(b, o, len)) return null;
  const type = icmpType(b, o);
  const code = icmpCode(b, o);
  const data = b.slice(o + ICMPHDR.LEN, o + len);
  switch (type) {
    case ICMP_TYPE.ECHO:
    case ICMP_TYPE.ECHOREPLY:
      if (code !== 0) break;
      return {
        kind: type === ICMP_TYPE.ECHO ? "echo-request" : "echo-reply",
        id: icmpEchoId(b, o),
        seq: icmpEchoSeq(b, o),
        data,
      };
    case ICMP_TYPE.DEST_UNREACH:
      return {
        kind: "dest-unreach",
        code,
        mtu: code === ICMP_UNREACH.FRAG_NEEDED ? icmpFragMtu(b, o) : 0,
        data,
      };
    case ICMP_TYPE.TIME_EXCEEDED:
      return { kind: "time-exceeded", code, data };
    case ICMP_TYPE.PARAMETERPROB:
      return { kind: "param-problem", code, pointer: icmpPointer(b, o), data };
  }
  return { kind: "other", type, code, rest: icmpGateway(b, o), data };
}

/** Bytes the message of `r` takes. */
export function icmpBufferLen(r: IcmpRepr): number {
  return ICMPHDR.LEN + r.data.length;
}

/** Writes `r` at `o` (the buffer must hold {@link icmpBufferLen} bytes there), checksum included. */
export function icmpEmit(r: IcmpRepr, b: Uint8Array, o: number): void {
  setIcmpGateway(b, o, 0);
  switch (r.kind) {
    case "echo-request":
    case "echo-reply":
      setIcmpType(b, o, r.kind === "echo-request" ? ICMP_TYPE.ECHO : ICMP_TYPE.ECHOREPLY);
      setIcmpCode(b, o, 0);
      setIcmpEchoId(b, o, r.id);
      setIcmpEchoSeq(b, o, r.seq);
      break;
    case "dest-unreach":
      setIcmpType(b, o, ICMP_TYPE.DEST_UNREACH);
      setIcmpCode(b, o, r.code);
      setIcmpFragMtu(b, o, r.mtu);
      break;
    case "time-exceeded":
      setIcmpType(b, o, ICMP_TYPE.TIME_EXCEEDED);
      setIcmpCode(b, o, r.code);
      break;
    case "param-problem":
      setIcmpType(b, o, ICMP_TYPE.PARAMETERPROB);
      setIcmpCode(b, o, r.code);
      setIcmpPointer(b, o, r.pointer);
      break;
    case "other":
      setIcmpType(b, o, r.type);
      setIcmpCode(b, o, r.code);
      setIcmpGateway(b, o, r.rest);
      break;
  }
  b.set(r.data, o + ICMPHDR.LEN);
  icmpFillChecksum(b, o, ICMPHDR.LEN + r.data.length);
}
