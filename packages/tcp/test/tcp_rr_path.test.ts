/**
 * The small request/response path kept cheap: the retransmit timer given back while a
 * connection is idle after its handshake, reads of one segment copied out in one step, small
 * writes in small buffers that grow as writes coalesce, and the retransmit timer's purpose
 * (`icsk_pending`) kept beside the timer.
 */
import { allocSkb, type SkBuff, tp } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { MSG_MORE, TCP_ESTABLISHED, TCP_SKB_CB } from "../src/index.js";
import type { TcpSocket } from "../src/socket.js";
import { ICSK_TIME, tcpXmitTimerPending } from "../src/tcp_timer.js";
import { bytes, pump } from "./pump.js";
import { connectPair, loopStack, useStacks } from "./stacks.js";

useStacks();

async function pair() {
  const { stack, clock } = await loopStack();
  const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
  expect(client.state).toBe(TCP_ESTABLISHED);
  return {
    stack,
    clock,
    client,
    server,
    sk: (client as TcpSocket).sk,
    ssk: (server as TcpSocket).sk,
  };
}

/** Reads from `s` until `n` bytes came; returns them in one buffer. */
function readAll(
  clock: Parameters<typeof pump>[0],
  s: { read(n: number): Uint8Array | number },
  n: number,
): Uint8Array {
  const out = new Uint8Array(n);
  let got = 0;
  pump(clock, () => {
    const r = s.read(n - got);
    if (typeof r !== "number") {
      out.set(r, got);
      got += r.length;
    }
    return got === n;
  });
  return out;
}

describe("retransmit timer of an idle connection", () => {
  it("gives the retransmit timer back to the stack once the SYN is acknowledged", async () => {
    const { stack, client, sk } = await pair();
    expect(sk.retransmitTimer).toBeNull();
    expect(sk.icskPending).toBe(0);
    const before = stack.timerCount;
    expect(client.write(bytes(64))).toBe(64);
    // The first data makes one again (the stack counts the timers it hands out).
    expect(sk.retransmitTimer).not.toBeNull();
    expect(stack.timerCount).toBeGreaterThan(before);
  });

  it("arms the RTO for the first data at SRTT-based RTO from now when no loss probe applies", async () => {
    const { clock, client, sk } = await pair();
    sk.net.sysctl.set("net.ipv4.tcp_early_retrans", 0);
    expect(client.write(bytes(64))).toBe(64);
    expect(tcpXmitTimerPending(sk, ICSK_TIME.RETRANS)).toBe(true);
    expect(sk.retransmitTimer?.expires).toBe(clock.now() + sk.rto);
  });
});

describe("retransmit timer purpose (icsk_pending)", () => {
  it("records what the timer is armed for and forgets it once the data is acknowledged", async () => {
    const { clock, client, server, sk } = await pair();
    expect(client.write(bytes(64))).toBe(64);
    // SACK is on over loopback: the tail loss probe takes the timer after the RTO was armed.
    expect(tcpXmitTimerPending(sk, ICSK_TIME.LOSS_PROBE)).toBe(true);
    expect(tcpXmitTimerPending(sk, ICSK_TIME.RETRANS)).toBe(false);
    readAll(clock, server, 64);
    pump(clock, () => sk.packetsOut === 0);
    expect(sk.icskPending).toBe(0);
    expect(sk.retransmitTimer?.pending).toBe(false);
  });
});

describe("tcp_recvmsg of small segments", () => {
  it("returns a read that one segment satisfies as a copy the stack's buffers cannot change", async () => {
    const { clock, client, server } = await pair();
    const msg = bytes(64, 7);
    expect(client.write(msg)).toBe(64);
    const got = readAll(clock, server, 64);
    expect(got).toEqual(msg);
    // Later traffic reuses the freed buffers: what was read stays as it was.
    expect(client.write(new Uint8Array(64).fill(0xee))).toBe(64);
    readAll(clock, server, 64);
    expect(got).toEqual(msg);
  });

  it("leaves the rest of a segment for the next read when a read takes part of it", async () => {
    const { clock, client, server, ssk } = await pair();
    const msg = bytes(64, 9);
    expect(client.write(msg)).toBe(64);
    pump(clock, () => ssk.rmemAlloc === 64);
    const a = server.read(10) as Uint8Array;
    expect(a).toEqual(msg.subarray(0, 10));
    expect(ssk.receiveQueue.qlen).toBe(1);
    const b = server.read(100) as Uint8Array;
    expect(b).toEqual(msg.subarray(10));
    expect(ssk.receiveQueue.qlen).toBe(0);
    expect(ssk.rmemAlloc).toBe(0);
  });

  it("copies a read that spans several segments in order", async () => {
    const { clock, client, server, ssk } = await pair();
    const m1 = bytes(64, 3);
    const m2 = bytes(64, 4);
    expect(client.write(m1)).toBe(64);
    pump(clock, () => ssk.rmemAlloc === 64);
    expect(client.write(m2)).toBe(64);
    pump(clock, () => ssk.rmemAlloc === 128);
    expect(ssk.receiveQueue.qlen).toBe(2);
    const r = server.read(100) as Uint8Array;
    expect(r.length).toBe(100);
    expect(r.subarray(0, 64)).toEqual(m1);
    expect(r.subarray(64)).toEqual(m2.subarray(0, 36));
    expect(server.read(100)).toEqual(m2.subarray(36));
  });
});

describe("tcp_sendmsg buffers for small writes", () => {
  it("queues a 64-byte write in a buffer of at most 1 KiB", async () => {
    const { client, sk } = await pair();
    expect(client.write(bytes(64), MSG_MORE)).toBe(64);
    const skb = sk.writeQueue.peek()!;
    expect(skb.end).toBeLessThanOrEqual(1024);
  });

  it("grows the tail skb as corked small writes coalesce, every byte kept in order", async () => {
    const { clock, client, server, sk } = await pair();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < 40; i++) {
      const p = bytes(100, i + 1);
      parts.push(p);
      expect(client.write(p, MSG_MORE)).toBe(100);
    }
    expect(sk.writeQueue.qlen).toBe(1);
    expect(sk.writeQueue.peek()!.len).toBe(4000);
    expect(client.write(bytes(1, 99))).toBe(1);
    const got = readAll(clock, server, 4001);
    for (let i = 0; i < 40; i++) expect(got.subarray(i * 100, i * 100 + 100)).toEqual(parts[i]);
    expect(got[4000]).toBe(bytes(1, 99)[0]);
  });
});

describe("TCP_SKB_CB", () => {
  it("keeps sequence numbers at and above 2^31 as u32", () => {
    const cb = TCP_SKB_CB(allocSkb(64));
    cb.seq = 0xfffffff0;
    cb.endSeq = (cb.seq + 0x20) >>> 0;
    cb.ackSeq = 0x80000000;
    expect(cb.seq).toBe(0xfffffff0);
    expect(cb.endSeq).toBe(0x10);
    expect(cb.ackSeq).toBe(0x80000000);
  });

  it("gives a clone the original's control block values, in a block of its own", () => {
    const skb = allocSkb(64);
    const cb = TCP_SKB_CB(skb);
    cb.seq = 0x90000000;
    cb.endSeq = 0x90000040;
    cb.tcpFlags = 0x18;
    cb.sacked = 0x80;
    cb.when = 12.5;
    cb.txCount = 2;
    const c = skb.clone();
    const ccb = TCP_SKB_CB(c);
    expect(ccb).not.toBe(cb);
    expect({ ...ccb, seq: ccb.seq, endSeq: ccb.endSeq }).toMatchObject({
      seq: 0x90000000,
      endSeq: 0x90000040,
      tcpFlags: 0x18,
      sacked: 0x80,
      when: 12.5,
      txCount: 2,
    });
    ccb.seq = 1;
    expect(cb.seq).toBe(0x90000000);
  });

  it("replaces another layer's control block with a zeroed one", () => {
    const skb = allocSkb(64);
    skb.cb = { foo: 1 };
    const cb = TCP_SKB_CB(skb);
    expect([cb.seq, cb.endSeq, cb.tcpFlags, cb.sacked, cb.txCount]).toEqual([0, 0, 0, 0, 0]);
    expect(skb.cb).toBe(cb);
  });
});

describe("tcp_transmit_skb", () => {
  it("hands IP a clone without TCP's control block, the queued segment keeping its own", async () => {
    const { client, sk } = await pair();
    const sent: { skb: SkBuff; cb: object | null }[] = [];
    const onXmit = (m: unknown) => {
      const { skb } = m as { skb: SkBuff };
      sent.push({ skb, cb: skb.cb });
    };
    tp.netDevXmit.subscribe(onXmit);
    try {
      expect(client.write(bytes(64))).toBe(64);
    } finally {
      tp.netDevXmit.unsubscribe(onXmit);
    }
    expect(sent.length).toBe(1);
    expect(sent[0]!.cb).toBeNull();
    const queued = sk.rtxQueue.peek()!;
    expect(TCP_SKB_CB(queued).endSeq).toBe(sk.sndNxt);
    expect(TCP_SKB_CB(queued).txCount).toBe(1);
  });
});

describe("out-of-order queue of an in-order receiver", () => {
  it("is never made while every segment arrives in order", async () => {
    const { clock, client, server, ssk, sk } = await pair();
    for (let i = 0; i < 3; i++) {
      expect(client.write(bytes(64))).toBe(64);
      expect(readAll(clock, server, 64)).toEqual(bytes(64));
      expect(server.write(bytes(64))).toBe(64);
      expect(readAll(clock, client, 64)).toEqual(bytes(64));
    }
    expect(ssk.ofoEmpty()).toBe(true);
    expect(sk.ofoEmpty()).toBe(true);
    // The private field stays unset: reading emptiness does not allocate the queue.
    const ofoOf = (x: unknown) => (x as { ofoQueue: unknown }).ofoQueue;
    expect(ofoOf(ssk)).toBeNull();
    expect(ofoOf(sk)).toBeNull();
  });
});
