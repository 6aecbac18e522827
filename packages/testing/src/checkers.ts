/**
 * Packet checkers, nested the way the packet is (gVisor's `checker` package is the model):
 *
 * ```ts
 * expectIpv4(h.nextPacket(), srcAddr("192.0.2.1"), tcp(flags("SA"), dstPort(40000), option.mss(1460)));
 * ```
 *
 * {@link expectIpv4} parses the datagram and runs each checker on it; a transport checker
 * ({@link tcp}, {@link udp}, {@link icmp}) checks the protocol and runs its own checkers on the
 * transport. Every mismatch is collected, and then one {@link PacketCheckError} says where each
 * one is (`IPv4 > TCP > flags: expected SA (SYN|ACK), got S (SYN)`), followed by a one-line
 * summary of the packet. Checksums are checked by default at every layer (see
 * {@link ignoreChecksum}). Nothing here depends on a test runner.
 * @packageDocumentation
 */
import { inetAton } from "@skbuff/core";
import { type TcpOption, type TcpOptionName, tcpOptionName } from "@skbuff/tcp";
import {
  icmpCodeName,
  icmpTypeName,
  protocolName,
  tcpFlagsFromLetters,
  tcpFlagsLetters,
  tcpFlagsNames,
} from "./names.js";
import {
  formatTcpOption,
  formatTcpOptions,
  hexBytes,
  type IcmpView,
  type Ipv4View,
  notIpv4Reason,
  parsePacket,
  summarizePacket,
  type TcpView,
  type UdpView,
} from "./parse.js";

/** One thing that was not as expected. */
export interface Mismatch {
  /** Where, outermost first: `["IPv4", "TCP", "flags"]`. */
  readonly path: readonly string[];
  readonly expected: string;
  readonly got: string;
}

/** The line a mismatch prints as: `IPv4 > TCP > flags: expected SA (SYN|ACK), got S (SYN)`. */
export function formatMismatch(m: Mismatch): string {
  return `${m.path.join(" > ")}: expected ${m.expected}, got ${m.got}`;
}

/**
 * A packet was not what a test expected. `mismatches` lists each difference; the message has
 * one line per mismatch and then `  packet: ` and a summary of the packet.
 */
export class PacketCheckError extends Error {
  readonly mismatches: readonly Mismatch[];
  /** The packet checked, when there was one. */
  readonly packet: Uint8Array | undefined;

  constructor(message: string, mismatches: readonly Mismatch[] = [], packet?: Uint8Array) {
    super(message);
    this.name = new.target.name;
    this.mismatches = mismatches;
    this.packet = packet;
  }
}

/** Where a checker is (its path) and where it reports mismatches. */
export class CheckContext {
  constructor(
    readonly path: readonly string[],
    private readonly sink: Mismatch[],
  ) {}

  /** Records that `field` (under this context's path) was `got` where `expected` was wanted. */
  mismatch(field: string | null, expected: string, got: string): void {
    this.sink.push({ path: field === null ? this.path : [...this.path, field], expected, got });
  }

  /** The context of a nested layer. */
  child(name: string): CheckContext {
    return new CheckContext([...this.path, name], this.sink);
  }
}

/**
 * A check of one layer's view `V`. Checkers that apply to several layers (ports, payload) take
 * a union, and fit wherever any of its members is expected.
 */
export interface Checker<V> {
  /** Records mismatches on `ctx`; never throws on any packet. */
  readonly check: (view: V, ctx: CheckContext) => void;
  /** Marks {@link ignoreChecksum}. */
  readonly skipsDefaultChecksum?: boolean;
}

/** A checker of the IPv4 layer (what {@link expectIpv4} takes). */
export type Ipv4Checker = Checker<Ipv4View>;
/** A checker of a TCP segment (what {@link tcp} takes). */
export type TcpChecker = Checker<TcpView>;
/** A checker of a UDP datagram (what {@link udp} takes). */
export type UdpChecker = Checker<UdpView>;
/** A checker of an ICMP message (what {@link icmp} takes). */
export type IcmpChecker = Checker<IcmpView>;

/** Something holding packet bytes: the bytes, or a harness's transmitted packet. */
export type PacketInput = Uint8Array | { readonly bytes: Uint8Array };

function bytesOfInput(p: PacketInput): Uint8Array {
  return p instanceof Uint8Array ? p : p.bytes;
}

/** Runs `checkers` with a layer's default checksum check first, unless one says to skip it. */
function runLayer<V>(
  view: V,
  ctx: CheckContext,
  checksum: Checker<V>,
  checkers: readonly Checker<V>[],
): void {
  if (!checkers.some((c) => c.skipsDefaultChecksum === true || c === checksum)) {
    checksum.check(view, ctx);
  }
  for (const c of checkers) c.check(view, ctx);
}

/**
 * The mismatches of `packet` against `checkers` (empty when it matches), without throwing: for
 * picking a packet out of several.
 */
export function checkIpv4(packet: PacketInput, ...checkers: Ipv4Checker[]): Mismatch[] {
  const bytes = bytesOfInput(packet);
  const out: Mismatch[] = [];
  const view = parsePacket(bytes);
  if (view === null) {
    out.push({ path: ["IPv4"], expected: "an IPv4 datagram", got: notIpv4Reason(bytes)! });
    return out;
  }
  runLayer(view, new CheckContext(["IPv4"], out), ipChecksumValid, checkers);
  return out;
}

/**
 * Checks an IPv4 datagram: parses it, checks its header checksum (unless {@link ignoreChecksum}
 * is among the checkers) and runs every checker.
 * @throws PacketCheckError listing every mismatch, then the packet's summary
 */
export function expectIpv4(packet: PacketInput, ...checkers: Ipv4Checker[]): void {
  const bytes = bytesOfInput(packet);
  const mismatches = checkIpv4(bytes, ...checkers);
  if (mismatches.length === 0) return;
  const lines = mismatches.map(formatMismatch);
  lines.push(`  packet: ${summarizePacket(bytes)}`);
  throw new PacketCheckError(lines.join("\n"), mismatches, bytes);
}

// --- shared -------------------------------------------------------------------------------------

function scalar<V>(
  field: string,
  get: (v: V) => number,
  want: number,
  show: (n: number) => string = String,
): Checker<V> {
  return {
    check(v, ctx) {
      const got = get(v);
      if (got !== want) ctx.mismatch(field, show(want), show(got));
    },
  };
}

const hex16 = (n: number): string => `0x${n.toString(16).padStart(4, "0")}`;
const hex8 = (n: number): string => `0x${n.toString(16).padStart(2, "0")}`;

/**
 * Turns off the default checksum check of the layer it is given to (`expectIpv4(b,
 * ignoreChecksum)`, `tcp(ignoreChecksum, …)`): for packets whose checksum a device fills in.
 */
export const ignoreChecksum: Checker<Ipv4View | TcpView | UdpView | IcmpView> = {
  check() {},
  skipsDefaultChecksum: true,
};

/** The view's checksum verifies; a truncated message (an error's quote) is not judged. */
function checksumChecker<V extends { checksum: number; checksumExpected: number | null }>(
  valid: (v: V) => boolean | null,
): Checker<V> {
  return {
    check(v, ctx) {
      if (valid(v) !== false) return;
      const right = v.checksumExpected === null ? "" : ` (correct: ${hex16(v.checksumExpected)})`;
      ctx.mismatch("checksum", "valid", `${hex16(v.checksum)}${right}`);
    },
  };
}

function describeBytes(b: Uint8Array): string {
  return b.length === 0 ? "0 bytes" : `${b.length} bytes ${hexBytes(b)}`;
}

/**
 * The transport's payload: exactly these bytes (or this text, as UTF-8), or, given a number,
 * this many bytes.
 */
export function payload(want: Uint8Array | string | number): Checker<TcpView | UdpView | IcmpView> {
  return {
    check(v, ctx) {
      const got = v.payload;
      if (typeof want === "number") {
        if (got.length !== want) ctx.mismatch("payload", `${want} bytes`, `${got.length} bytes`);
        return;
      }
      const w = typeof want === "string" ? new TextEncoder().encode(want) : want;
      let diff = -1;
      for (let i = 0; i < Math.max(w.length, got.length); i++) {
        if (w[i] !== got[i]) {
          diff = i;
          break;
        }
      }
      if (diff < 0) return;
      const at = diff < Math.min(w.length, got.length) ? ` (first difference at byte ${diff})` : "";
      ctx.mismatch("payload", describeBytes(w), `${describeBytes(got)}${at}`);
    },
  };
}

/** The source port (TCP or UDP). */
export function srcPort(port: number): Checker<TcpView | UdpView> {
  return scalar("srcPort", (v) => v.srcPort, port);
}

/** The destination port (TCP or UDP). */
export function dstPort(port: number): Checker<TcpView | UdpView> {
  return scalar("dstPort", (v) => v.dstPort, port);
}

// --- IPv4 ---------------------------------------------------------------------------------------

function address(field: string, get: (v: Ipv4View) => string, want: string): Ipv4Checker {
  if (inetAton(want) === null) {
    throw new TypeError(`${field}: ${JSON.stringify(want)} is not an IPv4 address`);
  }
  return {
    check(v, ctx) {
      if (get(v) !== want) ctx.mismatch(field, want, get(v));
    },
  };
}

/** The source address. */
export function srcAddr(addr: string): Ipv4Checker {
  return address("srcAddr", (v) => v.src, addr);
}

/** The destination address. */
export function dstAddr(addr: string): Ipv4Checker {
  return address("dstAddr", (v) => v.dst, addr);
}

/** The time to live. */
export function ttl(n: number): Ipv4Checker {
  return scalar("ttl", (v) => v.ttl, n);
}

const protoShow = (n: number): string => `${n} (${protocolName(n)})`;

/** The protocol number (`6 (TCP)`). */
export function protocol(n: number): Ipv4Checker {
  return scalar("protocol", (v) => v.protocol, n, protoShow);
}

/** The total length field. */
export function totalLength(n: number): Ipv4Checker {
  return scalar("totalLength", (v) => v.totalLength, n);
}

/** The bytes after the IP header (total length minus header length). */
export function payloadLength(n: number): Ipv4Checker {
  return scalar("payloadLength", (v) => v.totalLength - v.headerLength, n);
}

/** Don't Fragment is set (or, with `false`, clear). */
export function df(set = true): Ipv4Checker {
  const show = (b: boolean): string => (b ? "set" : "clear");
  return {
    check(v, ctx) {
      if (v.df !== set) ctx.mismatch("df", show(set), show(v.df));
    },
  };
}

/** The type of service byte (`0x10`). */
export function tos(n: number): Ipv4Checker {
  return scalar("tos", (v) => v.tos, n, hex8);
}

/** The identification field. */
export function id(n: number): Ipv4Checker {
  return scalar("id", (v) => v.id, n);
}

/** The header checksum verifies. On by default in {@link expectIpv4}. */
export const ipChecksumValid: Ipv4Checker = checksumChecker<Ipv4View>((v) => v.checksumValid);

/**
 * The transport of the datagram, of protocol `proto` and parsed into `layer`; otherwise a
 * mismatch saying what it is instead. Returns null when there is nothing to check further.
 */
function transportOf<L extends "tcp" | "udp" | "icmp">(
  v: Ipv4View,
  ctx: CheckContext,
  proto: number,
  layer: L,
  name: string,
): Extract<Ipv4View["transport"], { layer: L }> | null {
  if (v.protocol !== proto) {
    ctx.mismatch("protocol", protoShow(proto), protoShow(v.protocol));
    return null;
  }
  const t = v.transport;
  if (t.layer === "opaque") {
    ctx.mismatch(name, `a ${name} header`, t.reason);
    return null;
  }
  return t.layer === layer ? (t as Extract<Ipv4View["transport"], { layer: L }>) : null;
}

// --- TCP ----------------------------------------------------------------------------------------

/** The TCP checksum verifies (over the IPv4 pseudo-header). On by default in {@link tcp}. */
export const tcpChecksumValid: TcpChecker = checksumChecker<TcpView>((v) => v.checksumValid);

/**
 * The datagram is a TCP segment; `checkers` check it (its checksum first, unless
 * {@link ignoreChecksum} is among them).
 */
export function tcp(...checkers: TcpChecker[]): Ipv4Checker {
  return {
    check(v, ctx) {
      const t = transportOf(v, ctx, 6, "tcp", "TCP");
      if (t !== null) runLayer(t, ctx.child("TCP"), tcpChecksumValid, checkers);
    },
  };
}

const flagsShow = (bits: number): string => `${tcpFlagsLetters(bits)} (${tcpFlagsNames(bits)})`;

/**
 * Exactly these flags are set: letters `F S R P A U E C` in any order, `.` for ACK (`"SA"`,
 * `"S."`, `"PA"`, `"R"`), or the flags byte.
 */
export function flags(want: string | number): TcpChecker {
  const bits = typeof want === "number" ? want : tcpFlagsFromLetters(want);
  return scalar("flags", (v) => v.flags, bits, flagsShow);
}

/** The sequence number. */
export function seqNum(n: number): TcpChecker {
  return scalar("seqNum", (v) => v.seq, n >>> 0);
}

/** The acknowledgment number. */
export function ackNum(n: number): TcpChecker {
  return scalar("ackNum", (v) => v.ack, n >>> 0);
}

/** The window field (as sent, unscaled). */
export function window(n: number): TcpChecker {
  return scalar("window", (v) => v.window, n);
}

/** The urgent pointer. */
export function urgentPointer(n: number): TcpChecker {
  return scalar("urgentPointer", (v) => v.urgent, n);
}

function findOption<K extends TcpOption["kind"]>(
  v: TcpView,
  kind: K,
): Extract<TcpOption, { kind: K }> | undefined {
  return v.options?.find((o): o is Extract<TcpOption, { kind: K }> => o.kind === kind);
}

/** A check of one option: present, and `compare` finds nothing wrong with it. */
function optionChecker<K extends TcpOption["kind"]>(
  field: string,
  kind: K,
  expected: string,
  compare: (o: Extract<TcpOption, { kind: K }>) => boolean,
): TcpChecker {
  return {
    check(v, ctx) {
      if (v.options === null) {
        ctx.mismatch(field, expected, "malformed options");
        return;
      }
      const o = findOption(v, kind);
      const name = kind === "ts" ? "TS" : kind;
      if (o === undefined) ctx.mismatch(field, expected, `no ${name} option`);
      else if (!compare(o)) ctx.mismatch(field, expected, formatTcpOption(o));
    },
  };
}

/** Checks of the TCP options, one option each: `option.mss(1460)`, `option.wscale(7)`, … */
export const option = {
  /** An MSS option (RFC 9293 3.7.1) with this value. */
  mss(value: number): TcpChecker {
    return optionChecker("option.mss", "mss", `mss ${value}`, (o) => o.value === value);
  },
  /** A window scale option (RFC 7323 2.2) with this shift count. */
  wscale(value: number): TcpChecker {
    return optionChecker("option.wscale", "wscale", `wscale ${value}`, (o) => o.value === value);
  },
  /** A SACK-permitted option (RFC 2018 2). */
  sackPermitted(): TcpChecker {
    return optionChecker("option.sackPermitted", "sackOK", "sackOK", () => true);
  },
  /** A timestamps option (RFC 7323 3.2); `val` and `ecr` are checked when given. */
  timestamps(want: { readonly val?: number; readonly ecr?: number } = {}): TcpChecker {
    const parts = ["TS"];
    if (want.val !== undefined) parts.push(`val ${want.val}`);
    if (want.ecr !== undefined) parts.push(`ecr ${want.ecr}`);
    return optionChecker(
      "option.timestamps",
      "ts",
      parts.join(" "),
      (o) =>
        (want.val === undefined || o.val === want.val >>> 0) &&
        (want.ecr === undefined || o.ecr === want.ecr >>> 0),
    );
  },
  /** A SACK option (RFC 2018 3) with exactly these blocks, `[left, right]` edges. */
  sack(blocks: readonly (readonly [number, number])[]): TcpChecker {
    const want: TcpOption = { kind: "sack", blocks };
    return optionChecker(
      "option.sack",
      "sack",
      formatTcpOption(want),
      (o) =>
        o.blocks.length === blocks.length &&
        o.blocks.every(([l, r], i) => l === blocks[i]![0] >>> 0 && r === blocks[i]![1] >>> 0),
    );
  },
  /** No options at all (a header of 20 bytes). */
  noOptions(): TcpChecker {
    return {
      check(v, ctx) {
        if (v.options !== null && v.options.length === 0) return;
        ctx.mismatch("options", "none", formatTcpOptions(v.options));
      },
    };
  },
} as const;

/**
 * The options, by kind, in exactly this order (`["mss", "nop", "nop", "ts", "nop", "wscale"]`,
 * Linux's SYN-ACK layout); kinds are `mss`, `nop`, `eol`, `wscale`, `sackOK`, `ts`, `sack` and
 * `opt-N` for others.
 */
export function optionsOrder(kinds: readonly TcpOptionName[]): TcpChecker {
  return {
    check(v, ctx) {
      const got = v.options === null ? "malformed options" : v.options.map(tcpOptionName).join(",");
      const want = kinds.join(",");
      if (got !== want) ctx.mismatch("options", want || "none", got || "none");
    },
  };
}

// --- UDP ----------------------------------------------------------------------------------------

/** The UDP checksum verifies (or is 0, none). On by default in {@link udp}. */
export const udpChecksumValid: UdpChecker = checksumChecker<UdpView>((v) => v.checksumValid);

/**
 * The datagram is a UDP datagram; `checkers` check it (its checksum first, unless
 * {@link ignoreChecksum} is among them).
 */
export function udp(...checkers: UdpChecker[]): Ipv4Checker {
  return {
    check(v, ctx) {
      const t = transportOf(v, ctx, 17, "udp", "UDP");
      if (t !== null) runLayer(t, ctx.child("UDP"), udpChecksumValid, checkers);
    },
  };
}

// --- ICMP ---------------------------------------------------------------------------------------

/** The ICMP checksum verifies. On by default in {@link icmp}. */
export const icmpChecksumValid: IcmpChecker = checksumChecker<IcmpView>((v) => v.checksumValid);

/**
 * The datagram is an ICMP message; `checkers` check it (its checksum first, unless
 * {@link ignoreChecksum} is among them).
 */
export function icmp(...checkers: IcmpChecker[]): Ipv4Checker {
  return {
    check(v, ctx) {
      const t = transportOf(v, ctx, 1, "icmp", "ICMP");
      if (t !== null) runLayer(t, ctx.child("ICMP"), icmpChecksumValid, checkers);
    },
  };
}

/** The ICMP type (`0 (echo reply)`). */
export function type(n: number): IcmpChecker {
  return scalar(
    "type",
    (v) => v.type,
    n,
    (t) => `${t} (${icmpTypeName(t)})`,
  );
}

/** The ICMP code, named after the message's type where it has a name (`2 (protocol unreachable)`). */
export function code(n: number): IcmpChecker {
  return {
    check(v, ctx) {
      if (v.code === n) return;
      const show = (c: number): string => {
        const name = icmpCodeName(v.type, c);
        return name === null ? String(c) : `${c} (${name})`;
      };
      ctx.mismatch("code", show(n), show(v.code));
    },
  };
}

/** The echo identifier. */
export function echoId(n: number): IcmpChecker {
  return scalar("echoId", (v) => v.id, n);
}

/** The echo sequence number. */
export function echoSeq(n: number): IcmpChecker {
  return scalar("echoSeq", (v) => v.seq, n);
}

/** The next-hop MTU of a "fragmentation needed" (RFC 1191). */
export function mtu(n: number): IcmpChecker {
  return scalar("mtu", (v) => v.rest & 0xffff, n);
}

/**
 * The datagram an ICMP error quotes, checked like one given to {@link expectIpv4} (its header
 * checksum included; transport checksums of a truncated quote are not judged).
 */
export function quote(...checkers: Ipv4Checker[]): IcmpChecker {
  return {
    check(v, ctx) {
      const inner = ctx.child("quote");
      if (v.quoted === null) {
        const reason = notIpv4Reason(v.payload) ?? `an ICMP ${icmpTypeName(v.type)}`;
        inner.mismatch(null, "an IPv4 datagram", reason);
        return;
      }
      runLayer(v.quoted, inner.child("IPv4"), ipChecksumValid, checkers);
    },
  };
}
