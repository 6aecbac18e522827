/**
 * The tc spelling of netem's options, as after `tc qdisc add dev eth0 root netem`:
 *
 * ```
 * [ limit PACKETS ] [ delay TIME [ JITTER [ CORRELATION ]]] [ distribution DIST ]
 * [ loss [ random ] PERCENT [ CORRELATION ] | loss gemodel P [ R [ 1-H [ 1-K ]]]]
 * [ duplicate PERCENT [ CORRELATION ]] [ corrupt PERCENT [ CORRELATION ]]
 * [ reorder PERCENT [ CORRELATION ]] [ gap DISTANCE ] [ rate RATE [ PACKETOVERHEAD ]]
 * [ seed SEED ]
 * ```
 * `latency` is a synonym of `delay` and `drop` of `loss`, as in tc. Times and rates need their
 * unit (`100ms`, `1mbit`); a percentage may omit its `%` (`loss 1` is 1%), as tc allows.
 * @see iproute2 tc/q_netem.c netem_parse_opt(), tc-netem(8)
 * @packageDocumentation
 */
import { ConfigError } from "@skbuff/core";
import {
  finishNetemConfig,
  NETEM_DISTRIBUTIONS,
  type NetemConfig,
  type NetemDistribution,
  type NetemParts,
} from "./config.js";
import {
  looksNumeric,
  PERCENT_EXPECTED,
  parsePercent,
  parseRate,
  parseTime,
  RATE_EXPECTED,
  TIME_EXPECTED,
} from "./units.js";

/** One word of the string and where it starts (0-based character offset). */
interface Token {
  readonly text: string;
  readonly at: number;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  for (const m of text.matchAll(/\S+/g)) out.push({ text: m[0], at: m.index });
  return out;
}

/** The settings a keyword sets, to refuse a keyword given twice. */
const KEYWORD_SETS: Readonly<Record<string, keyof NetemConfig>> = {
  limit: "limit",
  delay: "delay",
  latency: "delay",
  distribution: "distribution",
  loss: "loss",
  drop: "loss",
  duplicate: "duplicate",
  corrupt: "corrupt",
  reorder: "reorder",
  gap: "reorder",
  rate: "rate",
  seed: "seed",
};

/** tc keywords netem has in Linux but skbuff's does not (yet). */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  ecn: "ECN marking instead of loss",
  slot: "slotting",
  state: "the 4-state loss model",
  trace: "loss traces",
};

const KEYWORDS_EXPECTED = `a netem keyword (${[...new Set(Object.keys(KEYWORD_SETS))].join(", ")})`;

/**
 * Parses a tc netem option string into {@link NetemConfig}.
 *
 * ```ts
 * parseTcNetem("delay 100ms 10ms 25% distribution normal loss 0.3% 25% rate 1mbit");
 * parseTcNetem("loss gemodel 1% 10% 70% 0.1%"); // p r 1-h 1-k
 * ```
 * @throws ConfigError whose path is the token's index (`tc[3]`), whose value is the token, and
 *   whose message says what was expected there and at which character it starts
 */
export function parseTcNetem(text: string): NetemConfig {
  const tokens = tokenize(text);
  const parts: NetemParts = {};
  /** Index of the token of each keyword given (`gap` apart from `reorder`). */
  const keywordAt: Record<string, number> = {};
  let gap: number | undefined;
  let reorder: { probability: number; correlation: number } | undefined;
  let i = 0;

  const fail = (index: number, expected: string): never => {
    const tok = tokens[index];
    const where =
      tok === undefined
        ? `at the end of ${JSON.stringify(text)}`
        : `token ${index + 1}, at character ${tok.at + 1} of ${JSON.stringify(text)}`;
    throw new ConfigError(`tc[${index}]`, tok?.text, `${expected} (${where})`);
  };
  /** The next token, which must be there. */
  const take = (): string => {
    i++;
    const tok = tokens[i];
    return tok === undefined ? fail(i, "a value") : tok.text;
  };
  const takeTime = (after: string): number => {
    const t = take();
    const ms = parseTime(t);
    return ms === null || ms < 0 ? fail(i, `${TIME_EXPECTED} after "${after}"`) : ms;
  };
  const takePercent = (after: string): number => {
    const p = parsePercent(take(), true);
    return p === null ? fail(i, `${PERCENT_EXPECTED} after "${after}"`) : p;
  };
  /** An optional percentage: taken only if the next token looks like a number. */
  const maybePercent = (after: string): number | undefined =>
    looksNumeric(tokens[i + 1]?.text) ? takePercent(after) : undefined;
  const takeInt = (after: string, min: number, expected: string): number => {
    const t = take();
    const n = /^-?[0-9]+$/.test(t) ? Number(t) : Number.NaN;
    return Number.isSafeInteger(n) && n >= min ? n : fail(i, `${expected} after "${after}"`);
  };

  for (; i < tokens.length; i++) {
    const kwIndex = i;
    const kw = tokens[i]!.text.toLowerCase();
    const sets = KEYWORD_SETS[kw];
    if (sets === undefined) {
      const why = UNSUPPORTED[kw];
      fail(i, why ? `a keyword skbuff's netem has (${why} is not supported)` : KEYWORDS_EXPECTED);
    }
    const seenKey = kw === "gap" ? "gap" : sets!;
    const before = keywordAt[seenKey];
    if (before !== undefined) fail(i, `"${kw}" only once (it was given as token ${before + 1})`);
    keywordAt[seenKey] = kwIndex;
    switch (kw) {
      case "limit":
        parts.limit = takeInt(kw, 0, "a whole number of packets");
        break;
      case "delay":
      case "latency":
        parts.delay = takeTime(kw);
        if (looksNumeric(tokens[i + 1]?.text)) {
          parts.jitter = takeTime("delay TIME");
          parts.delayCorrelation = maybePercent("delay TIME JITTER");
        }
        break;
      case "distribution": {
        const d = take().toLowerCase();
        if (!(NETEM_DISTRIBUTIONS as readonly string[]).includes(d)) {
          fail(i, `one of ${NETEM_DISTRIBUTIONS.join(", ")} after "distribution"`);
        }
        parts.distribution = d as NetemDistribution;
        break;
      }
      case "loss":
      case "drop": {
        const next = tokens[i + 1]?.text.toLowerCase();
        if (next === "gemodel") {
          i++;
          const p = takePercent("gemodel");
          const r = maybePercent("gemodel P");
          const h = r === undefined ? undefined : maybePercent("gemodel P R");
          const k = h === undefined ? undefined : maybePercent("gemodel P R 1-H");
          // tc(8): defaults r = 1-p, 1-h = 1 and 1-k = 0.
          parts.loss = { model: "gemodel", p, r: r ?? 1 - p, h: h ?? 1, k: k ?? 0 };
        } else {
          if (next === "random") i++;
          else if (next !== undefined && UNSUPPORTED[next] !== undefined) {
            fail(i + 1, `"random" or "gemodel" (${UNSUPPORTED[next]} is not supported)`);
          }
          const probability = takePercent(next === "random" ? "loss random" : kw);
          parts.loss = {
            model: "random",
            probability,
            correlation: maybePercent(`${kw} PERCENT`) ?? 0,
          };
        }
        break;
      }
      case "duplicate":
      case "corrupt": {
        const probability = takePercent(kw);
        parts[kw] = { probability, correlation: maybePercent(`${kw} PERCENT`) ?? 0 };
        break;
      }
      case "reorder": {
        const probability = takePercent(kw);
        reorder = { probability, correlation: maybePercent("reorder PERCENT") ?? 0 };
        break;
      }
      case "gap":
        gap = takeInt(kw, 1, "a whole number of packets, at least 1");
        break;
      case "rate": {
        const t = take();
        const bps = parseRate(t);
        if (bps === null || bps <= 0) fail(i, `${RATE_EXPECTED} after "rate"`);
        parts.rate = bps!;
        if (looksNumeric(tokens[i + 1]?.text)) {
          parts.packetOverhead = takeInt(
            "rate RATE",
            Number.MIN_SAFE_INTEGER,
            "a packet overhead in bytes",
          );
          if (looksNumeric(tokens[i + 1]?.text)) {
            fail(i + 1, "a netem keyword (rate cell sizes are not supported)");
          }
        }
        break;
      }
      case "seed":
        parts.seed = takeInt(kw, 0, "a whole number, 0 or more");
        break;
    }
  }
  // tc: "gap specified without reorder probability".
  if (gap !== undefined && reorder === undefined) {
    fail(keywordAt.gap!, '"gap" only with "reorder" (a reorder probability)');
  }
  if (reorder !== undefined) parts.reorder = { ...reorder, gap: gap ?? 1 };
  return finishNetemConfig(parts, (key) => {
    const index = keywordAt[key] ?? 0;
    return {
      path: `tc[${index}]`,
      value: tokens[index]?.text,
    };
  });
}
