import {
  ErrnoError,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NF_IP_PRI_FILTER,
  NF_QUEUE_NR,
  NFPROTO_IPV4,
} from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { PING_DEFAULT_SIZE, PingError, pingPayload } from "../src/index.js";
import { loopbackStack, outcome, routed, strictClock, twoHosts } from "./helpers.js";

describe("ping over loopback", () => {
  it("gets a reply from 127.0.0.1 with the default TTL of 64", async () => {
    const stack = await loopbackStack();
    const reply = await stack.ping("127.0.0.1");
    expect(reply).toEqual({
      seq: 1,
      ttl: 64,
      rttMs: 0,
      bytes: PING_DEFAULT_SIZE,
      from: "127.0.0.1",
    });
    await stack.close();
  });

  it("counts the request and the reply on both sides of ICMP", async () => {
    const stack = await loopbackStack();
    await stack.ping("127.0.0.1");
    expect(stack.counters()).toMatchObject({
      IcmpInMsgs: 2,
      IcmpOutMsgs: 2,
      IcmpOutEchos: 1,
      IcmpInEchos: 1,
      IcmpOutEchoReps: 1,
      IcmpInEchoReps: 1,
      IcmpInErrors: 0,
      IcmpMsgInType8: 1,
      IcmpMsgOutType0: 1,
    });
    await stack.close();
  });

  it("answers any address of 127.0.0.0/8 from that address", async () => {
    const stack = await loopbackStack();
    expect((await stack.ping("127.1.2.3")).from).toBe("127.1.2.3");
    await stack.close();
  });

  it("numbers the requests of a stack one after another", async () => {
    const stack = await loopbackStack();
    const seqs = [(await stack.ping("127.0.0.1")).seq, (await stack.ping("127.0.0.1")).seq];
    expect(seqs).toEqual([1, 2]);
    await stack.close();
  });

  it("echoes the payload size asked for", async () => {
    const stack = await loopbackStack();
    expect((await stack.ping("127.0.0.1", { size: 1000 })).bytes).toBe(1000);
    expect((await stack.ping("127.0.0.1", { size: 0 })).bytes).toBe(0);
    await stack.close();
  });
});

describe("ping between stacks", () => {
  it("gets a reply across a point-to-point link", async () => {
    const net = await twoHosts();
    const reply = await net.hosts.a!.ping("192.0.2.2");
    expect(reply).toMatchObject({ ttl: 64, from: "192.0.2.2", bytes: 56 });
    expect(net.hosts.b!.counters()).toMatchObject({ IcmpInEchos: 1, IcmpOutEchoReps: 1 });
    await net.close();
  });

  it("measures the round trip on the stack's clock", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock });
    const b = net.hosts.b!;
    // b holds each incoming packet for 30 ms (NFQUEUE + a timer) before it goes on.
    b.nf.registerQueueHandler(0, (entry) => {
      const t = b.createTimer(() => b.nf.reinject(entry, NF_ACCEPT));
      t.arm(30);
    });
    b.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_LOCAL_IN,
      priority: NF_IP_PRI_FILTER,
      hook: () => NF_QUEUE_NR(0),
    });
    const p = net.hosts.a!.ping("192.0.2.2");
    await clock.advance(30);
    expect((await p).rttMs).toBe(30);
    await net.close();
  });

  it("gets a reply through a router with the TTL one lower", async () => {
    const net = await routed();
    const reply = await net.hosts.a!.ping("198.51.100.1");
    expect(reply).toMatchObject({ ttl: 63, from: "198.51.100.1" });
    expect(net.hosts.router!.counters().IpForwDatagrams).toBe(2);
    await net.close();
  });

  it("sends with the TTL asked for", async () => {
    const net = await routed();
    await net.hosts.a!.ping("198.51.100.1", { ttl: 2 });
    // The request reached b with TTL 1: the router forwarded it without complaint.
    expect(net.hosts.router!.counters().IcmpOutTimeExcds).toBe(0);
    await net.close();
  });

  it("sends from the source address asked for", async () => {
    const net = await twoHosts();
    expect((await net.hosts.a!.ping("192.0.2.2", { source: "192.0.2.1" })).from).toBe("192.0.2.2");
    await net.close();
  });

  it("refuses a source address that is not the stack's with EADDRNOTAVAIL", async () => {
    const net = await twoHosts();
    const e = await outcome(net.hosts.a!.ping("192.0.2.2", { source: "192.0.2.9" }));
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e).toMatchObject({ code: "EADDRNOTAVAIL", errno: 99 });
    await net.close();
  });

  it("fragments a 3000-byte ping over a 1500-byte MTU and reassembles it at the other end", async () => {
    const net = await twoHosts();
    const reply = await net.hosts.a!.ping("192.0.2.2", { size: 3000 });
    expect(reply.bytes).toBe(3000);
    const a = net.hosts.a!.counters();
    const b = net.hosts.b!.counters();
    // 3008 bytes of ICMP in 1480-byte pieces: three fragments each way.
    expect(a.IpFragCreates).toBe(3);
    expect(b.IpReasmOKs).toBe(1);
    expect(b.IpFragCreates).toBe(3);
    expect(a.IpReasmOKs).toBe(1);
    await net.close();
  });

  it("refuses to send a request bigger than the MTU with don't-fragment set (EMSGSIZE)", async () => {
    const net = await twoHosts();
    const e = await outcome(net.hosts.a!.ping("192.0.2.2", { size: 3000, dontFragment: true }));
    expect(e).toMatchObject({ code: "EMSGSIZE", errno: 90 });
    expect(net.hosts.a!.counters().IcmpOutEchos).toBe(0);
    await net.close();
  });
});

describe("ping failures", () => {
  it("rejects with ETIMEDOUT after exactly timeoutMs of virtual time", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock });
    let settled = false;
    const p = outcome(net.hosts.a!.ping("192.0.2.77", { timeoutMs: 250 })).finally(() => {
      settled = true;
    });
    await clock.advance(249);
    expect(settled).toBe(false);
    await clock.advance(1);
    const e = await p;
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e).toMatchObject({ code: "ETIMEDOUT", errno: 110 });
    expect(clock.now()).toBe(250);
    await net.close();
  });

  it("times out after 1000 ms by default", async () => {
    const clock = strictClock();
    const net = await twoHosts({ clock });
    expect(await outcome(net.hosts.a!.ping("192.0.2.77"))).toMatchObject({ code: "ETIMEDOUT" });
    expect(clock.now()).toBe(1000);
    await net.close();
  });

  it("rejects with ENETUNREACH when there is no route", async () => {
    const stack = await loopbackStack();
    const e = await outcome(stack.ping("198.51.100.1"));
    expect(e).toBeInstanceOf(ErrnoError);
    expect(e).toMatchObject({ code: "ENETUNREACH", errno: 101 });
    await stack.close();
  });

  it("is ignored by a host with icmp_echo_ignore_all set", async () => {
    const net = await twoHosts({ b: { "net.ipv4.icmp_echo_ignore_all": 1 } });
    expect(await outcome(net.hosts.a!.ping("192.0.2.2"))).toMatchObject({ code: "ETIMEDOUT" });
    expect(net.hosts.b!.counters()).toMatchObject({ IcmpInEchos: 1, IcmpOutEchoReps: 0 });
    // An ignored request is not an error: it was consumed.
    expect(net.hosts.b!.dropReasons()).toEqual({});
    await net.close();
  });

  it("rejects with a time-exceeded error from the router when the TTL runs out there", async () => {
    const net = await routed();
    const e = await outcome(net.hosts.a!.ping("198.51.100.1", { ttl: 1 }));
    expect(e).toBeInstanceOf(PingError);
    expect(e).toMatchObject({
      code: "EHOSTUNREACH",
      errno: 113,
      icmpType: 11,
      icmpCode: 0,
      from: "192.0.2.254",
    });
    expect((e as Error).message).toBe("EHOSTUNREACH: Time to live exceeded from 192.0.2.254");
    expect(net.hosts.router!.counters()).toMatchObject({ IcmpOutTimeExcds: 1, IpInHdrErrors: 1 });
    expect(net.hosts.a!.counters().IcmpInTimeExcds).toBe(1);
    await net.close();
  });

  it("rejects with ENETUNREACH from the router when the router has no route", async () => {
    const net = await routed();
    const e = await outcome(net.hosts.a!.ping("203.0.113.1"));
    expect(e).toBeInstanceOf(PingError);
    expect(e).toMatchObject({ code: "ENETUNREACH", icmpType: 3, icmpCode: 0, from: "192.0.2.254" });
    expect(net.hosts.router!.counters().IcmpOutDestUnreachs).toBe(1);
    await net.close();
  });

  it("rejects with EMSGSIZE and the next-hop MTU when a router cannot forward it unfragmented", async () => {
    const net = await routed({ mtuRight: 1000 });
    const e = await outcome(net.hosts.a!.ping("198.51.100.1", { size: 1200, dontFragment: true }));
    expect(e).toBeInstanceOf(PingError);
    expect(e).toMatchObject({
      code: "EMSGSIZE",
      icmpType: 3,
      icmpCode: 4,
      info: 1000,
      from: "192.0.2.254",
    });
    await net.close();
  });

  it("goes through a smaller-MTU hop fragmented when don't-fragment is not set", async () => {
    const net = await routed({ mtuRight: 1000 });
    expect((await net.hosts.a!.ping("198.51.100.1", { size: 1200 })).bytes).toBe(1200);
    expect(net.hosts.router!.counters().IpFragCreates).toBe(2);
    await net.close();
  });

  it("rejects bad options with a ConfigError naming the option", async () => {
    const stack = await loopbackStack();
    await expect(stack.ping("127.0.0.1", { size: -1 })).rejects.toMatchObject({ path: "size" });
    await expect(stack.ping("127.0.0.1", { ttl: 0 })).rejects.toMatchObject({ path: "ttl" });
    await expect(stack.ping("localhost")).rejects.toMatchObject({ path: "dst" });
    await stack.close();
  });

  it("rejects pending pings with ECANCELED when the stack closes", async () => {
    const clock = strictClock(false);
    const net = await twoHosts({ clock });
    const p = outcome(net.hosts.a!.ping("192.0.2.77"));
    await net.close();
    expect(await p).toMatchObject({ code: "ECANCELED" });
  });
});

describe("the ping payload", () => {
  it("starts with the send time as a timeval and counts up after it, like ping(8)", () => {
    const p = pingPayload(24, 1234.5);
    const v = new DataView(p.buffer);
    expect(v.getBigUint64(0, true)).toBe(1n);
    expect(v.getBigUint64(8, true)).toBe(234500n);
    expect([...p.subarray(16)]).toEqual([16, 17, 18, 19, 20, 21, 22, 23]);
  });

  it("has no time stamp when it is shorter than a timeval", () => {
    expect([...pingPayload(4, 99_999)]).toEqual([0, 1, 2, 3]);
  });
});
