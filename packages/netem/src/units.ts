/**
 * The units netem settings are written in, as tc(8) spells them: times (`100ms`), percentages
 * (`0.3%`) and rates (`1mbit`). Each parser returns null for text it does not accept; the
 * callers turn that into a ConfigError that says what was expected.
 * @see iproute2 tc/tc_util.c get_time64(), get_rate64(), lib/utils.c parse_percent()
 * @packageDocumentation
 */

/** Milliseconds per unit of time (the clock counts milliseconds). */
const TIME_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  nsec: 1e-6,
  nsecs: 1e-6,
  us: 1e-3,
  usec: 1e-3,
  usecs: 1e-3,
  ms: 1,
  msec: 1,
  msecs: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
};

/**
 * Bytes per second per unit of rate. As in tc(8): `bit` units are bits per second, `bps` units
 * bytes per second; `k`, `m`, `g`, `t` are powers of 1000 and `ki`, `mi`, `gi`, `ti` of 1024.
 */
const RATE_UNITS: Readonly<Record<string, number>> = (() => {
  const out: Record<string, number> = { bit: 1 / 8, bps: 1 };
  const prefixes: [string, number][] = [
    ["k", 1e3],
    ["m", 1e6],
    ["g", 1e9],
    ["t", 1e12],
    ["ki", 2 ** 10],
    ["mi", 2 ** 20],
    ["gi", 2 ** 30],
    ["ti", 2 ** 40],
  ];
  for (const [p, f] of prefixes) {
    out[`${p}bit`] = f / 8;
    out[`${p}bps`] = f;
  }
  return out;
})();

/** A decimal number with an optional unit glued to it: `100ms`, `0.3%`, `1.5mbit`. */
const NUMBER_WITH_UNIT = /^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?([a-z%]*)$/i;

function splitUnit(text: string): [number, string] | null {
  const m = NUMBER_WITH_UNIT.exec(text.trim());
  if (m === null) return null;
  const unitStart = m[0].length - m[2]!.length;
  const value = Number(m[0].slice(0, unitStart));
  if (!Number.isFinite(value)) return null;
  return [value, m[2]!.toLowerCase()];
}

/** What a time is expected to look like, for error messages. */
export const TIME_EXPECTED = 'a time like "100ms" (ns, us, ms or s)';
/** What a percentage is expected to look like, for error messages. */
export const PERCENT_EXPECTED = 'a percentage from 0% to 100%, like "1%"';
/** What a rate is expected to look like, for error messages. */
export const RATE_EXPECTED =
  'a rate like "1mbit" (bit, kbit, mbit, gbit: bits per second; bps, kbps, mbps, gbps: bytes per second; kibit, mibps, …: powers of 1024)';

/**
 * A time with its unit (`100ms`, `250us`, `1.5s`, `20ns`) in milliseconds, or null. A bare
 * number is refused: tc versions disagree on what it means.
 */
export function parseTime(text: string): number | null {
  const r = splitUnit(text);
  if (r === null) return null;
  const factor = TIME_UNITS[r[1]];
  return factor === undefined ? null : r[0] * factor;
}

/**
 * A percentage from 0% to 100% as a probability from 0 to 1, or null. With `bareNumber`, a
 * number without `%` counts as a percentage too (tc's `loss 1` is 1%).
 */
export function parsePercent(text: string, bareNumber = false): number | null {
  const r = splitUnit(text);
  if (r === null) return null;
  if (r[1] !== "%" && !(bareNumber && r[1] === "")) return null;
  if (r[0] > 100) return null;
  return r[0] / 100;
}

/** A rate with its unit (`1mbit`, `100kbit`, `12500bps`) in bytes per second, or null. */
export function parseRate(text: string): number | null {
  const r = splitUnit(text);
  if (r === null) return null;
  const factor = RATE_UNITS[r[1]];
  return factor === undefined ? null : r[0] * factor;
}

/** Whether a tc token starts like a number (tc's `NEXT_IS_NUMBER`): an optional value follows. */
export function looksNumeric(token: string | undefined): boolean {
  return token !== undefined && /^-?(?:[0-9]|\.[0-9])/.test(token);
}
