import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScriptEvent, TimeSpec } from "../src/packetdrill/ast.js";
import { parseFlags, resolveFlags } from "../src/packetdrill/flags.js";
import { parseScript } from "../src/packetdrill/parser.js";
import {
  DEFAULT_TOLERANCE,
  inWindow,
  type ScheduledTime,
  TimeTracker,
  timingError,
  toleranceFor,
} from "../src/packetdrill/time.js";
import { packetdrillDir } from "./conformance.js";

const TCP_DIR =
  process.env.PACKETDRILL_TCP_DIR ??
  `${packetdrillDir() ?? "(no shared/conformance/packetdrill)"}/tcp`;
const HAVE_SCRIPTS = existsSync(TCP_DIR);
if (!HAVE_SCRIPTS) {
  console.warn(`packetdrill_time: skipping whole-script timing: ${TCP_DIR} does not exist`);
}

const abs = (s: number): TimeSpec => ({ kind: "absolute", us: s * 1e6 });
const rel = (s: number): TimeSpec => ({ kind: "relative", us: Math.round(s * 1e6) });

/** Schedules each event of a script as a perfect run would: every event happens when due. */
function perfectRun(events: readonly ScriptEvent[], tracker = new TimeTracker()): ScheduledTime[] {
  let now = 0;
  return events.map((e) => {
    const s = tracker.schedule(e, now);
    now = s.dueUs;
    return s;
  });
}

describe("toleranceFor", () => {
  it("is 4 ms by default when there is no previous event", () => {
    expect(toleranceFor(DEFAULT_TOLERANCE, undefined)).toBe(4000);
  });

  it("is 4 ms for gaps up to 32 ms", () => {
    expect(toleranceFor(DEFAULT_TOLERANCE, 0)).toBe(4000);
    expect(toleranceFor(DEFAULT_TOLERANCE, 10_000)).toBe(4000);
    expect(toleranceFor(DEFAULT_TOLERANCE, 32_000)).toBe(4000);
  });

  it("is 12.5 % of longer gaps", () => {
    expect(toleranceFor(DEFAULT_TOLERANCE, 100_000)).toBe(12_500);
    expect(toleranceFor(DEFAULT_TOLERANCE, 1_000_000)).toBe(125_000);
  });

  it("truncates the dynamic part to whole microseconds", () => {
    expect(toleranceFor(DEFAULT_TOLERANCE, 100_001)).toBe(12_500);
  });

  it("uses --tolerance_usecs as the floor when given", () => {
    const opts = parseFlags(["--tolerance_usecs=20000"]);
    expect(toleranceFor(opts, 100_000)).toBe(20_000);
    expect(toleranceFor(opts, 1_000_000)).toBe(125_000);
  });

  it("is fixed with --tolerance_percent=0", () => {
    const opts = parseFlags(["--tolerance_usecs=7000", "--tolerance_percent=0"]);
    expect(toleranceFor(opts, 10_000_000)).toBe(7000);
  });

  it("is never below the floor nor below the percentage (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e6 }),
        fc.double({ min: 0, max: 100, noNaN: true }),
        fc.integer({ min: 0, max: 1e9 }),
        (floor, percent, gap) => {
          const t = toleranceFor({ toleranceUsecs: floor, tolerancePercent: percent }, gap);
          return t >= floor && t >= Math.trunc((percent / 100) * gap);
        },
      ),
    );
  });
});

describe("TimeTracker.expectedWindow", () => {
  it("takes absolute times as they are", () => {
    expect(new TimeTracker().expectedWindow(abs(0.1), 55_555)).toEqual([96_000, 104_000]);
  });

  it("counts relative times from the previous event's actual time", () => {
    expect(new TimeTracker().expectedWindow(rel(0.1), 250_000)).toEqual([346_000, 354_000]);
  });

  it("widens a range by the tolerance at both ends", () => {
    const range: TimeSpec = { kind: "range", relative: true, startUs: 300_000, endUs: 400_000 };
    expect(new TimeTracker().expectedWindow(range, 1_000_000)).toEqual([1_296_000, 1_404_000]);
    const absolute: TimeSpec = { kind: "range", relative: false, startUs: 100_000, endUs: 200_000 };
    expect(new TimeTracker().expectedWindow(absolute, 1_000_000)).toEqual([96_000, 204_000]);
  });

  it("accepts any time for '*'", () => {
    expect(new TimeTracker().expectedWindow({ kind: "any" }, 5)).toEqual([-Infinity, Infinity]);
  });

  it("scales the tolerance with the gap since the previous event", () => {
    const t = new TimeTracker();
    t.schedule({ kind: "command", time: abs(0) }, 0);
    expect(t.expectedWindow(rel(1), 0)).toEqual([875_000, 1_125_000]);
  });

  it("does not advance the tracker", () => {
    const t = new TimeTracker();
    t.expectedWindow(rel(1), 0);
    expect(t.previousDueUs).toBeUndefined();
  });
});

describe("TimeTracker.schedule", () => {
  const inbound = (time: TimeSpec) =>
    ({ kind: "packet", time, packet: { direction: "inbound" } }) as const;
  const outbound = (time: TimeSpec) =>
    ({ kind: "packet", time, packet: { direction: "outbound" } }) as const;
  const call = (time: TimeSpec, endUs?: number) =>
    ({ kind: "syscall", time, syscall: { endUs } }) as const;

  it("counts a relative time from now, so lateness does not accumulate", () => {
    const t = new TimeTracker();
    t.schedule(call(abs(0)), 0);
    t.schedule(outbound(rel(0)), 0);
    // The packet came 2 ms late; the next event counts from when it came.
    expect(t.schedule(call(rel(0.1)), 2_000).dueUs).toBe(102_000);
  });

  it("anchors consecutive inbound packets to the previous packet's script time", () => {
    const t = new TimeTracker();
    t.schedule(call(abs(0)), 0);
    expect(t.schedule(inbound(rel(0.1)), 300).dueUs).toBe(100_300);
    // Injecting took 700 µs; the burst keeps its scripted spacing anyway.
    expect(t.schedule(inbound(rel(0.01)), 101_000).dueUs).toBe(110_300);
    // An outbound packet is not anchored.
    expect(t.schedule(outbound(rel(0)), 111_000).dueUs).toBe(111_000);
  });

  it("ignores now for absolute times", () => {
    const t = new TimeTracker();
    t.schedule(call(abs(0)), 0);
    expect(t.schedule(call(abs(0.5)), 123_456)).toMatchObject({ dueUs: 500_000, offsetUs: 0 });
  });

  it("gives a blocking call a return window measured from its own start", () => {
    const t = new TimeTracker();
    t.schedule(call(abs(0)), 0);
    const s = t.schedule(call(rel(0), 200_000), 100_000);
    expect(s.dueUs).toBe(100_000);
    // max(4 ms, 12.5 % × 200 ms) = 25 ms
    expect(s.blockingEnd).toEqual({
      dueUs: 300_000,
      toleranceUs: 25_000,
      window: [275_000, 325_000],
    });
  });

  it("keeps an absolute blocking call's end absolute", () => {
    const t = new TimeTracker();
    const s = t.schedule(call(abs(0.1), 300_000), 0);
    expect(s.blockingEnd?.dueUs).toBe(300_000);
    expect(s.blockingEnd?.window).toEqual([275_000, 325_000]);
  });

  it("schedules '*' at now with an unbounded window", () => {
    const t = new TimeTracker();
    t.schedule(call(abs(0)), 0);
    expect(t.schedule(outbound({ kind: "any" }), 42_000)).toMatchObject({
      dueUs: 42_000,
      toleranceUs: 0,
      window: [-Infinity, Infinity],
    });
  });

  it("forgets the previous event on reset", () => {
    const t = new TimeTracker();
    t.schedule(inbound(abs(0)), 0);
    t.reset();
    expect(t.previousDueUs).toBeUndefined();
    expect(t.schedule(inbound(rel(0.1)), 5_000).dueUs).toBe(105_000);
  });

  it("takes its tolerance from the flags", () => {
    const t = new TimeTracker(parseFlags(["--tolerance_usecs=20000"]));
    expect(t.schedule(call(abs(0)), 0).window).toEqual([-20_000, 20_000]);
  });
});

describe("timingError", () => {
  it("is undefined inside the window, on either edge", () => {
    const s = new TimeTracker().plan(abs(0.2), 0, undefined);
    expect(timingError(s, 196_000, "outbound packet")).toBeUndefined();
    expect(timingError(s, 204_000, "outbound packet")).toBeUndefined();
    expect(inWindow(s.window, 204_001)).toBe(false);
  });

  it("reads like packetdrill's for a point in time", () => {
    const s = new TimeTracker().plan(abs(0.2), 0, undefined);
    expect(timingError(s, 250_000, "outbound packet")).toBe(
      "timing error: expected outbound packet at 0.2 sec but happened at 0.25 sec; tolerance 0.004 sec",
    );
  });

  it("reads like packetdrill's for a relative range", () => {
    const range: TimeSpec = { kind: "range", relative: true, startUs: 300_000, endUs: 400_000 };
    const s = new TimeTracker().plan(range, 1_000_000, undefined);
    expect(timingError(s, 1_500_000, "outbound packet")).toBe(
      "timing error: expected outbound packet in relative time range +0.3~+0.4 sec but happened at +0.5 sec",
    );
  });
});

describe.skipIf(!HAVE_SCRIPTS)("timing of whole conformance scripts", () => {
  const load = (rel: string) => parseScript(readFileSync(join(TCP_DIR, rel), "utf8"), rel);

  it("puts blocking-read.pkt's events where the script means them", () => {
    const s = load("blocking/blocking-read.pkt");
    const run = perfectRun(s.events, new TimeTracker(resolveFlags(s)));
    expect(run.map((x) => x.dueUs / 1000)).toEqual([
      0, 0, 0, 0, 100, 100, 200, 200, 200, 300, 300, 400, 500, 500, 600, 600, 600, 600,
    ]);
    expect(run.filter((x) => x.blockingEnd).map((x) => x.blockingEnd!.dueUs / 1000)).toEqual([
      300, 500, 600, 600,
    ]);
    // --tolerance_usecs=10000 in the script is the floor.
    expect(run[4]!.toleranceUs).toBe(12_500);
    expect(run[5]!.toleranceUs).toBe(10_000);
  });

  it("gives user_timeout.pkt's retransmissions their ranges", () => {
    const s = load("user_timeout/user_timeout.pkt");
    const run = perfectRun(s.events);
    const ranges = run.filter((x) => x.spec.kind === "range");
    expect(ranges.map((x) => x.window)).toEqual([
      [2_362_500, 2_537_500],
      [2_662_500, 2_837_500],
      [3_225_000, 3_575_000],
    ]);
  });

  it("accepts every event of every script in a perfect run", () => {
    const files = (readdirSync(TCP_DIR, { recursive: true }) as string[]).filter((f) =>
      f.endsWith(".pkt"),
    );
    expect(files).toHaveLength(26);
    for (const f of files) {
      const s = load(f);
      for (const x of perfectRun(s.events, new TimeTracker(resolveFlags(s)))) {
        expect(inWindow(x.window, x.dueUs)).toBe(true);
        if (x.blockingEnd) expect(x.blockingEnd.dueUs).toBeGreaterThanOrEqual(x.dueUs);
      }
    }
  });
});
