import {
  CHECKSUM_PARTIAL,
  ETH_P_ALL,
  ipFastCsum,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_FORWARD,
  NF_INET_HOOK_NAMES,
  NF_INET_LOCAL_IN,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NFPROTO_IPV4,
  PACKET_BROADCAST,
  type SkBuff,
  SkbDropReason,
} from "@skbuff/core";
import { afterEach, describe, expect, it, vi } from "vitest";
import { IP_MF, ipCheck, ipFragOff, ipTotLen, ipTtl, ipv4Net } from "../src/index.js";
import {
  buildIpv4,
  closeStacks,
  counterDelta,
  dropDelta,
  inject,
  makeRouter,
  run,
  type TestStack,
} from "./helpers.js";

afterEach(closeStacks);

/** A packet from a host behind eth0 to one behind eth1. */
const THROUGH = { src: "192.0.2.1", dst: "198.51.100.1" } as const;

function spyIcmp(t: TestStack) {
  const fn = vi.fn((_skb: SkBuff, _type: number, _code: number, _info: number) => {});
  ipv4Net(t.stack).icmpSend = fn;
  return fn;
}

/** Injects on eth0 and runs; returns the skb and what moved. */
function rx(t: TestStack, bytes: Uint8Array) {
  const counters = t.stack.counters();
  const drops = t.stack.dropReasons();
  const skb = inject(t.stack, "eth0", bytes);
  run(t.clock);
  return { skb, counters: counterDelta(t.stack, counters), drops: dropDelta(t.stack, drops) };
}

describe("ip_forward", () => {
  it("forwards out of the device of the route, with TTL one less and a header checksum that still verifies", async () => {
    const t = await makeRouter();
    const bytes = buildIpv4({ ...THROUGH, ttl: 64, payload: new Uint8Array(100).fill(7) });
    const r = rx(t, bytes);
    expect(t.sent.map((p) => p.dev)).toEqual(["eth1"]);
    const out = t.sent[0]!.bytes;
    expect(ipTtl(out, 0)).toBe(63);
    expect(ipFastCsum(out, 0, 5)).toBe(0);
    // Only the TTL and the checksum changed.
    const expected = bytes.slice();
    expected[8] = 63;
    expected.set(out.subarray(10, 12), 10);
    expect(out).toEqual(expected);
    expect(r.counters).toMatchObject({ IpInReceives: 1, IpForwDatagrams: 1 });
    expect(r.counters.IpInDelivers).toBeUndefined();
    expect(t.rec.endsOf(r.skb)).toEqual([{ kind: "consume", skb: r.skb, reason: null }]);
  });

  it("updates the checksum incrementally to what a full recomputation gives, for every TTL", async () => {
    const t = await makeRouter();
    for (let ttl = 2; ttl <= 255; ttl++) {
      const bytes = buildIpv4({ ...THROUGH, ttl, id: ttl * 257 });
      inject(t.stack, "eth0", bytes);
    }
    run(t.clock);
    expect(t.sent).toHaveLength(254);
    for (const p of t.sent) {
      const b = p.bytes.slice();
      b[10] = 0;
      b[11] = 0;
      const full = ipFastCsum(b, 0, 5);
      expect(ipCheck(p.bytes, 0), `ttl ${ipTtl(p.bytes, 0)}`).toBe(full);
    }
  });

  it("drops TTL 1 as IP_INHDR, counts IpInHdrErrors and sends time exceeded", async () => {
    const t = await makeRouter();
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ ...THROUGH, ttl: 1 }));
    expect(t.sent).toEqual([]);
    expect(r.skb.dropReason).toBe(SkbDropReason.IP_INHDR);
    expect(r.drops).toEqual({ IP_INHDR: 1 });
    expect(r.counters).toMatchObject({ IpInHdrErrors: 1 });
    expect(r.counters.IpForwDatagrams).toBeUndefined();
    expect(icmp).toHaveBeenCalledExactlyOnceWith(r.skb, 11, 0, 0);
  });

  it("drops TTL 0 the same way", async () => {
    const t = await makeRouter();
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ ...THROUGH, ttl: 0 }));
    expect(r.drops).toEqual({ IP_INHDR: 1 });
    expect(icmp).toHaveBeenCalledWith(r.skb, 11, 0, 0);
  });

  it("still delivers TTL 1 to itself: only forwarding decrements", async () => {
    const t = await makeRouter();
    rx(t, buildIpv4({ src: "192.0.2.1", dst: "198.51.100.254", ttl: 1 }));
    expect(t.delivered).toHaveLength(1);
  });

  it("drops a packet no route covers as IP_INNOROUTES, counts IpExtInNoRoutes and sends net unreachable", async () => {
    const t = await makeRouter();
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ src: "192.0.2.1", dst: "203.0.113.1" }));
    expect(t.sent).toEqual([]);
    expect(r.drops).toEqual({ IP_INNOROUTES: 1 });
    expect(r.counters).toMatchObject({ IpExtInNoRoutes: 1 });
    expect(icmp).toHaveBeenCalledExactlyOnceWith(r.skb, 3, 0, 0);
  });

  it("drops DF over the next hop's MTU as PKT_TOO_BIG, counts IpFragFails and sends frag needed with the MTU", async () => {
    const t = await makeRouter({ eth1Mtu: 576 });
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4({ ...THROUGH, df: true, payload: new Uint8Array(600) }));
    expect(t.sent).toEqual([]);
    expect(r.drops).toEqual({ PKT_TOO_BIG: 1 });
    expect(r.counters).toMatchObject({ IpFragFails: 1 });
    expect(icmp).toHaveBeenCalledExactlyOnceWith(r.skb, 3, 4, 576);
  });

  it("forwards DF at exactly the MTU", async () => {
    const t = await makeRouter({ eth1Mtu: 576 });
    rx(t, buildIpv4({ ...THROUGH, df: true, payload: new Uint8Array(556) }));
    expect(t.sent.map((p) => ipTotLen(p.bytes, 0))).toEqual([576]);
  });

  it("fragments a packet over the MTU without DF", async () => {
    const t = await makeRouter({ eth1Mtu: 576 });
    const r = rx(t, buildIpv4({ ...THROUGH, payload: new Uint8Array(1000) }));
    expect(t.sent.length).toBeGreaterThan(1);
    for (const p of t.sent) {
      expect(p.bytes.length).toBeLessThanOrEqual(576);
      expect(ipTtl(p.bytes, 0)).toBe(63);
      expect(ipFastCsum(p.bytes, 0, 5)).toBe(0);
    }
    expect(ipFragOff(t.sent[0]!.bytes, 0) & IP_MF).toBe(IP_MF);
    expect(r.counters).toMatchObject({ IpForwDatagrams: 1 });
  });

  it("does not forward when forwarding is off: IP_INADDRERRORS, IpInAddrErrors, no ICMP", async () => {
    const t = await makeRouter({ forward: false });
    const icmp = spyIcmp(t);
    const r = rx(t, buildIpv4(THROUGH));
    expect(t.sent).toEqual([]);
    expect(r.drops).toEqual({ IP_INADDRERRORS: 1 });
    expect(r.counters).toMatchObject({ IpInAddrErrors: 1 });
    expect(icmp).not.toHaveBeenCalled();
  });

  it("follows the sysctl at run time", async () => {
    const t = await makeRouter({ forward: false });
    rx(t, buildIpv4(THROUGH));
    t.stack.sysctl.set("net.ipv4.ip_forward", 1);
    rx(t, buildIpv4(THROUGH));
    expect(t.sent.map((p) => p.dev)).toEqual(["eth1"]);
  });

  it("does not write the bytes a clone shares: a tap's copy keeps the original TTL and checksum", async () => {
    const t = await makeRouter();
    const tapped: SkBuff[] = [];
    t.stack.protocols.devAddPack({
      type: ETH_P_ALL,
      func(skb) {
        if (skb.pktType !== 4) tapped.push(skb); // keep the received clone, not the outgoing one
        return 0;
      },
    });
    const bytes = buildIpv4({ ...THROUGH, ttl: 64 });
    rx(t, bytes);
    expect(t.sent).toHaveLength(1);
    expect(ipTtl(t.sent[0]!.bytes, 0)).toBe(63);
    expect(tapped).toHaveLength(1);
    const c = tapped[0]!;
    expect(c.head.slice(c.data, c.tail)).toEqual(bytes);
  });

  it("does not forward a link-layer broadcast", async () => {
    const t = await makeRouter();
    const skb = inject(t.stack, "eth0", buildIpv4(THROUGH), { pktType: PACKET_BROADCAST });
    run(t.clock);
    expect(t.sent).toEqual([]);
    expect(t.rec.endsOf(skb).map((e) => e.kind)).toEqual(["kfree"]);
  });

  it("keeps a checksum the sender left to offload (CHECKSUM_PARTIAL) to be finished on output", async () => {
    const t = await makeRouter();
    let seen = -1;
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_PRE_ROUTING,
      priority: 0,
      hook(skb) {
        // As a veth peer's packet would arrive: transport checksum still to be filled in.
        skb.ipSummed = CHECKSUM_PARTIAL;
        skb.csumStart = skb.networkHeader + 20;
        skb.csumOffset = 6;
        return NF_ACCEPT;
      },
    });
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_POST_ROUTING,
      priority: 0,
      hook(skb) {
        seen = skb.ipSummed;
        return NF_ACCEPT;
      },
    });
    rx(t, buildIpv4({ ...THROUGH, payload: new Uint8Array(8) }));
    expect(seen).toBe(CHECKSUM_PARTIAL);
    // The test device has no checksum offload: dev_hard_start_xmit finished the sum.
    const out = t.sent[0]!.bytes;
    expect((out[26]! << 8) | out[27]!).not.toBe(0);
  });
});

describe("netfilter hooks on the forward path", () => {
  it("runs PRE_ROUTING, FORWARD and POST_ROUTING, not LOCAL_IN", async () => {
    const t = await makeRouter();
    const seen: object[] = [];
    for (const hooknum of [
      NF_INET_PRE_ROUTING,
      NF_INET_LOCAL_IN,
      NF_INET_FORWARD,
      NF_INET_POST_ROUTING,
    ]) {
      t.stack.nf.register({
        pf: NFPROTO_IPV4,
        hooknum,
        priority: 0,
        hook(skb, state) {
          seen.push({
            hook: NF_INET_HOOK_NAMES[state.hook],
            in: state.in?.name ?? null,
            out: state.out?.name ?? null,
            ttl: ipTtl(skb.head, skb.networkHeader),
          });
          return NF_ACCEPT;
        },
      });
    }
    rx(t, buildIpv4({ ...THROUGH, ttl: 9 }));
    expect(seen).toEqual([
      { hook: "PRE_ROUTING", in: "eth0", out: null, ttl: 9 },
      { hook: "FORWARD", in: "eth0", out: "eth1", ttl: 8 },
      { hook: "POST_ROUTING", in: "eth0", out: "eth1", ttl: 8 },
    ]);
  });

  it("sends nothing when FORWARD drops, and does not count the datagram forwarded", async () => {
    const t = await makeRouter();
    t.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_FORWARD,
      priority: 0,
      hook: () => NF_DROP,
    });
    const r = rx(t, buildIpv4(THROUGH));
    expect(t.sent).toEqual([]);
    expect(r.drops).toEqual({ NETFILTER_DROP: 1 });
    expect(r.counters.IpForwDatagrams).toBeUndefined();
  });
});
