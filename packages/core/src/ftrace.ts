/**
 * A function-graph tracer, like ftrace's `function_graph`: the packet-path functions are wrapped
 * with {@link traceable}, and while someone listens on the `skbuff:func_graph` tracepoint each
 * call publishes an entry and an exit event. {@link FunctionGraphTracer} turns those events into
 * ftrace's text format. Unsubscribed, a traced function costs one property read and a call V8
 * inlines.
 * @packageDocumentation
 */
import { tp } from "./trace.js";

/** One function-graph event. */
export interface FuncGraphEvent {
  readonly fn: string;
  readonly phase: "entry" | "exit";
  /** The packet, when the function's first argument is one. */
  readonly arg0: unknown;
  readonly depth: number;
  /** Wall-clock microseconds, for durations. */
  readonly timeUs: number;
}

let depth = 0;

// biome-ignore lint/suspicious/noExplicitAny: the wrapper is generic over any function type
export type AnyFn = (...args: any[]) => any;

/**
 * Whether the `skbuff:func_graph` tracepoint has subscribers, kept as a plain field so the
 * untraced call reads one constant object's property instead of calling the channel's
 * `hasSubscribers` getter. {@link watchSubscriptions} keeps it in step with the channel.
 */
const graph = { on: false };

/**
 * Keeps {@link graph}.on equal to the channel's `hasSubscribers`: the channel's own
 * subscription methods are shadowed by ones that call the original and then look again.
 * `diagnostics_channel.subscribe(name, fn)` goes through `channel(name).subscribe`, and the
 * channel object is the one `tp` holds, so every way of subscribing passes here.
 */
function watchSubscriptions(ch: typeof tp.funcGraph): void {
  for (const method of ["subscribe", "unsubscribe", "bindStore", "unbindStore"] as const) {
    if (typeof ch[method] !== "function") continue;
    Object.defineProperty(ch, method, {
      configurable: true,
      writable: true,
      value: function (this: typeof ch, ...args: unknown[]): unknown {
        // Looked up on the prototype at each call: Node swaps a channel's prototype between
        // its idle and active classes as subscribers come and go.
        const proto = Object.getPrototypeOf(ch) as Record<string, AnyFn>;
        try {
          return proto[method]!.apply(ch, args);
        } finally {
          setTracing(ch.hasSubscribers);
        }
      },
    });
  }
  setTracing(ch.hasSubscribers);
}

/**
 * Stores a change only: until the first subscription the field is never written, and V8 folds
 * the read of an untouched field of a constant object into a constant (undone when it changes).
 */
function setTracing(on: boolean): void {
  if (graph.on !== on) graph.on = on;
}
watchSubscriptions(tp.funcGraph);

/** Whether the function-graph tracer is listening (one property read). */
export function funcGraphTracing(): boolean {
  return graph.on;
}

/** The call with entry and exit events, taken only while someone listens. */
function tracedCall(name: string, fn: AnyFn, self: unknown, args: ArrayLike<unknown>): unknown {
  const ch = tp.funcGraph;
  const my = depth++;
  const arg0 = args[0];
  ch.publish({ fn: name, phase: "entry", arg0, depth: my, timeUs: nowUs() });
  try {
    return fn.apply(self, args as unknown[]);
  } finally {
    depth = my;
    ch.publish({ fn: name, phase: "exit", arg0, depth: my, timeUs: nowUs() });
  }
}

/**
 * Wraps a packet-path function so the function-graph tracer can see it. `name` is the Linux
 * function it mirrors (`ip_rcv`, `tcp_v4_rcv`), so traces read like the kernel's.
 *
 * Each traced function gets wrapper code of its own (compiled from source, with the wrapped
 * function's arity): closures of one shared wrapper would share V8's type feedback, making the
 * inner call site megamorphic across every traced function, so nothing would inline. With its
 * own code the untraced call is one property read and a monomorphic call that V8 inlines.
 * Where code cannot be compiled at run time, a shared closure does the same job more slowly.
 */
export function traceable<F extends AnyFn>(name: string, fn: F): F {
  const wrapped = makeWrapper(name, fn);
  Object.defineProperty(wrapped, "name", { value: fn.name || name });
  Object.defineProperty(wrapped, "length", { value: fn.length });
  return wrapped as unknown as F;
}

/** Fixed arities get a wrapper with that many parameters (no rest array, no `apply`). */
const MAX_FIXED_ARITY = 8;

/** Numbers each wrapper's source, so no two are the same text (see {@link makeWrapper}). */
let wrappers = 0;

function makeWrapper(name: string, fn: AnyFn): AnyFn {
  // Rest parameters and defaults see the argument count the caller wrote: those go through
  // `arguments` as given.
  const n = /\.\.\.|=/.test(paramList(fn)) ? -1 : fn.length;
  const params =
    n >= 0 && n <= MAX_FIXED_ARITY ? Array.from({ length: n }, (_, i) => `a${i}`).join(", ") : null;
  // V8 caches compiled code by source text, and closures of one cached code share its type
  // feedback again: a number in the name makes every wrapper's text, and so its code, its own.
  const id = `${(fn.name || name).replace(/[^A-Za-z0-9_$]/g, "_")}_${wrappers++}`;
  const body =
    params === null
      ? `"use strict"; return function traced_${id}() {
           return graph.on ? tracedCall(name, fn, this, arguments) : fn.apply(this, arguments);
         };`
      : `"use strict"; return function traced_${id}(${params}) {
           return graph.on ? tracedCall(name, fn, this, [${params}])
                           : fn.call(this${params ? `, ${params}` : ""});
         };`;
  try {
    return new Function("graph", "tracedCall", "name", "fn", body)(graph, tracedCall, name, fn);
  } catch {
    // No run-time code generation (--disallow-code-generation-from-strings): one shared closure.
    return function (this: unknown, ...args: unknown[]): unknown {
      return graph.on ? tracedCall(name, fn, this, args) : fn.apply(this, args);
    };
  }
}

/** The text of a function's parameter list (to spot rest parameters and defaults). */
function paramList(fn: AnyFn): string {
  const src = Function.prototype.toString.call(fn);
  const open = src.indexOf("(");
  const close = src.indexOf(")", open);
  return open >= 0 && close > open ? src.slice(open + 1, close) : "...";
}

function nowUs(): number {
  return performance.now() * 1000;
}

/**
 * Collects function-graph events into ftrace's `function_graph` text:
 * ```
 *  0)               |  netif_receive_skb() {
 *  0)               |    ip_rcv() {
 *  0)   1.250 us    |      ip_rcv_core();
 * ```
 */
export class FunctionGraphTracer {
  readonly lines: string[] = [];
  private readonly open: { fn: string; start: number; line: number; cpu: string }[] = [];
  private readonly stackColumn: boolean;
  private readonly listener = (msg: unknown): void => this.onEvent(msg as FuncGraphEvent);
  private active = false;
  private readonly filter: ((ev: FuncGraphEvent) => boolean) | undefined;

  /**
   * @param filter keep only events for which this returns true (for example one skb).
   * @param options `stackColumn`: show the stack's name where ftrace shows the CPU number, so a
   *   trace across several stacks says which one each function ran in.
   */
  constructor(filter?: (ev: FuncGraphEvent) => boolean, options: { stackColumn?: boolean } = {}) {
    this.filter = filter;
    this.stackColumn = options.stackColumn ?? false;
  }

  /** Starts listening. */
  start(): this {
    if (!this.active) {
      tp.funcGraph.subscribe(this.listener);
      this.active = true;
    }
    return this;
  }

  /** Stops listening and returns the trace text. */
  stop(): string {
    if (this.active) {
      tp.funcGraph.unsubscribe(this.listener);
      this.active = false;
    }
    return this.text();
  }

  /** The trace so far. */
  text(): string {
    return this.lines.join("\n");
  }

  private onEvent(ev: FuncGraphEvent): void {
    if (this.filter && !this.filter(ev)) return;
    const indent = "  ".repeat(this.open.length + 1);
    if (ev.phase === "entry") {
      const parent = this.open[this.open.length - 1];
      const cpu = this.stackColumn ? (stackName(ev.arg0) ?? parent?.cpu ?? "?").padStart(8) : " 0";
      this.open.push({ fn: ev.fn, start: ev.timeUs, line: this.lines.length, cpu });
      this.lines.push(`${cpu})               |${indent}${ev.fn}() {`);
      return;
    }
    const top = this.open.pop();
    if (!top) return;
    const dur = ev.timeUs - top.start;
    const durText = `${dur.toFixed(3)} us`.padStart(11);
    if (top.line === this.lines.length - 1) {
      // A leaf: fold "fn() {" + "}" into "fn();" with its duration, as ftrace does.
      this.lines[top.line] =
        `${top.cpu}) ${durText}   |${"  ".repeat(this.open.length + 1)}${top.fn}();`;
    } else {
      this.lines.push(`${top.cpu}) ${durText}   |${"  ".repeat(this.open.length + 1)}}`);
    }
  }
}

/** The name of the stack a traced call ran in: its first argument is a stack or a packet. */
function stackName(arg0: unknown): string | undefined {
  if (arg0 === null || typeof arg0 !== "object") return undefined;
  const o = arg0 as { name?: unknown; nf?: unknown; dev?: { net?: { name?: string } } | null };
  if (typeof o.name === "string" && o.nf !== undefined) return o.name;
  return o.dev?.net?.name;
}
