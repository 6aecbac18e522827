import { describe, expect, it } from "vitest";
import type { TcpPacket } from "../src/packetdrill/ast.js";
import {
  compareOutbound,
  describeSent,
  type FlowState,
  learnFromOutbound,
  mergeSegments,
  type SentSegment,
} from "../src/packetdrill/runner/tcp_match.js";

const flow = (): FlowState => ({
  localIsn: 1000,
  remoteIsn: 5000,
  localPort: 8080,
  remotePort: 47001,
  tsOffset: undefined,
});

const seg = (over: Partial<SentSegment>): SentSegment => ({
  flags: 0x10,
  seq: 1001,
  ack: 5001,
  window: 1054,
  srcPort: 8080,
  dstPort: 47001,
  options: [],
  len: 0,
  count: 1,
  ...over,
});

const scripted = (over: Partial<TcpPacket>): TcpPacket => ({
  protocol: "tcp",
  direction: "outbound",
  ip: undefined,
  ports: undefined,
  flags: 0x10,
  seq: { start: 1, end: 1, len: 0 },
  ack: 1,
  win: undefined,
  urg: undefined,
  options: [],
  ...over,
});

const noTs = { tsTickUsecs: 0, tsSlackTicks: 0 };

describe("packetdrill runner: matching outbound segments", () => {
  it("merges contiguous data segments, OR-ing their flags", () => {
    const m = mergeSegments(seg({ len: 1000 }), seg({ seq: 2001, len: 500, flags: 0x18 }));
    expect(m).toMatchObject({ seq: 1001, len: 1500, flags: 0x18, count: 2 });
  });

  it("does not merge across a gap, a SYN or after a FIN", () => {
    expect(mergeSegments(seg({ len: 1000 }), seg({ seq: 2002, len: 10 }))).toBeUndefined();
    expect(mergeSegments(seg({ len: 0, flags: 0x11 }), seg({ seq: 1001 }))).toBeUndefined();
    expect(mergeSegments(seg({ len: 1000 }), seg({ seq: 2001, flags: 0x12 }))).toBeUndefined();
  });

  it("compares sequence and ack numbers relative to each side's ISN", () => {
    const p = scripted({ seq: { start: 1, end: 101, len: 100 }, flags: 0x18 });
    expect(compareOutbound(p, seg({ len: 100, flags: 0x18 }), flow(), noTs)).toBeUndefined();
    expect(compareOutbound(p, seg({ len: 100, flags: 0x18, ack: 5002 }), flow(), noTs)).toBe(
      "wrong ack: expected 1, got 2",
    );
  });

  it("learns the stack's ISN and port from its SYN", () => {
    const f: FlowState = { ...flow(), localIsn: undefined };
    const p = scripted({ flags: 0x02, seq: { start: 0, end: 0, len: 0 }, ack: undefined });
    learnFromOutbound(p, seg({ flags: 0x02, seq: 777, srcPort: 40000 }), f);
    expect(f.localIsn).toBe(777);
    expect(f.localPort).toBe(40000);
  });

  it("maps the TSval through the first one sent and checks it with --tcp_ts_tick_usecs", () => {
    const f = flow();
    const ts = (val: number, ecr: number): TcpPacket =>
      scripted({ options: [{ kind: "nop" }, { kind: "nop" }, { kind: "timestamp", val, ecr }] });
    const sent = (val: number, ecr: number) =>
      seg({ options: [{ kind: "nop" }, { kind: "nop" }, { kind: "ts", val, ecr }] });
    learnFromOutbound(ts(100, 7), sent(90_100, 7), f);
    expect(f.tsOffset).toBe(90_000);
    const o = { tsTickUsecs: 1000, tsSlackTicks: 4 };
    expect(compareOutbound(ts(1100, 7), sent(91_102, 7), f, o)).toBeUndefined();
    expect(compareOutbound(ts(1100, 7), sent(91_200, 7), f, o)).toBe(
      "wrong TS val: expected 1100 (±4), got 1200",
    );
    expect(compareOutbound(ts(1100, 8), sent(91_100, 7), f, o)).toBe(
      "wrong TS ecr: expected 8, got 7",
    );
  });

  it("describes what was sent as a script line", () => {
    const s = seg({ flags: 0x18, len: 100, options: [{ kind: "sack", blocks: [[5101, 5201]] }] });
    expect(describeSent(s, flow())).toBe("> P. 1:101(100) ack 1 win 1054 <sack 101:201>");
  });
});
