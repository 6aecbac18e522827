/**
 * The qdisc's contract: replayable traces, counters that match what happened, the watchdog,
 * requeue, and cleanup of packets and timers.
 */
import { NET_XMIT_SUCCESS, PluginError, type Stack } from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  type NetemOptions,
  NetemQdisc,
  netem,
  netemAttach,
  netemOf,
  parseNetemOptions,
} from "../src/index.js";
import { numberOf, packet, type RecContext, recStack, run, send } from "./context.js";

const stacks: Stack[] = [];

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

async function context(): Promise<RecContext> {
  const ctx = await recStack();
  stacks.push(ctx.stack);
  return ctx;
}

/** Every impairment at once. */
const EVERYTHING: NetemOptions = {
  delay: "20ms",
  jitter: "5ms",
  delayCorrelation: "25%",
  distribution: "normal",
  loss: { random: "5%", correlation: "10%" },
  duplicate: "5%",
  reorder: { probability: "10%", gap: 3 },
  corrupt: "5%",
  rate: "10mbit",
};

/** What left the device, and what was dropped and why. */
async function trace(options: NetemOptions, n = 5000) {
  const ctx = await context();
  const q = run(ctx, options, n, 0.5);
  return {
    sent: ctx.sent.map((s) => [s.t, Array.from(s.bytes)]),
    drops: ctx.stack.dropReasons(),
    stats: { ...q.netemStats },
  };
}

describe("replay", () => {
  it("gives the same trace for the same seed", async () => {
    const a = await trace({ ...EVERYTHING, seed: 42 });
    const b = await trace({ ...EVERYTHING, seed: 42 });
    expect(a.sent.length).toBeGreaterThan(0);
    expect(b).toEqual(a);
  });

  it("gives another trace for another seed", async () => {
    const a = await trace({ ...EVERYTHING, seed: 42 });
    const b = await trace({ ...EVERYTHING, seed: 43 });
    expect(b.sent).not.toEqual(a.sent);
  });

  it("replays without a seed too, from the default one", async () => {
    const a = await trace(EVERYTHING);
    const b = await trace({ ...EVERYTHING, seed: 1 });
    expect(b).toEqual(a);
  });

  it("gives the same trace for the tc string and the object form", async () => {
    const a = await trace(EVERYTHING);
    const ctx = await context();
    run(
      ctx,
      "delay 20ms 5ms 25% distribution normal loss random 5% 10% duplicate 5% reorder 10% gap 3 corrupt 5% rate 10mbit",
      5000,
      0.5,
    );
    expect(ctx.sent.map((s) => [s.t, Array.from(s.bytes)])).toEqual(a.sent);
  });
});

describe("counters", () => {
  it("count what was sent, dropped, duplicated, reordered and corrupted", async () => {
    const ctx = await context();
    const n = 10_000;
    const q = run(ctx, EVERYTHING, n, 0.5);
    const s = q.netemStats;
    expect(s.sent).toBe(ctx.sent.length);
    expect(s.sent).toBe(n + s.duplicated - s.dropped);
    expect(s.dropped).toBe(ctx.stack.dropReasons().QDISC_DROP);
    for (const k of ["dropped", "duplicated", "reordered", "corrupted"] as const) {
      expect(s[k]).toBeGreaterThan(0);
    }
    const changed = ctx.sent.filter((x) => {
      const want = packet(numberOf(x.bytes));
      return x.bytes.some((b, j) => b !== want[j]);
    });
    // A bit flipped in the number makes the packet look like another one, and rarely like an
    // intact one; every other corruption shows.
    expect(changed.length).toBeLessThanOrEqual(s.corrupted);
    expect(changed.length).toBeGreaterThan(s.corrupted * 0.9);
  });

  it("count a duplicate dropped over the limit as duplicated and dropped", async () => {
    const ctx = await context();
    const n = 20;
    const q = run(ctx, { duplicate: "100%", rate: "1mbit", limit: 10 }, n);
    const s = q.netemStats;
    expect(ctx.sent).toHaveLength(10);
    expect(s.duplicated).toBe(n);
    expect(s.dropped).toBe(2 * n - 10);
    expect(s.sent).toBe(n + s.duplicated - s.dropped);
  });

  it("count packets and bytes handed to the device in the qdisc stats", async () => {
    const ctx = await context();
    const q = run(ctx, { delay: "1ms", loss: "10%" }, 1000, 0, 60);
    expect(q.stats.packets).toBe(ctx.sent.length);
    expect(q.stats.bytes).toBe(ctx.sent.length * 60);
    expect(q.stats.drops).toBe(1000 - ctx.sent.length);
  });

  it("report a lost packet as sent to the caller, as a wire would", async () => {
    const ctx = await context();
    netemAttach(ctx.stack, "r0", { loss: "100%" });
    expect(send(ctx.dev, 0)).toBe(NET_XMIT_SUCCESS);
    expect(ctx.sent).toHaveLength(0);
  });
});

describe("watchdog", () => {
  it("holds a delayed packet until its time and then sends it", async () => {
    const ctx = await context();
    netemAttach(ctx.stack, "r0", { delay: "10ms" });
    send(ctx.dev, 0);
    ctx.clock.advanceSync(9.999);
    expect(ctx.sent).toHaveLength(0);
    ctx.clock.advanceSync(0.001);
    expect(ctx.sent).toEqual([{ t: 10, bytes: packet(0) }]);
  });

  it("sends each packet at its own time, also one that overtakes those queued before it", async () => {
    const ctx = await context();
    netemAttach(ctx.stack, "r0", { delay: "100ms", jitter: "50ms" });
    for (let i = 0; i < 200; i++) send(ctx.dev, i);
    ctx.clock.runUntilIdleSync();
    const times = ctx.sent.map((s) => s.t);
    const order = ctx.sent.map((s) => numberOf(s.bytes));
    // Had the watchdog waited for an earlier-queued packet, some would leave together, late.
    for (let k = 1; k < times.length; k++) expect(times[k]!).toBeGreaterThan(times[k - 1]!);
    expect(order).not.toEqual([...order].sort((x, y) => x - y));
  });

  it("makes one timer per qdisc, only once something waits", async () => {
    const ctx = await context();
    const before = ctx.stack.timerCount;
    netemAttach(ctx.stack, "r0", { delay: "10ms" });
    expect(ctx.stack.timerCount).toBe(before);
    for (let i = 0; i < 100; i++) send(ctx.dev, i);
    expect(ctx.stack.timerCount).toBe(before + 1);
  });
});

describe("requeue", () => {
  it("puts a packet back at the head, to go out first", async () => {
    const ctx = await context();
    const q = netemAttach(ctx.stack, "r0", { delay: "10ms" });
    // Keep the device from taking packets so that the test drives the qdisc by hand.
    ctx.dev.queueStopped = true;
    send(ctx.dev, 0);
    send(ctx.dev, 1);
    ctx.clock.advanceSync(10);
    const first = q.dequeue()!;
    expect(numberOf(first.head.subarray(first.data, first.tail))).toBe(0);
    q.requeue(first);
    expect(q.stats.requeues).toBe(1);
    expect(q.netemStats.sent).toBe(0);
    expect(q.dequeue()).toBe(first);
    expect(q.netemStats.sent).toBe(1);
  });
});

describe("cleanup", () => {
  it("frees held packets with QUEUE_PURGE and gives its timer back when replaced", async () => {
    const ctx = await context();
    const before = ctx.stack.timerCount;
    const q = netemAttach(ctx.stack, "r0", { delay: "100ms" });
    for (let i = 0; i < 10; i++) send(ctx.dev, i);
    expect(ctx.stack.timerCount).toBe(before + 1);
    ctx.stack.qdiscReplace(ctx.dev, "pfifo");
    expect(q.qlen).toBe(0);
    expect(ctx.stack.dropReasons().QUEUE_PURGE).toBe(10);
    expect(ctx.stack.timerCount).toBe(before);
    ctx.clock.runUntilIdleSync();
    expect(ctx.sent).toHaveLength(0);
  });

  it("frees held packets when the device goes down", async () => {
    const ctx = await context();
    const q = netemAttach(ctx.stack, "r0", { delay: "100ms" });
    for (let i = 0; i < 10; i++) send(ctx.dev, i);
    ctx.stack.devClose(ctx.dev);
    expect(q.qlen).toBe(0);
    expect(ctx.stack.dropReasons().QUEUE_PURGE).toBe(10);
  });

  it("leaves no timer behind when the stack closes", async () => {
    const ctx = await recStack();
    netemAttach(ctx.stack, "r0", { delay: "100ms" });
    for (let i = 0; i < 10; i++) send(ctx.dev, i);
    await ctx.stack.close();
    expect(ctx.stack.timerCount).toBe(0);
    expect(ctx.clock.pendingTimers).toBe(0);
  });
});

describe("attaching", () => {
  it("returns the attached qdisc, which netemOf finds on the device", async () => {
    const ctx = await context();
    const q = netemAttach(ctx.stack, "r0", "delay 5ms");
    expect(q).toBeInstanceOf(NetemQdisc);
    expect(q.kind).toBe("netem");
    expect(netemOf(ctx.dev)).toBe(q);
    expect(q.config.delay).toBe(5);
  });

  it("finds no netem on a device with another qdisc", async () => {
    const ctx = await context();
    ctx.stack.qdiscReplace(ctx.dev, "pfifo");
    expect(netemOf(ctx.dev)).toBeNull();
  });

  it("attaches through the stack's qdiscReplace with options in either form", async () => {
    const ctx = await context();
    const q = ctx.stack.qdiscReplace(ctx.dev, "netem", { delay: 7 });
    expect(q).toBeInstanceOf(NetemQdisc);
    expect((q as NetemQdisc).config).toEqual(parseNetemOptions("delay 7ms"));
  });

  it("refuses a device the stack does not have", async () => {
    const ctx = await context();
    expect(() => netemAttach(ctx.stack, "eth9", {})).toThrow(
      expect.objectContaining({ code: "ENODEV" }),
    );
  });

  it("needs the netem plugin in the stack", async () => {
    const ctx = await recStack("bare", false);
    stacks.push(ctx.stack);
    expect(() => netemAttach(ctx.stack, "r0", {})).toThrow(PluginError);
  });

  it("attaches at start the netem that the plugin's options name", async () => {
    const ctx = await recStack("attach", netem({ attach: { r0: "delay 10ms loss 1%" } }));
    stacks.push(ctx.stack);
    const q = netemOf(ctx.dev);
    expect(q?.config.delay).toBe(10);
    expect(q?.config.loss).toEqual({ model: "random", probability: 0.01, correlation: 0 });
  });

  it("fails to start a stack whose plugin options name a device it does not have", async () => {
    await expect(recStack("attach", netem({ attach: { eth9: { delay: 1 } } }))).rejects.toThrow(
      expect.objectContaining({ path: "attach.eth9" }),
    );
  });
});
