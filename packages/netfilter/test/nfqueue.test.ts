import {
  definePlugin,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NF_IP_PRI_FILTER,
  NF_QUEUE_NR,
  NFPROTO_IPV4,
  type NfHookFn,
} from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  createHarness,
  echoSeq,
  expectIpv4,
  type Harness,
  icmp,
  icmpEcho,
  payload,
  type,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  type NfqueueHandler,
  type NfqueueOptions,
  type NfqueuePacket,
  type NfqueueVerdict,
  nfqueueBind,
  nfqueueOf,
  nfqueuePlugin,
} from "../src/nfqueue.js";

const ICMP_ECHOREPLY = 0;
const QUEUE = 3;

/** A plugin whose LOCAL_IN hook queues every packet to `queueNum` (like `queue num 3`). */
function queueAll(queueNum: number, bypass = false, hook?: NfHookFn) {
  return definePlugin({
    name: "test:queue-all",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_LOCAL_IN,
        priority: NF_IP_PRI_FILTER,
        hook: hook ?? (() => NF_QUEUE_NR(queueNum, bypass)),
      });
    },
  });
}

/** A LOCAL_IN hook after the queueing one that records the marks of packets that get there. */
function markRecorder(marks: number[]) {
  return definePlugin({
    name: "test:mark-recorder",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_LOCAL_IN,
        priority: NF_IP_PRI_FILTER + 10,
        hook: (skb) => {
          marks.push(skb.mark);
          return NF_ACCEPT;
        },
      });
    },
  });
}

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function harnessWithQueue(
  handler: NfqueueHandler,
  options?: NfqueueOptions,
  extra: Parameters<typeof createHarness>[0]["plugins"] = [],
): Promise<Harness> {
  h = await createHarness({ plugins: [ipv4(), icmpPlugin(), queueAll(QUEUE), ...extra] });
  nfqueueBind(h.stack, QUEUE, handler, options);
  return h;
}

/** A handler whose verdicts the test gives later, packet by packet. */
function deferredHandler() {
  const waiting: { pkt: NfqueuePacket; resolve: (v: NfqueueVerdict) => void }[] = [];
  const handler: NfqueueHandler = (pkt) =>
    new Promise<NfqueueVerdict>((resolve) => waiting.push({ pkt, resolve }));
  return { handler, waiting };
}

function echo(seq: number, data = "ping") {
  return icmpEcho({ id: 7, seq, payload: data });
}

describe("nfqueueBind", () => {
  it("hands the handler a copy of the packet from the IP header, with where it was queued", async () => {
    const seen: NfqueuePacket[] = [];
    await harnessWithQueue((pkt) => {
      seen.push(pkt);
      return { verdict: "accept" };
    });
    const sent = h!.build(echo(1));
    h!.inject(sent);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({
      id: 1,
      queueNum: QUEUE,
      hook: NF_INET_LOCAL_IN,
      pf: NFPROTO_IPV4,
      protocol: 0x0800,
      indev: "tst0",
      outdev: null,
      mark: 0,
    });
    expect(seen[0]!.bytes).toEqual(sent);
  });

  it("gives the handler a copy: writing to it does not change the queued packet", async () => {
    await harnessWithQueue((pkt) => {
      pkt.bytes.fill(0);
      return { verdict: "accept" };
    });
    h!.inject(echo(1));
    expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(1)));
  });

  it("drops and counts a verdict it does not know", async () => {
    await harnessWithQueue(() => ({ verdict: "bogus" }) as unknown as NfqueueVerdict);
    h!.inject(echo(1));
    h!.expectNoPacket(10);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ errors: 1, dropped: 1 });
  });

  it("delivers a packet the handler accepts", async () => {
    await harnessWithQueue(() => ({ verdict: "accept" }));
    h!.inject(echo(1));
    expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(1)));
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ queued: 1, accepted: 1 });
  });

  it("accepts with a verdict that an async handler resolves later", async () => {
    await harnessWithQueue(async () => {
      await Promise.resolve();
      return { verdict: "accept" };
    });
    h!.inject(echo(1));
    expect(h!.pending).toBe(0);
    await h!.settle();
    expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(1)));
  });

  it("frees a packet the handler drops, with NETFILTER_DROP", async () => {
    await harnessWithQueue(() => ({ verdict: "drop" }));
    h!.inject(echo(1));
    h!.expectNoPacket(100);
    expect(h!.drops().NETFILTER_DROP).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ queued: 1, dropped: 1 });
  });

  it("continues with the packet the handler modified, resized, as it wrote it", async () => {
    await harnessWithQueue(() => ({
      verdict: "accept",
      bytes: h!.build(echo(1, "a longer payload than before")),
    }));
    h!.inject(echo(1, "hi"));
    expectIpv4(
      h!.nextPacket(),
      icmp(type(ICMP_ECHOREPLY), echoSeq(1), payload("a longer payload than before")),
    );
    expect(nfqueueOf(h!.stack, QUEUE)!.stats.modified).toBe(1);
  });

  it("shrinks a packet the handler shortened", async () => {
    await harnessWithQueue(() => ({ verdict: "accept", bytes: h!.build(echo(1, "x")) }));
    h!.inject(echo(1, "a payload that the handler cuts short"));
    expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), payload("x")));
  });

  it("recomputes nothing: a modified packet with a stale checksum is dropped by the stack", async () => {
    await harnessWithQueue((pkt) => {
      const bytes = pkt.bytes.slice();
      bytes[bytes.length - 1]! ^= 0xff; // changes the payload, leaves the ICMP checksum stale
      return { verdict: "accept", bytes };
    });
    h!.inject(echo(1));
    h!.expectNoPacket(100);
    expect(h!.drops().ICMP_CSUM ?? h!.counters().IcmpInCsumErrors).toBe(1);
  });

  it("sets the mark the verdict carries", async () => {
    const marks: number[] = [];
    await harnessWithQueue(() => ({ verdict: "accept", mark: 0x2a }), {}, [markRecorder(marks)]);
    h!.inject(echo(1));
    expect(marks).toEqual([0x2a]);
  });

  it("runs the queueing hook again on a repeat verdict", async () => {
    let calls = 0;
    h = await createHarness({
      plugins: [
        ipv4(),
        icmpPlugin(),
        queueAll(QUEUE, false, () => (++calls === 1 ? NF_QUEUE_NR(QUEUE) : NF_ACCEPT)),
      ],
    });
    const binding = nfqueueBind(h.stack, QUEUE, () => ({ verdict: "repeat" }));
    h.inject(echo(1));
    expectIpv4(h.nextPacket(), icmp(type(ICMP_ECHOREPLY)));
    expect(calls).toBe(2);
    expect(binding.stats.repeated).toBe(1);
  });

  it("keeps packets in order when the handler answers in order", async () => {
    const { handler, waiting } = deferredHandler();
    await harnessWithQueue(handler);
    for (const seq of [1, 2, 3, 4]) h!.inject(echo(seq));
    expect(waiting.map((w) => w.pkt.id)).toEqual([1, 2, 3, 4]);
    for (const w of waiting) w.resolve({ verdict: "accept" });
    await h!.settle();
    for (const seq of [1, 2, 3, 4]) {
      expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(seq)));
    }
  });

  it("applies verdicts in the order they come, not the order packets were queued", async () => {
    const { handler, waiting } = deferredHandler();
    await harnessWithQueue(handler);
    for (const seq of [1, 2]) h!.inject(echo(seq));
    waiting[1]!.resolve({ verdict: "accept" });
    await h!.settle();
    waiting[0]!.resolve({ verdict: "accept" });
    await h!.settle();
    expectIpv4(h!.nextPacket(), icmp(echoSeq(2)));
    expectIpv4(h!.nextPacket(), icmp(echoSeq(1)));
  });

  it("drops packets that find the queue full with NFQUEUE_FULL", async () => {
    const { handler, waiting } = deferredHandler();
    await harnessWithQueue(handler, { maxLen: 2 });
    for (const seq of [1, 2, 3]) h!.inject(echo(seq));
    expect(waiting).toHaveLength(2);
    expect(h!.drops().NFQUEUE_FULL).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ queued: 2, full: 1, pending: 2 });
  });

  it("accepts packets that find the queue full when it fails open", async () => {
    const { handler, waiting } = deferredHandler();
    await harnessWithQueue(handler, { maxLen: 1, failOpen: true });
    h!.inject(echo(1));
    h!.inject(echo(2));
    expect(waiting).toHaveLength(1);
    expectIpv4(h!.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(2)));
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ full: 1, accepted: 1 });
  });

  it("drops a packet whose verdict does not come within timeoutMs, on the stack's clock", async () => {
    const { handler } = deferredHandler();
    await harnessWithQueue(handler, { timeoutMs: 500 });
    h!.inject(echo(1));
    h!.advance(499);
    expect(h!.drops().NFQUEUE_TIMEOUT).toBeUndefined();
    h!.advance(1);
    expect(h!.drops().NFQUEUE_TIMEOUT).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ timedOut: 1, pending: 0 });
  });

  it("times packets out one by one, each at its own deadline", async () => {
    const { handler } = deferredHandler();
    await harnessWithQueue(handler, { timeoutMs: 100 });
    h!.inject(echo(1));
    h!.advance(40);
    h!.inject(echo(2));
    h!.advance(60);
    expect(h!.drops().NFQUEUE_TIMEOUT).toBe(1);
    h!.advance(39);
    expect(h!.drops().NFQUEUE_TIMEOUT).toBe(1);
    h!.advance(1);
    expect(h!.drops().NFQUEUE_TIMEOUT).toBe(2);
  });

  it("uses one timer for the whole queue, not one per packet", async () => {
    const { handler } = deferredHandler();
    await harnessWithQueue(handler);
    const timers = h!.stack.timerCount;
    for (let seq = 1; seq <= 20; seq++) h!.inject(echo(seq));
    expect(h!.stack.timerCount).toBe(timers);
  });

  it("ignores a verdict that comes after the packet timed out", async () => {
    const { handler, waiting } = deferredHandler();
    await harnessWithQueue(handler, { timeoutMs: 100 });
    h!.inject(echo(1));
    h!.advance(100);
    waiting[0]!.resolve({ verdict: "accept" });
    await h!.settle();
    h!.expectNoPacket(10);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ timedOut: 1, late: 1, accepted: 0 });
  });

  it("drops and counts a packet whose handler throws", async () => {
    await harnessWithQueue(() => {
      throw new Error("handler bug");
    });
    h!.inject(echo(1));
    h!.expectNoPacket(10);
    expect(h!.drops().NF_HOOK_EXCEPTION).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ errors: 1, dropped: 1 });
  });

  it("drops and counts a packet whose handler rejects", async () => {
    await harnessWithQueue(() => Promise.reject(new Error("handler bug")));
    h!.inject(echo(1));
    await h!.settle();
    expect(h!.drops().NF_HOOK_EXCEPTION).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)!.stats).toMatchObject({ errors: 1, dropped: 1 });
  });

  it("drops the packets still queued when the queue is unbound", async () => {
    const { handler } = deferredHandler();
    await harnessWithQueue(handler);
    h!.inject(echo(1));
    nfqueueOf(h!.stack, QUEUE)!.unbind();
    expect(h!.drops().QUEUE_PURGE).toBe(1);
    expect(nfqueueOf(h!.stack, QUEUE)).toBeUndefined();
  });

  it("refuses a second binding of the same queue", async () => {
    await harnessWithQueue(() => ({ verdict: "accept" }));
    const timers = h!.stack.timerCount;
    expect(() => nfqueueBind(h!.stack, QUEUE, () => ({ verdict: "accept" }))).toThrow(
      /already has a handler/,
    );
    expect(h!.stack.timerCount).toBe(timers);
  });
});

describe("NF_QUEUE without a bound handler", () => {
  it("passes the packet on when the verdict has the bypass flag", async () => {
    h = await createHarness({ plugins: [ipv4(), icmpPlugin(), queueAll(9, true)] });
    h.inject(echo(1));
    expectIpv4(h.nextPacket(), icmp(type(ICMP_ECHOREPLY), echoSeq(1)));
  });

  it("drops the packet when the verdict has no bypass flag", async () => {
    h = await createHarness({ plugins: [ipv4(), icmpPlugin(), queueAll(9)] });
    h.inject(echo(1));
    h.expectNoPacket(100);
    expect(h.drops().NETFILTER_DROP).toBe(1);
  });
});

describe("nfqueuePlugin", () => {
  it("binds the queue in the stack it is given, as skbuff:nfqueue-<n>", async () => {
    const plugin = nfqueuePlugin({ queueNum: QUEUE, handler: () => ({ verdict: "drop" }) });
    expect(plugin.name).toBe("skbuff:nfqueue-3");
    expect(plugin.requires).toEqual(["skbuff:ipv4"]);
    h = await createHarness({ plugins: [ipv4(), icmpPlugin(), queueAll(QUEUE), plugin] });
    h.inject(echo(1));
    h.expectNoPacket(10);
    expect(nfqueueOf(h.stack, QUEUE)!.stats.dropped).toBe(1);
  });

  it("refuses a queue number out of range", () => {
    expect(() =>
      nfqueuePlugin({ queueNum: 70000, handler: () => ({ verdict: "accept" }) }),
    ).toThrow(RangeError);
  });
});
