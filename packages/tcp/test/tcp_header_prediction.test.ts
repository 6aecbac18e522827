/**
 * Header prediction (`tcp_rcv_established`'s fast path): the segment an established connection
 * expects next skips the general checks, counted in TcpExtTCPHPHits (data) and TcpExtTCPHPAcks
 * (an ACK advancing SND.UNA); everything else takes the slow path, and either way the connection
 * does exactly the same.
 */
import { skbFromBytes } from "@skbuff/core";
import { type Harness, tcpSegment } from "@skbuff/testing";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { type SegOptions, type TcpSocketHandle, tcpParseSegOptions } from "../src/index.js";
import { TCP_FLAG, tcpParseOptions } from "../src/wire/tcphdr.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";

const PEER_PORT = 40000;
const PEER_ISN = 1_000_000;
/** The peer's window field (scaled by 7: 64256 bytes). */
const PEER_WIN = 502;

type Layout = "aligned" | "unaligned";
type Opt = Parameters<typeof tcpSegment>[0]["options"];

/** A connection accepted from the peer, with the peer's side of the sequence space. */
interface Conn {
  readonly h: Harness;
  readonly s: TcpSocketHandle;
  /** The stack's initial sequence number. */
  readonly iss: number;
  /** Next sequence number the peer sends. */
  seq: number;
  /** What the peer acknowledges. */
  ack: number;
  /** The peer's TSval clock. */
  tsval: number;
  /** Where the peer puts its timestamp option among two NOPs. */
  readonly layout: Layout;
}

let open: Harness[] = [];
afterEach(async () => {
  for (const h of open) {
    expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
    await h.close();
  }
  open = [];
});

/** The TSval of the last segment the stack sent (to echo). */
function lastTsval(h: Harness): number {
  const p = h.transmitted[h.transmitted.length - 1];
  if (!p) return 0;
  const ts = tcpOf(p.bytes).options?.find((o) => o.kind === "ts");
  return ts && ts.kind === "ts" ? ts.val : 0;
}

/** The timestamp option in the layout of `c` (RFC 7323 Appendix A's, or the same bytes shifted). */
function tsOption(c: Conn): Opt {
  const ts = { kind: "ts" as const, val: ++c.tsval, ecr: lastTsval(c.h) };
  return c.layout === "aligned" ? ["nop", "nop", ts] : [ts, "nop", "nop"];
}

/** An ESTABLISHED connection on port 80, timestamps, SACK and window scaling negotiated. */
async function established(layout: Layout = "aligned"): Promise<Conn> {
  const h = await tcpHarness();
  open.push(h);
  const l = api(h).socket();
  expect(l.bind("0.0.0.0", 80)).toBe(0);
  expect(l.listen(16)).toBe(0);
  h.inject(
    tcpSegment({
      sport: PEER_PORT,
      dport: 80,
      seq: PEER_ISN,
      flags: "S",
      options: [
        { kind: "mss", value: 1460 },
        "sackOK",
        { kind: "ts", val: 100, ecr: 0 },
        "nop",
        { kind: "wscale", value: 7 },
      ],
    }),
  );
  const synack = tcpOf(h.nextPacket());
  const c: Conn = {
    h,
    s: null as never,
    iss: synack.seq,
    seq: PEER_ISN + 1,
    ack: synack.seq + 1,
    tsval: 100,
    layout,
  };
  send(c, { flags: "A" });
  const s = l.accept();
  if (typeof s === "number") throw new Error(`accept: ${s}`);
  return { ...c, s };
}

/** Injects a segment from the peer; by default the next in sequence, ACK|PSH, the usual window. */
function send(
  c: Conn,
  o: {
    payload?: Uint8Array;
    flags?: string;
    win?: number;
    seq?: number;
    ack?: number;
    options?: Opt;
  } = {},
): void {
  const payload = o.payload ?? new Uint8Array(0);
  const flags = o.flags ?? (payload.length ? "PA" : "A");
  c.h.inject(
    tcpSegment({
      sport: PEER_PORT,
      dport: 80,
      seq: o.seq ?? c.seq,
      ack: o.ack ?? c.ack,
      flags,
      win: o.win ?? PEER_WIN,
      options: o.options ?? tsOption(c),
      payload,
    }),
  );
  if (o.seq === undefined) c.seq += payload.length + (flags.includes("F") ? 1 : 0);
}

function data(n: number, fill = 0x61): Uint8Array {
  return new Uint8Array(n).fill(fill);
}

/** The counters of header prediction. */
function hp(h: Harness): { hits: number; acks: number } {
  const k = h.counters();
  return { hits: k.TcpExtTCPHPHits ?? 0, acks: k.TcpExtTCPHPAcks ?? 0 };
}

/** Reads everything readable. */
function readAll(s: TcpSocketHandle): number[] {
  const out: number[] = [];
  for (;;) {
    const r = s.read(65536);
    if (typeof r === "number" || r.length === 0) return out;
    out.push(...r);
  }
}

describe("header prediction: the fast path", () => {
  it("takes in-order data with ACK|PSH and the aligned timestamp, counting TcpExtTCPHPHits", async () => {
    const c = await established();
    const before = hp(c.h);
    send(c, { payload: data(100) });
    expect(hp(c.h)).toEqual({ hits: before.hits + 1, acks: before.acks });
    expect(readAll(c.s)).toEqual([...data(100)]);
    expect(c.h.drops()).toEqual({});
  });

  it("takes in-order data without timestamps on a connection that did not negotiate them", async () => {
    const h = await tcpHarness({ "net.ipv4.tcp_timestamps": 0 });
    open.push(h);
    const l = api(h).socket();
    l.bind("0.0.0.0", 80);
    l.listen(16);
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN, flags: "S" }));
    const synack = tcpOf(h.nextPacket());
    const c: Conn = {
      h,
      s: null as never,
      iss: synack.seq,
      seq: PEER_ISN + 1,
      ack: synack.seq + 1,
      tsval: 0,
      layout: "aligned",
    };
    send(c, { flags: "A", win: 65535, options: [] });
    const s = l.accept();
    if (typeof s === "number") throw new Error(`accept: ${s}`);
    send(c, { payload: data(10), win: 65535, options: [] });
    expect(hp(h).hits).toBe(1);
    expect(readAll(s)).toEqual([...data(10)]);
  });

  it("takes a pure ACK of new data, counting TcpExtTCPHPAcks and not TcpExtTCPHPHits", async () => {
    const c = await established();
    expect(c.s.write(data(200))).toBe(200);
    const seg = tcpOf(c.h.nextPacket());
    expect(seg.payload.length).toBe(200);
    const before = hp(c.h);
    c.ack += 200;
    send(c);
    expect(hp(c.h)).toEqual({ hits: before.hits, acks: before.acks + 1 });
    // Nothing is left to retransmit: no packet within the RTO.
    c.h.expectNoPacket(3000);
  });

  it("keeps the TS.Recent it would keep on the slow path (RFC 7323 4.3)", async () => {
    const c = await established();
    send(c, { payload: data(10) });
    c.h.nextPacket(); // the ACK, delayed or not
    const echoed = tcpOf(c.h.transmitted[c.h.transmitted.length - 1]!.bytes).options?.find(
      (o) => o.kind === "ts",
    );
    expect(echoed && echoed.kind === "ts" ? echoed.ecr : -1).toBe(c.tsval);
  });
});

describe("header prediction: the slow path", () => {
  /**
   * Segments that are not the one predicted, each sent on a fresh connection, with the drops
   * they cause (none but the one said: the slow path still accepts what it should).
   */
  const cases: readonly [string, (c: Conn) => void, Record<string, number>][] = [
    ["out-of-order data", (c) => send(c, { payload: data(10), seq: c.seq + 1000 }), {}],
    ["a window change", (c) => send(c, { payload: data(10), win: PEER_WIN + 1 }), {}],
    [
      "the timestamp in another layout",
      (c) =>
        send(c, {
          payload: data(10),
          options: [{ kind: "ts", val: ++c.tsval, ecr: 0 }, "nop", "nop"],
        }),
      {},
    ],
    [
      "no timestamp on a connection that negotiated them",
      (c) => send(c, { payload: data(10), options: [] }),
      {},
    ],
    [
      "a SACK block",
      (c) =>
        send(c, {
          options: [
            "nop",
            "nop",
            { kind: "ts", val: ++c.tsval, ecr: 0 },
            "nop",
            "nop",
            { kind: "sack", blocks: [[c.ack - 1, c.ack]] },
          ],
        }),
      {},
    ],
    [
      "a TSval older than TS.Recent (but within PAWS's window)",
      (c) =>
        send(c, {
          payload: data(10),
          options: ["nop", "nop", { kind: "ts", val: c.tsval - 1, ecr: 0 }],
        }),
      {},
    ],
    ["FIN", (c) => send(c, { flags: "FA" }), {}],
    ["URG", (c) => send(c, { payload: data(10), flags: "UA" }), {}],
    ["ECE", (c) => send(c, { payload: data(10), flags: "EA" }), {}],
    [
      "an ACK of data not sent yet",
      (c) => send(c, { payload: data(10), ack: c.ack + 1000 }),
      { TCP_ACK_UNSENT_DATA: 1 },
    ],
  ];

  for (const [what, inject, drops] of cases) {
    it(`takes ${what}, counting no header-prediction hit`, async () => {
      const c = await established();
      const before = hp(c.h);
      inject(c);
      expect(hp(c.h)).toEqual(before);
      expect(c.h.drops()).toEqual(drops);
    });
  }

  it("takes in-order data while out-of-order data waits, and delivers both in order", async () => {
    const c = await established();
    send(c, { payload: data(10, 0x62), seq: c.seq + 10 });
    const before = hp(c.h);
    send(c, { payload: data(10, 0x61) });
    c.seq += 10;
    expect(hp(c.h)).toEqual(before);
    expect(readAll(c.s)).toEqual([...data(10, 0x61), ...data(10, 0x62)]);
  });
});

/**
 * One exchange covering both paths: in-order data, pure ACKs, a window update, a duplicate, an
 * out-of-order segment and the one filling the hole, a SACK, and a FIN. Returns what the stack
 * sent (sequence numbers relative to its ISN), what the application read, and the counters.
 */
async function exchange(layout: Layout): Promise<{
  sent: unknown[];
  read: number[];
  counters: Record<string, number>;
  drops: Record<string, number>;
}> {
  const c = await established(layout);
  const { h, s } = c;
  const read: number[] = [];
  send(c, { payload: data(300, 1) });
  h.advance(50);
  send(c, { payload: data(1000, 2) });
  send(c, { payload: data(1000, 3) });
  read.push(...readAll(s));
  s.write(data(500, 4));
  h.advance(5);
  c.ack += 500;
  send(c);
  send(c, { win: PEER_WIN * 2 });
  s.write(data(100, 5));
  h.advance(5);
  send(c, { payload: data(40, 6) });
  c.ack += 100;
  send(c, { payload: data(40, 7) });
  send(c, { payload: data(40, 8), seq: c.seq - 40 });
  send(c, { payload: data(40, 9), seq: c.seq + 40 });
  send(c, { payload: data(40, 10) });
  c.seq += 40;
  read.push(...readAll(s));
  h.advance(300);
  send(c, { flags: "FA" });
  read.push(...readAll(s));
  h.advance(1000);
  const iss = c.iss;
  const sent = h.transmitted.map((p) => {
    const t = tcpOf(p.bytes);
    return {
      t: p.t,
      flags: t.flags,
      seq: (t.seq - iss) >>> 0,
      ack: t.ack,
      win: t.window,
      len: t.payload.length,
      options: JSON.stringify(t.options),
    };
  });
  const counters = { ...h.counters() };
  delete counters.TcpExtTCPHPHits;
  delete counters.TcpExtTCPHPAcks;
  return { sent, read, counters, drops: h.drops() };
}

describe("header prediction changes nothing but its counters", () => {
  it("gives the same packets, data, counters and drops whether the peer's segments are predicted or not", async () => {
    const fast = await exchange("aligned");
    const slow = await exchange("unaligned");
    expect(fast.sent.length).toBeGreaterThan(5);
    expect(fast).toEqual(slow);
  });

  it("predicts the aligned exchange's in-order segments and none of the other's", async () => {
    const a = await established("aligned");
    const u = await established("unaligned");
    for (const c of [a, u]) {
      send(c, { payload: data(10) });
      send(c, { payload: data(10) });
    }
    expect(hp(a.h).hits).toBe(2);
    expect(hp(u.h).hits).toBe(0);
  });
});

/** What `tcp_parse_options` should find, computed from the wire layer's option list. */
function expectedOptions(opt: Uint8Array, syn: boolean): SegOptions {
  const out: SegOptions = { mss: 0, wscale: -1, sackOk: false, ts: null, sack: [] };
  const list = tcpParseOptions(opt, 0, opt.length);
  if (list === null) return out;
  for (const o of list) {
    if (o.kind === "mss" && syn && o.value) out.mss = o.value;
    if (o.kind === "wscale" && syn) out.wscale = Math.min(o.value, 14);
    if (o.kind === "sackOK" && syn) out.sackOk = true;
    if (o.kind === "ts") out.ts = { val: o.val, ecr: o.ecr };
    if (o.kind === "sack") out.sack = o.blocks.map(([l, r]) => [l, r] as const);
  }
  return out;
}

describe("option parsing without allocation", () => {
  it("finds in any option bytes what the wire layer's parser finds (malformed: nothing)", () => {
    const kinds = fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 30);
    // Option-like bytes: plausible kinds and lengths, so that valid lists are common.
    const option = fc.oneof(
      fc
        .tuple(kinds, fc.integer({ min: 0, max: 40 }), fc.uint8Array({ maxLength: 38 }))
        .map(([k, len, body]) => [k, len, ...body.subarray(0, Math.max(0, len - 2))]),
      fc.constant([1]),
      fc.constant([2, 4, 5, 180]),
      fc.constant([3, 3, 15]),
      fc.constant([4, 2]),
      fc.uint8Array({ minLength: 8, maxLength: 8 }).map((v) => [8, 10, ...v]),
      fc
        .uint8Array({ minLength: 8, maxLength: 24 })
        .map((v) => [5, 2 + (v.length & ~7), ...v.subarray(0, v.length & ~7)]),
    );
    fc.assert(
      fc.property(fc.array(option, { maxLength: 8 }), fc.boolean(), (opts, syn) => {
        let bytes = opts.flat().slice(0, 40);
        while (bytes.length % 4) bytes.push(0);
        bytes = bytes.map((v) => v & 0xff);
        const seg = new Uint8Array(20 + bytes.length);
        seg[12] = ((20 + bytes.length) / 4) << 4;
        seg[13] = syn ? TCP_FLAG.SYN : TCP_FLAG.ACK;
        seg.set(bytes, 20);
        const skb = skbFromBytes(seg);
        expect(tcpParseSegOptions(skb)).toEqual(expectedOptions(seg.subarray(20), syn));
      }),
      { numRuns: 2000 },
    );
  });
});
