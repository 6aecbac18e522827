/**
 * Script time → expected windows on the stack's clock, as packetdrill's `run.c` computes them.
 *
 * - Absolute times count from the first event (script time 0 = the run's start).
 * - Relative times (`+.1`, `+.3~+.310`, and `*`) count from *now* when the event comes up, that
 *   is from the moment the previous event actually finished, so lateness does not accumulate;
 *   except that consecutive inbound packets are anchored to the previous packet's script time
 *   (`is_event_start_time_anchored()`), so a burst of `<` lines keeps its spacing.
 * - A blocking call's `...end` moves with the same offset as its start.
 * - Tolerance: the larger of `--tolerance_usecs` (4 ms) and `--tolerance_percent` (12.5 %) of
 *   the scripted gap since the previous event; for a blocking call's return, of the gap from
 *   its start. A range `a~b` accepts [a − tolerance, b + tolerance]; `*` accepts anything.
 * @see packetdrill gtests/net/packetdrill/run.c verify_time(), adjust_relative_event_times()
 * @packageDocumentation
 */
import type { ScriptEvent, TimeSpec } from "./ast.js";
import { formatSeconds } from "./format.js";

/** The two knobs of packetdrill's timing tolerance. */
export interface ToleranceOptions {
  /** Floor, µs (`--tolerance_usecs`, default 4000). */
  readonly toleranceUsecs: number;
  /** Share of the scripted gap, percent (`--tolerance_percent`, default 12.5). */
  readonly tolerancePercent: number;
}

/** packetdrill's defaults. */
export const DEFAULT_TOLERANCE: ToleranceOptions = Object.freeze({
  toleranceUsecs: 4000,
  tolerancePercent: 12.5,
});

/** `[min, max]` in µs of script time, both inclusive. */
export type TimeWindow = readonly [minUs: number, maxUs: number];

/**
 * The tolerance for an event `gapUs` after the previous one (µs):
 * `max(toleranceUsecs, tolerancePercent % × gap)`, truncated to whole µs like packetdrill's.
 */
export function toleranceFor(options: ToleranceOptions, gapUs: number | undefined): number {
  if (gapUs === undefined || gapUs <= 0) return options.toleranceUsecs;
  const dynamic = Math.trunc((options.tolerancePercent / 100) * gapUs);
  return Math.max(options.toleranceUsecs, dynamic);
}

/** When one event is due and what the runner must accept. */
export interface ScheduledTime {
  /** Script time the event is due (a range's start), µs since the first event. */
  readonly dueUs: number;
  /** A range's end; equal to {@link dueUs} otherwise. */
  readonly dueEndUs: number;
  /** What relative times were added to (0 for absolute times). */
  readonly offsetUs: number;
  /** The tolerance applied (0 for `*`). */
  readonly toleranceUs: number;
  /** Accepted times; `[-Infinity, Infinity]` for `*`. */
  readonly window: TimeWindow;
  /** For a blocking call written `start...end`: when it must return. */
  readonly blockingEnd:
    | { readonly dueUs: number; readonly toleranceUs: number; readonly window: TimeWindow }
    | undefined;
  /** The time spec this came from. */
  readonly spec: TimeSpec;
}

/** What {@link TimeTracker.schedule} needs to know about an event. */
export type TimedEvent = Pick<ScriptEvent, "time"> &
  (
    | { readonly kind: "packet"; readonly packet: { readonly direction: "inbound" | "outbound" } }
    | { readonly kind: "syscall"; readonly syscall: { readonly endUs: number | undefined } }
    | { readonly kind: "command" | "code" }
  );

/**
 * Tracks the previous event so each event's relative time and dynamic tolerance can be
 * computed. The runner calls {@link schedule} as each event comes up, with the clock's current
 * time, and checks what happened against the returned window.
 */
export class TimeTracker {
  private lastDueUs: number | undefined;
  private lastAnchored = false;

  constructor(readonly options: ToleranceOptions = DEFAULT_TOLERANCE) {}

  /** The previous event's script time, `undefined` before the first event. */
  get previousDueUs(): number | undefined {
    return this.lastDueUs;
  }

  /**
   * The window in which an event timed `spec` must happen, when relative times count from
   * `prevActualUs` (the previous event's actual time). Pure: the tracker is not advanced.
   */
  expectedWindow(spec: TimeSpec, prevActualUs: number): TimeWindow {
    return this.plan(spec, prevActualUs, undefined).window;
  }

  /**
   * Computes the due time and window for `spec` with relative times counted from `baseUs`, and
   * for a blocking call the return window for `endUs`. Pure.
   */
  plan(spec: TimeSpec, baseUs: number, endUs: number | undefined): ScheduledTime {
    const relative =
      spec.kind === "relative" || spec.kind === "any" || (spec.kind === "range" && spec.relative);
    const offsetUs = relative ? baseUs : 0;
    let dueUs: number;
    let dueEndUs: number;
    switch (spec.kind) {
      case "absolute":
        dueUs = dueEndUs = spec.us;
        break;
      case "relative":
        dueUs = dueEndUs = baseUs + spec.us;
        break;
      case "range":
        dueUs = offsetUs + spec.startUs;
        dueEndUs = offsetUs + spec.endUs;
        break;
      case "any":
        dueUs = dueEndUs = baseUs;
        break;
    }
    const gap = this.lastDueUs === undefined ? undefined : dueUs - this.lastDueUs;
    const toleranceUs = spec.kind === "any" ? 0 : toleranceFor(this.options, gap);
    const window: TimeWindow =
      spec.kind === "any"
        ? [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]
        : [dueUs - toleranceUs, dueEndUs + toleranceUs];
    let blockingEnd: ScheduledTime["blockingEnd"];
    if (endUs !== undefined) {
      const endDue = offsetUs + endUs;
      const tol = toleranceFor(this.options, endDue - dueUs);
      blockingEnd = { dueUs: endDue, toleranceUs: tol, window: [endDue - tol, endDue + tol] };
    }
    return { dueUs, dueEndUs, offsetUs, toleranceUs, window, blockingEnd, spec };
  }

  /**
   * Schedules the next event: relative times count from `nowUs`, or from the previous inbound
   * packet's script time when both are inbound packets. Advances the tracker.
   */
  schedule(event: TimedEvent, nowUs: number): ScheduledTime {
    const inbound = event.kind === "packet" && event.packet.direction === "inbound";
    const base =
      inbound && this.lastAnchored && this.lastDueUs !== undefined ? this.lastDueUs : nowUs;
    const endUs = event.kind === "syscall" ? event.syscall.endUs : undefined;
    const scheduled = this.plan(event.time, base, endUs);
    this.lastDueUs = scheduled.dueUs;
    this.lastAnchored = inbound;
    return scheduled;
  }

  /** Forgets the previous event (a new run). */
  reset(): void {
    this.lastDueUs = undefined;
    this.lastAnchored = false;
  }
}

/** Whether `actualUs` is inside `window`. */
export function inWindow(window: TimeWindow, actualUs: number): boolean {
  return actualUs >= window[0] && actualUs <= window[1];
}

/**
 * `undefined` when `actualUs` is on time, else packetdrill's sentence:
 * `timing error: expected outbound packet at 0.2 sec but happened at 0.25 sec; tolerance 0.004 sec`.
 */
export function timingError(
  scheduled: ScheduledTime,
  actualUs: number,
  description: string,
): string | undefined {
  if (inWindow(scheduled.window, actualUs)) return undefined;
  const at = formatSeconds(actualUs);
  const spec = scheduled.spec;
  if (spec.kind === "range") {
    const off = scheduled.offsetUs;
    const p = spec.relative ? "+" : "";
    return `timing error: expected ${description} in ${spec.relative ? "relative " : ""}time range ${p}${formatSeconds(scheduled.dueUs - off)}~${p}${formatSeconds(scheduled.dueEndUs - off)} sec but happened at ${spec.relative ? `+${formatSeconds(actualUs - off)}` : at} sec`;
  }
  return `timing error: expected ${description} at ${formatSeconds(scheduled.dueUs)} sec but happened at ${at} sec; tolerance ${formatSeconds(scheduled.toleranceUs)} sec`;
}
