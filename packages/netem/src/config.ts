/**
 * The normalized netem settings ({@link NetemConfig}) that both spellings of the options, the
 * object form ({@link NetemOptions}) and the tc string (`"delay 100ms 10ms loss 1%"`), are
 * parsed into, with the rules that join several settings (reordering needs a delay, …).
 * @see include/uapi/linux/pkt_sched.h struct tc_netem_qopt, tc_netem_gemodel
 * @packageDocumentation
 */
import { ConfigError } from "@skbuff/core";

/** How jitter is distributed around the delay (tc's `distribution`). */
export const NETEM_DISTRIBUTIONS = ["uniform", "normal", "pareto", "paretonormal"] as const;
/** One of {@link NETEM_DISTRIBUTIONS}. */
export type NetemDistribution = (typeof NETEM_DISTRIBUTIONS)[number];

/** A percentage, `"0.3%"`. */
export type NetemPercent = `${number}%`;
/** A time with its unit, `"100ms"`, or a number of milliseconds. */
export type NetemTime = number | `${number}${"ns" | "us" | "ms" | "s"}`;
/**
 * A rate with its unit, `"1mbit"` (bits per second) or `"125kbps"` (bytes per second), or a
 * number of bytes per second.
 */
export type NetemRate = number | `${number}${string}`;

/** A probability with an optional correlation to the previous draw. */
export interface NetemChanceOptions {
  readonly probability: NetemPercent;
  /** How much each draw leans on the previous one (Linux's `get_crandom`), default 0%. */
  readonly correlation?: NetemPercent;
}

/** Reordering: a probability, its correlation and the gap between reordered packets. */
export interface NetemReorderOptions extends NetemChanceOptions {
  /**
   * At most one packet in `gap` is reordered: after one is, the next `gap - 1` are delayed
   * normally (default 1: every packet may be).
   */
  readonly gap?: number;
}

/**
 * The Gilbert-Elliott loss model: a good and a bad state, each with its own loss probability.
 * The numbers are the ones tc(8) takes after `loss gemodel`, in its order `p r 1-h 1-k`.
 */
export interface NetemGemodelOptions {
  /** Probability of moving from the good state to the bad one, per packet. */
  readonly p: NetemPercent;
  /** Probability of moving from the bad state back to the good one (default 100% − p). */
  readonly r?: NetemPercent;
  /** Loss probability in the bad state (tc's `1-h`), default 100%. */
  readonly h?: NetemPercent;
  /** Loss probability in the good state (tc's `1-k`), default 0%. */
  readonly k?: NetemPercent;
}

/** Packet loss: a percentage, random loss with a correlation, or the Gilbert-Elliott model. */
export type NetemLossOptions =
  | NetemPercent
  | { readonly random: NetemPercent; readonly correlation?: NetemPercent }
  | { readonly gemodel: NetemGemodelOptions };

/**
 * netem's settings as written in code and in config files (`links[].netem`). Every key is
 * optional; unknown keys are refused.
 *
 * ```ts
 * { delay: "100ms", jitter: "10ms", delayCorrelation: "25%", distribution: "normal",
 *   loss: { random: "0.3%", correlation: "25%" }, duplicate: "1%",
 *   reorder: { probability: "25%", correlation: "50%", gap: 5 }, corrupt: "0.1%",
 *   rate: "1mbit", limit: 1000, seed: 42 }
 * ```
 * The same can be written as tc does: `"delay 100ms 10ms 25% distribution normal loss 0.3% 25%
 * duplicate 1% reorder 25% 50% gap 5 corrupt 0.1% rate 1mbit limit 1000 seed 42"`.
 */
export interface NetemOptions {
  /** Added to every packet's time in the queue: `"100ms"` or a number of ms (default 0). */
  readonly delay?: NetemTime;
  /** Spread of the delay: ± `jitter` for `uniform`, one standard deviation otherwise. */
  readonly jitter?: NetemTime;
  /** Correlation of successive jitter draws (default 0%). */
  readonly delayCorrelation?: NetemPercent;
  /** How jitter is distributed (default `uniform`); needs a jitter. */
  readonly distribution?: NetemDistribution;
  readonly loss?: NetemLossOptions;
  /** Packets sent twice. */
  readonly duplicate?: NetemPercent | NetemChanceOptions;
  /** Packets sent at once, ahead of those delayed; needs a delay. */
  readonly reorder?: NetemPercent | NetemReorderOptions;
  /** Packets with one bit flipped. */
  readonly corrupt?: NetemPercent | NetemChanceOptions;
  /** Link rate: packets leave no faster than this (default unlimited). */
  readonly rate?: NetemRate;
  /** Bytes added to every packet's length when computing its time on the link (may be < 0). */
  readonly packetOverhead?: number;
  /** Packets held at most (default 1000); more are dropped with `QDISC_DROP`. */
  readonly limit?: number;
  /** Seed of the random numbers (default 1): the same seed and traffic give the same trace. */
  readonly seed?: number;
}

/** A probability and its correlation, both from 0 to 1. */
export interface NetemChance {
  readonly probability: number;
  readonly correlation: number;
}

/** Reordering, normalized. */
export interface NetemReorder extends NetemChance {
  /** At least 1. */
  readonly gap: number;
}

/** Loss, normalized: random (with correlation) or Gilbert-Elliott, probabilities from 0 to 1. */
export type NetemLoss =
  | { readonly model: "random"; readonly probability: number; readonly correlation: number }
  | {
      readonly model: "gemodel";
      /** good → bad, per packet. */
      readonly p: number;
      /** bad → good, per packet. */
      readonly r: number;
      /** Loss probability in the bad state. */
      readonly h: number;
      /** Loss probability in the good state. */
      readonly k: number;
    };

/**
 * netem's settings, normalized: times in milliseconds, probabilities from 0 to 1, the rate in
 * bytes per second (0: unlimited), and `null` for an impairment that is off. Made by
 * {@link parseNetemOptions}; frozen.
 */
export type NetemConfig = {
  readonly delay: number;
  readonly jitter: number;
  readonly delayCorrelation: number;
  readonly distribution: NetemDistribution;
  readonly loss: NetemLoss | null;
  readonly duplicate: NetemChance | null;
  readonly reorder: NetemReorder | null;
  readonly corrupt: NetemChance | null;
  readonly rate: number;
  readonly packetOverhead: number;
  readonly limit: number;
  readonly seed: number;
};

/** Default queue limit in packets, as tc's (`limit 1000`). */
export const NETEM_DEFAULT_LIMIT = 1000;
/** Default seed: runs replay exactly unless told otherwise. */
export const NETEM_DEFAULT_SEED = 1;

/** What a parser found, before defaults and the rules that join settings. */
export type NetemParts = { -readonly [K in keyof NetemConfig]?: NetemConfig[K] };

/** Where a setting came from, for errors: its key path and the value given there. */
export type NetemSource = (key: keyof NetemConfig) => { path: string; value: unknown };

const made = new WeakSet<object>();

/** Whether `x` is a {@link NetemConfig} made by the netem option parsers. */
export function isNetemConfig(x: unknown): x is NetemConfig {
  return typeof x === "object" && x !== null && made.has(x);
}

/**
 * Fills in defaults, checks the rules that join settings and freezes the result. An impairment
 * whose probability is 0 is off (`null`), so `loss: "0%"` and no loss are the same settings.
 * @throws ConfigError naming the setting (through `source`) that breaks a rule
 */
export function finishNetemConfig(parts: NetemParts, source: NetemSource): NetemConfig {
  const off = <T extends { probability: number }>(c: T | null | undefined): T | null =>
    c == null || c.probability === 0 ? null : Object.freeze(c);
  let loss = parts.loss ?? null;
  if (loss !== null && (loss.model === "random" ? loss.probability === 0 : loss.p === 0)) {
    loss = null;
  }
  const cfg: NetemConfig = {
    delay: parts.delay ?? 0,
    jitter: parts.jitter ?? 0,
    delayCorrelation: parts.delayCorrelation ?? 0,
    distribution: parts.distribution ?? "uniform",
    loss: loss === null ? null : Object.freeze(loss),
    duplicate: off(parts.duplicate),
    reorder: off(parts.reorder),
    corrupt: off(parts.corrupt),
    rate: parts.rate ?? 0,
    packetOverhead: parts.packetOverhead ?? 0,
    limit: parts.limit ?? NETEM_DEFAULT_LIMIT,
    seed: parts.seed ?? NETEM_DEFAULT_SEED,
  };
  const fail = (key: keyof NetemConfig, expected: string): never => {
    const { path, value } = source(key);
    throw new ConfigError(path, value, expected);
  };
  // tc: "reordering not possible without specifying some delay".
  if (cfg.reorder !== null && cfg.delay === 0) {
    fail("reorder", "no reordering, or a delay too (a reordered packet overtakes delayed ones)");
  }
  // tc: "distribution specified but no latency and jitter values".
  if (parts.distribution !== undefined && parts.distribution !== "uniform" && cfg.jitter === 0) {
    fail("distribution", "no distribution, or a jitter too (the distribution is the jitter's)");
  }
  made.add(cfg);
  return Object.freeze(cfg);
}
