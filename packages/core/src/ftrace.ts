/**
 * A function-graph tracer, like ftrace's `function_graph`: the packet-path functions are wrapped
 * with {@link traceable}, and while someone listens on the `skbuff:func_graph` tracepoint each
 * call publishes an entry and an exit event. {@link FunctionGraphTracer} turns those events into
 * ftrace's text format. Unsubscribed, a traced function costs one property read.
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
 * Wraps a packet-path function so the function-graph tracer can see it. `name` is the Linux
 * function it mirrors (`ip_rcv`, `tcp_v4_rcv`), so traces read like the kernel's.
 */
export function traceable<F extends AnyFn>(name: string, fn: F): F {
  const ch = tp.funcGraph;
  const traced = (self: unknown, args: ArrayLike<unknown>): unknown => {
    const my = depth++;
    const arg0 = args[0];
    ch.publish({ fn: name, phase: "entry", arg0, depth: my, timeUs: nowUs() });
    try {
      return fn.apply(self, args as unknown[]);
    } finally {
      depth = my;
      ch.publish({ fn: name, phase: "exit", arg0, depth: my, timeUs: nowUs() });
    }
  };
  // Packet-path functions have fixed arities: give them a wrapper of the same arity, so the
  // untraced call is a plain monomorphic call that V8 inlines (no rest array, no apply).
  // Anything else (rest parameters, defaults) gets the general wrapper.
  let wrapped: AnyFn;
  switch (/\.\.\.|=/.test(paramList(fn)) ? -1 : fn.length) {
    case 1:
      wrapped = function (this: unknown, a: unknown) {
        return ch.hasSubscribers ? traced(this, [a]) : fn.call(this, a);
      };
      break;
    case 2:
      wrapped = function (this: unknown, a: unknown, b: unknown) {
        return ch.hasSubscribers ? traced(this, [a, b]) : fn.call(this, a, b);
      };
      break;
    case 3:
      wrapped = function (this: unknown, a: unknown, b: unknown, c: unknown) {
        return ch.hasSubscribers ? traced(this, [a, b, c]) : fn.call(this, a, b, c);
      };
      break;
    case 4:
      wrapped = function (this: unknown, a: unknown, b: unknown, c: unknown, d: unknown) {
        return ch.hasSubscribers ? traced(this, [a, b, c, d]) : fn.call(this, a, b, c, d);
      };
      break;
    default:
      // Every argument passes through as given (count included: rest parameters and defaults
      // see what the caller wrote), and so do `this` and the result.
      wrapped = function (this: unknown, ...args: unknown[]) {
        return ch.hasSubscribers ? traced(this, args) : fn.apply(this, args);
      };
  }
  Object.defineProperty(wrapped, "name", { value: fn.name || name });
  Object.defineProperty(wrapped, "length", { value: fn.length });
  return wrapped as unknown as F;
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
