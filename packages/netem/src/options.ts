/**
 * Parsing netem's options: the object form of code and config files, validated with a schema,
 * and the tc string form ({@link parseTcNetem}); both give one {@link NetemConfig}.
 * @packageDocumentation
 */
import { parseOptions, z } from "@skbuff/core";
import {
  finishNetemConfig,
  isNetemConfig,
  NETEM_DISTRIBUTIONS,
  type NetemChance,
  type NetemConfig,
  type NetemDistribution,
  type NetemLoss,
  type NetemOptions,
  type NetemReorder,
} from "./config.js";
import { parseTcNetem } from "./tc.js";
import {
  PERCENT_EXPECTED,
  parsePercent,
  parseRate,
  parseTime,
  RATE_EXPECTED,
  TIME_EXPECTED,
} from "./units.js";

/** The plugin's name, named in option errors. */
export const NETEM_PLUGIN_NAME = "skbuff:netem";

/** Reports a problem at a path relative to the value being parsed. */
type Report = (path: readonly PropertyKey[], message: string) => void;

/**
 * A schema field that runs a hand-written parser: the parser reports problems at paths below
 * the field (`loss.gemodel.p`), which zod prefixes with the field's own key.
 */
function field<T>(parse: (v: unknown, report: Report) => T) {
  return z.unknown().transform((v, ctx): T => {
    let failed = false;
    const out = parse(v, (path, message) => {
      failed = true;
      ctx.issues.push({ code: "custom", message, input: v, path: [...path] });
    });
    return failed ? (z.NEVER as T) : out;
  });
}

function time(v: unknown, report: Report, at: readonly PropertyKey[] = []): number {
  const ms = typeof v === "number" ? v : typeof v === "string" ? parseTime(v) : Number.NaN;
  if (ms === null || !Number.isFinite(ms) || ms < 0) {
    report(at, `${TIME_EXPECTED}, or a number of milliseconds`);
    return 0;
  }
  return ms;
}

function percent(v: unknown, report: Report, at: readonly PropertyKey[] = []): number {
  const p = typeof v === "string" ? parsePercent(v) : null;
  if (p === null) {
    report(at, typeof v === "number" ? `${PERCENT_EXPECTED} (a string with %)` : PERCENT_EXPECTED);
    return 0;
  }
  return p;
}

/** A nested options object: a plain object whose keys are all in `allowed`. */
function nested(
  v: unknown,
  allowed: readonly string[],
  report: Report,
  expected: string,
): Record<string, unknown> | null {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    report([], expected);
    return null;
  }
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key)) {
      report([key], `no key ${JSON.stringify(key)} (one of ${allowed.join(", ")})`);
      return null;
    }
  }
  return o;
}

const CHANCE_EXPECTED = 'a percentage like "1%" or { probability: "1%", correlation?: "25%" }';

function chance(v: unknown, report: Report): NetemChance {
  if (typeof v === "string" || typeof v === "number") {
    return { probability: percent(v, report), correlation: 0 };
  }
  const o = nested(v, ["probability", "correlation"], report, CHANCE_EXPECTED);
  if (o === null) return { probability: 0, correlation: 0 };
  return {
    probability: percent(o.probability, report, ["probability"]),
    correlation: o.correlation === undefined ? 0 : percent(o.correlation, report, ["correlation"]),
  };
}

const REORDER_EXPECTED =
  'a percentage like "25%" or { probability: "25%", correlation?: "50%", gap?: 5 }';

function reorder(v: unknown, report: Report): NetemReorder {
  if (typeof v === "string" || typeof v === "number") {
    return { probability: percent(v, report), correlation: 0, gap: 1 };
  }
  const o = nested(v, ["probability", "correlation", "gap"], report, REORDER_EXPECTED);
  if (o === null) return { probability: 0, correlation: 0, gap: 1 };
  let gap = 1;
  if (o.gap !== undefined) {
    if (typeof o.gap === "number" && Number.isSafeInteger(o.gap) && o.gap >= 1) gap = o.gap;
    else report(["gap"], "a whole number of packets, at least 1");
  }
  return {
    probability: percent(o.probability, report, ["probability"]),
    correlation: o.correlation === undefined ? 0 : percent(o.correlation, report, ["correlation"]),
    gap,
  };
}

const LOSS_EXPECTED =
  'a percentage like "1%", { random: "1%", correlation?: "25%" } or { gemodel: { p: "1%", r?, h?, k? } }';

function loss(v: unknown, report: Report): NetemLoss {
  if (typeof v === "string" || typeof v === "number") {
    return { model: "random", probability: percent(v, report), correlation: 0 };
  }
  if (typeof v === "object" && v !== null && "gemodel" in v) {
    const o = nested(v, ["gemodel"], report, LOSS_EXPECTED);
    const g = o && nestedAt(o.gemodel, ["p", "r", "h", "k"], report, ["gemodel"]);
    if (g === null) return { model: "random", probability: 0, correlation: 0 };
    const at = (k: string): PropertyKey[] => ["gemodel", k];
    const p = percent(g.p, report, at("p"));
    return {
      model: "gemodel",
      p,
      // tc(8): "the only needed parameter is p while the others will be set to the default
      // values r=1-p, 1-h=1 and 1-k=0" (a Bernoulli loss of p).
      r: g.r === undefined ? 1 - p : percent(g.r, report, at("r")),
      h: g.h === undefined ? 1 : percent(g.h, report, at("h")),
      k: g.k === undefined ? 0 : percent(g.k, report, at("k")),
    };
  }
  const o = nested(v, ["random", "correlation"], report, LOSS_EXPECTED);
  if (o === null) return { model: "random", probability: 0, correlation: 0 };
  return {
    model: "random",
    probability: percent(o.random, report, ["random"]),
    correlation: o.correlation === undefined ? 0 : percent(o.correlation, report, ["correlation"]),
  };
}

function nestedAt(
  v: unknown,
  allowed: readonly string[],
  report: Report,
  at: readonly PropertyKey[],
): Record<string, unknown> | null {
  return nested(
    v,
    allowed,
    (path, message) => report([...at, ...path], message),
    `an object with ${allowed.join(", ")}`,
  );
}

function rate(v: unknown, report: Report): number {
  const bps = typeof v === "number" ? v : typeof v === "string" ? parseRate(v) : Number.NaN;
  if (bps === null || !Number.isFinite(bps) || bps < 0) {
    report([], `${RATE_EXPECTED}, or a number of bytes per second`);
    return 0;
  }
  return bps;
}

const int = (min: number, expected: string) =>
  z.number({ error: expected }).int({ error: expected }).min(min, { error: expected });

/** The object form's schema; its output still goes through {@link finishNetemConfig}. */
const schema = z.strictObject({
  delay: field(time).optional(),
  jitter: field(time).optional(),
  delayCorrelation: field(percent).optional(),
  distribution: z
    .enum(NETEM_DISTRIBUTIONS, { error: `one of ${NETEM_DISTRIBUTIONS.join(", ")}` })
    .optional(),
  loss: field(loss).optional(),
  duplicate: field(chance).optional(),
  reorder: field(reorder).optional(),
  corrupt: field(chance).optional(),
  rate: field(rate).optional(),
  packetOverhead: int(Number.MIN_SAFE_INTEGER, "a whole number of bytes").optional(),
  limit: int(0, "a whole number of packets, 0 or more").optional(),
  seed: int(0, "a whole number, 0 or more")
    .max(Number.MAX_SAFE_INTEGER, { error: "a whole number, 0 or more" })
    .optional(),
});

/**
 * netem's options, normalized: the object form ({@link NetemOptions}), a tc string
 * (`"delay 100ms 10ms 25% loss 1%"`, see {@link parseTcNetem}) or an already parsed
 * {@link NetemConfig} (returned as is).
 * @throws ConfigError with the key path (or, for a tc string, the token and its position), the
 *   value and what was expected
 */
export function parseNetemOptions(
  options: NetemOptions | string | NetemConfig | Readonly<Record<string, unknown>> | undefined,
): NetemConfig {
  if (isNetemConfig(options)) return options;
  if (typeof options === "string") return parseTcNetem(options);
  const input = (options ?? {}) as Record<string, unknown>;
  const parts = parseOptions(schema, input, NETEM_PLUGIN_NAME);
  return finishNetemConfig(
    {
      ...parts,
      distribution: parts.distribution as NetemDistribution | undefined,
    },
    (key) => ({ path: key, value: input[key] }),
  );
}
