import diagnostics_channel from "node:diagnostics_channel";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createStack,
  NF_ACCEPT,
  NF_DROP,
  NF_DROP_ERR,
  NF_INET_LOCAL_IN,
  NF_INET_LOCAL_OUT,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_FILTER,
  NF_IP_PRI_FIRST,
  NF_IP_PRI_LAST,
  NF_IP_PRI_MANGLE,
  NF_IP_PRI_NAT_SRC,
  NF_QUEUE,
  NF_QUEUE_NR,
  NF_REPEAT,
  NF_REPEAT_LIMIT,
  NF_STOLEN,
  NF_STOP,
  NFPROTO_INET,
  NFPROTO_IPV4,
  type NfHookFn,
  type NfHookOps,
  type NfHookState,
  type NfQueueEntry,
  nfDropReason,
  type SkBuff,
  SkbDropReason,
  type Stack,
  skbFromBytes,
  TRACEPOINTS,
  VirtualClock,
} from "../src/index.js";

const EPERM = 1;
const EACCES = 13;
/** What the test continuation returns, so that a test can tell it ran. */
const OKFN_RESULT = 42;

let stack: Stack;

beforeEach(async () => {
  stack = await createStack({ name: "nf", clock: new VirtualClock({ autoAdvance: false }) });
});

afterEach(async () => {
  await stack.close();
});

function packet(): SkBuff {
  return skbFromBytes(new Uint8Array(20));
}

/** An IPv4 LOCAL_IN registration. */
function ops(hook: NfHookFn, priority = NF_IP_PRI_FILTER, hooknum = NF_INET_LOCAL_IN): NfHookOps {
  return { pf: NFPROTO_IPV4, hooknum, priority, hook };
}

/** A hook that records `name` into `log` and returns `verdict`. */
function recorder(log: string[], name: string, verdict = NF_ACCEPT): NfHookFn {
  return () => {
    log.push(name);
    return verdict;
  };
}

/** Runs NF_HOOK(IPV4, LOCAL_IN) on a packet with a recording continuation. */
function nfHook(skb: SkBuff = packet(), hooknum = NF_INET_LOCAL_IN) {
  const okfn = vi.fn((_net: Stack, _sk: unknown, _skb: SkBuff) => OKFN_RESULT);
  const ret = stack.nf.hook(NFPROTO_IPV4, hooknum, null, skb, null, null, okfn);
  return { ret, okfn, skb };
}

describe("NF_HOOK without hooks", () => {
  it("runs the continuation at once and returns its result", () => {
    const { ret, okfn, skb } = nfHook();
    expect(okfn).toHaveBeenCalledExactlyOnceWith(stack, null, skb);
    expect(ret).toBe(OKFN_RESULT);
  });

  it("reports that no hook is registered at the hook point", () => {
    expect(stack.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(false);
    stack.nf.register(ops(() => NF_ACCEPT));
    expect(stack.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(true);
  });
});

describe("NF_ACCEPT", () => {
  it("runs every hook, then the continuation, and returns its result", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "a"), 1));
    stack.nf.register(ops(recorder(log, "b"), 2));
    const { ret, okfn } = nfHook();
    expect(log).toEqual(["a", "b"]);
    expect(okfn).toHaveBeenCalledOnce();
    expect(ret).toBe(OKFN_RESULT);
  });

  it("passes the packet, the hook state and the registration's priv to the hook", () => {
    const seen: { skb: SkBuff; state: Omit<NfHookState, "okfn">; priv: unknown }[] = [];
    stack.nf.register({
      ...ops((skb, state, priv) => {
        const { okfn: _okfn, ...rest } = state;
        seen.push({ skb, state: { ...rest }, priv });
        return NF_ACCEPT;
      }),
      priv: "private",
    });
    const skb = packet();
    stack.nf.hook(NFPROTO_IPV4, NF_INET_LOCAL_IN, "sock", skb, null, null, () => 1);
    expect(seen).toEqual([
      {
        skb,
        state: {
          hook: NF_INET_LOCAL_IN,
          pf: NFPROTO_IPV4,
          in: null,
          out: null,
          sk: "sock",
          net: stack,
        },
        priv: "private",
      },
    ]);
  });
});

describe("NF_DROP", () => {
  it("frees the packet with NETFILTER_DROP and does not run the continuation", () => {
    stack.nf.register(ops(() => NF_DROP));
    const { okfn, skb } = nfHook();
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
    expect(stack.dropReasons()).toEqual({ NETFILTER_DROP: 1 });
  });

  it("returns -EPERM when the verdict carries no errno", () => {
    stack.nf.register(ops(() => NF_DROP));
    expect(nfHook().ret).toBe(-EPERM);
  });

  it("returns -errno for NF_DROP_ERR(errno)", () => {
    stack.nf.register(ops(() => NF_DROP_ERR(EACCES)));
    expect(nfHook().ret).toBe(-EACCES);
  });

  it("frees the packet with the reason the hook gave with nfDropReason", () => {
    stack.nf.register(ops((skb) => nfDropReason(skb, SkbDropReason.IP_RPFILTER)));
    const { skb } = nfHook();
    expect(skb.dropReason).toBe(SkbDropReason.IP_RPFILTER);
    expect(stack.dropReasons()).toEqual({ IP_RPFILTER: 1 });
  });

  it("names a plain NF_DROP NETFILTER_DROP even when the packet carried a stale reason in", () => {
    stack.nf.register(ops(() => NF_DROP));
    const skb = packet();
    skb.dropReason = SkbDropReason.IP_CSUM;
    nfHook(skb);
    expect(stack.dropReasons()).toEqual({ NETFILTER_DROP: 1 });
  });

  it("does not run the hooks after the dropping one", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "drop", NF_DROP), 1));
    stack.nf.register(ops(recorder(log, "later"), 2));
    nfHook();
    expect(log).toEqual(["drop"]);
  });
});

describe("NF_STOLEN", () => {
  it("neither runs the continuation nor frees the packet, and returns 0", () => {
    stack.nf.register(ops(() => NF_STOLEN));
    const { ret, okfn, skb } = nfHook();
    expect(ret).toBe(0);
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBeNull();
    expect(skb.dataref).toBe(1);
    expect(stack.dropReasons()).toEqual({});
  });

  it("does not run the hooks after the stealing one", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "steal", NF_STOLEN), 1));
    stack.nf.register(ops(recorder(log, "later"), 2));
    nfHook();
    expect(log).toEqual(["steal"]);
  });
});

describe("NF_STOP", () => {
  it("runs the continuation and skips the hooks after the stopping one", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "first"), 1));
    stack.nf.register(ops(recorder(log, "stop", NF_STOP), 2));
    stack.nf.register(ops(recorder(log, "later"), 3));
    const { ret, okfn } = nfHook();
    expect(log).toEqual(["first", "stop"]);
    expect(okfn).toHaveBeenCalledOnce();
    expect(ret).toBe(OKFN_RESULT);
  });
});

describe("NF_REPEAT", () => {
  it("calls the same hook again: REPEAT once then ACCEPT is two calls, then the continuation", () => {
    const log: string[] = [];
    let calls = 0;
    stack.nf.register(ops(recorder(log, "before"), 1));
    stack.nf.register(
      ops(() => {
        log.push("repeater");
        return ++calls === 1 ? NF_REPEAT : NF_ACCEPT;
      }, 2),
    );
    stack.nf.register(ops(recorder(log, "after"), 3));
    const { okfn } = nfHook();
    expect(log).toEqual(["before", "repeater", "repeater", "after"]);
    expect(okfn).toHaveBeenCalledOnce();
  });

  it("drops a packet whose hook repeats without end with NF_REPEAT_LIMIT", () => {
    const hook = vi.fn(() => NF_REPEAT);
    stack.nf.register(ops(hook));
    const { ret, okfn, skb } = nfHook();
    expect(hook).toHaveBeenCalledTimes(NF_REPEAT_LIMIT + 1);
    expect(okfn).not.toHaveBeenCalled();
    expect(ret).toBeLessThan(0);
    expect(skb.dropReason).toBe(SkbDropReason.NF_REPEAT_LIMIT);
  });

  it("counts repeats per hook: repeats of an earlier hook do not use up a later hook's limit", () => {
    let first = 0;
    let second = 0;
    // The first hook repeats almost up to the limit and then lets the packet bypass a
    // handlerless queue; the second then repeats as often again.
    stack.nf.register(
      ops(() => (++first <= NF_REPEAT_LIMIT ? NF_REPEAT : NF_QUEUE_NR(9, true)), 1),
    );
    stack.nf.register(ops(() => (++second <= NF_REPEAT_LIMIT ? NF_REPEAT : NF_ACCEPT), 2));
    const { okfn } = nfHook();
    expect(okfn).toHaveBeenCalledOnce();
  });
});

describe("an unknown verdict", () => {
  it("drops the packet as a hook error", () => {
    stack.nf.register(ops(() => 77));
    const { okfn, skb } = nfHook();
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.NF_HOOK_EXCEPTION);
    expect(stack.softnetMib.NfHookErrors).toBe(1);
  });
});

describe("NF_QUEUE", () => {
  /** Binds queue `n` to a handler that keeps the entries. */
  function keepQueue(n = 0): NfQueueEntry[] {
    const entries: NfQueueEntry[] = [];
    stack.nf.registerQueueHandler(n, (e) => entries.push(e));
    return entries;
  }

  it("hands the packet to the queue's handler and returns 0 without running the continuation", () => {
    const entries = keepQueue(3);
    stack.nf.register(ops(() => NF_QUEUE_NR(3)));
    const { ret, okfn, skb } = nfHook();
    expect(ret).toBe(0);
    expect(okfn).not.toHaveBeenCalled();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ skb, queueNum: 3, hookIndex: 0 });
    expect(entries[0]!.state).toMatchObject({ hook: NF_INET_LOCAL_IN, pf: NFPROTO_IPV4 });
    expect(skb.dropReason).toBeNull();
  });

  it("counts queued packets in NfQueued", () => {
    keepQueue(0);
    stack.nf.register(ops(() => NF_QUEUE));
    nfHook();
    expect(stack.counters().NfQueued).toBe(1);
  });

  it("goes on with the next hook, then the continuation, when the handler reinjects NF_ACCEPT later", () => {
    const entries = keepQueue(0);
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "queue", NF_QUEUE), 1));
    stack.nf.register(ops(recorder(log, "next"), 2));
    const { okfn, skb } = nfHook();
    expect(log).toEqual(["queue"]);
    stack.nf.reinject(entries[0]!, NF_ACCEPT);
    expect(log).toEqual(["queue", "next"]);
    expect(okfn).toHaveBeenCalledExactlyOnceWith(stack, null, skb);
  });

  it("runs the queueing hook again when the handler reinjects NF_REPEAT", () => {
    const entries = keepQueue(0);
    let calls = 0;
    stack.nf.register(ops(() => (++calls === 1 ? NF_QUEUE : NF_ACCEPT)));
    const { okfn } = nfHook();
    stack.nf.reinject(entries[0]!, NF_REPEAT);
    expect(calls).toBe(2);
    expect(okfn).toHaveBeenCalledOnce();
  });

  it("frees the packet with NETFILTER_DROP when the handler reinjects NF_DROP", () => {
    const entries = keepQueue(0);
    stack.nf.register(ops(() => NF_QUEUE));
    const { okfn, skb } = nfHook();
    stack.nf.reinject(entries[0]!, NF_DROP);
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });

  it("runs the continuation at once, skipping later hooks, when the handler reinjects NF_STOP", () => {
    const entries = keepQueue(0);
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "queue", NF_QUEUE), 1));
    stack.nf.register(ops(recorder(log, "next"), 2));
    const { okfn } = nfHook();
    stack.nf.reinject(entries[0]!, NF_STOP);
    expect(log).toEqual(["queue"]);
    expect(okfn).toHaveBeenCalledOnce();
  });

  it("refuses a second reinject of the same entry", () => {
    const entries = keepQueue(0);
    stack.nf.register(ops(() => NF_QUEUE));
    const { okfn } = nfHook();
    stack.nf.reinject(entries[0]!, NF_ACCEPT);
    expect(() => stack.nf.reinject(entries[0]!, NF_ACCEPT)).toThrow(/reinject/);
    expect(okfn).toHaveBeenCalledOnce();
  });

  it("frees a packet reinjected after its stack closed with QUEUE_PURGE", async () => {
    const entries = keepQueue(0);
    stack.nf.register(ops(() => NF_QUEUE));
    const { okfn, skb } = nfHook();
    await stack.close();
    stack.nf.reinject(entries[0]!, NF_ACCEPT);
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.QUEUE_PURGE);
  });

  it("drops the packet when no handler is bound to the queue", () => {
    stack.nf.register(ops(() => NF_QUEUE_NR(5)));
    const { okfn, skb } = nfHook();
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });

  it("goes on with the next hook when no handler is bound and the verdict has the bypass flag", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "queue", NF_QUEUE_NR(5, true)), 1));
    stack.nf.register(ops(recorder(log, "next"), 2));
    const { okfn, skb } = nfHook();
    expect(log).toEqual(["queue", "next"]);
    expect(okfn).toHaveBeenCalledOnce();
    expect(skb.dropReason).toBeNull();
  });

  it("drops packets for a queue whose handler was unregistered", () => {
    const unbind = stack.nf.registerQueueHandler(0, () => {});
    stack.nf.register(ops(() => NF_QUEUE));
    unbind();
    expect(nfHook().skb.dropReason).toBe(SkbDropReason.NETFILTER_DROP);
  });

  it("refuses a second handler for a queue number that is bound", () => {
    stack.nf.registerQueueHandler(0, () => {});
    expect(() => stack.nf.registerQueueHandler(0, () => {})).toThrow(/NF_QUEUE 0/);
  });

  it("drops the packet as a hook error when the queue handler throws", () => {
    stack.nf.registerQueueHandler(0, () => {
      throw new Error("handler bug");
    });
    stack.nf.register(ops(() => NF_QUEUE));
    const { okfn, skb } = nfHook();
    expect(okfn).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.NF_HOOK_EXCEPTION);
    expect(stack.softnetMib.NfHookErrors).toBe(1);
  });
});

describe("hook priorities", () => {
  it("runs hooks in ascending priority, whatever the registration order", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "filter"), NF_IP_PRI_FILTER));
    stack.nf.register(ops(recorder(log, "last"), NF_IP_PRI_LAST));
    stack.nf.register(ops(recorder(log, "nat-src"), NF_IP_PRI_NAT_SRC));
    stack.nf.register(ops(recorder(log, "first"), NF_IP_PRI_FIRST));
    stack.nf.register(ops(recorder(log, "mangle"), NF_IP_PRI_MANGLE));
    nfHook();
    expect(log).toEqual(["first", "mangle", "filter", "nat-src", "last"]);
  });

  it("runs hooks of equal priority in registration order", () => {
    const log: string[] = [];
    for (const name of ["one", "two", "three"]) stack.nf.register(ops(recorder(log, name), 10));
    stack.nf.register(ops(recorder(log, "early"), 5));
    nfHook();
    expect(log).toEqual(["early", "one", "two", "three"]);
  });

  it("lists the hooks of a hook point in the order they run", () => {
    const a = ops(() => NF_ACCEPT, 20);
    const b = ops(() => NF_ACCEPT, -20);
    stack.nf.register(a);
    stack.nf.register(b);
    expect(stack.nf.list(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toEqual([b, a]);
  });
});

describe("hook points", () => {
  it("runs only the hooks of the hook point the packet is at", () => {
    const log: string[] = [];
    stack.nf.register(ops(recorder(log, "pre"), 0, NF_INET_PRE_ROUTING));
    stack.nf.register(ops(recorder(log, "out"), 0, NF_INET_LOCAL_OUT));
    nfHook(packet(), NF_INET_PRE_ROUTING);
    expect(log).toEqual(["pre"]);
  });

  it("runs NFPROTO_INET hooks on IPv4 packets", () => {
    const hook = vi.fn(() => NF_ACCEPT);
    stack.nf.register({ pf: NFPROTO_INET, hooknum: NF_INET_LOCAL_IN, priority: 0, hook });
    nfHook();
    expect(hook).toHaveBeenCalledOnce();
  });

  it("refuses a registration with a bad family, hook number, priority or function", () => {
    const hook = () => NF_ACCEPT;
    expect(() => stack.nf.register({ pf: 99, hooknum: 0, priority: 0, hook })).toThrow(RangeError);
    expect(() => stack.nf.register({ pf: NFPROTO_IPV4, hooknum: 7, priority: 0, hook })).toThrow(
      RangeError,
    );
    expect(() => stack.nf.register({ pf: NFPROTO_IPV4, hooknum: 0, priority: 0.5, hook })).toThrow(
      RangeError,
    );
    expect(() =>
      stack.nf.register({
        pf: NFPROTO_IPV4,
        hooknum: 0,
        priority: 0,
        hook: "x" as unknown as NfHookFn,
      }),
    ).toThrow(TypeError);
  });

  it("gives a hook's run() result without running the continuation", () => {
    stack.nf.register(ops(() => NF_ACCEPT));
    const okfn = vi.fn(() => OKFN_RESULT);
    expect(stack.nf.run(NFPROTO_IPV4, NF_INET_LOCAL_IN, null, packet(), null, null, okfn)).toBe(1);
    expect(okfn).not.toHaveBeenCalled();
  });

  it("gives a nested NF_HOOK its own state and leaves the outer state intact", () => {
    const states: number[] = [];
    stack.nf.register(ops(() => NF_ACCEPT, 0, NF_INET_LOCAL_OUT));
    stack.nf.register(
      ops((_skb, state) => {
        // A hook that sends a packet (like a REJECT target) re-enters NF_HOOK.
        stack.nf.hook(NFPROTO_IPV4, NF_INET_LOCAL_OUT, null, packet(), null, null, () => 1);
        states.push(state.hook);
        return NF_ACCEPT;
      }),
    );
    nfHook();
    expect(states).toEqual([NF_INET_LOCAL_IN]);
  });
});

describe("registering and unregistering at run time", () => {
  it("stops calling a hook once its unregister function ran", () => {
    const hook = vi.fn(() => NF_ACCEPT);
    const unregister = stack.nf.register(ops(hook));
    nfHook();
    unregister();
    nfHook();
    expect(hook).toHaveBeenCalledOnce();
    expect(stack.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(false);
  });

  it("says whether unregister found the registration", () => {
    const o = ops(() => NF_ACCEPT);
    stack.nf.register(o);
    expect(stack.nf.unregister(o)).toBe(true);
    expect(stack.nf.unregister(o)).toBe(false);
  });

  it("applies a hook registered from inside a hook from the next packet on", () => {
    const added = vi.fn(() => NF_ACCEPT);
    let done = false;
    stack.nf.register(
      ops(() => {
        if (!done) stack.nf.register(ops(added, 100));
        done = true;
        return NF_ACCEPT;
      }),
    );
    nfHook();
    expect(added).not.toHaveBeenCalled();
    nfHook();
    expect(added).toHaveBeenCalledOnce();
  });

  it("finishes the current traversal when a hook unregisters itself and a later hook", () => {
    const log: string[] = [];
    const later = ops(recorder(log, "later"), 2);
    const self: NfHookOps = ops(() => {
      log.push("self");
      stack.nf.unregister(self);
      stack.nf.unregister(later);
      return NF_ACCEPT;
    }, 1);
    stack.nf.register(self);
    stack.nf.register(later);
    const first = nfHook();
    expect(log).toEqual(["self", "later"]);
    expect(first.okfn).toHaveBeenCalledOnce();
    nfHook();
    expect(log).toEqual(["self", "later"]);
  });
});

describe("a hook that throws", () => {
  function throwOnce(): NfHookFn {
    let thrown = false;
    return () => {
      if (!thrown) {
        thrown = true;
        throw new Error("hook bug");
      }
      return NF_ACCEPT;
    };
  }

  it("is a counted drop with NF_HOOK_EXCEPTION, not an exception", () => {
    stack.nf.register(ops(throwOnce()));
    let result: ReturnType<typeof nfHook> | undefined;
    expect(() => {
      result = nfHook();
    }).not.toThrow();
    expect(result!.okfn).not.toHaveBeenCalled();
    expect(result!.ret).toBeLessThan(0);
    expect(result!.skb.dropReason).toBe(SkbDropReason.NF_HOOK_EXCEPTION);
    expect(stack.dropReasons()).toEqual({ NF_HOOK_EXCEPTION: 1 });
    expect(stack.softnetMib.NfHookErrors).toBe(1);
  });

  it("does not stop the next packet from going through", () => {
    stack.nf.register(ops(throwOnce()));
    nfHook();
    const { okfn } = nfHook();
    expect(okfn).toHaveBeenCalledOnce();
  });

  it("publishes the error on the handler_error tracepoint", () => {
    const error = new Error("hook bug");
    stack.nf.register(
      ops(() => {
        throw error;
      }),
    );
    const seen: unknown[] = [];
    const listener = (msg: unknown) => seen.push((msg as { error: unknown }).error);
    diagnostics_channel.subscribe(TRACEPOINTS.handlerError, listener);
    try {
      nfHook();
    } finally {
      diagnostics_channel.unsubscribe(TRACEPOINTS.handlerError, listener);
    }
    expect(seen).toEqual([error]);
  });
});

describe("the nf_hook tracepoint", () => {
  it("publishes each hook's verdict", () => {
    stack.nf.register(ops(() => NF_ACCEPT, 1));
    stack.nf.register(ops(() => NF_STOLEN, 2));
    const verdicts: number[] = [];
    const listener = (msg: unknown) => verdicts.push((msg as { verdict: number }).verdict);
    diagnostics_channel.subscribe(TRACEPOINTS.nfHook, listener);
    try {
      nfHook();
    } finally {
      diagnostics_channel.unsubscribe(TRACEPOINTS.nfHook, listener);
    }
    expect(verdicts).toEqual([NF_ACCEPT, NF_STOLEN]);
  });
});

describe("NF_HOOK under random hook sets (property)", () => {
  const verdictArb = fc.constantFrom(NF_ACCEPT, NF_DROP, NF_STOLEN, NF_STOP);
  const stepArb = fc.oneof(
    fc.record({
      kind: fc.constant("register" as const),
      verdict: verdictArb,
      priority: fc.integer({ min: -3, max: 3 }),
    }),
    fc.record({ kind: fc.constant("unregister" as const), index: fc.nat() }),
    fc.record({ kind: fc.constant("packet" as const), size: fc.integer({ min: 0, max: 64 }) }),
  );

  it("ends every packet exactly once (continuation, drop or steal) and never throws", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArb, { maxLength: 40 }), async (steps) => {
        const net = await createStack({ clock: new VirtualClock({ autoAdvance: false }) });
        const freed = new Map<SkBuff, number>();
        const stolen = new Map<SkBuff, number>();
        const listener = (msg: unknown) => {
          const { skb, stack: s } = msg as { skb: SkBuff; stack: Stack };
          if (s === net) freed.set(skb, (freed.get(skb) ?? 0) + 1);
        };
        diagnostics_channel.subscribe(TRACEPOINTS.kfreeSkb, listener);
        try {
          const live: NfHookOps[] = [];
          for (const step of steps) {
            if (step.kind === "register") {
              const o = ops((skb) => {
                if (step.verdict === NF_STOLEN) stolen.set(skb, (stolen.get(skb) ?? 0) + 1);
                return step.verdict;
              }, step.priority);
              net.nf.register(o);
              live.push(o);
            } else if (step.kind === "unregister") {
              if (live.length === 0) continue;
              const [o] = live.splice(step.index % live.length, 1);
              expect(net.nf.unregister(o!)).toBe(true);
            } else {
              const skb = skbFromBytes(new Uint8Array(step.size));
              let oks = 0;
              net.nf.hook(NFPROTO_IPV4, NF_INET_LOCAL_IN, null, skb, null, null, () => ++oks);
              expect(oks + (freed.get(skb) ?? 0) + (stolen.get(skb) ?? 0)).toBe(1);
            }
          }
        } finally {
          diagnostics_channel.unsubscribe(TRACEPOINTS.kfreeSkb, listener);
          await net.close();
        }
      }),
    );
  });
});
