import { ErrnoError, SkbDropReason } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { ICMP_TYPE, type PingError, type PingMessage, PingSocket } from "../src/index.js";
import { addr, icmpMessage, loopbackStack, routed, sendRaw, settle, twoHosts } from "./helpers.js";

describe("PingSocket", () => {
  it("gets an identifier when bound, a different one for each socket", async () => {
    const stack = await loopbackStack();
    const s1 = new PingSocket(stack);
    const s2 = new PingSocket(stack);
    s1.bind();
    s2.bind();
    expect(s1.ident).toBeGreaterThan(0);
    expect(s2.ident).not.toBe(s1.ident);
    s1.close();
    s2.close();
    await stack.close();
  });

  it("gives the same identifiers in the same order to stacks of the same name", async () => {
    const idents = async () => {
      const stack = await loopbackStack();
      const s = [new PingSocket(stack), new PingSocket(stack)];
      for (const x of s) x.bind();
      const ids = s.map((x) => x.ident);
      await stack.close();
      return ids;
    };
    expect(await idents()).toEqual(await idents());
  });

  it("refuses an identifier already in use with EADDRINUSE", async () => {
    const stack = await loopbackStack();
    const s1 = new PingSocket(stack);
    s1.bind("0.0.0.0", 1234);
    const s2 = new PingSocket(stack);
    expect(() => s2.bind("0.0.0.0", 1234)).toThrow(expect.objectContaining({ code: "EADDRINUSE" }));
    s1.close();
    s2.bind("0.0.0.0", 1234);
    expect(s2.ident).toBe(1234);
    await stack.close();
  });

  it("refuses to bind an address that is not the stack's with EADDRNOTAVAIL", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    expect(() => s.bind("192.0.2.1")).toThrow(ErrnoError);
    expect(() => s.bind("192.0.2.1")).toThrow(expect.objectContaining({ code: "EADDRNOTAVAIL" }));
    await stack.close();
  });

  it("delivers the echo reply with its identifier, sequence number, TTL and data", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    const got: PingMessage[] = [];
    s.onMessage = (m) => got.push(m);
    const data = Uint8Array.of(9, 8, 7);
    expect(s.sendto("127.0.0.1", data, 42)).toBe(11);
    await settle(stack);
    expect(got).toEqual([
      { from: "127.0.0.1", to: "127.0.0.1", id: s.ident, seq: 42, ttl: 64, data, tstamp: 0 },
    ]);
    s.close();
    await stack.close();
  });

  it("queues replies for recv() when no callback is set", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    s.sendto("127.0.0.1", new Uint8Array(4), 1);
    s.sendto("127.0.0.1", new Uint8Array(4), 2);
    await settle(stack);
    expect([s.recv()?.seq, s.recv()?.seq, s.recv()]).toEqual([1, 2, null]);
    s.close();
    await stack.close();
  });

  it("sends with the socket's TTL", async () => {
    const net = await routed();
    const s = new PingSocket(net.hosts.a!);
    const errors: PingError[] = [];
    s.onError = (e) => errors.push(e);
    s.ttl = 1;
    s.sendto("198.51.100.1", new Uint8Array(8), 5);
    await settle(net);
    expect(errors.map((e) => [e.icmpType, e.seq, e.from])).toEqual([[11, 5, "192.0.2.254"]]);
    expect(s.takeError()).toBe(113);
    expect(s.takeError()).toBe(0);
    s.close();
    await net.close();
  });

  it("throws ENETUNREACH from sendto when there is no route", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    expect(() => s.sendto("198.51.100.1", new Uint8Array(8), 1)).toThrow(
      expect.objectContaining({ code: "ENETUNREACH" }),
    );
    await stack.close();
  });

  it("refuses to send to a broadcast address without SO_BROADCAST (EACCES)", async () => {
    const net = await twoHosts();
    const s = new PingSocket(net.hosts.a!);
    expect(() => s.sendto("192.0.2.255", new Uint8Array(8), 1)).toThrow(
      expect.objectContaining({ code: "EACCES" }),
    );
    s.broadcast = true;
    expect(s.sendto("192.0.2.255", new Uint8Array(8), 1)).toBe(16);
    await net.close();
  });

  it("after close, leaves a late reply to be dropped as NO_SOCKET", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    s.sendto("127.0.0.1", new Uint8Array(8), 1);
    s.close();
    await settle(stack);
    expect(stack.dropReasons()).toEqual({ [SkbDropReason.NO_SOCKET]: 1 });
    expect(() => s.sendto("127.0.0.1", new Uint8Array(8), 2)).toThrow(
      expect.objectContaining({ code: "EBADF" }),
    );
    await stack.close();
  });

  it("only sees replies to the address it is bound to", async () => {
    const stack = await loopbackStack();
    const s = new PingSocket(stack);
    s.bind("127.0.0.1", 777);
    const got: PingMessage[] = [];
    s.onMessage = (m) => got.push(m);
    sendRaw(stack, addr("127.0.0.2"), 1, icmpMessage(ICMP_TYPE.ECHOREPLY, 0, (777 << 16) | 1));
    sendRaw(stack, addr("127.0.0.1"), 1, icmpMessage(ICMP_TYPE.ECHOREPLY, 0, (777 << 16) | 2));
    await settle(stack);
    expect(got.map((m) => [m.to, m.seq])).toEqual([["127.0.0.1", 2]]);
    expect(stack.dropReasons()).toEqual({ [SkbDropReason.NO_SOCKET]: 1 });
    s.close();
    await stack.close();
  });
});
