import {
  CHECKSUM_PARTIAL,
  type Clock,
  consumeSkb,
  createStack,
  csumFold,
  csumPartial,
  definePlugin,
  ETH_P_IP,
  inetAton,
  ipFastCsum,
  NET_SKB_PAD,
  type NetDevice,
  netifRx,
  type SkBuff,
  SkbDropReason,
  type Stack,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type IcmpSendFn,
  IP_DF,
  IP_MF,
  IP_OFFSET,
  ipBuildAndSendPkt,
  ipDefrag,
  ipFragment,
  ipFragOff,
  ipId,
  ipIhl,
  ipTos,
  ipTotLen,
  ipv4,
  ipv4Net,
  setIpDaddr,
  setIpFragOff,
  setIpId,
  setIpProtocol,
  setIpSaddr,
  setIpTos,
  setIpTotLen,
  setIpTtl,
  setIpVerIhl,
} from "../src/index.js";
import { ipOptionsFragment } from "../src/ip_fragment.js";
import { ipSendCheck } from "../src/ip_output.js";

const PROTO = 253;
const SRC = inetAton("192.0.2.2")!;
const DST = inetAton("192.0.2.1")!;

/** One datagram as the test protocol handler saw it. */
interface Delivered {
  /** The IP header (options included). */
  readonly header: Uint8Array;
  /** Everything after the IP header. */
  readonly payload: Uint8Array;
  readonly skb: SkBuff;
}

interface Harness {
  readonly stack: Stack;
  readonly clock: VirtualClock;
  readonly dev: NetDevice;
  /** Packets the test device transmitted. */
  readonly sent: SkBuff[];
  /** Datagrams delivered to protocol 253. */
  readonly got: Delivered[];
}

const stacks: Stack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

/** A stack with IPv4, a test device t0 (192.0.2.1/24, MTU 1500) and a sink for protocol 253. */
async function setup(
  sysctl: Record<string, number> = {},
  onClockError?: (e: unknown) => void,
): Promise<Harness> {
  const clock = new VirtualClock({
    autoAdvance: false,
    ...(onClockError ? { onError: onClockError } : {}),
  });
  const sent: SkBuff[] = [];
  const got: Delivered[] = [];
  const testPlugin = definePlugin({
    name: "test:frag",
    register(ctx) {
      ctx.registerDriver({
        name: "test",
        create(stack, spec) {
          return stack.registerNetdev({
            name: spec.name ?? "t0",
            kind: "test",
            mtu: 1500,
            noQueue: true,
            ops: {
              ndoStartXmit(skb) {
                sent.push(skb);
                return 0;
              },
            },
          });
        },
      });
      ctx.inetAddProtocol({
        protocol: PROTO,
        handler(skb) {
          got.push({
            header: skb.head.slice(skb.networkHeader, skb.transportHeader),
            payload: skb.head.slice(skb.data, skb.tail),
            skb,
          });
          consumeSkb(skb);
          return 0;
        },
      });
    },
  });
  const stack = await createStack({
    name: "frag",
    plugins: [ipv4(), testPlugin],
    devices: [{ driver: "test", name: "t0", address: "192.0.2.1/24" }],
    clock: clock as Clock,
    sysctl,
  });
  stacks.push(stack);
  return { stack, clock, dev: stack.getDevice("t0")!, sent, got };
}

/** What one fragment looks like on the wire. */
interface FragSpec {
  /** Payload offset in bytes (a multiple of 8). */
  readonly offset: number;
  readonly payload: Uint8Array;
  readonly mf: boolean;
  readonly id?: number;
  readonly saddr?: number;
  readonly df?: boolean;
  readonly tos?: number;
  readonly options?: Uint8Array;
}

/** The bytes of a fragment: a valid IPv4 header (checksum included) and its payload. */
function buildFrag(s: FragSpec): Uint8Array {
  const hlen = 20 + (s.options?.length ?? 0);
  const b = new Uint8Array(hlen + s.payload.length);
  setIpVerIhl(b, 0, hlen >> 2);
  setIpTos(b, 0, s.tos ?? 0);
  setIpTotLen(b, 0, b.length);
  setIpId(b, 0, s.id ?? 1);
  setIpFragOff(b, 0, (s.offset >> 3) | (s.mf ? IP_MF : 0) | (s.df ? IP_DF : 0));
  setIpTtl(b, 0, 64);
  setIpProtocol(b, 0, PROTO);
  setIpSaddr(b, 0, s.saddr ?? SRC);
  setIpDaddr(b, 0, DST);
  if (s.options) b.set(s.options, 20);
  b.set(s.payload, hlen);
  ipSendCheck(b, 0);
  return b;
}

/** A payload of `n` bytes whose content depends on `seed`. */
function pattern(n: number, seed = 0): Uint8Array {
  const p = new Uint8Array(n);
  for (let i = 0; i < n; i++) p[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return p;
}

/** Cuts `payload` into fragments of the given sizes (cycled; multiples of 8 but the last). */
function cut(
  payload: Uint8Array,
  sizes: readonly number[],
  extra: Partial<FragSpec> = {},
): FragSpec[] {
  const out: FragSpec[] = [];
  for (let off = 0, k = 0; off < payload.length; k++) {
    const size = sizes[k % sizes.length]!;
    const end = Math.min(off + size, payload.length);
    out.push({
      ...extra,
      offset: off,
      payload: payload.subarray(off, end),
      mf: end < payload.length,
    });
    off = end;
  }
  return out;
}

/** Injects raw IP bytes on t0 as if received, and lets the softirq run. */
function rx(h: Harness, bytes: Uint8Array, init?: (skb: SkBuff) => void): void {
  const skb = skbFromBytes(bytes);
  skb.dev = h.dev;
  skb.protocol = ETH_P_IP;
  init?.(skb);
  netifRx(skb);
  h.clock.advanceSync(0);
}

/** A fragment skb ready for a direct {@link ipDefrag} call (data and network header at IP). */
function fragSkb(h: Harness, s: FragSpec): SkBuff {
  const skb = skbFromBytes(buildFrag(s));
  skb.dev = h.dev;
  skb.protocol = ETH_P_IP;
  skb.resetNetworkHeader();
  return skb;
}

/** A complete, unfragmented datagram skb for {@link ipFragment}. */
function datagramSkb(h: Harness, payload: Uint8Array, extra: Partial<FragSpec> = {}): SkBuff {
  const skb = skbFromBytes(buildFrag({ offset: 0, mf: false, id: 0x1234, ...extra, payload }));
  skb.dev = h.dev;
  skb.protocol = ETH_P_IP;
  skb.resetNetworkHeader();
  return skb;
}

const bytesOf = (skb: SkBuff): Uint8Array => skb.head.slice(skb.data, skb.tail);
const drops = (h: Harness, r: SkbDropReason): number => h.stack.drops[r] ?? 0;
const mib = (h: Harness) => ipv4Net(h.stack).mib;
const frags = (h: Harness) => ipv4Net(h.stack).frags;

describe("ipDefrag: reassembly", () => {
  it("reassembles fragments received in order into the original payload", async () => {
    const h = await setup();
    const payload = pattern(3000);
    for (const f of cut(payload, [1480])) rx(h, buildFrag(f));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
    expect(mib(h).IpReasmReqds).toBe(3);
    expect(mib(h).IpReasmOKs).toBe(1);
    expect(mib(h).IpReasmFails).toBe(0);
  });

  it("reassembles fragments received in reverse order", async () => {
    const h = await setup();
    const payload = pattern(1000, 3);
    for (const f of cut(payload, [96]).reverse()) rx(h, buildFrag(f));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("reassembles any payload from any order of fragments of any 8-byte multiple sizes", async () => {
    const h = await setup();
    let id = 0;
    const arb = fc
      .record({
        size: fc.integer({ min: 1, max: 20000 }),
        units: fc.array(fc.integer({ min: 1, max: 185 }), { minLength: 1, maxLength: 8 }),
        seed: fc.nat(255),
      })
      .filter(({ size, units }) => size / (Math.min(...units) * 8) <= 400)
      .chain((r) => {
        const n = cut(
          new Uint8Array(r.size),
          r.units.map((u) => u * 8),
        ).length;
        const idx = [...Array(n).keys()];
        return fc.record({
          r: fc.constant(r),
          order: fc.shuffledSubarray(idx, { minLength: n, maxLength: n }),
        });
      });
    fc.assert(
      fc.property(arb, ({ r, order }) => {
        id = (id + 1) & 0xffff;
        const payload = pattern(r.size, r.seed);
        const fs = cut(
          payload,
          r.units.map((u) => u * 8),
          { id },
        );
        h.got.length = 0;
        order.forEach((i, k) => {
          rx(h, buildFrag(fs[i]!));
          if (k < order.length - 1 && fs.length > 1) expect(h.got).toHaveLength(0);
        });
        expect(h.got).toHaveLength(1);
        expect(h.got[0]!.payload).toEqual(payload);
        expect(frags(h).queues.size).toBe(0);
        expect(frags(h).mem).toBe(0);
      }),
      { numRuns: 60 },
    );
  });

  it("builds one linear skb with the first fragment's header, MF and offset cleared", async () => {
    const h = await setup();
    const payload = pattern(200);
    const options = Uint8Array.of(0x94, 4, 0, 0);
    const a: FragSpec = { id: 9, offset: 0, payload: payload.subarray(0, 96), mf: true, options };
    const b: FragSpec = { id: 9, offset: 96, payload: payload.subarray(96), mf: false };
    const dstA = { name: "dst-a" };
    const dstB = { name: "dst-b" };
    const first = fragSkb(h, a);
    first.mark = 7;
    first.tstamp = 1234;
    first.skbIif = h.dev.ifindex;
    first.dst = dstA;
    expect(ipDefrag(h.stack, first)).toBeNull();
    const last = fragSkb(h, b);
    last.mark = 9;
    last.dst = dstB;
    const whole = ipDefrag(h.stack, last)!;
    expect(whole).not.toBeNull();
    const bytes = bytesOf(whole);
    expect(whole.headroom).toBe(NET_SKB_PAD);
    expect(whole.networkHeader).toBe(whole.data);
    expect(whole.transportHeader).toBe(whole.data + 24);
    expect(ipIhl(bytes, 0)).toBe(6);
    expect(bytes.subarray(20, 24)).toEqual(options);
    expect(ipTotLen(bytes, 0)).toBe(24 + 200);
    expect(ipFragOff(bytes, 0)).toBe(0);
    expect(ipId(bytes, 0)).toBe(9);
    expect(ipFastCsum(bytes, 0, 6)).toBe(0);
    expect(bytes.subarray(24)).toEqual(payload);
    expect(whole.dev).toBe(h.dev);
    expect(whole.skbIif).toBe(h.dev.ifindex);
    expect(whole.mark).toBe(7);
    expect(whole.tstamp).toBe(1234);
    expect(whole.dst).toBe(dstB);
  });

  it("keeps DF on the datagram only when its largest fragment had DF set, as Linux does", async () => {
    const h = await setup();
    const payload = pattern(64);
    const [a, b] = cut(payload, [48]);
    rx(h, buildFrag({ ...a!, id: 1, df: true }));
    rx(h, buildFrag({ ...b!, id: 1 }));
    rx(h, buildFrag({ ...a!, id: 2 }));
    rx(h, buildFrag({ ...b!, id: 2, df: true }));
    expect(h.got.map((d) => ipFragOff(d.header, 0))).toEqual([IP_DF, 0]);
  });

  it("drops an exact duplicate with DUP_FRAG and keeps the datagram", async () => {
    const h = await setup();
    const payload = pattern(300);
    const [a, b, c] = cut(payload, [128]);
    rx(h, buildFrag(a!));
    rx(h, buildFrag(b!));
    rx(h, buildFrag(b!));
    expect(drops(h, SkbDropReason.DUP_FRAG)).toBe(1);
    expect(mib(h).IpReasmFails).toBe(0);
    rx(h, buildFrag(c!));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("drops a fragment whose bytes are all already queued as a duplicate", async () => {
    const h = await setup();
    const payload = pattern(300);
    const [a, b] = cut(payload, [256]);
    rx(h, buildFrag(a!));
    rx(h, buildFrag({ offset: 64, payload: payload.subarray(64, 128), mf: true }));
    expect(drops(h, SkbDropReason.DUP_FRAG)).toBe(1);
    rx(h, buildFrag(b!));
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("invalidates the whole datagram when a fragment overlaps queued bytes in part", async () => {
    const h = await setup();
    const payload = pattern(64);
    rx(h, buildFrag({ offset: 0, payload: payload.subarray(0, 16), mf: true }));
    rx(h, buildFrag({ offset: 8, payload: payload.subarray(8, 24), mf: true }));
    expect(drops(h, SkbDropReason.DUP_FRAG)).toBe(2);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(frags(h).queues.size).toBe(0);
    expect(frags(h).mem).toBe(0);
    rx(h, buildFrag({ offset: 16, payload: payload.subarray(16), mf: false }));
    expect(h.got).toHaveLength(0);
  });

  it("invalidates the datagram when two final fragments disagree on its end", async () => {
    const h = await setup();
    rx(h, buildFrag({ offset: 64, payload: pattern(16), mf: false }));
    rx(h, buildFrag({ offset: 64, payload: pattern(24), mf: false }));
    expect(drops(h, SkbDropReason.IP_INHDR)).toBe(2);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(frags(h).queues.size).toBe(0);
  });

  it("cuts a non-final fragment down to an 8-byte boundary, as Linux does", async () => {
    const h = await setup();
    const payload = pattern(40);
    rx(h, buildFrag({ offset: 0, payload: payload.subarray(0, 13), mf: true }));
    rx(h, buildFrag({ offset: 8, payload: payload.subarray(8), mf: false }));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("invalidates the datagram on a non-final fragment shorter than 8 bytes", async () => {
    const h = await setup();
    rx(h, buildFrag({ offset: 0, payload: pattern(5), mf: true }));
    expect(drops(h, SkbDropReason.IP_INHDR)).toBe(1);
    expect(mib(h).IpReasmFails).toBe(1);
  });

  it("rejects a fragment that would end beyond 65535 bytes", async () => {
    const h = await setup();
    rx(h, buildFrag({ offset: 0, payload: pattern(8), mf: true }));
    // 8189 * 8 = 65512; 20 + 65512 + 4 = 65536.
    rx(h, buildFrag({ offset: 8189 * 8, payload: pattern(4), mf: false }));
    expect(drops(h, SkbDropReason.IP_INHDR)).toBe(2);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(frags(h).queues.size).toBe(0);
  });

  it("reassembles a datagram of exactly 65535 bytes", async () => {
    const h = await setup();
    const payload = pattern(65535 - 20);
    for (const f of cut(payload, [1480])) rx(h, buildFrag(f));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("rejects a datagram whose first fragment's options make it longer than 65535 bytes", async () => {
    const h = await setup();
    const payload = pattern(65535 - 20);
    const options = Uint8Array.of(0x94, 4, 0, 0);
    for (const f of cut(payload, [1480])) rx(h, buildFrag(f.offset === 0 ? { ...f, options } : f));
    expect(h.got).toHaveLength(0);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(mib(h).IpReasmOKs).toBe(0);
    expect(frags(h).queues.size).toBe(0);
    expect(frags(h).mem).toBe(0);
  });

  it("combines ECT(0) and CE fragments into a CE datagram", async () => {
    const h = await setup();
    const payload = pattern(64);
    const [a, b] = cut(payload, [32]);
    rx(h, buildFrag({ ...a!, tos: 0x02 }));
    rx(h, buildFrag({ ...b!, tos: 0x03 }));
    expect(h.got).toHaveLength(1);
    expect(ipTos(h.got[0]!.header, 0) & 3).toBe(3);
  });

  it("drops a datagram mixing Not-ECT and ECN-capable fragments (RFC 3168 5.3)", async () => {
    const h = await setup();
    const payload = pattern(64);
    const [a, b] = cut(payload, [32]);
    rx(h, buildFrag({ ...a!, tos: 0x00 }));
    rx(h, buildFrag({ ...b!, tos: 0x03 }));
    expect(h.got).toHaveLength(0);
    expect(mib(h).IpReasmFails).toBe(1);
  });

  it("frees the queued fragments with QUEUE_PURGE when the stack closes", async () => {
    const h = await setup();
    rx(h, buildFrag({ offset: 0, payload: pattern(16), mf: true }));
    rx(h, buildFrag({ offset: 32, payload: pattern(16), mf: true }));
    await h.stack.close();
    expect(drops(h, SkbDropReason.QUEUE_PURGE)).toBe(2);
    expect(frags(h).mem).toBe(0);
  });
});

describe("ipDefrag: reassembly timeout", () => {
  it("keeps an incomplete datagram until ipfrag_time has passed", async () => {
    const h = await setup();
    rx(h, buildFrag({ offset: 0, payload: pattern(16), mf: true }));
    h.clock.advanceSync(29_999);
    expect(frags(h).queues.size).toBe(1);
    expect(mib(h).IpReasmTimeout).toBe(0);
  });

  it("frees an incomplete datagram after 30 s and sends ICMP time exceeded when fragment zero arrived", async () => {
    const h = await setup();
    const seen: { type: number; code: number; info: number; offset: number }[] = [];
    const icmp = vi.fn<IcmpSendFn>((skb, type, code, info) => {
      seen.push({ type, code, info, offset: ipFragOff(skb.head, skb.networkHeader) & IP_OFFSET });
    });
    ipv4Net(h.stack).icmpSend = icmp;
    rx(h, buildFrag({ offset: 32, payload: pattern(16), mf: true }));
    rx(h, buildFrag({ offset: 0, payload: pattern(16), mf: true }));
    h.clock.advanceSync(30_000);
    expect(icmp).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([{ type: 11, code: 1, info: 0, offset: 0 }]);
    expect(drops(h, SkbDropReason.FRAG_REASM_TIMEOUT)).toBe(2);
    expect(mib(h).IpReasmTimeout).toBe(1);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(frags(h).queues.size).toBe(0);
    expect(frags(h).mem).toBe(0);
  });

  it("sends no ICMP on timeout when fragment zero never arrived", async () => {
    const h = await setup();
    const icmp = vi.fn<IcmpSendFn>();
    ipv4Net(h.stack).icmpSend = icmp;
    rx(h, buildFrag({ offset: 32, payload: pattern(16), mf: true }));
    rx(h, buildFrag({ offset: 64, payload: pattern(16), mf: false }));
    h.clock.advanceSync(30_000);
    expect(icmp).not.toHaveBeenCalled();
    expect(drops(h, SkbDropReason.FRAG_REASM_TIMEOUT)).toBe(2);
    expect(mib(h).IpReasmTimeout).toBe(1);
  });

  it("times each datagram from its own first fragment", async () => {
    const h = await setup({ "net.ipv4.ipfrag_time": 10 });
    rx(h, buildFrag({ id: 1, offset: 8, payload: pattern(8), mf: true }));
    h.clock.advanceSync(4_000);
    rx(h, buildFrag({ id: 2, offset: 8, payload: pattern(8), mf: true }));
    h.clock.advanceSync(6_000);
    expect(mib(h).IpReasmTimeout).toBe(1);
    expect([...frags(h).queues.values()].map((q) => q.id)).toEqual([2]);
    h.clock.advanceSync(4_000);
    expect(mib(h).IpReasmTimeout).toBe(2);
    expect(frags(h).timer.pending).toBe(false);
  });
});

describe("ipDefrag: expiry timer", () => {
  it("applies a changed ipfrag_time to datagrams that start after the change", async () => {
    const h = await setup();
    rx(h, buildFrag({ id: 1, offset: 8, payload: pattern(8), mf: true }));
    h.stack.sysctl.set("net.ipv4.ipfrag_time", 5);
    rx(h, buildFrag({ id: 2, offset: 8, payload: pattern(8), mf: true }));
    h.clock.advanceSync(5_000);
    expect([...frags(h).queues.values()].map((q) => q.id)).toEqual([1]);
    h.clock.advanceSync(25_000);
    expect(frags(h).queues.size).toBe(0);
    expect(mib(h).IpReasmTimeout).toBe(2);
  });

  it("keeps its pending expiries in proportion to the live queues", async () => {
    const h = await setup();
    for (let id = 1; id <= 500; id++) {
      for (const f of cut(pattern(24), [16], { id })) rx(h, buildFrag(f));
    }
    expect(h.got).toHaveLength(500);
    expect(frags(h).expiries.length).toBeLessThanOrEqual(2 * frags(h).queues.size + 65);
  });

  it("frees the fragments and keeps expiring other datagrams when the ICMP sender throws", async () => {
    const errors: unknown[] = [];
    const h = await setup({}, (e) => errors.push(e));
    ipv4Net(h.stack).icmpSend = () => {
      throw new Error("icmp failed");
    };
    rx(h, buildFrag({ id: 1, offset: 0, payload: pattern(8), mf: true }));
    h.clock.advanceSync(1_000);
    rx(h, buildFrag({ id: 2, offset: 8, payload: pattern(8), mf: true }));
    h.clock.advanceSync(29_000);
    expect(errors).toHaveLength(1);
    expect(drops(h, SkbDropReason.FRAG_REASM_TIMEOUT)).toBe(1);
    h.clock.advanceSync(1_000);
    expect(drops(h, SkbDropReason.FRAG_REASM_TIMEOUT)).toBe(2);
    expect(frags(h).mem).toBe(0);
  });
});

describe("ipDefrag: memory limits", () => {
  it("drops new fragments with NOMEM over ipfrag_high_thresh after evicting the least recently used queues", async () => {
    const h = await setup();
    const frag = (id: number, offset: number) =>
      buildFrag({ id, offset, payload: pattern(96), mf: true });
    rx(h, frag(1, 0));
    const unit = frags(h).mem;
    h.stack.sysctl.set("net.ipv4.ipfrag_high_thresh", Math.floor(2.5 * unit));
    h.stack.sysctl.set("net.ipv4.ipfrag_low_thresh", Math.floor(2.2 * unit));
    rx(h, frag(2, 0));
    rx(h, frag(1, 96)); // queue 1 becomes the most recently used
    expect(frags(h).mem).toBe(3 * unit);
    rx(h, frag(3, 0));
    // Queue 2 was evicted (one fragment, NOMEM); the new fragment was refused (NOMEM).
    expect([...frags(h).queues.values()].map((q) => q.id)).toEqual([1]);
    expect(frags(h).mem).toBe(2 * unit);
    expect(drops(h, SkbDropReason.NOMEM)).toBe(2);
    expect(mib(h).IpReasmFails).toBe(2);
    // Below the threshold again, fragments are accepted.
    rx(h, buildFrag({ id: 1, offset: 192, payload: pattern(8), mf: false }));
    expect(h.got).toHaveLength(1);
  });

  it("refuses every fragment when ipfrag_high_thresh is 0", async () => {
    const h = await setup({ "net.ipv4.ipfrag_high_thresh": 0 });
    rx(h, buildFrag({ offset: 0, payload: pattern(16), mf: true }));
    expect(drops(h, SkbDropReason.NOMEM)).toBe(1);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(frags(h).queues.size).toBe(0);
  });
});

describe("ipDefrag: ipfrag_max_dist", () => {
  it("resets a queue with FRAG_TOO_FAR when more than max_dist fragments from its source came in between", async () => {
    const h = await setup({ "net.ipv4.ipfrag_max_dist": 2 });
    const payload = pattern(16);
    const [a, b] = cut(payload, [8], { id: 1 });
    rx(h, buildFrag(a!));
    rx(h, buildFrag({ id: 2, offset: 0, payload: pattern(8), mf: true }));
    rx(h, buildFrag({ id: 3, offset: 0, payload: pattern(8), mf: true }));
    rx(h, buildFrag(b!));
    expect(drops(h, SkbDropReason.FRAG_TOO_FAR)).toBe(1);
    expect(mib(h).IpReasmFails).toBe(1);
    expect(h.got).toHaveLength(0);
    // The queue started over with the last fragment: sending the first again completes it.
    rx(h, buildFrag(a!));
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("keeps a queue when no more than max_dist fragments came in between", async () => {
    const h = await setup({ "net.ipv4.ipfrag_max_dist": 2 });
    const [a, b] = cut(pattern(16), [8], { id: 1 });
    rx(h, buildFrag(a!));
    rx(h, buildFrag({ id: 2, offset: 0, payload: pattern(8), mf: true }));
    rx(h, buildFrag(b!));
    expect(drops(h, SkbDropReason.FRAG_TOO_FAR)).toBe(0);
    expect(h.got).toHaveLength(1);
  });

  it("counts fragments per source address", async () => {
    const h = await setup({ "net.ipv4.ipfrag_max_dist": 1 });
    const [a, b] = cut(pattern(16), [8], { id: 1 });
    rx(h, buildFrag(a!));
    for (let i = 0; i < 5; i++)
      rx(
        h,
        buildFrag({
          id: 2 + i,
          saddr: inetAton("192.0.2.3")!,
          offset: 0,
          payload: pattern(8),
          mf: true,
        }),
      );
    rx(h, buildFrag(b!));
    expect(drops(h, SkbDropReason.FRAG_TOO_FAR)).toBe(0);
    expect(h.got).toHaveLength(1);
  });

  it("never resets a queue when ipfrag_max_dist is 0", async () => {
    const h = await setup({ "net.ipv4.ipfrag_max_dist": 0 });
    const [a, b] = cut(pattern(16), [8], { id: 1 });
    rx(h, buildFrag(a!));
    for (let i = 0; i < 100; i++)
      rx(h, buildFrag({ id: 2 + i, offset: 0, payload: pattern(8), mf: true }));
    rx(h, buildFrag(b!));
    expect(drops(h, SkbDropReason.FRAG_TOO_FAR)).toBe(0);
    expect(h.got).toHaveLength(1);
    expect(frags(h).peers.size).toBe(0);
  });
});

describe("ipFragment", () => {
  const capture = () => {
    const out: SkBuff[] = [];
    const output = (_net: Stack, _sk: unknown, skb: SkBuff): number => {
      out.push(skb);
      return 0;
    };
    return { out, output };
  };

  it("splits a 3000-byte payload at MTU 1500 into fragments of 1480, 1480 and 40 bytes", async () => {
    const h = await setup();
    const payload = pattern(3000);
    const { out, output } = capture();
    expect(ipFragment(h.stack, null, datagramSkb(h, payload), 1500, output)).toBe(0);
    const bs = out.map(bytesOf);
    expect(bs.map((b) => ipTotLen(b, 0) - 20)).toEqual([1480, 1480, 40]);
    expect(bs.map((b) => b.length)).toEqual([1500, 1500, 60]);
    expect(bs.map((b) => (ipFragOff(b, 0) & IP_OFFSET) * 8)).toEqual([0, 1480, 2960]);
    expect(bs.map((b) => (ipFragOff(b, 0) & IP_MF) !== 0)).toEqual([true, true, false]);
    expect(bs.map((b) => ipId(b, 0))).toEqual([0x1234, 0x1234, 0x1234]);
    expect(bs.map((b) => ipFastCsum(b, 0, 5))).toEqual([0, 0, 0]);
    expect(mib(h).IpFragCreates).toBe(3);
    expect(mib(h).IpFragOKs).toBe(1);
    for (const b of bs) rx(h, b);
    expect(h.got).toHaveLength(1);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("copies the metadata of the datagram into every fragment", async () => {
    const h = await setup();
    const skb = datagramSkb(h, pattern(2000));
    const dst = { name: "route" };
    const sk = { name: "socket" };
    skb.dst = dst;
    skb.sk = sk;
    skb.mark = 5;
    skb.priority = 6;
    skb.tstamp = 77;
    const { out, output } = capture();
    ipFragment(h.stack, sk, skb, 1500, output);
    for (const f of out) {
      expect(f).toMatchObject({
        dev: h.dev,
        dst,
        sk,
        mark: 5,
        priority: 6,
        tstamp: 77,
        protocol: ETH_P_IP,
      });
      expect(f.networkHeader).toBe(f.data);
      expect(f.transportHeader).toBe(f.data + 20);
      expect(f.headroom).toBeGreaterThanOrEqual(NET_SKB_PAD);
    }
  });

  it("fragments what ipBuildAndSendPkt sends over a device's MTU", async () => {
    const h = await setup();
    const payload = pattern(4000);
    const skb = skbFromBytes(payload, 128);
    expect(ipBuildAndSendPkt(skb, h.stack, 0, inetAton("192.0.2.2")!, PROTO)).toBe(0);
    h.clock.advanceSync(0);
    expect(h.sent.map((s) => s.len)).toEqual([1500, 1500, 1060]);
    for (const s of h.sent) {
      const b = bytesOf(s);
      setIpDaddr(b, 0, DST);
      setIpSaddr(b, 0, SRC);
      ipSendCheck(b, 0);
      rx(h, b);
    }
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("refuses a locally generated datagram with DF set with -EMSGSIZE and no ICMP", async () => {
    const h = await setup();
    const icmp = vi.fn<IcmpSendFn>();
    ipv4Net(h.stack).icmpSend = icmp;
    const skb = datagramSkb(h, pattern(2000), { df: true });
    const { out, output } = capture();
    expect(ipFragment(h.stack, { name: "socket" }, skb, 1500, output)).toBe(-90);
    expect(out).toHaveLength(0);
    expect(icmp).not.toHaveBeenCalled();
    expect(skb.dropReason).toBe(SkbDropReason.PKT_TOO_BIG);
    expect(mib(h).IpFragFails).toBe(1);
  });

  it("answers a forwarded datagram with DF set with ICMP fragmentation needed and the MTU", async () => {
    const h = await setup();
    const icmp = vi.fn<IcmpSendFn>();
    ipv4Net(h.stack).icmpSend = icmp;
    const skb = datagramSkb(h, pattern(2000), { df: true });
    const { out, output } = capture();
    expect(ipFragment(h.stack, null, skb, 1400, output)).toBe(-90);
    expect(out).toHaveLength(0);
    expect(icmp).toHaveBeenCalledWith(skb, 3, 4, 1400);
    expect(drops(h, SkbDropReason.PKT_TOO_BIG)).toBe(1);
    expect(mib(h).IpFragFails).toBe(1);
  });

  it("copies only options with the copied flag into fragments after the first", async () => {
    const h = await setup();
    // Router Alert (0x94, copied), Record Route (0x07, not copied), NOP.
    const options = Uint8Array.of(0x94, 4, 0, 0, 0x07, 7, 4, 0, 0, 0, 0, 0x01);
    const payload = pattern(1200);
    const { out, output } = capture();
    ipFragment(h.stack, null, datagramSkb(h, payload, { options }), 500, output);
    const bs = out.map(bytesOf);
    expect(bs.map((b) => ipIhl(b, 0))).toEqual([8, 6, 6]);
    expect(bs[0]!.subarray(20, 32)).toEqual(options);
    expect(bs[1]!.subarray(20, 24)).toEqual(Uint8Array.of(0x94, 4, 0, 0));
    // Data space: 500 - 32 = 468 -> 464 for the first, 500 - 24 = 476 -> 472 for the others.
    expect(bs.map((b) => ipTotLen(b, 0) - ipIhl(b, 0) * 4)).toEqual([464, 472, 264]);
    expect(bs.map((b) => ipFastCsum(b, 0, ipIhl(b, 0)))).toEqual([0, 0, 0]);
    for (const b of bs) rx(h, b);
    expect(h.got[0]!.header.subarray(20)).toEqual(options);
    expect(h.got[0]!.payload).toEqual(payload);
  });

  it("keeps MF on every piece when fragmenting a fragment that is not the last", async () => {
    const h = await setup();
    const skb = datagramSkb(h, pattern(1000));
    setIpFragOff(skb.head, skb.data, IP_MF | (800 >> 3));
    ipSendCheck(skb.head, skb.data);
    const { out, output } = capture();
    ipFragment(h.stack, null, skb, 520, output);
    const bs = out.map(bytesOf);
    expect(bs.map((b) => (ipFragOff(b, 0) & IP_OFFSET) * 8)).toEqual([800, 1296, 1792]);
    expect(bs.every((b) => (ipFragOff(b, 0) & IP_MF) !== 0)).toBe(true);
  });

  it("completes a CHECKSUM_PARTIAL transport checksum before cutting the datagram", async () => {
    const h = await setup();
    const payload = pattern(3000);
    payload.fill(0, 6, 8); // the transport checksum field, holding a zero pseudo-header sum
    const skb = datagramSkb(h, payload);
    skb.ipSummed = CHECKSUM_PARTIAL;
    skb.csumStart = skb.data + 20;
    skb.csumOffset = 6;
    const { out, output } = capture();
    ipFragment(h.stack, null, skb, 1500, output);
    for (const f of out) rx(h, bytesOf(f));
    const got = h.got[0]!.payload;
    expect(csumFold(csumPartial(got, 0, got.length))).toBe(0);
    expect(got.subarray(8)).toEqual(payload.subarray(8));
  });

  it("stops at the first output error and returns it", async () => {
    const h = await setup();
    const skb = datagramSkb(h, pattern(5000));
    let n = 0;
    const rc = ipFragment(h.stack, null, skb, 1500, () => (++n === 2 ? 1 : 0));
    expect(rc).toBe(1);
    expect(n).toBe(2);
    expect(mib(h).IpFragCreates).toBe(1);
    expect(mib(h).IpFragFails).toBe(1);
    expect(mib(h).IpFragOKs).toBe(0);
  });

  it("refuses an MTU too small for the header and 8 bytes of data", async () => {
    const h = await setup();
    const { out, output } = capture();
    expect(ipFragment(h.stack, null, datagramSkb(h, pattern(100)), 27, output)).toBe(-90);
    expect(out).toHaveLength(0);
    expect(mib(h).IpFragFails).toBe(1);
  });
});

describe("ipOptionsFragment", () => {
  it("keeps copied options and pads them with zeros to 32 bits", () => {
    const opts = Uint8Array.of(0x01, 0x83, 7, 4, 192, 0, 2, 2, 0x07, 3, 4, 0);
    expect(ipOptionsFragment(opts)).toEqual(Uint8Array.of(0x83, 7, 4, 192, 0, 2, 2, 0));
  });

  it("stops at the end-of-options option", () => {
    expect(ipOptionsFragment(Uint8Array.of(0, 0x94, 4, 0))).toEqual(new Uint8Array(0));
  });

  it("stops at a malformed option length", () => {
    expect(ipOptionsFragment(Uint8Array.of(0x94, 4, 0, 0, 0x83, 1, 0, 0))).toEqual(
      Uint8Array.of(0x94, 4, 0, 0),
    );
  });
});
