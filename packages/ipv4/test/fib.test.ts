import { ConfigError, inetNtoa, type NetDevice } from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import { Fib, type FibEntry, ipv4Net, RT_SCOPE, RTN } from "../src/index.js";
import { addr, closeStacks, makeStack, showRoute, type TestStack } from "./helpers.js";

afterEach(closeStacks);

/** Two devices without addresses, for FIBs filled by hand. */
async function twoDevices(): Promise<TestStack> {
  return makeStack({
    devices: [
      { driver: "test", name: "eth0" },
      { driver: "test", name: "eth1" },
    ],
  });
}

/** A main-table unicast route; the gateway tells routes apart in assertions. */
function route(
  dev: NetDevice,
  prefix: string,
  gateway: string,
  metric = 0,
): Omit<FibEntry, "cache"> {
  const [a, len] = prefix.split("/");
  return {
    table: "main",
    dst: addr(a!),
    prefixLen: Number(len),
    type: RTN.UNICAST,
    scope: RT_SCOPE.UNIVERSE,
    dev,
    gateway: addr(gateway),
    prefsrc: 0,
    metric,
    proto: "static",
  };
}

/** The gateway of the route a lookup finds, as text; null for no route. */
function via(fib: Fib, daddr: string, oif = 0): string | null {
  const e = fib.lookup(addr(daddr), oif);
  return e === null ? null : inetNtoa(e.gateway);
}

/** `ip route show table T` of a stack, sorted. */
function table(t: TestStack, name: "local" | "main"): string[] {
  return ipv4Net(t.stack)
    .fib.routes()
    .filter((e) => e.table === name)
    .map(showRoute)
    .sort();
}

describe("longest-prefix match", () => {
  it("finds the longest matching prefix among /0, /8, /16, /24 and /32", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    const eth0 = t.dev("eth0");
    fib.add(route(eth0, "0.0.0.0/0", "0.0.0.100"));
    fib.add(route(eth0, "10.0.0.0/8", "0.0.0.8"));
    fib.add(route(eth0, "10.1.0.0/16", "0.0.0.16"));
    fib.add(route(eth0, "10.1.2.0/24", "0.0.0.24"));
    fib.add(route(eth0, "10.1.2.3/32", "0.0.0.32"));
    expect(via(fib, "10.1.2.3")).toBe("0.0.0.32");
    expect(via(fib, "10.1.2.4")).toBe("0.0.0.24");
    expect(via(fib, "10.1.2.255")).toBe("0.0.0.24");
    expect(via(fib, "10.1.3.3")).toBe("0.0.0.16");
    expect(via(fib, "10.255.2.3")).toBe("0.0.0.8");
    expect(via(fib, "11.1.2.3")).toBe("0.0.0.100");
    expect(via(fib, "255.255.255.255")).toBe("0.0.0.100");
  });

  it("finds nothing when no prefix matches and there is no default route", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    expect(via(fib, "11.0.0.1")).toBeNull();
    expect(via(fib, "9.255.255.255")).toBeNull();
  });

  it("does not depend on the order routes were added in", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    const eth0 = t.dev("eth0");
    fib.add(route(eth0, "10.1.2.0/24", "0.0.0.24"));
    fib.add(route(eth0, "0.0.0.0/0", "0.0.0.100"));
    fib.add(route(eth0, "10.0.0.0/8", "0.0.0.8"));
    expect(via(fib, "10.1.2.9")).toBe("0.0.0.24");
    expect(via(fib, "10.9.2.9")).toBe("0.0.0.8");
  });

  it("masks the host bits of a route's destination", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    const e = fib.add(route(t.dev("eth0"), "10.1.2.3/16", "0.0.0.16"));
    expect(inetNtoa(e.dst)).toBe("10.1.0.0");
    expect(via(fib, "10.1.200.1")).toBe("0.0.0.16");
  });

  it("prefers the lowest metric among routes to the same prefix", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    const eth0 = t.dev("eth0");
    fib.add(route(eth0, "0.0.0.0/0", "0.0.0.20", 20));
    fib.add(route(eth0, "0.0.0.0/0", "0.0.0.5", 5));
    fib.add(route(eth0, "0.0.0.0/0", "0.0.0.10", 10));
    expect(via(fib, "8.8.8.8")).toBe("0.0.0.5");
  });

  it("skips a route whose device is down and takes the next metric", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth1"), "0.0.0.0/0", "0.0.0.1", 1));
    fib.add(route(t.dev("eth0"), "0.0.0.0/0", "0.0.0.2", 2));
    expect(via(fib, "8.8.8.8")).toBe("0.0.0.1");
    t.stack.devClose(t.dev("eth1"));
    expect(via(fib, "8.8.8.8")).toBe("0.0.0.2");
    t.stack.devOpen(t.dev("eth1"));
    expect(via(fib, "8.8.8.8")).toBe("0.0.0.1");
  });

  it("falls back to a shorter prefix when the longer one's device is down", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth1"), "10.1.0.0/16", "0.0.0.16"));
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    t.stack.devClose(t.dev("eth1"));
    expect(via(fib, "10.1.0.1")).toBe("0.0.0.8");
  });

  it("gives a repeated lookup the longer prefix again once its device is back up", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth1"), "10.1.0.0/16", "0.0.0.16"));
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    t.stack.devClose(t.dev("eth1"));
    expect([via(fib, "10.1.0.1"), via(fib, "10.1.0.1")]).toEqual(["0.0.0.8", "0.0.0.8"]);
    t.stack.devOpen(t.dev("eth1"));
    expect([via(fib, "10.1.0.1"), via(fib, "10.1.0.1")]).toEqual(["0.0.0.16", "0.0.0.16"]);
  });

  it("notices on a repeated lookup that the route's device went down, and that a route was added", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    fib.add(route(t.dev("eth1"), "0.0.0.0/0", "0.0.0.100"));
    expect(via(fib, "10.1.0.1")).toBe("0.0.0.8");
    t.stack.devClose(t.dev("eth0"));
    expect(via(fib, "10.1.0.1")).toBe("0.0.0.100");
    t.stack.devOpen(t.dev("eth0"));
    expect(via(fib, "10.1.0.1")).toBe("0.0.0.8");
    fib.add(route(t.dev("eth1"), "10.1.0.0/16", "0.0.0.16"));
    expect(via(fib, "10.1.0.1")).toBe("0.0.0.16");
  });

  it("answers a lookup restricted to another interface afresh after an unrestricted one", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    fib.add(route(t.dev("eth1"), "0.0.0.0/0", "0.0.0.100"));
    expect(via(fib, "10.0.0.1")).toBe("0.0.0.8");
    expect(via(fib, "10.0.0.1", t.dev("eth1").ifindex)).toBe("0.0.0.100");
    expect(via(fib, "10.0.0.1")).toBe("0.0.0.8");
  });

  it("restricts a lookup to the routes through the output interface asked for", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    fib.add(route(t.dev("eth1"), "0.0.0.0/0", "0.0.0.100"));
    expect(via(fib, "10.0.0.1", t.dev("eth1").ifindex)).toBe("0.0.0.100");
    expect(via(fib, "10.0.0.1", t.dev("eth0").ifindex)).toBe("0.0.0.8");
  });

  it("consults the local table before main, whatever the prefix lengths", async () => {
    const t = await makeStack();
    const ns = ipv4Net(t.stack);
    ns.fib.add(route(t.dev("eth0"), "192.0.2.1/32", "192.0.2.254"));
    const e = ns.fib.lookup(addr("192.0.2.1"));
    expect(e?.table).toBe("local");
    expect(e?.type).toBe(RTN.LOCAL);
  });

  it("removes the routes a predicate picks and bumps the generation", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth0"), "10.0.0.0/8", "0.0.0.8"));
    fib.add(route(t.dev("eth1"), "10.0.0.0/8", "0.0.0.9", 1));
    const gen = fib.genid;
    const removed = fib.remove((e) => e.dev === t.dev("eth0"));
    expect(removed.map((e) => inetNtoa(e.gateway))).toEqual(["0.0.0.8"]);
    expect(via(fib, "10.0.0.1")).toBe("0.0.0.9");
    expect(fib.genid).toBeGreaterThan(gen);
  });
});

describe("the routes an address brings (fib_add_ifaddr)", () => {
  it("adds a local route, the subnet broadcast and the connected route, like Linux", async () => {
    const t = await makeStack();
    expect(table(t, "local")).toEqual([
      "broadcast 192.0.2.255 dev eth0 proto kernel scope link src 192.0.2.1",
      "local 192.0.2.1 dev eth0 proto kernel scope host src 192.0.2.1",
    ]);
    expect(table(t, "main")).toEqual([
      "192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1",
    ]);
  });

  it("adds no broadcast route for a /31 (RFC 3021)", async () => {
    const t = await makeStack({
      devices: [{ driver: "test", name: "eth0", address: "192.0.2.0/31" }],
    });
    expect(table(t, "local")).toEqual([
      "local 192.0.2.0 dev eth0 proto kernel scope host src 192.0.2.0",
    ]);
    expect(table(t, "main")).toEqual([
      "192.0.2.0/31 dev eth0 proto kernel scope link src 192.0.2.0",
    ]);
  });

  it("adds only the local route for a /32", async () => {
    const t = await makeStack({
      devices: [{ driver: "test", name: "eth0", address: "192.0.2.9/32" }],
    });
    expect(table(t, "local")).toEqual([
      "local 192.0.2.9 dev eth0 proto kernel scope host src 192.0.2.9",
    ]);
    expect(table(t, "main")).toEqual([]);
  });

  it("makes the whole 127.0.0.0/8 local on a loopback device", async () => {
    const t = await makeStack({
      devices: [{ driver: "test", name: "lo", address: "127.0.0.1/8", loopback: true }],
    });
    expect(table(t, "local")).toEqual([
      "broadcast 127.255.255.255 dev lo proto kernel scope link src 127.0.0.1",
      "local 127.0.0.0/8 dev lo proto kernel scope host src 127.0.0.1",
      "local 127.0.0.1 dev lo proto kernel scope host src 127.0.0.1",
    ]);
    expect(table(t, "main")).toEqual([]);
    const ns = ipv4Net(t.stack);
    expect(ns.isLocal(addr("127.0.0.1"))).toBe(true);
    expect(ns.isLocal(addr("127.1.2.3"))).toBe(true);
    expect(ns.fib.lookup(addr("127.1.2.3"))?.prefsrc).toBe(addr("127.0.0.1"));
  });

  it("makes a /8 on an ordinary device a connected network, not local", async () => {
    const t = await makeStack({
      devices: [{ driver: "test", name: "eth0", address: "10.0.0.1/8" }],
    });
    const ns = ipv4Net(t.stack);
    expect(ns.isLocal(addr("10.0.0.1"))).toBe(true);
    expect(ns.isLocal(addr("10.0.0.2"))).toBe(false);
  });

  it("keeps the routes of several addresses on one device apart", async () => {
    const t = await makeStack({
      devices: [{ driver: "test", name: "eth0", address: ["192.0.2.1/24", "198.51.100.1/25"] }],
    });
    expect(table(t, "main")).toEqual([
      "192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1",
      "198.51.100.0/25 dev eth0 proto kernel scope link src 198.51.100.1",
    ]);
    expect(table(t, "local")).toContain(
      "broadcast 198.51.100.127 dev eth0 proto kernel scope link src 198.51.100.1",
    );
  });

  it("adds the routes of an address added at run time", async () => {
    const t = await makeStack();
    t.stack.addAddress(t.dev("eth0"), "203.0.113.5/24");
    expect(ipv4Net(t.stack).isLocal(addr("203.0.113.5"))).toBe(true);
    expect(ipv4Net(t.stack).fib.lookup(addr("203.0.113.77"))?.dev?.name).toBe("eth0");
  });
});

describe("routes from the config", () => {
  const twoNets = [
    { driver: "test", name: "eth0", address: "192.0.2.1/24" },
    { driver: "test", name: "eth1", address: "203.0.113.1/24" },
  ];

  it("installs a default route through a gateway and a route through a device", async () => {
    const t = await makeStack({
      devices: twoNets,
      routes: [
        { to: "default", via: "192.0.2.254" },
        { to: "198.51.100.0/24", dev: "eth1" },
        { to: "10.0.0.0/8", via: "203.0.113.254", metric: 7 },
      ],
    });
    expect(table(t, "main")).toEqual([
      "10.0.0.0/8 via 203.0.113.254 dev eth1 proto boot metric 7",
      "192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.1",
      "198.51.100.0/24 dev eth1 proto boot scope link",
      "203.0.113.0/24 dev eth1 proto kernel scope link src 203.0.113.1",
      "default via 192.0.2.254 dev eth0 proto boot",
    ]);
    const fib = ipv4Net(t.stack).fib;
    expect(fib.lookup(addr("8.8.8.8"))?.gateway).toBe(addr("192.0.2.254"));
    expect(fib.lookup(addr("198.51.100.3"))?.dev?.name).toBe("eth1");
  });

  it("accepts two routes to one prefix with different metrics", async () => {
    const t = await makeStack({
      devices: twoNets,
      routes: [
        { to: "default", via: "192.0.2.254", metric: 10 },
        { to: "default", via: "203.0.113.254", metric: 5 },
      ],
    });
    expect(ipv4Net(t.stack).fib.lookup(addr("8.8.8.8"))?.dev?.name).toBe("eth1");
  });

  it.each([
    [
      "a gateway on no connected network",
      [{ to: "default", via: "198.51.100.1" }],
      "routes[0].via",
    ],
    ["a gateway that is our own address", [{ to: "default", via: "192.0.2.1" }], "routes[0].via"],
    ["a gateway that is not an address", [{ to: "default", via: "192.0.2" }], "routes[0].via"],
    [
      "a gateway not on the device named",
      [{ to: "default", via: "192.0.2.254", dev: "eth1" }],
      "routes[0].via",
    ],
    ["a prefix length over 32", [{ to: "198.51.100.0/33", dev: "eth0" }], "routes[0].to"],
    ["a prefix that is not an address", [{ to: "example.com", dev: "eth0" }], "routes[0].to"],
    ["a prefix with host bits set", [{ to: "198.51.100.1/24", dev: "eth0" }], "routes[0].to"],
    ["an unknown device", [{ to: "198.51.100.0/24", dev: "eth9" }], "routes[0].dev"],
    ["an unknown key", [{ to: "default", gateway: "192.0.2.254" }], "routes[0].gateway"],
    ["a negative metric", [{ to: "default", via: "192.0.2.254", metric: -1 }], "routes[0].metric"],
    ["neither a gateway nor a device", [{ to: "198.51.100.0/24" }], "routes[0].dev"],
    [
      "a route that is already there",
      [
        { to: "default", via: "192.0.2.254" },
        { to: "default", via: "203.0.113.254" },
      ],
      "routes[1].to",
    ],
  ])("refuses %s with a ConfigError at %s", async (_what, routes, path) => {
    const made = makeStack({ devices: twoNets, routes: routes as never });
    await expect(made).rejects.toBeInstanceOf(ConfigError);
    await expect(made).rejects.toMatchObject({ path });
  });

  it("says in the error what was given and what was expected", async () => {
    await expect(
      makeStack({ devices: twoNets, routes: [{ to: "default", via: "198.51.100.1" }] }),
    ).rejects.toThrow(
      'routes[0].via: got "198.51.100.1", expected a gateway on a directly connected network',
    );
  });
});

describe("devices and their routes", () => {
  const routed = {
    devices: [
      { driver: "test", name: "eth0", address: "192.0.2.1/24" },
      { driver: "test", name: "eth1", address: "198.51.100.1/24" },
    ],
    routes: [
      { to: "default", via: "192.0.2.254" },
      { to: "10.0.0.0/8", via: "198.51.100.254" },
    ],
  };

  it("removes every route through a device when it is unregistered", async () => {
    const t = await makeStack(routed);
    const ns = ipv4Net(t.stack);
    t.stack.unregisterNetdev(t.dev("eth1"));
    expect(ns.fib.routes().filter((e) => e.dev?.name === "eth1")).toEqual([]);
    expect(ns.fib.lookup(addr("10.1.1.1"))?.gateway).toBe(addr("192.0.2.254"));
    expect(ns.fib.lookup(addr("198.51.100.7"))?.gateway).toBe(addr("192.0.2.254"));
    expect(ns.isLocal(addr("198.51.100.1"))).toBe(false);
    expect(ns.ifaddrs.map((a) => inetNtoa(a.local))).toEqual(["192.0.2.1"]);
  });

  it("skips the routes of a device that is down, local ones included, until it is up again", async () => {
    const t = await makeStack(routed);
    const ns = ipv4Net(t.stack);
    t.stack.devClose(t.dev("eth1"));
    expect(ns.fib.lookup(addr("10.1.1.1"))?.dev?.name).toBe("eth0");
    expect(ns.isLocal(addr("198.51.100.1"))).toBe(false);
    t.stack.devOpen(t.dev("eth1"));
    expect(ns.fib.lookup(addr("10.1.1.1"))?.dev?.name).toBe("eth1");
    expect(ns.isLocal(addr("198.51.100.1"))).toBe(true);
  });
});

describe("a big table", () => {
  /** 10.(i>>8).(i&255).0/24 for i < 10 000, each with gateway 0.0.(i>>8).(i&255). */
  function fill(fib: Fib, dev: NetDevice): void {
    for (let i = 0; i < 10_000; i++) {
      const net = (addr("10.0.0.0") | (i << 8)) >>> 0;
      fib.add({ ...route(dev, "0.0.0.0/24", "0.0.0.0"), dst: net, gateway: i + 1 });
    }
  }

  it("finds the right one of 10 000 routes", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fib.add(route(t.dev("eth1"), "0.0.0.0/0", "0.0.0.0"));
    fib.add(route(t.dev("eth1"), "10.0.0.0/8", "255.0.0.8"));
    fill(fib, t.dev("eth0"));
    fib.add(route(t.dev("eth1"), "10.0.42.7/32", "255.0.0.32"));
    expect(fib.routes()).toHaveLength(10_003);
    for (const i of [0, 1, 255, 256, 4242, 9999]) {
      const d = (addr("10.0.0.77") | (i << 8)) >>> 0;
      expect(fib.lookup(d)?.gateway).toBe(i + 1);
    }
    expect(via(fib, "10.0.42.7")).toBe("255.0.0.32");
    expect(via(fib, "10.0.42.8")).toBe(inetNtoa(42 + 1));
    // Past the last /24 (10.39.15.0/24): the /8.
    expect(via(fib, "10.39.16.1")).toBe("255.0.0.8");
    expect(via(fib, "11.0.0.1")).toBe("0.0.0.0");
  });

  it("stays cheap to fill and to query: 10 000 inserts and 200 000 lookups in one test", async () => {
    const t = await twoDevices();
    const fib = new Fib();
    fill(fib, t.dev("eth0"));
    let hits = 0;
    for (let n = 0; n < 200_000; n++) {
      const i = n % 12_000;
      const e = fib.lookup((addr("10.0.0.1") | (i << 8)) >>> 0);
      if (e !== null && e.gateway === i + 1) hits++;
    }
    // 10 000 of every 12 000 addresses fall in a route.
    expect(hits).toBe(Math.floor(200_000 / 12_000) * 10_000 + Math.min(200_000 % 12_000, 10_000));
  });
});
