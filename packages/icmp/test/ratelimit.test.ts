import type { PingReply, Stack } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { IcmpGlobalLimit, IcmpPeerLimit, icmpMaskAllow, PingError } from "../src/index.js";
import {
  addr,
  loopbackStack,
  outcome,
  routed,
  sendRaw,
  settle,
  strictClock,
  twoHosts,
} from "./helpers.js";

const FAR_B = "198.51.100.1";

/** Sends `n` pings at once and sorts what became of them. */
async function pingMany(
  stack: Stack,
  n: number,
  dst: string,
  opts: Parameters<Stack["ping"]>[1],
  run: () => Promise<void>,
): Promise<{ replies: number; errors: PingError[]; timeouts: number }> {
  const all = Array.from({ length: n }, () => outcome(stack.ping(dst, opts)));
  await run();
  const done = await Promise.all(all);
  return {
    replies: done.filter((r): r is PingReply => !(r instanceof Error)).length,
    errors: done.filter((r): r is PingError => r instanceof PingError),
    timeouts: done.filter(
      (r) => r instanceof Error && (r as { code?: string }).code === "ETIMEDOUT",
    ).length,
  };
}

describe("icmp_ratelimit, per destination", () => {
  it("lets a burst of six errors through to one host, then one per icmp_ratelimit ms", async () => {
    const clock = strictClock(false);
    const net = await routed({ clock });
    const a = net.hosts.a!;
    const burst = await pingMany(a, 10, FAR_B, { ttl: 1, timeoutMs: 500 }, () =>
      clock.advance(500),
    );
    expect(burst.errors.map((e) => e.icmpType)).toEqual([11, 11, 11, 11, 11, 11]);
    expect(burst.timeouts).toBe(4);
    await clock.advance(500); // one second after the burst
    const later = await pingMany(a, 2, FAR_B, { ttl: 1, timeoutMs: 500 }, () => clock.advance(500));
    expect([later.errors.length, later.timeouts]).toEqual([1, 1]);
    expect(net.hosts.router!.counters()).toMatchObject({
      IcmpOutTimeExcds: 7,
      IcmpOutRateLimitHost: 5,
      IcmpOutRateLimitGlobal: 0,
    });
    await net.close();
  });

  it("counts the limit per destination, not in total", async () => {
    const clock = strictClock(false);
    const net = await routed({ clock });
    const router = net.hosts.router!;
    // Seven datagrams with TTL 1 from a, seven from b: six errors to each.
    for (let i = 0; i < 7; i++) {
      sendRaw(net.hosts.a!, addr(FAR_B), 253, new Uint8Array(8), { ttl: 1 });
      sendRaw(net.hosts.b!, addr("192.0.2.1"), 253, new Uint8Array(8), { ttl: 1 });
    }
    await clock.advance(0);
    expect(router.counters()).toMatchObject({ IcmpOutTimeExcds: 12, IcmpOutRateLimitHost: 2 });
    await net.close();
  });

  it("is off with icmp_ratelimit 0", async () => {
    const clock = strictClock(false);
    const net = await routed({ clock, router: { "net.ipv4.icmp_ratelimit": 0 } });
    const r = await pingMany(net.hosts.a!, 10, FAR_B, { ttl: 1, timeoutMs: 500 }, () =>
      clock.advance(500),
    );
    expect(r.errors).toHaveLength(10);
    await net.close();
  });

  it("never limits fragmentation needed, which path MTU discovery depends on", async () => {
    const clock = strictClock(false);
    const net = await routed({ clock, mtuRight: 1000 });
    const r = await pingMany(
      net.hosts.a!,
      10,
      FAR_B,
      { size: 1200, dontFragment: true, timeoutMs: 500 },
      () => clock.advance(500),
    );
    expect(r.errors.map((e) => e.code)).toEqual(Array(10).fill("EMSGSIZE"));
    expect(net.hosts.router!.counters().IcmpOutRateLimitHost).toBe(0);
    await net.close();
  });

  it("does not limit errors about packets that came in on loopback", async () => {
    const stack = await loopbackStack();
    for (let i = 0; i < 10; i++) sendRaw(stack, addr("127.0.0.1"), 253, new Uint8Array(8));
    await settle(stack);
    expect(stack.counters()).toMatchObject({
      IcmpOutDestUnreachs: 10,
      IcmpOutRateLimitHost: 0,
      IcmpOutRateLimitGlobal: 0,
    });
    await stack.close();
  });
});

describe("icmp_msgs_per_sec and icmp_msgs_burst, for all destinations", () => {
  it("stops errors once the burst is spent and counts IcmpOutRateLimitGlobal", async () => {
    const clock = strictClock(false);
    const net = await routed({
      clock,
      router: { "net.ipv4.icmp_msgs_burst": 3, "net.ipv4.icmp_ratelimit": 0 },
    });
    const r = await pingMany(net.hosts.a!, 10, FAR_B, { ttl: 1, timeoutMs: 500 }, () =>
      clock.advance(500),
    );
    expect([r.errors.length, r.timeouts]).toEqual([3, 7]);
    expect(net.hosts.router!.counters()).toMatchObject({
      IcmpOutTimeExcds: 3,
      IcmpOutRateLimitGlobal: 7,
    });
    await net.close();
  });

  it("refills the budget at icmp_msgs_per_sec", async () => {
    const clock = strictClock(false);
    const net = await routed({
      clock,
      router: {
        "net.ipv4.icmp_msgs_burst": 3,
        "net.ipv4.icmp_msgs_per_sec": 100,
        "net.ipv4.icmp_ratelimit": 0,
      },
    });
    const first = await pingMany(net.hosts.a!, 5, FAR_B, { ttl: 1, timeoutMs: 20 }, () =>
      clock.advance(20),
    );
    // 20 ms at 100 per second earn two credits.
    const second = await pingMany(net.hosts.a!, 5, FAR_B, { ttl: 1, timeoutMs: 20 }, () =>
      clock.advance(20),
    );
    expect([first.errors.length, second.errors.length]).toEqual([3, 2]);
    await net.close();
  });
});

describe("icmp_ratemask", () => {
  it("leaves echo replies unlimited by default", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({
      clock,
      b: { "net.ipv4.icmp_msgs_burst": 0, "net.ipv4.icmp_ratelimit": 1_000_000 },
    });
    const r = await pingMany(net.hosts.a!, 10, "192.0.2.2", { timeoutMs: 100 }, () =>
      clock.advance(100),
    );
    expect(r.replies).toBe(10);
    await net.close();
  });

  it("limits echo replies too once bit 0 is set", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock, b: { "net.ipv4.icmp_ratemask": 0x1819 } });
    const r = await pingMany(net.hosts.a!, 10, "192.0.2.2", { timeoutMs: 100 }, () =>
      clock.advance(100),
    );
    expect([r.replies, r.timeouts]).toEqual([6, 4]);
    expect(net.hosts.b!.counters()).toMatchObject({ IcmpOutEchoReps: 6, IcmpOutRateLimitHost: 4 });
    await net.close();
  });
});

describe("the limiters", () => {
  it("limit the default ratemask's types and nothing else", () => {
    const limited = Array.from({ length: 19 }, (_, t) => t).filter(
      (t) => !icmpMaskAllow(0x1818, t, 0),
    );
    expect(limited).toEqual([3, 4, 11, 12]);
    expect(icmpMaskAllow(0x1818, 3, 4)).toBe(true);
    expect(icmpMaskAllow(0xffffffff, 99, 0)).toBe(true);
  });

  it("give a new peer six messages, then one per timeout", () => {
    const peers = new IcmpPeerLimit();
    const at0 = Array.from({ length: 8 }, () => peers.allow(1, 0, 1000));
    expect(at0).toEqual([true, true, true, true, true, true, false, false]);
    expect(peers.allow(1, 999, 1000)).toBe(false);
    expect(peers.allow(1, 1000, 1000)).toBe(true);
    expect(peers.allow(2, 1000, 1000)).toBe(true);
  });

  it("refill the global budget only after 20 ms and never beyond the burst", () => {
    const g = new IcmpGlobalLimit();
    expect(g.allow(0, 1000, 50)).toBe(true);
    expect(g.credit).toBe(50);
    g.credit = 0;
    expect(g.allow(19, 1000, 50)).toBe(false);
    expect(g.allow(20, 1000, 50)).toBe(true);
    expect(g.credit).toBe(20);
    g.credit = 0;
    expect(g.allow(10_000, 1000, 50)).toBe(true);
    expect(g.credit).toBe(50);
  });
});
