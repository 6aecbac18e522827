/**
 * Property tests of the receive path: whatever bytes arrive, nothing throws, every packet ends
 * exactly once (delivered, sent on, or dropped with a reason), every drop is counted by reason,
 * and every drop moved the IP counter Linux moves for it.
 */
import {
  getU16,
  ipFastCsum,
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_OTHERHOST,
  type PktType,
  SkbDropReason,
} from "@skbuff/core";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { ipSendCheck } from "../src/index.js";
import {
  addr,
  buildIpv4,
  closeStacks,
  counterDelta,
  dropDelta,
  inject,
  makeStack,
  run,
  SINK_PROTO,
  type TestStack,
} from "./helpers.js";

afterEach(closeStacks);

const RUNS = 300;
/** Longer than `net.ipv4.ipfrag_time` (30 s): a lone fragment's queue expires within a run. */
const SETTLE_MS = 31_000;

const REASONS = new Set<string>(Object.values(SkbDropReason));

/**
 * The IP counters a drop with each reason must move (at least one of them). OTHERHOST moves
 * none, as in Linux (it counts `rx_otherhost_dropped` on the device, not an IP counter). A
 * reason missing here is a drop nobody counted, and fails the test.
 */
const COUNTED_BY: Readonly<Record<string, readonly string[]>> = {
  [SkbDropReason.OTHERHOST]: [],
  [SkbDropReason.IP_INHDR]: ["IpInHdrErrors", "IpReasmFails"],
  [SkbDropReason.IP_CSUM]: ["IpExtInCsumErrors"],
  [SkbDropReason.PKT_TOO_SMALL]: ["IpExtInTruncatedPkts"],
  [SkbDropReason.IP_INADDRERRORS]: ["IpInAddrErrors"],
  [SkbDropReason.IP_INVALID_SOURCE]: ["IpInAddrErrors"],
  [SkbDropReason.IP_INVALID_DEST]: ["IpInAddrErrors"],
  [SkbDropReason.IP_INNOROUTES]: ["IpExtInNoRoutes"],
  [SkbDropReason.IP_NOPROTO]: ["IpInUnknownProtos"],
  [SkbDropReason.PKT_TOO_BIG]: ["IpFragFails"],
  [SkbDropReason.FRAG_REASM_TIMEOUT]: ["IpReasmTimeout"],
  [SkbDropReason.DUP_FRAG]: ["IpReasmFails"],
  [SkbDropReason.FRAG_TOO_FAR]: ["IpReasmFails"],
  [SkbDropReason.NOMEM]: ["IpReasmFails"],
};

/**
 * What `ip_rcv_core` must decide for these bytes, restated from Linux's checks in their order
 * (net/ipv4/ip_input.c): the drop reason, or null when the header is acceptable.
 */
function ipRcvCoreVerdict(b: Uint8Array, pktType: PktType): SkbDropReason | null {
  if (pktType === PACKET_OTHERHOST) return SkbDropReason.OTHERHOST;
  if (b.length < 20) return SkbDropReason.IP_INHDR;
  const ihl = b[0]! & 0x0f;
  if (ihl < 5 || b[0]! >> 4 !== 4) return SkbDropReason.IP_INHDR;
  if (b.length < ihl * 4) return SkbDropReason.IP_INHDR;
  if (ipFastCsum(b, 0, ihl) !== 0) return SkbDropReason.IP_CSUM;
  const totLen = getU16(b, 2);
  if (b.length < totLen) return SkbDropReason.PKT_TOO_SMALL;
  if (totLen < ihl * 4) return SkbDropReason.IP_INHDR;
  return null;
}

/** The exact IP error counters `ip_rcv_core` moves for a drop of its own. */
const CORE_COUNTERS: Readonly<Record<string, Record<string, number>>> = {
  [SkbDropReason.OTHERHOST]: {},
  [SkbDropReason.IP_INHDR]: { IpInHdrErrors: 1 },
  [SkbDropReason.IP_CSUM]: { IpInHdrErrors: 1, IpExtInCsumErrors: 1 },
  [SkbDropReason.PKT_TOO_SMALL]: { IpExtInTruncatedPkts: 1 },
};
const ERROR_COUNTERS = ["IpInHdrErrors", "IpExtInCsumErrors", "IpExtInTruncatedPkts"];

/**
 * Injects one packet, lets the stack settle, and checks everything the properties promise.
 * Plain expectations: nothing is caught here, a throw anywhere fails the run.
 */
function checkOne(t: TestStack, bytes: Uint8Array, pktType: PktType): void {
  const counters = t.stack.counters();
  const drops = t.stack.dropReasons();
  const sent0 = t.sent.length;
  const delivered0 = t.delivered.length;
  t.rec.clear();

  const skb = inject(t.stack, "eth0", bytes, { pktType });
  run(t.clock);
  t.clock.advanceSync(SETTLE_MS);

  const c = counterDelta(t.stack, counters);
  const d = dropDelta(t.stack, drops);
  const sent = t.sent.length - sent0;
  const delivered = t.delivered.length - delivered0;

  // Nothing threw: no handler, hook or driver reported an exception.
  expect(t.rec.handlerErrors).toEqual([]);

  // The packet ended exactly once.
  const ends = t.rec.endsOf(skb);
  expect(ends).toHaveLength(1);
  const end = ends[0]!;
  if (end.kind === "kfree") {
    expect(REASONS.has(end.reason!), `unknown drop reason ${end.reason}`).toBe(true);
    expect(skb.dropReason).toBe(end.reason);
    expect(delivered + sent).toBe(0);
  } else {
    // Delivered to the sink (which consumed it), or sent on (whole or in fragments).
    expect(delivered === 1 ? t.delivered.at(-1)!.skb === skb && sent === 0 : sent >= 1).toBe(true);
  }

  // Every drop is counted under its reason, and by the IP counter that goes with it.
  const kfrees = t.rec.drops;
  expect(Object.values(d).reduce((a, b) => a + b, 0)).toBe(kfrees.length);
  const byReason: Record<string, number> = {};
  for (const k of kfrees) byReason[k.reason!] = (byReason[k.reason!] ?? 0) + 1;
  expect(d).toEqual(byReason);
  for (const reason of Object.keys(byReason)) {
    const counted = COUNTED_BY[reason];
    expect(counted, `no IP counter is known for drops with ${reason}`).toBeDefined();
    if (counted!.length > 0) {
      expect(
        counted!.some((name) => (c[name] ?? 0) > 0),
        `${reason} moved none of ${counted!.join(", ")}`,
      ).toBe(true);
    }
  }

  // ip_rcv_core: the verdict Linux would give, and exactly its counters.
  const verdict = ipRcvCoreVerdict(bytes, pktType);
  if (verdict === SkbDropReason.OTHERHOST) {
    expect(c.IpInReceives).toBeUndefined();
  } else {
    expect(c.IpInReceives).toBe(1);
    expect(c.IpExtInOctets ?? 0).toBe(bytes.length);
  }
  if (verdict !== null) {
    expect(end).toMatchObject({ kind: "kfree", reason: verdict });
    const errors = Object.fromEntries(ERROR_COUNTERS.filter((k) => c[k]).map((k) => [k, c[k]]));
    expect(errors).toEqual(CORE_COUNTERS[verdict]);
  } else {
    expect(c.IpExtInCsumErrors).toBeUndefined();
    expect(c.IpExtInTruncatedPkts).toBeUndefined();
    // ip_forward refuses link-layer broadcasts (pkt_type != PACKET_HOST) as OTHERHOST too.
    if (pktType === PACKET_HOST) expect(end.reason).not.toBe(SkbDropReason.OTHERHOST);
    expect(end.reason).not.toBe(SkbDropReason.IP_CSUM);
    expect(end.reason).not.toBe(SkbDropReason.PKT_TOO_SMALL);
    // A header error after ip_rcv_core can only be a TTL that ran out on the way through.
    if (c.IpInHdrErrors) expect(c.IpForwDatagrams).toBeUndefined();
  }
}

/** A host (eth0 192.0.2.1/24) and a router (eth0, eth1 with MTU 576, forwarding on). */
async function stacks(): Promise<[TestStack, TestStack]> {
  const host = await makeStack({ name: "host" });
  const router = await makeStack({
    name: "router",
    devices: [
      { driver: "test", name: "eth0", address: "192.0.2.254/24" },
      { driver: "test", name: "eth1", address: "198.51.100.254/24", mtu: 576 },
    ],
    sysctl: { "net.ipv4.ip_forward": 1 },
  });
  return [host, router];
}

const pktTypeArb: fc.Arbitrary<PktType> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(PACKET_HOST) },
  { weight: 1, arbitrary: fc.constant(PACKET_BROADCAST) },
  { weight: 1, arbitrary: fc.constant(PACKET_OTHERHOST) },
);

/** Addresses that lead somewhere interesting on the two stacks, and random ones. */
const addrArb: fc.Arbitrary<number> = fc.oneof(
  // A host behind the router's eth1 (MTU 576): forwarding, fragmenting, PKT_TOO_BIG.
  { weight: 2, arbitrary: fc.constant(addr("198.51.100.1")) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      ...[
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.254",
        "192.0.2.255",
        "198.51.100.1",
        "198.51.100.254",
        "198.51.100.255",
        "203.0.113.9",
        "255.255.255.255",
        "0.0.0.0",
        "0.1.2.3",
        "127.0.0.1",
        "224.0.0.1",
        "240.0.0.1",
      ].map(addr),
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffffffff }) },
);

/** What is done to a valid packet before it is injected. */
type Mutation =
  | { kind: "none" }
  | { kind: "flip"; at: number; xor: number; fixCsum: boolean }
  | { kind: "truncate"; to: number }
  | { kind: "pad"; n: number }
  | { kind: "totLen"; value: number; fixCsum: boolean }
  | { kind: "verIhl"; value: number; fixCsum: boolean };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Mutation>({ kind: "none" }) },
  fc.record({
    kind: fc.constant("flip" as const),
    at: fc.nat({ max: 80 }),
    xor: fc.integer({ min: 1, max: 255 }),
    fixCsum: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("truncate" as const), to: fc.nat({ max: 80 }) }),
  fc.record({ kind: fc.constant("pad" as const), n: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    kind: fc.constant("totLen" as const),
    value: fc.nat({ max: 0xffff }),
    fixCsum: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("verIhl" as const),
    value: fc.nat({ max: 255 }),
    fixCsum: fc.boolean(),
  }),
);

function mutate(b: Uint8Array, m: Mutation): Uint8Array {
  const fix = (x: Uint8Array): Uint8Array => {
    const ihl = x[0]! & 0x0f;
    if (ihl >= 5 && ihl * 4 <= x.length) ipSendCheck(x, 0);
    return x;
  };
  switch (m.kind) {
    case "none":
      return b;
    case "flip": {
      const x = b.slice();
      const i = m.at % x.length;
      x[i]! ^= m.xor;
      return m.fixCsum ? fix(x) : x;
    }
    case "truncate":
      return b.slice(0, Math.min(m.to, b.length));
    case "pad": {
      const x = new Uint8Array(b.length + m.n).fill(0x5a);
      x.set(b);
      return x;
    }
    case "totLen": {
      const x = b.slice();
      x[2] = m.value >> 8;
      x[3] = m.value & 0xff;
      return m.fixCsum ? fix(x) : x;
    }
    case "verIhl": {
      const x = b.slice();
      x[0] = m.value;
      return m.fixCsum ? fix(x) : x;
    }
  }
}

const packetArb = fc.record({
  src: addrArb,
  dst: addrArb,
  ttl: fc.nat({ max: 255 }),
  protocol: fc.oneof(fc.constant(SINK_PROTO), fc.constantFrom(1, 6, 17, 254), fc.nat({ max: 255 })),
  // size "max": lengths over the whole range, not only small ones (above eth1's MTU too).
  payload: fc.uint8Array({ maxLength: 700, size: "max" }),
  id: fc.nat({ max: 0xffff }),
  df: fc.boolean(),
  mf: fc.boolean(),
  fragOff: fc.oneof(fc.constant(0), fc.nat({ max: 0x1fff })),
  tos: fc.nat({ max: 255 }),
  optionWords: fc.nat({ max: 10 }),
});

describe("the receive path under arbitrary input", () => {
  it("takes any 0..200 bytes without throwing, ends each packet once and counts each drop", async () => {
    const [host, router] = await stacks();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200, size: "max" }),
        pktTypeArb,
        fc.boolean(),
        (bytes, pktType, toRouter) => {
          checkOne(toRouter ? router : host, bytes, pktType);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("takes any 0..200 bytes that start like an IPv4 header the same way", async () => {
    const [host, router] = await stacks();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 200, size: "max" }),
        fc.boolean(),
        pktTypeArb,
        fc.boolean(),
        (bytes, fixCsum, pktType, toRouter) => {
          const b = bytes.slice();
          b[0] = 0x45;
          if (fixCsum && b.length >= 20) ipSendCheck(b, 0);
          checkOne(toRouter ? router : host, b, pktType);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("takes valid headers with random fields and mutations the same way", async () => {
    const [host, router] = await stacks();
    fc.assert(
      fc.property(packetArb, mutationArb, pktTypeArb, fc.boolean(), (p, m, pktType, toRouter) => {
        const bytes = buildIpv4({
          src: p.src,
          dst: p.dst,
          ttl: p.ttl,
          protocol: p.protocol,
          payload: p.payload,
          id: p.id,
          df: p.df,
          mf: p.mf,
          fragOff: p.fragOff,
          tos: p.tos,
          // NOP options: legal, and ignored.
          options: new Uint8Array(p.optionWords * 4).fill(1),
        });
        checkOne(toRouter ? router : host, mutate(bytes, m), pktType);
      }),
      { numRuns: RUNS },
    );
  });

  it("delivers, forwards and drops in the same run, as a sanity check of the generators", async () => {
    const [host, router] = await stacks();
    const outcomes = new Set<string>();
    fc.assert(
      fc.property(packetArb, pktTypeArb, fc.boolean(), (p, pktType, toRouter) => {
        const t = toRouter ? router : host;
        const bytes = buildIpv4({ ...p, options: new Uint8Array(0) });
        const sent = t.sent.length;
        const delivered = t.delivered.length;
        checkOne(t, bytes, pktType);
        if (t.delivered.length > delivered) outcomes.add("delivered");
        else if (t.sent.length > sent) outcomes.add("sent");
        else outcomes.add("dropped");
      }),
      { numRuns: RUNS, seed: 42 },
    );
    expect([...outcomes].sort()).toEqual(["delivered", "dropped", "sent"]);
  });
});
