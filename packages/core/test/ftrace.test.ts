import diagnostics_channel from "node:diagnostics_channel";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type FuncGraphEvent,
  FunctionGraphTracer,
  TRACEPOINTS,
  tp,
  traceable,
} from "../src/index.js";

const ipRcvCore = traceable("ip_rcv_core", function ipRcvCore(n: number): number {
  return n + 1;
});
const ipRcv = traceable("ip_rcv", function ipRcv(n: number): number {
  return ipRcvCore(n) * 2;
});
const netifReceiveSkb = traceable("netif_receive_skb", function netifReceiveSkb(n: number): number {
  return ipRcv(n) + ipRcvCore(n);
});

/** ` 0) <duration or blanks> |<indent><text>` */
const DURATION = String.raw` 0\) +\d+\.\d{3} us   \|`;
const BLANK = String.raw` 0\)               \|`;

afterEach(() => {
  vi.restoreAllMocks();
});

describe("FunctionGraphTracer", () => {
  it("writes a traced call tree as ftrace's function_graph lines", () => {
    const tracer = new FunctionGraphTracer().start();
    netifReceiveSkb(1);
    const lines = tracer.stop().split("\n");
    expect(lines).toHaveLength(6);
    expect(lines[0]).toMatch(new RegExp(`^${BLANK}  netif_receive_skb\\(\\) \\{$`));
    expect(lines[1]).toMatch(new RegExp(`^${BLANK}    ip_rcv\\(\\) \\{$`));
    expect(lines[2]).toMatch(new RegExp(`^${DURATION}      ip_rcv_core\\(\\);$`));
    expect(lines[3]).toMatch(new RegExp(`^${DURATION}    \\}$`));
    expect(lines[4]).toMatch(new RegExp(`^${DURATION}    ip_rcv_core\\(\\);$`));
    expect(lines[5]).toMatch(new RegExp(`^${DURATION}  \\}$`));
  });

  it("aligns the bar of every line in one column", () => {
    const tracer = new FunctionGraphTracer().start();
    netifReceiveSkb(1);
    const bars = tracer
      .stop()
      .split("\n")
      .map((l) => l.indexOf("|"));
    expect(new Set(bars).size).toBe(1);
  });

  it("keeps only the events its filter accepts", () => {
    const tracer = new FunctionGraphTracer((ev) => ev.fn !== "ip_rcv").start();
    ipRcv(1);
    expect(tracer.stop()).toMatch(new RegExp(`^${DURATION}  ip_rcv_core\\(\\);$`));
  });

  it("records nothing after stop()", () => {
    const tracer = new FunctionGraphTracer().start();
    tracer.stop();
    ipRcv(1);
    expect(tracer.lines).toEqual([]);
  });

  it("closes a function that threw", () => {
    const fails = traceable("tcp_v4_rcv", () => {
      throw new Error("bug");
    });
    const outer = traceable("ip_local_deliver", () => {
      try {
        fails();
      } catch {}
      return 0;
    });
    const tracer = new FunctionGraphTracer().start();
    outer();
    const lines = tracer.stop().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/tcp_v4_rcv\(\);$/);
    expect(lines[2]).toMatch(/\| {2}\}$/);
  });
});

describe("traceable", () => {
  it("publishes entry and exit with the depth and the first argument while someone listens", () => {
    const events: Omit<FuncGraphEvent, "timeUs">[] = [];
    const listener = (m: unknown) => {
      const { timeUs: _t, ...ev } = m as FuncGraphEvent;
      events.push(ev);
    };
    diagnostics_channel.subscribe(TRACEPOINTS.funcGraph, listener);
    try {
      ipRcv(5);
    } finally {
      diagnostics_channel.unsubscribe(TRACEPOINTS.funcGraph, listener);
    }
    expect(events).toEqual([
      { fn: "ip_rcv", phase: "entry", arg0: 5, depth: 0 },
      { fn: "ip_rcv_core", phase: "entry", arg0: 5, depth: 1 },
      { fn: "ip_rcv_core", phase: "exit", arg0: 5, depth: 1 },
      { fn: "ip_rcv", phase: "exit", arg0: 5, depth: 0 },
    ]);
  });

  it("publishes nothing when no one listens", () => {
    expect(tp.funcGraph.hasSubscribers).toBe(false);
    const publish = vi.spyOn(tp.funcGraph, "publish");
    netifReceiveSkb(1);
    expect(publish).not.toHaveBeenCalled();
  });

  it("passes every argument, `this` and the return value through", () => {
    const obj = {
      base: 100,
      sum: traceable("sum", function (this: { base: number }, ...xs: number[]) {
        return { total: this.base + xs.reduce((a, b) => a + b, 0), count: xs.length };
      }),
    };
    expect(obj.sum(1, 2, 3, 4, 5, 6)).toEqual({ total: 121, count: 6 });
    expect(obj.sum(1)).toEqual({ total: 101, count: 1 });
  });

  it("passes arguments through while someone listens too", () => {
    const tracer = new FunctionGraphTracer().start();
    const f = traceable("f", (...xs: number[]) => xs.length);
    try {
      expect(f(1, 2, 3, 4, 5)).toBe(5);
    } finally {
      tracer.stop();
    }
  });

  it("lets a default parameter apply when the caller leaves the argument out", () => {
    const f = traceable("f", (a: number, b = 10) => a + b);
    expect(f(1)).toBe(11);
  });

  it("keeps the function's name and arity", () => {
    const f = traceable("ip_rcv", function ipRcv(_a: number, _b: number) {
      return 0;
    });
    expect(f.name).toBe("ipRcv");
    expect(f.length).toBe(2);
  });
  it("passes `this`, every fixed argument and the result through at arities 1 to 4", () => {
    const obj = {
      k: 1000,
      f1: traceable("f1", function (this: { k: number }, a: number) {
        return this.k + a;
      }),
      f2: traceable("f2", function (this: { k: number }, a: number, b: number) {
        return this.k + a * 10 + b;
      }),
      f3: traceable("f3", function (this: { k: number }, a: number, b: number, c: number) {
        return this.k + a * 100 + b * 10 + c;
      }),
      f4: traceable(
        "f4",
        function (this: { k: number }, a: number, b: number, c: number, d: number) {
          return this.k + a * 1000 + b * 100 + c * 10 + d;
        },
      ),
    };
    expect([obj.f1(1), obj.f2(1, 2), obj.f3(1, 2, 3), obj.f4(1, 2, 3, 4)]).toEqual([
      1001, 1012, 1123, 2234,
    ]);
    const tracer = new FunctionGraphTracer().start();
    try {
      expect(obj.f4(4, 3, 2, 1)).toBe(5321);
    } finally {
      expect(tracer.stop()).toContain("f4();");
    }
  });

  it("traces while subscribed through the channel object, and stops after unsubscribe", () => {
    const events: string[] = [];
    const listener = (m: unknown) => events.push((m as FuncGraphEvent).phase);
    tp.funcGraph.subscribe(listener);
    ipRcvCore(1);
    tp.funcGraph.unsubscribe(listener);
    ipRcvCore(1);
    expect(events).toEqual(["entry", "exit"]);
  });

  it("keeps tracing while one of two subscribers remains", () => {
    const a: string[] = [];
    const b: string[] = [];
    const la = (m: unknown) => a.push((m as FuncGraphEvent).fn);
    const lb = (m: unknown) => b.push((m as FuncGraphEvent).fn);
    diagnostics_channel.subscribe(TRACEPOINTS.funcGraph, la);
    tp.funcGraph.subscribe(lb);
    diagnostics_channel.unsubscribe(TRACEPOINTS.funcGraph, la);
    ipRcvCore(1);
    tp.funcGraph.unsubscribe(lb);
    ipRcvCore(1);
    expect(a).toEqual([]);
    expect(b).toEqual(["ip_rcv_core", "ip_rcv_core"]);
    expect(tp.funcGraph.hasSubscribers).toBe(false);
  });

  it("passes every argument through at arities 0 and above 4, traced or not", () => {
    const f0 = traceable("f0", () => 42);
    const f6 = traceable("f6", (a: number, b: number, c: number, d: number, e: number, g: number) =>
      [a, b, c, d, e, g].join(","),
    );
    expect([f0(), f6(1, 2, 3, 4, 5, 6)]).toEqual([42, "1,2,3,4,5,6"]);
    const tracer = new FunctionGraphTracer().start();
    try {
      expect([f0(), f6(6, 5, 4, 3, 2, 1)]).toEqual([42, "6,5,4,3,2,1"]);
    } finally {
      expect(tracer.stop()).toContain("f6();");
    }
  });

  it("calls a function that is not a method with `this` undefined, as strict code does", () => {
    const self = traceable("self", function (this: unknown, _a: number) {
      return this;
    });
    expect(self(1)).toBeUndefined();
  });
});
