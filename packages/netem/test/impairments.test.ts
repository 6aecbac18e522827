/**
 * Each impairment, measured over many packets on a manual virtual clock, matches its setting
 * within Z standard deviations of what its distribution allows.
 */
import { NET_XMIT_DROP, type Stack } from "@skbuff/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { netemAttach } from "../src/index.js";
import {
  binomialBound,
  delays,
  lag1,
  mean,
  numberOf,
  packet,
  type RecContext,
  recStack,
  run,
  sd,
  send,
  Z,
} from "./context.js";

let ctx: RecContext;
const stacks: Stack[] = [];

beforeEach(async () => {
  ctx = await recStack();
  stacks.push(ctx.stack);
});

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

/** Which packet numbers left, once each at least. */
function arrivedSet(): Set<number> {
  return new Set(ctx.sent.map((s) => numberOf(s.bytes)));
}

describe("loss", () => {
  it("drops packets at the random loss rate", () => {
    const n = 20_000;
    const p = 0.05;
    const q = run(ctx, { loss: "5%" }, n);
    const lost = n - ctx.sent.length;
    expect(Math.abs(lost - n * p)).toBeLessThanOrEqual(binomialBound(n, p));
    expect(q.netemStats.dropped).toBe(lost);
  });

  it("frees lost packets with QDISC_DROP and counts them as qdisc drops", () => {
    const q = run(ctx, { loss: "10%" }, 10_000);
    const lost = 10_000 - ctx.sent.length;
    expect(lost).toBeGreaterThan(0);
    expect(ctx.stack.dropReasons().QDISC_DROP).toBe(lost);
    expect(q.stats.drops).toBe(lost);
  });

  it("loses in bursts of mean length 1/r at the rate p/(p+r) with the Gilbert-Elliott model", () => {
    const n = 100_000;
    const p = 0.01;
    const r = 0.25;
    run(ctx, { loss: { gemodel: { p: "1%", r: "25%", h: "100%", k: "0%" } } }, n);
    const arrived = arrivedSet();
    const bursts: number[] = [];
    let run_ = 0;
    for (let i = 0; i < n; i++) {
      if (!arrived.has(i)) run_++;
      else if (run_ > 0) {
        bursts.push(run_);
        run_ = 0;
      }
    }
    // Long-run loss: the chain's time in the bad state. A two-state chain with λ = 1 − p − r
    // has Var(mean) = π(1 − π)(1 + λ)/((1 − λ)·n).
    const pi = p / (p + r);
    const lambda = 1 - p - r;
    const lossSd = Math.sqrt((pi * (1 - pi) * (1 + lambda)) / ((1 - lambda) * n));
    const lossRate = (n - arrived.size) / n;
    expect(Math.abs(lossRate - pi)).toBeLessThanOrEqual(Z * lossSd);
    // Bursts are geometric with mean 1/r and variance (1 − r)/r².
    const burstSd = Math.sqrt((1 - r) / (r * r) / bursts.length);
    expect(Math.abs(mean(bursts) - 1 / r)).toBeLessThanOrEqual(Z * burstSd);
  });

  it("loses like random loss of p when only p of the Gilbert-Elliott model is given", () => {
    const n = 20_000;
    run(ctx, "loss gemodel 5%", n);
    const lost = n - ctx.sent.length;
    expect(Math.abs(lost - n * 0.05)).toBeLessThanOrEqual(binomialBound(n, 0.05));
  });
});

describe("duplication", () => {
  it("sends packets twice at the duplication rate", () => {
    const n = 20_000;
    const p = 0.1;
    const q = run(ctx, { duplicate: "10%" }, n);
    const extra = ctx.sent.length - n;
    expect(Math.abs(extra - n * p)).toBeLessThanOrEqual(binomialBound(n, p));
    expect(q.netemStats.duplicated).toBe(extra);
  });

  it("sends a duplicate with the same bytes as its original", () => {
    run(ctx, { duplicate: "50%" }, 1000);
    const seen = new Map<number, Uint8Array>();
    for (const s of ctx.sent) {
      const i = numberOf(s.bytes);
      const before = seen.get(i);
      if (before) expect(s.bytes).toEqual(before);
      seen.set(i, s.bytes);
    }
    expect(seen.size).toBe(1000);
  });
});

describe("corruption", () => {
  it("flips exactly one bit of a corrupted packet", () => {
    const n = 20_000;
    const q = run(ctx, { corrupt: "5%" }, n);
    expect(ctx.sent).toHaveLength(n);
    let corrupted = 0;
    for (let i = 0; i < n; i++) {
      const got = ctx.sent[i]!.bytes;
      const want = packet(i);
      let bits = 0;
      for (let j = 0; j < want.length; j++) {
        let x = got[j]! ^ want[j]!;
        while (x !== 0) {
          bits += x & 1;
          x >>>= 1;
        }
      }
      expect(bits).toBeLessThanOrEqual(1);
      corrupted += bits;
    }
    expect(Math.abs(corrupted - n * 0.05)).toBeLessThanOrEqual(binomialBound(n, 0.05));
    expect(q.netemStats.corrupted).toBe(corrupted);
  });

  it("leaves the duplicate of a corrupted packet intact", () => {
    run(ctx, { duplicate: "100%", corrupt: "100%" }, 100);
    // Each packet goes out twice and each copy is corrupted on its own.
    expect(ctx.sent).toHaveLength(200);
    for (let i = 0; i < 200; i += 2) {
      expect(ctx.sent[i]!.bytes).not.toEqual(ctx.sent[i + 1]!.bytes);
    }
  });
});

describe("delay", () => {
  it("delays every packet by exactly the delay when there is no jitter", () => {
    run(ctx, { delay: "25ms" }, 10_000, 1);
    expect(ctx.sent).toHaveLength(10_000);
    expect(new Set(delays(ctx.sent, 1))).toEqual(new Set([25]));
  });

  it("keeps packets in order when there is no jitter", () => {
    run(ctx, "delay 3ms", 10_000, 0.5);
    expect(ctx.sent.map((s) => numberOf(s.bytes))).toEqual([...Array(10_000).keys()]);
  });

  /**
   * The mean and standard deviation of `xs` match `mu` and `sigma` within Z standard errors:
   * the mean's is s/√n, the standard deviation's (m4 − s⁴)^½ / (2s√n) from the sample's fourth
   * central moment, which holds for any distribution with one.
   */
  function expectMoments(xs: readonly number[], mu: number, sigma: number): void {
    const n = xs.length;
    const m = mean(xs);
    const s = sd(xs);
    let m4 = 0;
    for (const x of xs) m4 += (x - m) ** 4;
    m4 /= n;
    expect(Math.abs(m - mu)).toBeLessThanOrEqual((Z * s) / Math.sqrt(n));
    expect(Math.abs(s - sigma)).toBeLessThanOrEqual((Z * Math.sqrt((m4 - s ** 4) / n)) / (2 * s));
  }

  it("spreads uniform jitter over ±jitter with standard deviation jitter/√3", () => {
    run(ctx, { delay: "100ms", jitter: "20ms" }, 20_000, 1);
    const d = delays(ctx.sent, 1);
    expect(Math.min(...d)).toBeGreaterThanOrEqual(80);
    expect(Math.max(...d)).toBeLessThan(120);
    expectMoments(d, 100, 20 / Math.sqrt(3));
  });

  it.each(["normal", "pareto", "paretonormal"] as const)(
    "gives %s jitter a mean of the delay and a standard deviation of the jitter",
    (distribution) => {
      run(ctx, { delay: "100ms", jitter: "10ms", distribution }, 20_000, 1);
      expectMoments(delays(ctx.sent, 1), 100, 10);
    },
  );

  it("makes successive delays correlated with a delay correlation", () => {
    const rho = 0.75;
    const n = 20_000;
    run(ctx, { delay: "100ms", jitter: "20ms", delayCorrelation: "75%" }, n, 1);
    // For an AR(1) series the lag-1 autocorrelation estimate has variance (1 − ρ²)/n.
    const r1 = lag1(delays(ctx.sent, 1));
    expect(Math.abs(r1 - rho)).toBeLessThanOrEqual(Z * Math.sqrt((1 - rho * rho) / n));
  });

  it("draws independent delays without a delay correlation", () => {
    const n = 20_000;
    run(ctx, { delay: "100ms", jitter: "20ms" }, n, 1);
    expect(Math.abs(lag1(delays(ctx.sent, 1)))).toBeLessThanOrEqual(Z / Math.sqrt(n));
  });
});

describe("reordering", () => {
  const n = 20_000;
  const gap = 5;
  const p = 0.25;

  /** Packet numbers sent at once (delay 0) rather than delayed. */
  function reorderedNumbers(): number[] {
    return delays(ctx.sent, 1)
      .map((d, i) => (d === 0 ? i : -1))
      .filter((i) => i >= 0);
  }

  it("reorders at the rate that the probability and the gap allow", () => {
    const q = run(ctx, { delay: "10ms", reorder: { probability: "25%", gap } }, n, 1);
    const reordered = reorderedNumbers();
    expect(q.netemStats.reordered).toBe(reordered.length);
    // A renewal process: gap − 1 packets delayed for sure, then a geometric(p) wait. Cycles
    // have mean μ = gap − 1 + 1/p and variance σ² = (1 − p)/p², and n packets hold about n/μ
    // of them, with variance nσ²/μ³.
    const mu = gap - 1 + 1 / p;
    const sigma2 = (1 - p) / (p * p);
    expect(Math.abs(reordered.length - n / mu)).toBeLessThanOrEqual(
      Z * Math.sqrt((n * sigma2) / mu ** 3),
    );
  });

  it("reorders at most every gap-th packet", () => {
    run(ctx, "delay 10ms reorder 25% gap 5", n, 1);
    const reordered = reorderedNumbers();
    expect(reordered.length).toBeGreaterThan(0);
    expect(reordered[0]).toBeGreaterThanOrEqual(gap - 1);
    for (let k = 1; k < reordered.length; k++) {
      expect(reordered[k]! - reordered[k - 1]!).toBeGreaterThanOrEqual(gap);
    }
  });

  it("sends a reordered packet before the packets sent ahead of it", () => {
    run(ctx, { delay: "10ms", reorder: { probability: "25%", gap } }, n, 1);
    const position = new Map(ctx.sent.map((s, k) => [numberOf(s.bytes), k]));
    const reordered = reorderedNumbers();
    for (const i of reordered) expect(position.get(i)!).toBeLessThan(position.get(i - 1)!);
  });

  it("reorders each packet with the probability when no gap is given", () => {
    run(ctx, { delay: "10ms", reorder: "25%" }, n, 1);
    const count = reorderedNumbers().length;
    expect(Math.abs(count - n * p)).toBeLessThanOrEqual(binomialBound(n, p));
  });
});

describe("rate", () => {
  it("sends at the configured rate", () => {
    const n = 10_000;
    const size = 1000;
    run(ctx, { rate: "1mbit", limit: n }, n, 0, size);
    expect(ctx.sent).toHaveLength(n);
    const last = ctx.sent.at(-1)!.t;
    // 1 mbit/s is 125 000 bytes/s, so each 1000-byte packet takes 8 ms on the link.
    expect((n * size) / (last / 1000)).toBeCloseTo(125_000, 6);
    expect(ctx.sent[0]!.t).toBeCloseTo(8, 9);
  });

  it("adds the packet overhead to each packet's time on the link", () => {
    run(ctx, { rate: 125_000, packetOverhead: 250, limit: 100 }, 100, 0, 1000);
    expect(ctx.sent.at(-1)!.t).toBeCloseTo(100 * 10, 6);
  });

  it("delays by the delay and then the time on the link", () => {
    run(ctx, "delay 50ms rate 1mbit", 10, 0, 1000);
    expect(ctx.sent.map((s) => s.t)).toEqual(
      Array.from({ length: 10 }, (_, i) => expect.closeTo(50 + 8 * (i + 1), 9)),
    );
  });

  it("drops packets over the queue limit with QDISC_DROP", () => {
    const q = netemAttach(ctx.stack, "r0", { rate: "1mbit", limit: 100 });
    const results = Array.from({ length: 150 }, (_, i) => send(ctx.dev, i, 1000));
    expect(results.filter((rc) => rc === NET_XMIT_DROP)).toHaveLength(50);
    expect(q.qlen).toBe(100);
    expect(ctx.stack.dropReasons().QDISC_DROP).toBe(50);
    expect(q.netemStats.dropped).toBe(50);
    expect(ctx.dev.stats.tx_dropped).toBe(50);
    ctx.clock.runUntilIdleSync();
    expect(ctx.sent.map((s) => numberOf(s.bytes))).toEqual([...Array(100).keys()]);
  });
});
