/**
 * SYN cookies: when the SYN queue overflows (`tcp_syncookies=1`) or always (`=2`), the SYN-ACK's
 * ISN encodes what the request sock would have kept, so the listener keeps nothing until the
 * ACK comes back. Our encoding (Linux's differs; only the idea is shared):
 *
 * `cookie = hash(secret, 4-tuple, peer ISN, t)[25 bits] << 7 | t[5 bits] << 2 | mssIndex[2 bits]`
 *
 * with `t` a 64-second counter, valid for two counter steps (`MAX_SYNCOOKIE_AGE`), and the MSS
 * from Linux's table `msstab`. With timestamps, the SYN-ACK's TSval carries the window scale and
 * SACK-permitted in its low 6 bits (like `cookie_init_timestamp`).
 * @see net/ipv4/syncookies.c
 * @packageDocumentation
 */
import { keyedHash, type TcpNet } from "./netns.js";

/** `msstab`: the MSS values a cookie can carry. */
export const MSSTAB = [536, 1300, 1440, 1460] as const;
/** `MAX_SYNCOOKIE_AGE`, in counter steps. */
const MAX_SYNCOOKIE_AGE = 2;
/** The counter's period, ms (`TCP_SYNCOOKIE_PERIOD`). */
const SYNCOOKIE_PERIOD = 64_000;

/** The 4-tuple of a connection, addresses as u32. */
export interface FourTuple {
  readonly saddr: number;
  readonly daddr: number;
  readonly sport: number;
  readonly dport: number;
}

function counter(tn: TcpNet): number {
  return Math.floor(tn.net.clock.now() / SYNCOOKIE_PERIOD) & 0x1f;
}

function cookieHash(tn: TcpNet, t: FourTuple, peerIsn: number, c: number): number {
  return (
    keyedHash(tn.cookieSecret, t.saddr, t.daddr, (t.sport << 16) | t.dport, peerIsn, c) & 0x1ffffff
  );
}

/** `__cookie_v4_init_sequence`: the ISN for a SYN with `mss`; returns it and the MSS it carries. */
export function cookieV4InitSequence(
  tn: TcpNet,
  t: FourTuple,
  peerIsn: number,
  mss: number,
): { isn: number; mss: number } {
  let idx = MSSTAB.length - 1;
  while (idx > 0 && mss < MSSTAB[idx]!) idx--;
  const c = counter(tn);
  const isn = ((cookieHash(tn, t, peerIsn, c) << 7) | (c << 2) | idx) >>> 0;
  return { isn, mss: MSSTAB[idx]! };
}

/** `__cookie_v4_check`: the MSS a returning cookie carries, or 0 when it is not ours or too old. */
export function cookieV4Check(tn: TcpNet, t: FourTuple, peerIsn: number, cookie: number): number {
  const c = (cookie >>> 2) & 0x1f;
  const idx = cookie & 3;
  const age = (counter(tn) - c) & 0x1f;
  if (age > MAX_SYNCOOKIE_AGE) return 0;
  if (cookie >>> 7 !== cookieHash(tn, t, peerIsn, c)) return 0;
  return MSSTAB[idx]!;
}

/** `cookie_init_timestamp`: TSval with the options in its low 6 bits. */
export function cookieInitTimestamp(now: number, wscale: number | null, sackOk: boolean): number {
  const opts = (wscale === null ? 0xf : wscale & 0xf) | (sackOk ? 0x10 : 0);
  let ts = ((now >>> 0) & ~0x3f) | opts;
  if (((ts - now) | 0) > 0) ts = (ts - 64) >>> 0;
  return ts >>> 0;
}

/** `cookie_timestamp_decode`: the options an echoed TSval carries. */
export function cookieTimestampDecode(tsecr: number): { wscale: number | null; sackOk: boolean } {
  const w = tsecr & 0xf;
  return { wscale: w === 0xf ? null : w, sackOk: (tsecr & 0x10) !== 0 };
}
