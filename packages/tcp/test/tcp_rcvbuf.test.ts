/**
 * Receive-buffer autotuning (`tcp_rcv_space_adjust`) and `tcp_recvmsg`'s single copy.
 */
import { createStack, type Stack, type SysctlValue } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { describe, expect, it } from "vitest";
import { SO, SOL_SOCKET, type TcpSock, type TcpSocketHandle, tcp } from "../src/index.js";
import { bytes, sha256 } from "./pump.js";
import { apiOf, connectPair, track, useStacks, virtualClock } from "./stacks.js";

useStacks();

function skOf(s: TcpSocketHandle): TcpSock {
  return (s as unknown as { sk: TcpSock }).sk;
}

async function loop(sysctl: Record<string, SysctlValue> = {}) {
  const clock = virtualClock();
  const stack: Stack = await createStack({
    name: "lo-rcvbuf",
    clock,
    devices: [loopback()],
    plugins: [ipv4(), icmp(), tcp()],
    sysctl,
  });
  track(stack, () => stack.close());
  return { stack, clock };
}

interface Bulk {
  /** Largest window the receiver advertised (bytes, unscaled). */
  maxRcvWnd: number;
  got: Uint8Array[];
}

/**
 * Moves `total` bytes from `tx` to `rx` in steps of 1 ms of virtual time: the writer fills its
 * send buffer, a millisecond passes (the packets arrive), the reader reads everything.
 */
function bulk(
  clock: ReturnType<typeof virtualClock>,
  tx: TcpSocketHandle,
  rx: TcpSocketHandle,
  total: number,
): Bulk {
  const data = bytes(total, 3);
  const got: Uint8Array[] = [];
  let sent = 0;
  let recv = 0;
  let maxRcvWnd = 0;
  for (let step = 0; recv < total && step < 100_000; step++) {
    while (sent < total) {
      const n = tx.write(data.subarray(sent, Math.min(sent + 65536, total)));
      if (n <= 0) break;
      sent += n;
    }
    clock.advanceSync(1);
    for (;;) {
      const r = rx.read(1 << 22);
      if (typeof r === "number" || r.length === 0) break;
      got.push(r);
      recv += r.length;
    }
    maxRcvWnd = Math.max(maxRcvWnd, skOf(rx).rcvWnd);
    clock.advanceSync(0);
  }
  expect(sha256(got)).toBe(sha256([data]));
  return { maxRcvWnd, got };
}

describe("receive-buffer autotuning", () => {
  it("grows the receive buffer and the advertised window past 64 KiB during a bulk transfer", async () => {
    const { stack, clock } = await loop();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const before = skOf(server).rcvbuf;
    const { maxRcvWnd } = bulk(clock, client, server, 32 << 20);
    const sk = skOf(server);
    expect(sk.rcvbuf).toBeGreaterThan(before);
    expect(sk.rcvbuf).toBeLessThanOrEqual(6291456);
    expect(maxRcvWnd).toBeGreaterThan(65535);
    expect(sk.rcvRttUs).toBeGreaterThan(0);
  });

  it("never grows the buffer past tcp_rmem[2]", async () => {
    const { stack, clock } = await loop({ "net.ipv4.tcp_rmem": [4096, 131072, 262144] });
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    bulk(clock, client, server, 16 << 20);
    expect(skOf(server).rcvbuf).toBe(262144);
  });

  it("leaves a buffer set with SO_RCVBUF alone", async () => {
    const { stack, clock } = await loop();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    expect(server.setsockopt(SOL_SOCKET, SO.RCVBUF, 65536)).toBe(0);
    const { maxRcvWnd } = bulk(clock, client, server, 16 << 20);
    expect(skOf(server).rcvbuf).toBe(131072);
    expect(maxRcvWnd).toBeLessThanOrEqual(65536);
  });

  it("passes SO_RCVBUF's lock from a listener to the sockets it accepts", async () => {
    const { stack, clock } = await loop();
    const l = apiOf(stack);
    const listener = l.socket();
    expect(listener.setsockopt(SOL_SOCKET, SO.RCVBUF, 65536)).toBe(0);
    expect(listener.bind("0.0.0.0", 6000)).toBe(0);
    expect(listener.listen(4)).toBe(0);
    const client = l.socket();
    client.connect("127.0.0.1", 6000);
    let server: TcpSocketHandle | number = -1;
    for (let i = 0; i < 10 && typeof server === "number"; i++) {
      clock.advanceSync(0);
      server = listener.accept();
    }
    expect(typeof server).toBe("object");
    const srv = server as TcpSocketHandle;
    bulk(clock, client, srv, 8 << 20);
    expect(skOf(srv).rcvbuf).toBe(131072);
  });

  it("stays off with net.ipv4.tcp_moderate_rcvbuf = 0", async () => {
    const { stack, clock } = await loop({ "net.ipv4.tcp_moderate_rcvbuf": 0 });
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const { maxRcvWnd } = bulk(clock, client, server, 16 << 20);
    expect(skOf(server).rcvbuf).toBe(131072);
    expect(maxRcvWnd).toBeLessThanOrEqual(65536);
  });

  it("waits for a round trip of time to pass: no growth while the clock stands still", async () => {
    const { stack, clock } = await loop();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const data = bytes(4 << 20);
    let sent = 0;
    let recv = 0;
    const round = (): boolean => {
      const before = sent + recv;
      while (sent < data.length) {
        const n = client.write(data.subarray(sent, sent + 65536));
        if (n <= 0) break;
        sent += n;
      }
      clock.advanceSync(0);
      const r = server.read(1 << 22);
      if (typeof r !== "number") recv += r.length;
      clock.advanceSync(0);
      return sent + recv !== before;
    };
    while (recv < 1 << 20 && round()) {
      // no time passes
    }
    // Far more than the initial window was read, but in no time at all.
    expect(recv).toBeGreaterThan(4 * 65536);
    expect(skOf(server).rcvbuf).toBe(131072);
    // Time passes (the next timer, a delayed ACK, is due within 40 ms): the next read adjusts.
    clock.advanceSync(50);
    for (let i = 0; i < 10; i++) round();
    expect(skOf(server).rcvbuf).toBeGreaterThan(131072);
  });
});

describe("tcp_recvmsg", () => {
  it("reads across several queued segments into one buffer of min(maxLen, bytes readable)", async () => {
    const { stack, clock } = await loop();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const parts = [bytes(100, 1), bytes(200, 2), bytes(300, 3)];
    for (const p of parts) {
      expect(client.write(p)).toBe(p.length);
      clock.advanceSync(0);
    }
    expect(skOf(server).receiveQueue.qlen).toBe(3);
    const all = new Uint8Array(600);
    all.set(parts[0]!, 0);
    all.set(parts[1]!, 100);
    all.set(parts[2]!, 300);
    const first = server.read(250);
    expect(first).toEqual(all.subarray(0, 250));
    expect(skOf(server).receiveQueue.qlen).toBe(2);
    const rest = server.read(1 << 20);
    expect(rest).toBeInstanceOf(Uint8Array);
    expect((rest as Uint8Array).length).toBe(350);
    expect(rest).toEqual(all.subarray(250));
    expect(skOf(server).rmemAlloc).toBe(0);
    expect(server.read(10)).toBeLessThan(0);
  });

  it("returns a copy, never a view on a received skb's bytes", async () => {
    const { stack, clock } = await loop();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const data = bytes(1000, 5);
    expect(client.write(data)).toBe(1000);
    clock.advanceSync(0);
    const skb = skOf(server).receiveQueue.peek();
    expect(skb).not.toBeNull();
    const r = server.read(1000) as Uint8Array;
    expect(r).toEqual(data);
    expect(r.buffer).not.toBe(skb!.head.buffer);
  });
});
