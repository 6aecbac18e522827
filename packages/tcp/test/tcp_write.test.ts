/**
 * The send queue as Linux builds it: skbs of the size goal (`tcp_xmit_size_goal`), TSO frames
 * sized by the pacing rate (`tcp_tso_autosize`, `tcp_min_tso_segs`), the send buffer charged at
 * true size, and MSG_MORE. Wire-level behaviour (PSH placement, frames, MSG_MORE) is also covered
 * by the packetdrill scripts `behaviour-msg-more.pkt`, `behaviour-tso-frames.pkt` and
 * `behaviour-sndbuf-truesize.pkt` in packages/testing.
 */
import { allocSkb } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { MSG_MORE, TCP_ESTABLISHED, TcpSock } from "../src/index.js";
import type { TcpSocket } from "../src/socket.js";
import {
  TCP_SKB_HEAD_TRUESIZE,
  tcpTsoSegs,
  tcpUpdatePacingRate,
  tcpWmemQueued,
  tcpXmitSizeGoal,
} from "../src/tcp_write.js";
import { tcpHarness } from "./helpers.js";
import { bytes, pump } from "./pump.js";
import { connectPair, loopStack, useStacks } from "./stacks.js";

useStacks();

/** A socket on a harness stack (no connection), for the sizing functions. */
async function bareSock(sysctl: Record<string, number> = {}): Promise<TcpSock> {
  const h = await tcpHarness(sysctl);
  return new TcpSock(h.stack);
}

describe("size goal (tcp_xmit_size_goal)", () => {
  it("builds skbs of as many whole MSS as fit in 64 KiB less the headers", async () => {
    const sk = await bareSock();
    sk.maxWindow = 1 << 20;
    expect(tcpXmitSizeGoal(sk, 1448)).toBe(45 * 1448);
  });

  it("bounds skbs to half the peer's largest window", async () => {
    const sk = await bareSock();
    sk.maxWindow = 10_000;
    expect(tcpXmitSizeGoal(sk, 1000)).toBe(5000);
  });

  it("never goes below one MSS (loopback: one 65483-byte segment per skb)", async () => {
    const sk = await bareSock();
    sk.maxWindow = 1 << 20;
    expect(tcpXmitSizeGoal(sk, 65483)).toBe(65483);
  });
});

describe("TSO frame size (tcp_tso_autosize)", () => {
  it("paces at 200 % of cwnd * mss / srtt in slow start and 120 % after", async () => {
    const sk = await bareSock();
    sk.mssCache = 1000;
    sk.sndCwnd = 10;
    sk.srttUs = 10_000 << 3;
    expect(tcpUpdatePacingRate(sk)).toBe(2_000_000);
    sk.sndSsthresh = 10;
    expect(tcpUpdatePacingRate(sk)).toBe(1_200_000);
  });

  it("takes about 1 ms of the pacing rate per frame, at least tcp_min_tso_segs", async () => {
    const sk = await bareSock();
    sk.mssCache = 1000;
    sk.sndCwnd = 40;
    sk.srttUs = 10_000 << 3;
    // 200 % of 40 * 1000 bytes / 10 ms = 8 MB/s: 7812 bytes a millisecond (>> 10).
    expect(tcpTsoSegs(sk, 1000)).toBe(7);
    sk.sndCwnd = 10;
    expect(tcpTsoSegs(sk, 1000)).toBe(2);
  });

  it("follows the tcp_min_tso_segs sysctl", async () => {
    const sk = await bareSock({ "net.ipv4.tcp_min_tso_segs": 10 });
    sk.mssCache = 1000;
    sk.srttUs = 100_000 << 3;
    expect(tcpTsoSegs(sk, 1000)).toBe(10);
  });

  it("caps a frame at 64 KiB", async () => {
    const sk = await bareSock();
    sk.mssCache = 1000;
    expect(tcpTsoSegs(sk, 1000)).toBe(65);
  });
});

describe("send buffer accounting (sk_wmem_queued)", () => {
  it("charges each unsent skb its head's true size besides its payload", async () => {
    const sk = await bareSock();
    sk.writeSeq = sk.sndUna + 3000;
    expect(tcpWmemQueued(sk)).toBe(3000);
    sk.writeQueue.queueTail(allocSkb(0));
    expect(tcpWmemQueued(sk)).toBe(3000 + TCP_SKB_HEAD_TRUESIZE);
  });
});

describe("tcp_sendmsg over loopback", () => {
  async function pair() {
    const { stack, clock } = await loopStack();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    expect(client.state).toBe(TCP_ESTABLISHED);
    return { clock, client, server, sk: (client as TcpSocket).sk };
  }

  it("holds a small MSG_MORE write back and sends it, pushed, with the next plain write", async () => {
    const { clock, client, server, sk } = await pair();
    expect(client.write(bytes(64), MSG_MORE)).toBe(64);
    expect(sk.sndNxt).toBe(sk.sndUna);
    expect(sk.writeQueue.qlen).toBe(1);
    expect(client.write(bytes(64, 2))).toBe(64);
    expect(sk.sndNxt).toBe(sk.writeSeq);
    let got = 0;
    pump(clock, () => {
      const r = server.read(1 << 16);
      if (typeof r !== "number") got += r.length;
      return got === 128;
    });
    expect(got).toBe(128);
  });

  it("queues a 64-byte write in a small buffer, not a 64 KiB one", async () => {
    const { client, sk } = await pair();
    expect(client.write(bytes(64), MSG_MORE)).toBe(64);
    const skb = sk.writeQueue.peek()!;
    expect(skb.end).toBeLessThanOrEqual(4096);
    expect(skb.headroom).toBeGreaterThanOrEqual(128);
  });

  it("puts a 64 KiB write in one 65483-byte skb and one for the 53 bytes left", async () => {
    const { client, sk } = await pair();
    expect(client.write(bytes(65536), MSG_MORE)).toBe(65536);
    // The full segment went out at once (tcp_push_one); the partial one is held by MSG_MORE.
    expect(sk.rtxQueue.qlen).toBe(1);
    expect(sk.rtxQueue.peek()!.len).toBe(65483);
    expect(sk.rtxQueue.peek()!.headroom).toBeGreaterThanOrEqual(128);
    expect(sk.writeQueue.qlen).toBe(1);
    expect(sk.writeQueue.peek()!.len).toBe(53);
  });
});
