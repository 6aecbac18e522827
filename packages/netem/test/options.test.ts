/**
 * netem's options: the object form and the tc string give one normalized form, and anything
 * refused is a ConfigError naming where.
 */
import { fc, test } from "@fast-check/vitest";
import { ConfigError } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  isNetemConfig,
  type NetemConfig,
  type NetemOptions,
  netem,
  parseNetemOptions,
  parseTcNetem,
} from "../src/index.js";

/** The ConfigError `fn` throws (failing the test if it throws none or another error). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError, got none");
}

const DEFAULTS: NetemConfig = {
  delay: 0,
  jitter: 0,
  delayCorrelation: 0,
  distribution: "uniform",
  loss: null,
  duplicate: null,
  reorder: null,
  corrupt: null,
  rate: 0,
  packetOverhead: 0,
  limit: 1000,
  seed: 1,
};

describe("the object form", () => {
  it("normalizes every setting", () => {
    expect(
      parseNetemOptions({
        delay: "100ms",
        jitter: "10ms",
        delayCorrelation: "25%",
        distribution: "normal",
        loss: { random: "0.3%", correlation: "25%" },
        duplicate: "1%",
        reorder: { probability: "25%", correlation: "50%", gap: 5 },
        corrupt: { probability: "0.1%", correlation: "10%" },
        rate: "1mbit",
        packetOverhead: -20,
        limit: 500,
        seed: 42,
      }),
    ).toEqual({
      delay: 100,
      jitter: 10,
      delayCorrelation: 0.25,
      distribution: "normal",
      loss: { model: "random", probability: 0.3 / 100, correlation: 0.25 },
      duplicate: { probability: 0.01, correlation: 0 },
      reorder: { probability: 0.25, correlation: 0.5, gap: 5 },
      corrupt: { probability: 0.1 / 100, correlation: 0.1 },
      rate: 125_000,
      packetOverhead: -20,
      limit: 500,
      seed: 42,
    });
  });

  it("fills in the defaults of an empty object", () => {
    expect(parseNetemOptions({})).toEqual(DEFAULTS);
    expect(parseNetemOptions(undefined)).toEqual(DEFAULTS);
  });

  it("takes a number as milliseconds for times and bytes per second for rates", () => {
    const c = parseNetemOptions({ delay: 5, jitter: 0.5, rate: 1000 });
    expect([c.delay, c.jitter, c.rate]).toEqual([5, 0.5, 1000]);
  });

  it.each([
    ["250us", 0.25],
    ["1.5s", 1500],
    ["20ns", 20e-6],
    ["3msec", 3],
  ])("reads the time %s as %f ms", (text, ms) => {
    expect(parseNetemOptions({ delay: text as NetemOptions["delay"] }).delay).toBeCloseTo(ms, 12);
  });

  it.each([
    ["100kbit", 12_500],
    ["1gbit", 125_000_000],
    ["1kibit", 128],
    ["125kbps", 125_000],
    ["1mibps", 1_048_576],
  ])("reads the rate %s as %f bytes per second", (text, bps) => {
    expect(parseNetemOptions({ rate: text }).rate).toBe(bps);
  });

  it("reads the Gilbert-Elliott model with the defaults of tc(8)", () => {
    expect(parseNetemOptions({ loss: { gemodel: { p: "1%" } } }).loss).toEqual({
      model: "gemodel",
      p: 0.01,
      r: 0.99,
      h: 1,
      k: 0,
    });
  });

  it("turns off an impairment whose probability is 0%", () => {
    expect(parseNetemOptions({ loss: "0%", duplicate: "0%", corrupt: "0%" })).toEqual(DEFAULTS);
  });

  it("returns a parsed config as it is, frozen", () => {
    const c = parseNetemOptions({ delay: "1ms" });
    expect(isNetemConfig(c)).toBe(true);
    expect(Object.isFrozen(c)).toBe(true);
    expect(parseNetemOptions(c)).toBe(c);
  });
});

describe("the tc string", () => {
  it("gives the same settings as the object form", () => {
    expect(
      parseTcNetem(
        "delay 100ms 10ms 25% distribution normal loss 0.3% 25% duplicate 1% reorder 25% 50% gap 5 corrupt 0.1% rate 1mbit limit 1000",
      ),
    ).toEqual(
      parseNetemOptions({
        delay: "100ms",
        jitter: "10ms",
        delayCorrelation: "25%",
        distribution: "normal",
        loss: { random: "0.3%", correlation: "25%" },
        duplicate: "1%",
        reorder: { probability: "25%", correlation: "50%", gap: 5 },
        corrupt: "0.1%",
        rate: "1mbit",
        limit: 1000,
      }),
    );
  });

  it("reads loss gemodel in tc's order p r 1-h 1-k", () => {
    expect(parseTcNetem("loss gemodel 1% 10% 70% 0.1%").loss).toEqual({
      model: "gemodel",
      p: 0.01,
      r: 0.1,
      h: 0.7,
      k: 0.1 / 100,
    });
  });

  it("takes tc's synonyms, a percentage without %, and the packet overhead of a rate", () => {
    expect(parseTcNetem("latency 10ms drop random 1 25 rate 100kbit 24 seed 7")).toEqual({
      ...DEFAULTS,
      delay: 10,
      loss: { model: "random", probability: 0.01, correlation: 0.25 },
      rate: 12_500,
      packetOverhead: 24,
      seed: 7,
    });
  });

  it("is what parseNetemOptions makes of a string", () => {
    expect(parseNetemOptions("delay 5ms")).toEqual(parseTcNetem("delay 5ms"));
  });

  const percent = fc.integer({ min: 0, max: 10_000 }).map((x) => x / 100);
  const chance = fc.option(fc.record({ p: percent, c: percent }), { nil: undefined });

  test.prop([
    fc.record({
      delay: fc.integer({ min: 1, max: 10_000 }),
      jitter: fc.option(
        fc.record({
          ms: fc.integer({ min: 1, max: 1000 }),
          corr: percent,
          dist: fc.constantFrom("uniform", "normal", "pareto", "paretonormal" as const),
        }),
        { nil: undefined },
      ),
      loss: fc.option(
        fc.oneof(
          fc.record({ kind: fc.constant("random" as const), p: percent, c: percent }),
          fc.record({
            kind: fc.constant("gemodel" as const),
            p: percent,
            r: percent,
            h: percent,
            k: percent,
          }),
        ),
        { nil: undefined },
      ),
      duplicate: chance,
      corrupt: chance,
      reorder: fc.option(
        fc.record({ p: percent, c: percent, gap: fc.integer({ min: 1, max: 9 }) }),
        {
          nil: undefined,
        },
      ),
      rateKbit: fc.option(fc.integer({ min: 1, max: 1_000_000 }), { nil: undefined }),
      limit: fc.option(fc.integer({ min: 0, max: 100_000 }), { nil: undefined }),
      seed: fc.option(fc.integer({ min: 0, max: 2 ** 32 }), { nil: undefined }),
    }),
  ])("agrees with the object form on any settings", (s) => {
    const pc = (x: number) => `${x}%` as const;
    const tc: string[] = [`delay ${s.delay}ms`];
    const obj: Record<string, unknown> = { delay: s.delay };
    if (s.jitter) {
      tc[0] += ` ${s.jitter.ms}ms ${pc(s.jitter.corr)}`;
      tc.push(`distribution ${s.jitter.dist}`);
      Object.assign(obj, {
        jitter: `${s.jitter.ms}ms`,
        delayCorrelation: pc(s.jitter.corr),
        distribution: s.jitter.dist,
      });
    }
    if (s.loss?.kind === "random") {
      tc.push(`loss random ${pc(s.loss.p)} ${pc(s.loss.c)}`);
      obj.loss = { random: pc(s.loss.p), correlation: pc(s.loss.c) };
    } else if (s.loss?.kind === "gemodel") {
      const { p, r, h, k } = s.loss;
      tc.push(`loss gemodel ${pc(p)} ${pc(r)} ${pc(h)} ${pc(k)}`);
      obj.loss = { gemodel: { p: pc(p), r: pc(r), h: pc(h), k: pc(k) } };
    }
    for (const key of ["duplicate", "corrupt"] as const) {
      const c = s[key];
      if (c) {
        tc.push(`${key} ${pc(c.p)} ${pc(c.c)}`);
        obj[key] = { probability: pc(c.p), correlation: pc(c.c) };
      }
    }
    if (s.reorder) {
      tc.push(`reorder ${pc(s.reorder.p)} ${pc(s.reorder.c)} gap ${s.reorder.gap}`);
      obj.reorder = {
        probability: pc(s.reorder.p),
        correlation: pc(s.reorder.c),
        gap: s.reorder.gap,
      };
    }
    if (s.rateKbit !== undefined) {
      tc.push(`rate ${s.rateKbit}kbit`);
      obj.rate = `${s.rateKbit}kbit`;
    }
    if (s.limit !== undefined) {
      tc.push(`limit ${s.limit}`);
      obj.limit = s.limit;
    }
    if (s.seed !== undefined) {
      tc.push(`seed ${s.seed}`);
      obj.seed = s.seed;
    }
    expect(parseTcNetem(tc.join(" "))).toEqual(parseNetemOptions(obj));
  });

  const word = fc.oneof(
    fc.constantFrom(
      "delay",
      "latency",
      "loss",
      "drop",
      "random",
      "gemodel",
      "state",
      "duplicate",
      "corrupt",
      "reorder",
      "gap",
      "rate",
      "limit",
      "seed",
      "distribution",
      "normal",
      "ecn",
      "10ms",
      "1%",
      "150%",
      "5",
      "-3",
      "1mbit",
      "x",
    ),
    fc.string({ minLength: 1, maxLength: 6 }).filter((w) => !/\s/.test(w)),
  );

  test.prop([fc.array(word, { maxLength: 12 })])(
    "either parses a string or refuses it with a ConfigError",
    (words) => {
      try {
        expect(isNetemConfig(parseTcNetem(words.join(" ")))).toBe(true);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
      }
    },
  );

  test.prop([fc.integer({ min: 0, max: 1_000_000 }).map((x) => x / 10_000)])(
    "reads any percentage from 0% to 100%",
    (p) => {
      expect(parseTcNetem(`loss ${p}%`).loss?.model ?? "off").toBe(p === 0 ? "off" : "random");
      if (p > 0)
        expect(parseNetemOptions({ duplicate: `${p}%` }).duplicate?.probability).toBe(p / 100);
    },
  );
});

describe("refusals", () => {
  it("names the key of a time with a bad unit", () => {
    const e = configError(() => parseNetemOptions({ delay: "100xs" as never }));
    expect(e.path).toBe("delay");
    expect(e.value).toBe("100xs");
    expect(e.message).toContain('a time like "100ms"');
  });

  it("refuses a percentage over 100%", () => {
    const e = configError(() => parseNetemOptions({ loss: "150%" }));
    expect(e.path).toBe("loss");
    expect(e.expected).toContain("from 0% to 100%");
  });

  it("names the full path of a nested setting", () => {
    const e = configError(() => parseNetemOptions({ loss: { gemodel: { p: "150%" } } }));
    expect(e.path).toBe("loss.gemodel.p");
    expect(e.value).toBe("150%");
  });

  it("refuses an unknown key", () => {
    const e = configError(() => parseNetemOptions({ delya: "1ms" } as never));
    expect(e.path).toBe("");
    expect(e.message).toContain('no key "delya"');
  });

  it("refuses an unknown key inside a setting", () => {
    const e = configError(() =>
      parseNetemOptions({ delay: "1ms", reorder: { probability: "1%", gapp: 3 } as never }),
    );
    expect(e.path).toBe("reorder.gapp");
  });

  it("refuses a percentage without %, which would be ambiguous", () => {
    const e = configError(() => parseNetemOptions({ loss: 1 as never }));
    expect(e.path).toBe("loss");
    expect(e.expected).toContain("a string with %");
  });

  it.each([
    [{ distribution: "gaussian" }, "distribution"],
    [{ limit: -1 }, "limit"],
    [{ limit: 1.5 }, "limit"],
    [{ seed: "7" }, "seed"],
    [{ rate: "fast" }, "rate"],
    [{ reorder: { probability: "1%", gap: 0 } }, "reorder.gap"],
    [{ duplicate: { correlation: "1%" } }, "duplicate.probability"],
  ])("refuses %j at its key", (options, path) => {
    expect(configError(() => parseNetemOptions(options as never)).path).toBe(path);
  });

  it("refuses reordering without a delay", () => {
    expect(configError(() => parseNetemOptions({ reorder: "10%" })).path).toBe("reorder");
    expect(configError(() => parseTcNetem("loss 1% reorder 10%")).path).toBe("tc[2]");
  });

  it("refuses a distribution without a jitter", () => {
    const e = configError(() => parseNetemOptions({ delay: 5, distribution: "normal" }));
    expect(e.path).toBe("distribution");
  });

  it("names a bad tc token and its position", () => {
    const e = configError(() => parseTcNetem("delay 100ms bogus 1"));
    expect(e.path).toBe("tc[2]");
    expect(e.value).toBe("bogus");
    expect(e.message).toContain("token 3, at character 13");
  });

  it.each([
    ["delay 100xs", "tc[1]", "100xs"],
    ["delay 100", "tc[1]", "100"],
    ["loss 150%", "tc[1]", "150%"],
    ["loss", "tc[1]", undefined],
    ["delay 1ms delay 2ms", "tc[2]", "delay"],
    ["loss 1% ecn", "tc[2]", "ecn"],
    ["loss state 1%", "tc[1]", "state"],
    ["delay 5ms gap 3", "tc[2]", "gap"],
    ["rate 1mbit 20 5", "tc[3]", "5"],
    ["rate 1", "tc[1]", "1"],
    ["distribution normal", "tc[0]", "distribution"],
    ["limit many", "tc[1]", "many"],
  ])("refuses %j at token %s", (text, path, value) => {
    const e = configError(() => parseTcNetem(text));
    expect([e.path, e.value]).toEqual([path, value]);
  });

  it("says that a keyword Linux has but this netem lacks is not supported", () => {
    expect(configError(() => parseTcNetem("delay 1ms slot 1ms")).message).toContain(
      "not supported",
    );
  });

  it("checks the plugin's options when the plugin is made, with their path", () => {
    expect(configError(() => netem({ attach: { eth0: { delay: "x" as never } } })).path).toBe(
      "attach.eth0.delay",
    );
    expect(configError(() => netem({ attach: { eth0: "delay 1ms loss x" } })).path).toBe(
      "attach.eth0.tc[3]",
    );
    expect(configError(() => netem({ attach: 5 } as never)).path).toBe("attach");
  });
});
