/**
 * TCP options of received segments (`tcp_parse_options`, `tcp_fast_parse_options`), read
 * without allocating: the general scan writes into one module-level scratch record, the
 * established path's parse into `sk.rxOpt` (`saw_tstamp`, `rcv_tsval`, `rcv_tsecr`) as Linux
 * does, with the common layouts (no options, or the aligned timestamp alone) read directly.
 * Only SACK blocks, which are rare, become a new array.
 * @see net/ipv4/tcp_input.c tcp_parse_options(), tcp_fast_parse_options(),
 *   tcp_parse_aligned_timestamp()
 * @packageDocumentation
 */
import { getU16, getU32, type SkBuff } from "@skbuff/core";
import type { TcpSock } from "./tcp_sock.js";
import { TCP_FLAG, TCPHDR, TCPOLEN, TCPOPT, tcpDoff, tcpFlags } from "./wire/tcphdr.js";

/** The options of one segment (`tcp_parse_options`). */
export interface SegOptions {
  mss: number;
  wscale: number;
  sackOk: boolean;
  ts: { val: number; ecr: number } | null;
  sack: (readonly [number, number])[];
}

/** SACK blocks of a segment, `[left, right)` edges. */
export type SackBlocks = readonly (readonly [number, number])[];

/** `TCP_MAX_WSCALE` (RFC 7323 2.3: "the shift count … MUST be limited to 14"). */
export const TCP_MAX_WSCALE = 14;
/**
 * The first option word of the timestamp layout RFC 7323 Appendix A recommends "for sending
 * options on non-<SYN> segments to achieve maximum feasibility of header prediction",
 * `NOP, NOP, TSopt, 10`, as a u32 (`TCPOPT_NOP << 24 | TCPOPT_NOP << 16 | TCPOPT_TIMESTAMP << 8 |
 * TCPOLEN_TIMESTAMP`).
 */
export const TCPOPT_TSTAMP_ALIGNED = 0x0101080a;
/** A header carrying only the aligned timestamp option (`sizeof(tcphdr) + TCPOLEN_TSTAMP_ALIGNED`). */
export const TCP_HLEN_TSTAMP_ALIGNED = 32;
/** The SACK blocks of a segment that carries none (shared, never written). */
export const NO_SACK: SackBlocks = Object.freeze([]);

/**
 * What {@link tcpScanOptions} found in the last option block it scanned: one object for the
 * whole module, rewritten on every scan (the scan calls nothing, so no other scan can interleave).
 */
const scan = {
  mss: 0,
  wscale: -1,
  sackOk: false,
  sawTstamp: false,
  tsval: 0,
  tsecr: 0,
  /** Offset in the buffer of the last SACK option's first block, and how many blocks it has. */
  sackOff: 0,
  sackBlocks: 0,
};

function scanReset(): void {
  scan.mss = 0;
  scan.wscale = -1;
  scan.sackOk = false;
  scan.sawTstamp = false;
  scan.sackBlocks = 0;
}

/**
 * `tcp_parse_options` over the option bytes `b[start .. end)`, into {@link scan}, without
 * allocating. MSS, window scale and SACK-permitted only count on a SYN; a later timestamp or
 * SACK option replaces an earlier one; EOL ends the list. The validity rules are those of
 * `tcpParseOptions` (wire/tcphdr.ts): a missing or short length byte, an option running past the
 * end, or a wrong length for a known kind make the whole block malformed, and then (RFC 9293
 * 3.2: "a TCP implementation MUST be prepared to handle an illegal option length") every option
 * of the segment is ignored: returns false with {@link scan} empty.
 */
function tcpScanOptions(b: Uint8Array, start: number, end: number, syn: boolean): boolean {
  scanReset();
  let i = start;
  while (i < end) {
    const kind = b[i]!;
    if (kind === TCPOPT.EOL) break;
    if (kind === TCPOPT.NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return scanMalformed();
    const len = b[i + 1]!;
    if (len < 2 || i + len > end) return scanMalformed();
    switch (kind) {
      case TCPOPT.MSS: {
        if (len !== TCPOLEN.MSS) return scanMalformed();
        const mss = getU16(b, i + 2);
        if (syn && mss) scan.mss = mss;
        break;
      }
      case TCPOPT.WINDOW:
        if (len !== TCPOLEN.WINDOW) return scanMalformed();
        if (syn) scan.wscale = Math.min(b[i + 2]!, TCP_MAX_WSCALE);
        break;
      case TCPOPT.SACK_PERM:
        if (len !== TCPOLEN.SACK_PERM) return scanMalformed();
        if (syn) scan.sackOk = true;
        break;
      case TCPOPT.TIMESTAMP:
        if (len !== TCPOLEN.TIMESTAMP) return scanMalformed();
        scan.sawTstamp = true;
        scan.tsval = getU32(b, i + 2);
        scan.tsecr = getU32(b, i + 6);
        break;
      case TCPOPT.SACK:
        if ((len - TCPOLEN.SACK_BASE) % TCPOLEN.SACK_PERBLOCK !== 0) return scanMalformed();
        scan.sackOff = i + TCPOLEN.SACK_BASE;
        scan.sackBlocks = (len - TCPOLEN.SACK_BASE) / TCPOLEN.SACK_PERBLOCK;
        break;
      default:
    }
    i += len;
  }
  return true;
}

function scanMalformed(): false {
  scanReset();
  return false;
}

/** The SACK blocks {@link tcpScanOptions} found in `b` (a new array: they are rare). */
function scanSackBlocks(b: Uint8Array): (readonly [number, number])[] {
  const out: (readonly [number, number])[] = [];
  for (let k = 0, j = scan.sackOff; k < scan.sackBlocks; k++, j += TCPOLEN.SACK_PERBLOCK)
    out.push([getU32(b, j), getU32(b, j + 4)] as const);
  return out;
}

/**
 * `tcp_parse_options` of the segment at `skb.data` as a new {@link SegOptions}, for the paths
 * that meet a segment once or twice a connection (SYNs, SYN_SENT, TIME_WAIT): malformed options
 * are ignored (as Linux does), MSS and window scale only count on a SYN.
 */
export function tcpParseSegOptions(skb: SkBuff): SegOptions {
  const b = skb.head;
  const o = skb.data;
  const out: SegOptions = { mss: 0, wscale: -1, sackOk: false, ts: null, sack: [] };
  const hlen = tcpDoff(b, o) * 4;
  if (hlen <= TCPHDR.MIN_LEN) return out;
  if (!tcpScanOptions(b, o + TCPHDR.MIN_LEN, o + hlen, (tcpFlags(b, o) & TCP_FLAG.SYN) !== 0))
    return out;
  out.mss = scan.mss;
  out.wscale = scan.wscale;
  out.sackOk = scan.sackOk;
  if (scan.sawTstamp) out.ts = { val: scan.tsval, ecr: scan.tsecr };
  if (scan.sackBlocks > 0) out.sack = scanSackBlocks(b);
  return out;
}

/**
 * `tcp_fast_parse_options`: the options of a segment for a synchronized connection, into
 * `sk.rxOpt` (`saw_tstamp`, `rcv_tsval`, `rcv_tsecr`; timestamps count only when negotiated,
 * RFC 7323 3.2: "once TSopt has been successfully negotiated … every non-<RST> segment MUST
 * contain" it). A header without options, or with only the aligned timestamp, is read directly
 * (`tcp_parse_aligned_timestamp`); anything else is scanned. Returns the SACK blocks when SACK
 * was negotiated, else none. Allocates nothing unless the segment carries SACK blocks.
 */
export function tcpFastParseOptions(sk: TcpSock, skb: SkBuff): SackBlocks {
  const b = skb.head;
  const o = skb.data;
  const rx = sk.rxOpt;
  const hlen = tcpDoff(b, o) * 4;
  rx.sawTstamp = false;
  if (hlen <= TCPHDR.MIN_LEN) return NO_SACK;
  if (hlen === TCP_HLEN_TSTAMP_ALIGNED && getU32(b, o + TCPHDR.MIN_LEN) === TCPOPT_TSTAMP_ALIGNED) {
    if (rx.tstampOk) {
      rx.sawTstamp = true;
      rx.rcvTsval = getU32(b, o + 24);
      rx.rcvTsecr = getU32(b, o + 28);
    }
    return NO_SACK;
  }
  const syn = (tcpFlags(b, o) & TCP_FLAG.SYN) !== 0;
  if (!tcpScanOptions(b, o + TCPHDR.MIN_LEN, o + hlen, syn)) return NO_SACK;
  if (scan.sawTstamp && rx.tstampOk) {
    rx.sawTstamp = true;
    rx.rcvTsval = scan.tsval;
    rx.rcvTsecr = scan.tsecr;
  }
  return rx.sackOk && scan.sackBlocks > 0 ? scanSackBlocks(b) : NO_SACK;
}
