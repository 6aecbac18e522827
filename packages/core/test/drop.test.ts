import diagnostics_channel from "node:diagnostics_channel";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  consumeSkb,
  createStack,
  kfreeSkb,
  NETDEV_TX_OK,
  type SkBuff,
  SkbDropReason,
  type Stack,
  skbFromBytes,
  TRACEPOINTS,
  VirtualClock,
} from "../src/index.js";

let stack: Stack;

beforeEach(async () => {
  stack = await createStack({ clock: new VirtualClock({ autoAdvance: false }) });
});

afterEach(async () => {
  await stack.close();
});

function packet(): SkBuff {
  return skbFromBytes(new Uint8Array(10));
}

/** Collects what is published on a tracepoint while `fn` runs. */
function published(name: string, fn: () => void): unknown[] {
  const seen: unknown[] = [];
  const listener = (m: unknown) => seen.push(m);
  diagnostics_channel.subscribe(name, listener);
  try {
    fn();
  } finally {
    diagnostics_channel.unsubscribe(name, listener);
  }
  return seen;
}

describe("kfreeSkb", () => {
  it("records the reason on the packet and counts it in the stack's drop reasons", () => {
    const skb = packet();
    kfreeSkb(skb, SkbDropReason.IP_CSUM, stack);
    kfreeSkb(packet(), SkbDropReason.IP_CSUM, stack);
    expect(skb.dropReason).toBe(SkbDropReason.IP_CSUM);
    expect(stack.dropReasons()).toEqual({ IP_CSUM: 2 });
  });

  it("uses NOT_SPECIFIED when no reason is given", () => {
    kfreeSkb(packet(), undefined, stack);
    expect(stack.dropReasons()).toEqual({ NOT_SPECIFIED: 1 });
  });

  it("counts the drop in the stack of the packet's device when no stack is given", () => {
    const dev = stack.registerNetdev({
      name: "d0",
      mtu: 1500,
      ops: { ndoStartXmit: () => NETDEV_TX_OK },
    });
    const skb = packet();
    skb.dev = dev;
    kfreeSkb(skb, SkbDropReason.NO_SOCKET);
    expect(stack.dropReasons()).toEqual({ NO_SOCKET: 1 });
  });

  it("releases the packet's reference to its buffer", () => {
    const skb = packet();
    const clone = skb.clone();
    kfreeSkb(skb, SkbDropReason.NOT_SPECIFIED, stack);
    expect(clone.dataref).toBe(1);
  });

  it("publishes skbuff:kfree_skb with the packet, the reason and the stack", () => {
    const skb = packet();
    const seen = published(TRACEPOINTS.kfreeSkb, () =>
      kfreeSkb(skb, SkbDropReason.OTHERHOST, stack),
    );
    expect(seen).toEqual([{ skb, reason: SkbDropReason.OTHERHOST, stack }]);
  });
});

describe("consumeSkb", () => {
  it("is not a drop: no reason is recorded or counted", () => {
    const skb = packet();
    consumeSkb(skb, stack);
    expect(skb.dropReason).toBeNull();
    expect(stack.dropReasons()).toEqual({});
  });

  it("publishes skbuff:consume_skb with the packet and the stack", () => {
    const skb = packet();
    const seen = published(TRACEPOINTS.consumeSkb, () => consumeSkb(skb, stack));
    expect(seen).toEqual([{ skb, stack }]);
  });
});

describe("Stack.dropReasons", () => {
  it("returns a copy that later drops do not change", () => {
    const before = stack.dropReasons();
    kfreeSkb(packet(), SkbDropReason.NOT_SPECIFIED, stack);
    expect(before).toEqual({});
    expect(stack.dropReasons()).toEqual({ NOT_SPECIFIED: 1 });
  });
});
