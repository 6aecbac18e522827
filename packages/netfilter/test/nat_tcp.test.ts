import { type Stack, VirtualClock } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { POLL, TCP_SOCKET_API, type TcpSocketApi, type TcpSocketHandle, tcp } from "@skbuff/tcp";
import { type ThreeStacks, type TwoStacks, threeStacks, twoStacks } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { netfilter, rulesetOf } from "../src/index.js";

// The router masquerades what leaves towards b, and forwards its own port 8080 to b's port 80.
// The rules are the same on every host; only the router has eth1 and 192.0.2.254.
const RULESET = `
table ip nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 192.0.2.254 tcp dport 8080 dnat to 198.51.100.1:80
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "eth1" masquerade
	}
}
table ip filter {
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
		ct state new tcp dport 80 accept
	}
}
`;

let topo: ThreeStacks | null = null;
afterEach(async () => {
  await topo?.close();
  topo = null;
});

const sockets = (s: Stack) => s.container.resolve<TcpSocketApi>(TCP_SOCKET_API);

/** Advances the clock a millisecond at a time until `cond` holds (evaluated once per step). */
function until(clock: VirtualClock, cond: () => boolean, what: string, limitMs = 5000): void {
  for (let t = 0; t <= limitMs; t += 1) {
    if (cond()) return;
    clock.advanceSync(1);
  }
  throw new Error(`gave up waiting for ${what}`);
}

async function routerNat(): Promise<{ t: ThreeStacks; clock: VirtualClock }> {
  const clock = new VirtualClock({ autoAdvance: false });
  const t = await threeStacks({
    plugins: [ipv4(), icmp(), tcp(), netfilter({ ruleset: RULESET })],
    clock,
  });
  topo = t;
  return { t, clock };
}

function listen(stack: Stack, port: number): TcpSocketHandle {
  const l = sockets(stack).socket();
  expect(l.bind("0.0.0.0", port)).toBe(0);
  expect(l.listen(8)).toBe(0);
  return l;
}

function connect(stack: Stack, host: string, port: number, clock: VirtualClock): TcpSocketHandle {
  const c = sockets(stack).socket();
  expect(c.connect(host, port)).toBe(-115); // -EINPROGRESS
  until(clock, () => (c.poll() & POLL.OUT) !== 0 || (c.poll() & POLL.ERR) !== 0, "connect");
  return c;
}

/** Calls `get` once per virtual millisecond until it returns something other than an errno. */
function waitFor<T>(clock: VirtualClock, get: () => T | number, what: string, limitMs = 5000): T {
  for (let t = 0; t <= limitMs; t += 1) {
    const r = get();
    if (typeof r !== "number") return r;
    clock.advanceSync(1);
  }
  throw new Error(`gave up waiting for ${what}`);
}

function accept(l: TcpSocketHandle, clock: VirtualClock): TcpSocketHandle {
  return waitFor(clock, () => l.accept(), "accept");
}

function exchange(a: TcpSocketHandle, b: TcpSocketHandle, clock: VirtualClock): void {
  const msg = new TextEncoder().encode("hello through the router");
  expect(a.write(msg)).toBe(msg.length);
  const got = waitFor(clock, () => b.read(1024), "data at the server");
  expect(new TextDecoder().decode(got)).toBe("hello through the router");
  expect(b.write(new TextEncoder().encode("and back"))).toBe(8);
  const back = waitFor(clock, () => a.read(1024), "data at the client");
  expect(new TextDecoder().decode(back)).toBe("and back");
}

describe("NAT with real TCP connections", () => {
  it("lets a client behind a masquerading router reach a server, which sees the router's address", async () => {
    const { t, clock } = await routerNat();
    const l = listen(t.b, 80);
    const c = connect(t.a, "198.51.100.1", 80, clock);
    const child = accept(l, clock);
    expect(child.remoteAddress).toBe("198.51.100.254");
    expect(c.localAddress).toBe("192.0.2.1");
    exchange(c, child, clock);
  });

  it("forwards the router's port 8080 to the server's port 80 (DNAT)", async () => {
    const { t, clock } = await routerNat();
    const l = listen(t.b, 80);
    const c = connect(t.a, "192.0.2.254", 8080, clock);
    expect(c.remotePort).toBe(8080);
    const child = accept(l, clock);
    expect(child.localPort).toBe(80);
    exchange(c, child, clock);
  });

  it("drops new connections the forward chain does not allow, and they time out", async () => {
    const { t, clock } = await routerNat();
    listen(t.b, 22);
    const c = sockets(t.a).socket();
    expect(c.connect("198.51.100.1", 22)).toBe(-115);
    clock.advanceSync(5000);
    expect(c.poll() & POLL.OUT).toBe(0);
    expect(t.router.dropReasons().NETFILTER_DROP).toBeGreaterThan(0);
  });
});

describe("a stateful host firewall (input policy drop, ct state established,related accept)", () => {
  const INPUT = `table ip filter {
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
	}
}`;

  async function guarded(): Promise<{ t: TwoStacks; clock: VirtualClock }> {
    const clock = new VirtualClock({ autoAdvance: false });
    const t = await twoStacks({ plugins: [ipv4(), icmp(), tcp(), netfilter()], clock });
    two = t;
    rulesetOf(t.a).replace(INPUT);
    return { t, clock };
  }

  let two: TwoStacks | null = null;
  afterEach(async () => {
    await two?.close();
    two = null;
  });

  it("lets the replies to its own connections in", async () => {
    const { t, clock } = await guarded();
    const l = listen(t.b, 80);
    const c = connect(t.a, "192.0.2.2", 80, clock);
    exchange(c, accept(l, clock), clock);
  });

  it("lets nothing else in: a connection from outside never completes", async () => {
    const { t, clock } = await guarded();
    listen(t.a, 80);
    const c = sockets(t.b).socket();
    expect(c.connect("192.0.2.1", 80)).toBe(-115);
    clock.advanceSync(3000);
    expect(c.poll() & POLL.OUT).toBe(0);
    expect(t.a.dropReasons().NETFILTER_DROP).toBeGreaterThanOrEqual(2); // the SYN and its retry
  });
});
