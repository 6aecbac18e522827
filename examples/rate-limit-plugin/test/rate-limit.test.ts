import { ConfigError } from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  createHarness,
  dstAddr,
  echoSeq,
  expectIpv4,
  type Harness,
  icmp,
  icmpEcho,
  type,
  udpDatagram,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type RateLimitOptions, rateLimit, rateLimiterOf } from "../src/index.js";

const NOISY = "192.0.2.2";
const QUIET = "192.0.2.3";
const ICMP_ECHOREPLY = 0;

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function limited(options: RateLimitOptions): Promise<Harness> {
  h = await createHarness({ plugins: [ipv4(), icmpPlugin(), rateLimit(options)] });
  return h;
}

function echoFrom(src: string, seq: number) {
  return { src, inner: icmpEcho({ id: 1, seq }) };
}

/** Reads every packet the stack sent so far, without moving time. */
function drain(harness: Harness): Uint8Array[] {
  const out: Uint8Array[] = [];
  while (harness.pending > 0) out.push(harness.nextPacket(0));
  return out;
}

describe("example:rate-limit", () => {
  it("lets a burst through up to `burst` packets and drops the rest", async () => {
    await limited({ rate: "10/second", burst: 5 });
    for (let seq = 1; seq <= 30; seq++) h!.inject(echoFrom(NOISY, seq));
    const replies = drain(h!);
    expect(replies).toHaveLength(5);
    expectIpv4(replies[4]!, dstAddr(NOISY), icmp(echoSeq(5)));
    expect(h!.counters()).toMatchObject({ RateLimitPassed: 5, RateLimitDropped: 25 });
    expect(h!.drops().NETFILTER_DROP).toBe(25);
  });

  it("limits each source on its own: a trickle from another source all gets through", async () => {
    await limited({ rate: "10/second", burst: 5 });
    for (let i = 0; i < 10; i++) {
      for (let k = 0; k < 5; k++) h!.inject(echoFrom(NOISY, i * 5 + k));
      h!.inject(echoFrom(QUIET, i));
      h!.advance(200); // the quiet source sends 5/second, under its 10/second
    }
    const toQuiet = drain(h!).filter((p) => p[19] === 3);
    expect(toQuiet).toHaveLength(10);
    const top = rateLimiterOf(h!.stack).topTalkers();
    expect(top).toEqual([
      { source: NOISY, passed: 5 + 9 * 2, dropped: 50 - (5 + 9 * 2) },
      { source: QUIET, passed: 10, dropped: 0 },
    ]);
  });

  it("refills the bucket as virtual time passes, at `rate`, up to `burst`", async () => {
    await limited({ rate: "10/second", burst: 5 });
    for (let seq = 1; seq <= 5; seq++) h!.inject(echoFrom(NOISY, seq));
    h!.inject(echoFrom(NOISY, 6));
    expect(h!.counters().RateLimitDropped).toBe(1);
    h!.advance(99);
    h!.inject(echoFrom(NOISY, 7));
    expect(h!.counters().RateLimitDropped).toBe(2);
    h!.advance(1);
    h!.inject(echoFrom(NOISY, 8));
    expect(h!.counters().RateLimitPassed).toBe(6);
    h!.advance(60_000); // a long pause refills no more than `burst`
    for (let seq = 9; seq <= 15; seq++) h!.inject(echoFrom(NOISY, seq));
    expect(h!.counters()).toMatchObject({ RateLimitPassed: 11, RateLimitDropped: 4 });
  });

  it("counts only the protocol it is told to match", async () => {
    await limited({ rate: "1/minute", burst: 1, match: { protocol: "icmp" } });
    for (let i = 0; i < 3; i++) {
      h!.inject({ src: NOISY, inner: udpDatagram({ sport: 1000, dport: 9 + i }) });
    }
    h!.inject(echoFrom(NOISY, 1));
    h!.inject(echoFrom(NOISY, 2));
    expect(h!.counters()).toMatchObject({ RateLimitPassed: 1, RateLimitDropped: 1 });
    // UDP has no handler here: the stack answers it with ICMP errors, which are not echo replies.
    const replies = drain(h!).filter((p) => p[20] === ICMP_ECHOREPLY);
    expect(replies).toHaveLength(1);
    expectIpv4(replies[0]!, icmp(type(ICMP_ECHOREPLY), echoSeq(1)));
  });

  it("forgets the longest-tracked source when the table is full", async () => {
    await limited({ rate: "1/second", maxSources: 2 });
    for (const src of ["192.0.2.2", "192.0.2.3", "192.0.2.4"]) h!.inject(echoFrom(src, 1));
    expect(rateLimiterOf(h!.stack).sources).toBe(2);
    expect(h!.counters().RateLimitSourcesEvicted).toBe(1);
  });

  it("refuses a malformed rate with the option's key path", () => {
    expect(() => rateLimit({ rate: "fast" })).toThrow(ConfigError);
    expect(() => rateLimit({ rate: "fast" })).toThrow(/^rate: /);
    expect(() => rateLimit({ rate: "10/second", burst: 0 })).toThrow(/burst/);
  });
});
