import { allocSkb, inetNtoa, SkbDropReason } from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import {
  ipForward,
  ipLocalDeliver,
  ipRouteInputNoref,
  ipRouteOutputKey,
  ipv4Net,
  type OutputRoute,
  RTN,
  Rtable,
} from "../src/index.js";
import { addr, closeStacks, makeRouter, makeStack, type TestStack } from "./helpers.js";

afterEach(closeStacks);

/** eth0 192.0.2.1/24, eth1 198.51.100.1/24 (MTU 1280), default via 198.51.100.254. */
function host(withLo = false): Promise<TestStack> {
  return makeStack({
    devices: [
      ...(withLo ? [{ driver: "test", name: "lo", address: "127.0.0.1/8", loopback: true }] : []),
      { driver: "test", name: "eth0", address: "192.0.2.1/24" },
      { driver: "test", name: "eth1", address: "198.51.100.1/24", mtu: 1280 },
    ],
    routes: [{ to: "default", via: "198.51.100.254" }],
  });
}

/** The output route to `daddr`, failing the test on an errno. */
function out(t: TestStack, daddr: string, fl: { saddr?: string; oif?: number } = {}): OutputRoute {
  const r = ipRouteOutputKey(t.stack, {
    daddr: addr(daddr),
    ...(fl.saddr !== undefined ? { saddr: addr(fl.saddr) } : {}),
    ...(fl.oif !== undefined ? { oif: fl.oif } : {}),
  });
  if (typeof r === "number") throw new Error(`no route to ${daddr}: ${r}`);
  return r;
}

/** A summary of an output route: type, device, next hop and source. */
function describeRoute(r: OutputRoute, daddr: string) {
  return {
    type: r.rt.rtType,
    dev: r.rt.dev.name,
    nexthop: inetNtoa(r.rt.nexthop(addr(daddr))),
    saddr: inetNtoa(r.saddr),
  };
}

describe("output routes (ip_route_output_key)", () => {
  it("sends to a host on a connected network directly, from the address on that network", async () => {
    const t = await host();
    expect(describeRoute(out(t, "192.0.2.77"), "192.0.2.77")).toEqual({
      type: RTN.UNICAST,
      dev: "eth0",
      nexthop: "192.0.2.77",
      saddr: "192.0.2.1",
    });
  });

  it("sends elsewhere through the gateway, from the address of the device facing it", async () => {
    const t = await host();
    expect(describeRoute(out(t, "203.0.113.9"), "203.0.113.9")).toEqual({
      type: RTN.UNICAST,
      dev: "eth1",
      nexthop: "198.51.100.254",
      saddr: "198.51.100.1",
    });
  });

  it("gives the route the MTU of its device", async () => {
    const t = await host();
    expect(out(t, "203.0.113.9").rt.mtu).toBe(1280);
    expect(out(t, "192.0.2.9").rt.mtu).toBe(1500);
  });

  it("routes to one of our addresses as local, from that address, through its device when there is no loopback device", async () => {
    const t = await host();
    const r = out(t, "198.51.100.1");
    expect(describeRoute(r, "198.51.100.1")).toEqual({
      type: RTN.LOCAL,
      dev: "eth1",
      nexthop: "198.51.100.1",
      saddr: "198.51.100.1",
    });
  });

  it("routes to one of our addresses through the loopback device when there is one", async () => {
    const t = await host(true);
    expect(describeRoute(out(t, "192.0.2.1"), "192.0.2.1")).toMatchObject({
      type: RTN.LOCAL,
      dev: "lo",
      saddr: "192.0.2.1",
    });
    expect(describeRoute(out(t, "127.0.0.9"), "127.0.0.9")).toMatchObject({
      type: RTN.LOCAL,
      dev: "lo",
      saddr: "127.0.0.1",
    });
  });

  it("routes to a subnet broadcast address out of its device, as a broadcast", async () => {
    const t = await host(true);
    expect(describeRoute(out(t, "192.0.2.255"), "192.0.2.255")).toEqual({
      type: RTN.BROADCAST,
      dev: "eth0",
      nexthop: "192.0.2.255",
      saddr: "192.0.2.1",
    });
  });

  it("routes the limited broadcast only out of a device the flow names", async () => {
    const t = await host();
    expect(ipRouteOutputKey(t.stack, { daddr: addr("255.255.255.255") })).toBe(-101);
    const r = out(t, "255.255.255.255", { oif: t.dev("eth1").ifindex });
    expect(describeRoute(r, "255.255.255.255")).toEqual({
      type: RTN.BROADCAST,
      dev: "eth1",
      nexthop: "255.255.255.255",
      saddr: "198.51.100.1",
    });
    expect(out(t, "255.255.255.255", { saddr: "192.0.2.1" }).rt.dev.name).toBe("eth0");
  });

  it("keeps a source address the caller chose, if it is ours", async () => {
    const t = await host();
    expect(out(t, "203.0.113.9", { saddr: "192.0.2.1" }).saddr).toBe(addr("192.0.2.1"));
  });

  it("refuses a source address that is not ours with -EINVAL", async () => {
    const t = await host();
    expect(ipRouteOutputKey(t.stack, { daddr: addr("192.0.2.9"), saddr: addr("192.0.2.2") })).toBe(
      -22,
    );
  });

  it("returns -ENETUNREACH when no route matches", async () => {
    const t = await makeStack();
    expect(ipRouteOutputKey(t.stack, { daddr: addr("203.0.113.1") })).toBe(-101);
  });

  it("keeps to the output interface the flow names", async () => {
    const t = await host();
    const r = out(t, "192.0.2.77", { oif: t.dev("eth1").ifindex });
    expect(r.rt.dev.name).toBe("eth1");
    expect(inetNtoa(r.rt.nexthop(addr("192.0.2.77")))).toBe("198.51.100.254");
  });

  it("reuses the route it made until the FIB changes, then makes a newer one", async () => {
    const t = await host();
    const a = out(t, "203.0.113.9").rt;
    expect(out(t, "203.0.113.77").rt).toBe(a);
    t.stack.addAddress(t.dev("eth0"), "10.9.9.9/24");
    const b = out(t, "203.0.113.9").rt;
    expect(b).not.toBe(a);
    expect(b.genid).toBe(ipv4Net(t.stack).fib.genid);
    expect(a.genid).toBeLessThan(b.genid);
  });
});

describe("input routes (ip_route_input_noref)", () => {
  function input(t: TestStack, dev: string, daddr: string, saddr = "192.0.2.2") {
    const skb = allocSkb(0);
    const err = ipRouteInputNoref(skb, addr(daddr), addr(saddr), t.dev(dev));
    return { err, rt: skb.dst as Rtable | null };
  }

  it("routes a packet for one of our addresses to local delivery on the device it came in on", async () => {
    const t = await makeRouter();
    // 198.51.100.254 is eth1's, but the packet came in on eth0 (the weak host model).
    const { err, rt } = input(t, "eth0", "198.51.100.254");
    expect(err).toBeNull();
    expect(rt).toBeInstanceOf(Rtable);
    expect(rt!.rtType).toBe(RTN.LOCAL);
    expect(rt!.input).toBe(ipLocalDeliver);
    expect(rt!.dev.name).toBe("eth0");
  });

  it("routes a packet for another network to forwarding when forwarding is on", async () => {
    const t = await makeRouter();
    const { err, rt } = input(t, "eth0", "198.51.100.7");
    expect(err).toBeNull();
    expect(rt!.rtType).toBe(RTN.UNICAST);
    expect(rt!.input).toBe(ipForward);
    expect(rt!.dev.name).toBe("eth1");
  });

  it("says EHOSTUNREACH (IP_INADDRERRORS) for a packet not for us when not forwarding", async () => {
    const t = await makeRouter({ forward: false });
    const { err, rt } = input(t, "eth0", "198.51.100.7");
    expect(err).toEqual({ reason: SkbDropReason.IP_INADDRERRORS, errno: 113 });
    expect(rt).toBeNull();
  });

  it("says ENETUNREACH (IP_INNOROUTES) for a destination no route covers, as a router", async () => {
    const t = await makeRouter();
    expect(input(t, "eth0", "203.0.113.1").err).toEqual({
      reason: SkbDropReason.IP_INNOROUTES,
      errno: 101,
    });
  });

  it("says EINVAL for martians, with no route set", async () => {
    const t = await makeRouter();
    for (const [daddr, saddr] of [
      ["192.0.2.254", "0.0.0.0"],
      ["192.0.2.254", "224.1.2.3"],
      ["192.0.2.254", "255.255.255.255"],
      ["192.0.2.254", "127.0.0.1"],
      ["127.0.0.1", "192.0.2.2"],
      ["0.0.0.1", "192.0.2.2"],
    ]) {
      const r = input(t, "eth0", daddr!, saddr);
      expect(r.err?.errno, `${saddr} → ${daddr}`).toBe(22);
      expect(r.rt).toBeNull();
    }
  });
});
