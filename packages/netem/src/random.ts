/**
 * netem's random numbers: a seeded generator (so a run replays exactly), Linux's correlated
 * random numbers, the jitter distributions and the Gilbert-Elliott loss model.
 * @see net/sched/sch_netem.c get_crandom(), tabledist(), loss_gilb_ell()
 * @packageDocumentation
 */
import type { NetemDistribution } from "./config.js";

const TWO_POW_32 = 2 ** 32;

/** `splitmix32`: spreads a seed into well-mixed 32-bit words to start xoshiro from. */
function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * A seeded pseudo-random generator, xoshiro128** (Blackman and Vigna), started from the seed
 * through splitmix32. Not for cryptography: for replayable impairments, like Linux's per-qdisc
 * `prandom` state that `tc … netem seed N` sets.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** @param seed - any safe integer; the same seed gives the same numbers */
  constructor(seed: number) {
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    const st = { s: lo ^ Math.imul(hi, 0x27d4eb2f) };
    this.a = splitmix32(st);
    this.b = splitmix32(st);
    this.c = splitmix32(st);
    this.d = splitmix32(st);
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1; // the one state xoshiro cannot leave
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** A uniform number in [0, 1), with 32 bits of resolution. */
  next(): number {
    return this.nextU32() / TWO_POW_32;
  }

  /** A uniform whole number in [0, n), for 0 < n ≤ 2^32. */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Linux's correlated random numbers (`struct crndstate`): each draw is
 * `(1 − ρ)·U + ρ·last`, a uniform `U` pulled toward the previous draw. With ρ = 0 it is the plain
 * generator. Like Linux's, a correlated draw is not uniform any more (it bunches toward the
 * middle); what ρ buys is the lag-1 autocorrelation of the sequence.
 * @see net/sched/sch_netem.c init_crandom(), get_crandom()
 */
export class CorrelatedRandom {
  private last: number;

  constructor(
    private readonly rho: number,
    private readonly prng: Prng,
  ) {
    this.last = rho === 0 ? 0 : prng.next();
  }

  /** The next draw in [0, 1). */
  next(): number {
    const u = this.prng.next();
    if (this.rho === 0) return u;
    this.last = (1 - this.rho) * u + this.rho * this.last;
    return this.last;
  }

  /** Whether an event of `probability` happens on this draw (Linux: `p >= get_crandom()`). */
  chance(probability: number): boolean {
    return this.next() < probability;
  }
}

/**
 * Where the distributions are cut, in standard deviations: Linux's distribution tables hold
 * 16-bit values scaled by `NETEM_DIST_SCALE` (8192), so none of its draws lies beyond about ±4 σ.
 */
export const DIST_LIMIT = 4;

function clampDeviate(x: number): number {
  return Math.min(DIST_LIMIT, Math.max(-DIST_LIMIT, x));
}

/** Keeps a probability strictly inside (0, 1) so that inverse CDFs stay finite. */
function open01(u: number): number {
  const eps = 2 ** -33;
  return Math.min(1 - eps, Math.max(eps, u));
}

// Rational approximations of the standard normal quantile (P. J. Acklam's algorithm; relative
// error below 1.2e-9), for the central region and the tails.
const NQ_A = [
  -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
  2.506628277459239,
];
const NQ_B = [
  -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.8013118877172, -13.28068155288572,
];
const NQ_C = [
  -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734,
  4.374664141464968, 2.938163982698783,
];
const NQ_D = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
const NQ_LOW = 0.02425;

/** The standard normal quantile: the x with Φ(x) = u, for u in (0, 1). */
export function normalQuantile(u: number): number {
  const [a0, a1, a2, a3, a4, a5] = NQ_A as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = NQ_B as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = NQ_C as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = NQ_D as [number, number, number, number];
  if (u < NQ_LOW || u > 1 - NQ_LOW) {
    const q = Math.sqrt(-2 * Math.log(u < NQ_LOW ? u : 1 - u));
    const x =
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
    return u < NQ_LOW ? x : -x;
  }
  const q = u - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/** Shape of the Pareto distribution (as iproute2's `pareto` table): mean 1.5, variance 0.75. */
const PARETO_SHAPE = 3;
const PARETO_MEAN = PARETO_SHAPE / (PARETO_SHAPE - 1);
const PARETO_SD = Math.sqrt(PARETO_SHAPE / ((PARETO_SHAPE - 1) ** 2 * (PARETO_SHAPE - 2)));

/** A Pareto(x_m = 1, α = 3) quantile, standardized to mean 0 and standard deviation 1. */
export function paretoQuantile(u: number): number {
  return ((1 - u) ** (-1 / PARETO_SHAPE) - PARETO_MEAN) / PARETO_SD;
}

/** Entries of a quantile table (Linux's tables have 4096 too). */
const TABLE_SIZE = 4096;
/** Samples sorted to estimate the `paretonormal` table. */
const PN_SAMPLES = 1 << 16;
const tables = new Map<"pareto" | "paretonormal", Float64Array>();

/**
 * Makes a table of quantiles usable as jitter: values beyond ±{@link DIST_LIMIT} are cut off
 * (as Linux's 16-bit tables cut them), then the table is rescaled to mean 0 and standard
 * deviation 1, so that `jitter` is one standard deviation whatever the distribution.
 */
function standardize(table: Float64Array): Float64Array {
  let mean = 0;
  for (let i = 0; i < table.length; i++) {
    table[i] = clampDeviate(table[i]!);
    mean += table[i]!;
  }
  mean /= table.length;
  let v = 0;
  for (const x of table) v += (x - mean) ** 2;
  const sd = Math.sqrt(v / table.length);
  for (let i = 0; i < table.length; i++) table[i] = (table[i]! - mean) / sd;
  return table;
}

/** The Pareto quantiles at the middle of each of the table's slices of probability. */
function paretoTable(): Float64Array {
  const table = new Float64Array(TABLE_SIZE);
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = paretoQuantile((i + 0.5) / TABLE_SIZE);
  return standardize(table);
}

/**
 * The `paretonormal` quantiles: the distribution of `¼·N + ¾·P` (N standard normal, P a
 * standardized Pareto, independent). It has no closed form, so it is estimated once from 65536
 * seeded samples, sorted, as iproute2 makes its tables (this one is computed here, not copied).
 */
function paretoNormalTable(): Float64Array {
  const prng = new Prng(0x6e6574656d); // "netem"
  const samples = new Float64Array(PN_SAMPLES);
  for (let i = 0; i < PN_SAMPLES; i++) {
    const n = normalQuantile(open01(prng.next()));
    const p = paretoQuantile(open01(prng.next()));
    samples[i] = 0.25 * n + 0.75 * p;
  }
  samples.sort();
  const table = new Float64Array(TABLE_SIZE);
  const step = PN_SAMPLES / TABLE_SIZE;
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = samples[Math.floor((i + 0.5) * step)]!;
  // ¼·N + ¾·P has variance 1/16 + 9/16: scale it back to about 1 before cutting the tails.
  for (let i = 0; i < TABLE_SIZE; i++) table[i] = table[i]! / Math.sqrt(10 / 16);
  return standardize(table);
}

function table(dist: "pareto" | "paretonormal"): Float64Array {
  let t = tables.get(dist);
  if (t === undefined) {
    t = dist === "pareto" ? paretoTable() : paretoNormalTable();
    tables.set(dist, t);
  }
  return t;
}

/**
 * A standardized deviate (mean 0, standard deviation 1) of `dist` for a uniform draw `u` in
 * [0, 1): the inverse of its distribution function, as Linux indexes its distribution table
 * with the random number. `normal` is computed (and cut at ±{@link DIST_LIMIT}); `pareto` and
 * `paretonormal` come from tables of 4096 quantiles.
 */
export function standardDeviate(dist: Exclude<NetemDistribution, "uniform">, u: number): number {
  if (dist === "normal") return clampDeviate(normalQuantile(open01(u)));
  const t = table(dist);
  return t[Math.min(TABLE_SIZE - 1, Math.floor(u * TABLE_SIZE))]!;
}

/**
 * `tabledist`: a delay of mean `mu` spread by `sigma` (ms). With no spread, `mu` (and no random
 * number is drawn); `uniform` spreads over [mu − sigma, mu + sigma); the others are
 * `mu + sigma · deviate`.
 * @see net/sched/sch_netem.c tabledist()
 */
export function tabledist(
  mu: number,
  sigma: number,
  rnd: CorrelatedRandom,
  dist: NetemDistribution,
): number {
  if (sigma === 0) return mu;
  const u = rnd.next();
  if (dist === "uniform") return mu - sigma + 2 * sigma * u;
  return mu + sigma * standardDeviate(dist, u);
}

/** The two states of the Gilbert-Elliott model. */
export const GE_STATE = { GOOD: 1, BAD: 2 } as const;
/** One of {@link GE_STATE}. */
export type GeState = (typeof GE_STATE)[keyof typeof GE_STATE];

/**
 * The Gilbert-Elliott loss model: a Markov chain of a good and a bad state. Per packet, the
 * chain may change state (good → bad with probability `p`, bad → good with `r`), and the packet
 * is lost with the loss probability of the state the chain was in when it came (`k` in the good
 * state, `h` in the bad one). Losses come in bursts of mean length 1/r (with h = 1), and the
 * long-run loss rate is (p·h + r·k)/(p + r).
 * @see net/sched/sch_netem.c loss_gilb_ell()
 */
export class GilbertElliott {
  state: GeState = GE_STATE.GOOD;

  constructor(
    private readonly p: number,
    private readonly r: number,
    private readonly h: number,
    private readonly k: number,
  ) {}

  /** Whether the next packet is lost; moves the chain one step. */
  lost(prng: Prng): boolean {
    if (this.state === GE_STATE.GOOD) {
      if (prng.next() < this.p) this.state = GE_STATE.BAD;
      return prng.next() < this.k;
    }
    if (prng.next() < this.r) this.state = GE_STATE.GOOD;
    return prng.next() < this.h;
  }
}
