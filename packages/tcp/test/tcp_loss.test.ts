/**
 * Recovery from a retransmission timeout (Linux's `tcp_enter_loss` / `tcp_process_loss`): what
 * the RTO marks lost, the cwnd it leaves, F-RTO's detection of spurious timeouts (RFC 5682),
 * and the undo of a reduction on a partial ACK that timestamps prove was for the original
 * (`tcp_try_undo_partial`). A harness peer on the virtual clock; the handshake takes 100 ms,
 * so SRTT = 100 ms and the RTO 300 ms. Tail loss probes are off (`tcp_early_retrans=0`) unless
 * a test says otherwise, so the RTO is the timer that fires.
 */

import type { SysctlValue } from "@skbuff/core";
import type { Harness } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { tcpOf } from "./helpers.js";
import {
  peerAck as ack,
  type SackConn as Conn,
  connectSackPeer,
  expectSeg,
  MSS,
  RTT,
  seg,
} from "./sack_peer.js";

const CA_OPEN = 0;
const CA_RECOVERY = 3;
const CA_LOSS = 4;

let h: Harness;
afterEach(async () => {
  if (h) expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
});

/** Connects with tail loss probes off unless `sysctl` turns them on. */
async function connect(sysctl: Record<string, SysctlValue> = {}): Promise<Conn> {
  const c = await connectSackPeer({ "net.ipv4.tcp_early_retrans": 0, ...sysctl });
  h = c.h;
  return c;
}

/** The TSval a captured segment carries. */
function tsvalOf(pkt: Uint8Array): number {
  const ts = tcpOf(pkt).options?.find((o) => o.kind === "ts");
  if (ts?.kind !== "ts") throw new Error("no timestamp option");
  return ts.val;
}

/** Writes `n` full segments and takes the first `sent` of them off the wire. */
function send(c: Conn, n: number, sent = n): Uint8Array[] {
  c.s.write(new Uint8Array(MSS * n));
  const out: Uint8Array[] = [];
  for (let i = 0; i < sent; i++) out.push(h.nextPacket(0));
  return out;
}

describe("RTO marking (tcp_enter_loss, tcp_timeout_mark_lost)", () => {
  it("retransmits only the head after an RTO when RACK says the later segments were sent too recently to be lost, with cwnd = packets in flight + 1", async () => {
    const c = await connect();
    send(c, 2);
    h.advance(RTT);
    // RACK.rtt = 100 ms; the RTO restarts: 300 ms from now.
    ack(c, seg(c, 1)[0]);
    h.advance(250);
    send(c, 2);
    expectSeg(h.nextPacket(100), seg(c, 1));
    expect(h.counters().TcpExtTCPTimeouts).toBe(1);
    const info = c.s.tcpInfo();
    expect(info.tcpi_ca_state).toBe(CA_LOSS);
    // Segments 2 and 3 left 50 ms ago, less than RACK.rtt: still in flight, not lost.
    expect(info.tcpi_lost).toBe(1);
    expect(info.tcpi_snd_cwnd).toBe(3);
    // Nothing else goes out before the next (backed-off) RTO.
    h.expectNoPacket(500);
  });

  it("marks every unSACKed segment lost on an RTO without RACK (tcp_recovery=0), leaving cwnd at 1", async () => {
    const c = await connect({ "net.ipv4.tcp_recovery": 0 });
    send(c, 2);
    h.advance(RTT);
    ack(c, seg(c, 1)[0]);
    h.advance(250);
    send(c, 2);
    expectSeg(h.nextPacket(100), seg(c, 1));
    const info = c.s.tcpInfo();
    expect(info.tcpi_lost).toBe(3);
    expect(info.tcpi_snd_cwnd).toBe(1);
    h.expectNoPacket(500);
  });

  it("marks a segment sent long before the RTO lost even with RACK, and retransmits it after the head as cwnd grows", async () => {
    const c = await connect();
    send(c, 3);
    expectSeg(h.nextPacket(1000), seg(c, 0));
    const info = c.s.tcpInfo();
    expect(info.tcpi_lost).toBe(3);
    expect(info.tcpi_snd_cwnd).toBe(1);
    // The retransmission is acknowledged: slow start, two more retransmissions (no F-RTO step
    // 2.b: nothing new to send).
    ack(c, seg(c, 1)[0]);
    expectSeg(h.nextPacket(0), seg(c, 1));
    expectSeg(h.nextPacket(0), seg(c, 2));
  });

  it("records ssthresh once per timeout episode: a second RTO of the same segment keeps the first's undo state", async () => {
    const c = await connect();
    send(c, 4);
    const cwnd = c.s.tcpInfo().tcpi_snd_cwnd;
    h.nextPacket(1000);
    const ssthresh = c.s.tcpInfo().tcpi_snd_ssthresh;
    expect(ssthresh).toBe(7); // CUBIC: max(10 × 717 / 1024, 2)
    h.nextPacket(2000);
    expect(h.counters().TcpExtTCPTimeouts).toBe(2);
    expect(c.s.tcpInfo().tcpi_snd_ssthresh).toBe(ssthresh);
    // All four originals arrive after all: the echoed timestamp predates the retransmissions.
    ack(c, seg(c, 4)[0], { ecr: 1 });
    expect(h.counters().TcpExtTCPLossUndo).toBe(1);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_OPEN);
    expect(c.s.tcpInfo().tcpi_snd_cwnd).toBeGreaterThanOrEqual(cwnd);
  });
});

describe("F-RTO (RFC 5682, tcp_process_loss)", () => {
  it("sends new data, not retransmissions, on the first ACK after an RTO, and undoes the timeout as spurious when the next ACK covers never-retransmitted data", async () => {
    const c = await connect();
    // Ten segments fill the initial window; two wait.
    send(c, 12, 10);
    const before = c.s.tcpInfo();
    expectSeg(h.nextPacket(1000), seg(c, 0));
    expect(c.s.tcpInfo().tcpi_snd_cwnd).toBe(1);
    expect(c.s.tcpInfo().tcpi_snd_ssthresh).toBe(7);
    // The original of segment 0 was only delayed (no timestamp echo to tell).
    ack(c, seg(c, 1)[0]);
    // Step 2.b: two new segments, not segment 1.
    expectSeg(h.nextPacket(0), seg(c, 10));
    expectSeg(h.nextPacket(0), seg(c, 11));
    h.expectNoPacket(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_LOSS);
    // Step 3.b: segments 1-3, sent before the RTO and never retransmitted, are acknowledged.
    ack(c, seg(c, 4)[0]);
    const after = c.s.tcpInfo();
    expect(h.counters().TcpExtTCPSpuriousRTOs).toBe(1);
    expect(h.counters().TcpExtTCPLossUndo).toBe(1);
    expect(after.tcpi_ca_state).toBe(CA_OPEN);
    expect(after.tcpi_lost).toBe(0);
    expect(after.tcpi_snd_ssthresh).toBe(before.tcpi_snd_ssthresh);
    expect(after.tcpi_snd_cwnd).toBeGreaterThanOrEqual(before.tcpi_snd_cwnd);
  });

  it("treats the loss as real when a duplicate ACK SACKs the new data F-RTO sent, and retransmits what is lost without undoing", async () => {
    const c = await connect();
    send(c, 12, 10);
    expectSeg(h.nextPacket(1000), seg(c, 0));
    ack(c, seg(c, 1)[0]);
    expectSeg(h.nextPacket(0), seg(c, 10));
    expectSeg(h.nextPacket(0), seg(c, 11));
    // Step 3.a: segment 10 is SACKed, segment 1 is still missing.
    ack(c, seg(c, 1)[0], { sack: [seg(c, 10)] });
    expectSeg(h.nextPacket(0), seg(c, 1));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_LOSS);
    // The recovery point (SND.NXT at the RTO, 10 segments) is passed: Loss ends, not undone.
    ack(c, seg(c, 10)[0], { sack: [seg(c, 10)] });
    const info = c.s.tcpInfo();
    expect(info.tcpi_ca_state).not.toBe(CA_LOSS);
    expect(h.counters().TcpExtTCPSpuriousRTOs).toBe(0);
    expect(h.counters().TcpExtTCPLossUndo).toBe(0);
    expect(info.tcpi_snd_ssthresh).toBe(7);
  });

  it("does not run F-RTO with tcp_frto=0: the first ACK after an RTO brings retransmissions", async () => {
    const c = await connect({ "net.ipv4.tcp_frto": 0 });
    send(c, 12, 10);
    expectSeg(h.nextPacket(1000), seg(c, 0));
    ack(c, seg(c, 1)[0]);
    expectSeg(h.nextPacket(0), seg(c, 1));
    expectSeg(h.nextPacket(0), seg(c, 2));
    ack(c, seg(c, 4)[0]);
    expect(h.counters().TcpExtTCPSpuriousRTOs).toBe(0);
    expect(h.counters().TcpExtTCPLossUndo).toBe(0);
  });

  it("undoes an RTO at once when the first ACK echoes a timestamp older than the retransmission (tcp_try_undo_loss)", async () => {
    const c = await connect();
    const [first] = send(c, 4);
    const before = c.s.tcpInfo();
    expectSeg(h.nextPacket(1000), seg(c, 0));
    ack(c, seg(c, 1)[0], { ecr: tsvalOf(first!) });
    const info = c.s.tcpInfo();
    expect(h.counters().TcpExtTCPLossUndo).toBe(1);
    expect(h.counters().TcpExtTCPSpuriousRTOs).toBe(0);
    expect(info.tcpi_ca_state).toBe(CA_OPEN);
    expect(info.tcpi_lost).toBe(0);
    expect(info.tcpi_snd_ssthresh).toBe(before.tcpi_snd_ssthresh);
  });
});

describe("partial undo (tcp_try_undo_partial)", () => {
  /** Ten segments; at +RTT segments 1-4 are SACKed, so RACK marks 0 lost and it is resent. */
  function enterRecovery(c: Conn): { first: Uint8Array; cwnd: number; ssthresh: number } {
    const [first] = send(c, 10);
    const before = c.s.tcpInfo();
    h.advance(RTT);
    ack(c, c.s1, { sack: [[seg(c, 1)[0], seg(c, 4)[1]]] });
    expectSeg(h.nextPacket(0), seg(c, 0));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
    return { first: first!, cwnd: before.tcpi_snd_cwnd, ssthresh: before.tcpi_snd_ssthresh };
  }

  it("undoes fast recovery on a partial ACK whose timestamp shows the original, not the retransmission, filled the hole", async () => {
    const c = await connect();
    const { first, cwnd, ssthresh } = enterRecovery(c);
    h.advance(10);
    // Segments 0-4 acknowledged, 5-9 still out: a partial ACK echoing segment 0's first send.
    ack(c, seg(c, 5)[0], { ecr: tsvalOf(first) });
    const info = c.s.tcpInfo();
    expect(h.counters().TcpExtTCPPartialUndo).toBe(1);
    expect(h.counters().TcpExtTCPTSReorder).toBe(1);
    expect(info.tcpi_ca_state).toBe(CA_OPEN);
    // Restored, then slow start grows it by the one segment this ACK delivered.
    expect(info.tcpi_snd_cwnd).toBe(cwnd + 1);
    expect(info.tcpi_snd_ssthresh).toBe(ssthresh);
  });

  it("holds on a partial ACK showing reordering while another retransmission is still out: no undo, nothing more retransmitted", async () => {
    const c = await connect();
    const [first] = send(c, 10);
    h.advance(RTT);
    // Segments 2-5 SACKed: 0 and 1 are lost and both go out again (PRR allows 3).
    ack(c, c.s1, { sack: [[seg(c, 2)[0], seg(c, 5)[1]]] });
    expectSeg(h.nextPacket(0), seg(c, 0));
    expectSeg(h.nextPacket(0), seg(c, 1));
    h.advance(10);
    ack(c, seg(c, 1)[0], { ecr: tsvalOf(first!) });
    expect(h.counters().TcpExtTCPTSReorder).toBe(1);
    expect(h.counters().TcpExtTCPPartialUndo).toBe(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
    h.expectNoPacket(0);
  });

  it("keeps the reduction on a partial ACK that echoes the retransmission", async () => {
    const c = await connect();
    enterRecovery(c);
    const rtx = c.s.tcpInfo();
    h.advance(10);
    ack(c, seg(c, 5)[0], { ecr: Math.floor(h.clock.now()) });
    const info = c.s.tcpInfo();
    expect(h.counters().TcpExtTCPPartialUndo).toBe(0);
    expect(info.tcpi_ca_state).toBe(CA_RECOVERY);
    expect(info.tcpi_snd_ssthresh).toBe(rtx.tcpi_snd_ssthresh);
  });
});
