/**
 * What an idle connection costs, and the socket tables that hold many of them: the established
 * hash (chained buckets, no per-entry allocation), the bind buckets (socks chained per port), the
 * lazily made queues and listener state, and wakeups without a per-socket closure.
 *
 * The heap figure is a regression guard with a generous bound, not a benchmark: an idle socket
 * costs about 2 KiB (2.1 KiB measured here, 1.98 KiB by scripts/bench-tcp.mjs --only=heap), down
 * from 2.9 KiB before the idle state was made lazy.
 */
import v8 from "node:v8";
import vm from "node:vm";
import { ERRNO, Sock, type SockCommon } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  InetEhash,
  InetHashinfo,
  IPPROTO_TCP_LEVEL,
  inetEhashfn,
  TCP_ESTABLISHED,
  TCP_LISTEN,
  TCP_OPT,
  TcpSock,
  type TcpSocketHandle,
} from "../src/index.js";
import type { TcpSocket } from "../src/socket.js";
import { pump } from "./pump.js";
import { apiOf, loopStack, useStacks } from "./stacks.js";

useStacks();

/** The heap in use after full garbage collections (`gc` exposed at run time). */
function heapAfterGc(): number {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Opens `n` connections to `port` over loopback, accepting each; returns every handle. */
async function idleConnections(n: number, port: number) {
  const { stack, clock } = await loopStack();
  const api = apiOf(stack);
  const l = api.socket();
  expect(l.bind("0.0.0.0", port)).toBe(0);
  expect(l.listen(4096)).toBe(0);
  const keep: TcpSocketHandle[] = [];
  const acceptAll = (): boolean => {
    let got = false;
    for (let s = l.accept(); typeof s !== "number"; s = l.accept()) {
      keep.push(s);
      got = true;
    }
    return got;
  };
  for (let i = 0; i < n; i++) {
    const c = api.socket();
    expect(c.connect("127.0.0.1", port)).toBe(-ERRNO.EINPROGRESS);
    keep.push(c);
    if (i % 250 === 249 || i === n - 1) pump(clock, () => keep.length === 2 * (i + 1), acceptAll);
  }
  clock.advanceSync(1000);
  return { stack, clock, api, listener: l, keep };
}

/** A bare sock with the given 4-tuple, as the hash tables see it. */
function sockWith(laddr: number, lport: number, raddr: number, rport: number): SockCommon {
  const sk = new Sock(null as never);
  sk.rcvSaddr = laddr;
  sk.num = lport;
  sk.daddr = raddr;
  sk.dport = rport;
  return sk;
}

describe("the cost of an idle connection", () => {
  it("keeps an idle established socket under 3 KiB of heap", async () => {
    const N = 2000;
    // Warm up first (code, the tables' first growth), then measure N more connections.
    const warm = await idleConnections(200, 7000);
    const h0 = heapAfterGc();
    const { keep } = await idleConnections(N, 7001);
    const h1 = heapAfterGc();
    expect(keep.every((s) => s.state === TCP_ESTABLISHED)).toBe(true);
    expect(warm.keep.length).toBe(400);
    const perSocket = (h1 - h0) / (2 * N);
    expect(perSocket).toBeLessThan(3 * 1024);
  }, 60_000);

  it("makes no queue, accept queue or chrono array for a socket that has only shaken hands", async () => {
    const { keep } = await idleConnections(2, 7002);
    const accepted = (keep[1] as TcpSocket).sk as unknown as Record<string, unknown>;
    for (const field of [
      "acceptQueueArray",
      "ofoQueue",
      "chronoStatArray",
      "errorQueueHead",
      "receiveQueueHead",
    ]) {
      expect(accepted[field], field).toBeNull();
    }
    // Reading a queue makes it, empty.
    const sk = (keep[1] as TcpSocket).sk;
    expect(sk.outOfOrderQueue.isEmpty()).toBe(true);
    expect(accepted.ofoQueue).not.toBeNull();
    expect(sk.selectiveAcks).toEqual([]);
    expect(Object.isFrozen(sk.selectiveAcks)).toBe(true);
  });
});

describe("a listener's accept queue", () => {
  it("hands out accepted connections oldest first, then EAGAIN", async () => {
    const { stack, clock } = await loopStack();
    const api = apiOf(stack);
    const l = api.socket();
    l.bind("127.0.0.1", 7100);
    l.listen(16);
    const clients = [api.socket(), api.socket(), api.socket()];
    for (const c of clients) c.connect("127.0.0.1", 7100);
    pump(clock, () => clients.every((c) => c.state === TCP_ESTABLISHED));
    clock.advanceSync(0);
    const ports: number[] = [];
    for (let s = l.accept(); typeof s !== "number"; s = l.accept()) {
      expect(s.state).toBe(TCP_ESTABLISHED);
      ports.push((s as TcpSocket).sk.dport);
    }
    expect(ports).toEqual(clients.map((c) => (c as TcpSocket).sk.num));
    expect(l.accept()).toBe(-ERRNO.EAGAIN);
    expect(l.state).toBe(TCP_LISTEN);
  });

  it("refuses accept on a socket that is not listening, without making it a queue", async () => {
    const { stack } = await loopStack();
    const s = apiOf(stack).socket();
    expect(s.accept()).toBe(-ERRNO.EINVAL);
    expect(((s as TcpSocket).sk as unknown as Record<string, unknown>).acceptQueueArray).toBeNull();
  });
});

describe("wakeups", () => {
  it("calls onWakeup with the poll events, and never once the socket is closed", async () => {
    const { stack, clock } = await loopStack();
    const api = apiOf(stack);
    const l = api.socket();
    l.bind("127.0.0.1", 7200);
    l.listen(4);
    const events: number[] = [];
    l.onWakeup = (ev) => events.push(ev);
    expect(l.onWakeup).not.toBeNull();
    const c = api.socket();
    c.connect("127.0.0.1", 7200);
    pump(clock, () => events.length > 0);
    const s = l.accept() as TcpSocketHandle;
    const late: number[] = [];
    s.close();
    s.onWakeup = (ev) => late.push(ev);
    expect(s.onWakeup).toBeNull();
    c.write(new Uint8Array(10));
    c.close();
    clock.advanceSync(1000);
    expect(late).toEqual([]);
  });
});

describe("the established hash", () => {
  it("finds each of 20 000 connections by its 4-tuple and nothing else", () => {
    const ehash = new InetEhash();
    const socks: SockCommon[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Loopback-like tuples (one address, one server port) and ones across addresses.
      const sk =
        i % 2 === 0
          ? sockWith(0x7f000001, 80, 0x7f000001, 32768 + (i >> 1))
          : sockWith(0xc0000201, 32768 + (i % 28000), 0xc6336400 + (i % 250), 443);
      ehash.insert(sk);
      socks.push(sk);
    }
    expect(ehash.size).toBe(20_000);
    for (const sk of socks) {
      expect(ehash.lookup(sk.rcvSaddr, sk.num, sk.daddr, sk.dport)).toBe(sk);
    }
    expect(ehash.lookup(0x7f000001, 80, 0x7f000001, 1)).toBeUndefined();
    expect(ehash.lookup(0x7f000001, 81, 0x7f000001, 32768)).toBeUndefined();
    for (const sk of socks.slice(0, 10_000)) expect(ehash.remove(sk)).toBe(true);
    expect(ehash.size).toBe(10_000);
    for (const sk of socks.slice(0, 10_000)) {
      expect(ehash.lookup(sk.rcvSaddr, sk.num, sk.daddr, sk.dport)).toBeUndefined();
      expect(sk.ehashNext).toBeNull();
    }
    for (const sk of socks.slice(10_000)) {
      expect(ehash.lookup(sk.rcvSaddr, sk.num, sk.daddr, sk.dport)).toBe(sk);
    }
    expect(new Set(ehash.values())).toEqual(new Set(socks.slice(10_000)));
  });

  it("treats an address given as u32 or as int32 as the same address", () => {
    const ehash = new InetEhash();
    const sk = sockWith(0xc0000201, 5000, 0xc0000202, 80);
    ehash.insert(sk);
    expect(inetEhashfn(0xc0000201, 5000, 0xc0000202, 80)).toBe(
      inetEhashfn(0xc0000201 | 0, 5000, 0xc0000202 | 0, 80),
    );
    expect(ehash.lookup(0xc0000201 | 0, 5000, 0xc0000202 | 0, 80)).toBe(sk);
  });

  it("keys the hash with the stack's secret, and still finds every connection", () => {
    expect(inetEhashfn(1, 2, 3, 4, 0x1234)).not.toBe(inetEhashfn(1, 2, 3, 4, 0x4321));
    const info = new InetHashinfo();
    info.perturb(0xdeadbeef);
    const socks = Array.from({ length: 1000 }, (_, i) => sockWith(0x7f000001, 80, 0x7f000001, i));
    for (const sk of socks) info.ehashInsert(sk);
    for (const sk of socks)
      expect(info.lookupEstablished(0x7f000001, 80, 0x7f000001, sk.dport)).toBe(sk);
  });

  it("replaces the sock stored under a 4-tuple, and removes a sock only if it is the one stored", () => {
    const info = new InetHashinfo();
    const req = sockWith(1, 2, 3, 4);
    const child = sockWith(1, 2, 3, 4);
    info.ehashInsert(req);
    info.ehashInsert(child);
    expect(info.ehash.size).toBe(1);
    expect(info.lookupEstablished(1, 2, 3, 4)).toBe(child);
    info.ehashRemove(req);
    expect(info.lookupEstablished(1, 2, 3, 4)).toBe(child);
    info.ehashRemove(child);
    expect(info.lookupEstablished(1, 2, 3, 4)).toBeUndefined();
    expect(info.ehash.size).toBe(0);
  });

  it("lets a walk over the table remove the sock it is given", () => {
    const ehash = new InetEhash();
    for (let i = 0; i < 300; i++) ehash.insert(sockWith(1, 80, 2, 1000 + i));
    let seen = 0;
    for (const sk of ehash.values()) {
      ehash.remove(sk);
      seen++;
    }
    expect(seen).toBe(300);
    expect(ehash.size).toBe(0);
  });
});

describe("the bind buckets", () => {
  it("chains many socks on one port and unhashes any of them in place", () => {
    const info = new InetHashinfo();
    const socks = Array.from({ length: 1000 }, () => sockWith(0x7f000001, 0, 0, 0));
    for (const sk of socks) {
      sk.reuse = true;
      expect(info.getPort(sk, 8080, [32768, 60999])).toBe(0);
    }
    expect(socks.every((sk) => sk.num === 8080)).toBe(true);
    // Unhash from the middle, the head and the tail of the chain.
    for (const i of [500, 999, 0]) info.bindUnhash(socks[i] as SockCommon);
    info.bindUnhash(socks[500] as SockCommon); // twice is harmless
    const left = socks.filter((_, i) => i !== 0 && i !== 500 && i !== 999);
    for (const sk of left) info.bindUnhash(sk);
    expect(info.bhash.has(8080)).toBe(false);
  });

  it("refuses a second bind to a port in use, and frees the port once its last sock leaves", () => {
    const info = new InetHashinfo();
    const a = sockWith(0, 0, 0, 0);
    const b = sockWith(0, 0, 0, 0);
    expect(info.getPort(a, 9000, [32768, 60999])).toBe(0);
    expect(info.getPort(b, 9000, [32768, 60999])).toBe(-ERRNO.EADDRINUSE);
    info.bindUnhash(a);
    expect(info.getPort(b, 9000, [32768, 60999])).toBe(0);
  });

  it("gives each ephemeral bind a port of its own", () => {
    const info = new InetHashinfo();
    const ports = new Set<number>();
    for (let i = 0; i < 100; i++) {
      const sk = sockWith(0, 0, 0, 0);
      expect(info.getPort(sk, 0, [40000, 40099])).toBe(0);
      ports.add(sk.num);
    }
    expect(ports.size).toBe(100);
    expect(info.getPort(sockWith(0, 0, 0, 0), 0, [40000, 40099])).toBe(-ERRNO.EADDRINUSE);
  });
});

describe("u32 fields kept as int32", () => {
  it("reads sequence numbers and addresses back as u32, whatever u32 or int32 was stored", async () => {
    const { stack } = await loopStack();
    const sk = new TcpSock(stack);
    for (const v of [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]) {
      sk.rcvNxt = v;
      sk.sndUna = v | 0;
      sk.iss = v;
      sk.daddr = v | 0;
      sk.rcvSaddr = v;
      expect([sk.rcvNxt, sk.sndUna, sk.iss, sk.daddr, sk.rcvSaddr]).toEqual([v, v, v, v, v]);
    }
    sk.sndNxt = 0xfffffff0;
    sk.sndNxt += 0x20; // past 2^32: wraps, as a u32 sequence number does
    expect(sk.sndNxt).toBe(0x10);
  });
});

describe("rarely set socket options", () => {
  it("shares one default set until an option is set, and a child inherits its listener's", async () => {
    const { stack, clock } = await loopStack();
    const api = apiOf(stack);
    const fresh = [api.socket(), api.socket()].map((s) => (s as TcpSocket).sk);
    const settings = (sk: TcpSock) => (sk as unknown as Record<string, unknown>).userSettings;
    expect(settings(fresh[0] as TcpSock)).toBe(settings(fresh[1] as TcpSock));
    const l = api.socket();
    expect(l.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPIDLE, 77)).toBe(0);
    expect(l.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.USER_TIMEOUT, 5000)).toBe(0);
    expect(settings((l as TcpSocket).sk)).not.toBe(settings(fresh[0] as TcpSock));
    expect(fresh[0]?.keepaliveTime).toBe(0);
    l.bind("127.0.0.1", 7300);
    l.listen(4);
    const c = api.socket();
    c.connect("127.0.0.1", 7300);
    pump(clock, () => c.state === TCP_ESTABLISHED);
    clock.advanceSync(0);
    const child = l.accept() as TcpSocketHandle;
    expect(child.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPIDLE)).toBe(77);
    expect(child.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.USER_TIMEOUT)).toBe(5000);
    expect(c.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.USER_TIMEOUT)).toBe(0);
  });
});
