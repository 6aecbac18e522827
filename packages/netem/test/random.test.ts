/** netem's random numbers: the seeded generator, correlation, distributions, Gilbert-Elliott. */
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import {
  CorrelatedRandom,
  GE_STATE,
  GilbertElliott,
  normalQuantile,
  Prng,
  standardDeviate,
  tabledist,
} from "../src/random.js";
import { binomialBound, mean, Z } from "./context.js";

describe("Prng", () => {
  it("is xoshiro128**: from the state 1, 2, 3, 4 it gives the reference numbers", () => {
    const p = new Prng(0);
    Object.assign(p, { a: 1, b: 2, c: 3, d: 4 });
    expect(Array.from({ length: 6 }, () => p.nextU32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492,
    ]);
  });

  it("gives the numbers it always gave for seed 1, so recorded traces still replay", () => {
    const p = new Prng(1);
    expect(Array.from({ length: 4 }, () => p.nextU32())).toEqual([
      2442144158, 3238099751, 3819917871, 2104621829,
    ]);
  });

  test.prop([fc.maxSafeNat()])("gives the same numbers for the same seed", (seed) => {
    const a = new Prng(seed);
    const b = new Prng(seed);
    for (let i = 0; i < 8; i++) expect(a.nextU32()).toBe(b.nextU32());
  });

  test.prop([fc.maxSafeNat(), fc.maxSafeNat()])("gives other numbers for another seed", (s, t) => {
    fc.pre(s !== t);
    const a = new Prng(s);
    const b = new Prng(t);
    expect(Array.from({ length: 4 }, () => a.nextU32())).not.toEqual(
      Array.from({ length: 4 }, () => b.nextU32()),
    );
  });

  it("draws uniformly from [0, 1)", () => {
    const p = new Prng(7);
    const n = 100_000;
    const xs = Array.from({ length: n }, () => p.next());
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // The mean of n uniforms has standard deviation 1/√(12n).
    expect(Math.abs(mean(xs) - 0.5)).toBeLessThanOrEqual(Z / Math.sqrt(12 * n));
    const low = xs.filter((x) => x < 0.1).length;
    expect(Math.abs(low - n * 0.1)).toBeLessThanOrEqual(binomialBound(n, 0.1));
  });
});

describe("CorrelatedRandom", () => {
  it("is the plain generator when the correlation is 0", () => {
    const a = new Prng(3);
    const b = new Prng(3);
    const c = new CorrelatedRandom(0, a);
    for (let i = 0; i < 10; i++) expect(c.next()).toBe(b.next());
  });

  it("pulls each draw toward the previous one by the correlation", () => {
    const a = new Prng(3);
    const b = new Prng(3);
    const c = new CorrelatedRandom(0.5, a);
    let last = b.next(); // the starting point, drawn when the state is made
    for (let i = 0; i < 10; i++) {
      last = 0.5 * b.next() + 0.5 * last;
      expect(c.next()).toBeCloseTo(last, 12);
    }
  });
});

describe("distributions", () => {
  it.each([
    [0.5, 0],
    [0.975, 1.959964],
    [0.001, -3.090232],
    [0.8413447, 1],
  ])("gives the standard normal quantile of %f as %f", (u, x) => {
    expect(normalQuantile(u)).toBeCloseTo(x, 5);
  });

  test.prop([fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })])(
    "keeps every deviate within a bounded range",
    (u) => {
      for (const d of ["normal", "pareto", "paretonormal"] as const) {
        expect(Math.abs(standardDeviate(d, u))).toBeLessThan(8);
      }
    },
  );

  it("draws no random number when there is no jitter", () => {
    const p = new Prng(5);
    const before = new Prng(5);
    expect(tabledist(10, 0, new CorrelatedRandom(0, p), "normal")).toBe(10);
    expect(p.nextU32()).toBe(before.nextU32());
  });

  it("spreads uniform jitter over [mu − sigma, mu + sigma)", () => {
    const rnd = new CorrelatedRandom(0, new Prng(9));
    for (let i = 0; i < 1000; i++) {
      const d = tabledist(50, 10, rnd, "uniform");
      expect(d).toBeGreaterThanOrEqual(40);
      expect(d).toBeLessThan(60);
    }
  });
});

describe("GilbertElliott", () => {
  it("loses every packet in the bad state and none in the good one when h = 1 and k = 0", () => {
    const ge = new GilbertElliott(0.1, 0.3, 1, 0);
    const p = new Prng(11);
    for (let i = 0; i < 1000; i++) {
      const state = ge.state;
      expect(ge.lost(p)).toBe(state === GE_STATE.BAD);
    }
  });

  it("never leaves the good state when p = 0", () => {
    const ge = new GilbertElliott(0, 0.5, 1, 0);
    const p = new Prng(11);
    for (let i = 0; i < 1000; i++) expect(ge.lost(p)).toBe(false);
    expect(ge.state).toBe(GE_STATE.GOOD);
  });
});
