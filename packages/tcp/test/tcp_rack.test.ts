/**
 * RACK-TLP's time-based loss detection (RFC 8985 6) and the undo of spurious retransmissions
 * by D-SACK (RFC 2883 5), against a harness peer on the virtual clock. The handshake takes
 * 100 ms, so min_RTT = SRTT = 100 ms and RACK's reo_wnd is min_RTT/4 = 25 ms.
 */

import type { SysctlValue } from "@skbuff/core";
import type { Harness } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  type SackConn as Conn,
  connectSackPeer,
  expectSeg,
  MSS,
  peerAck,
  RTT,
  seg,
} from "./sack_peer.js";

const CA_OPEN = 0;
const CA_DISORDER = 1;
const CA_RECOVERY = 3;

let h: Harness;
afterEach(async () => {
  if (h) expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
});

async function connect(sysctl: Record<string, SysctlValue> = {}): Promise<Conn> {
  const c = await connectSackPeer(sysctl);
  h = c.h;
  return c;
}

/** Sends `n` full segments and takes them off the wire. */
function sendSegments(c: Conn, n: number): void {
  c.s.write(new Uint8Array(MSS * n));
  for (let i = 0; i < n; i++) h.nextPacket(0);
}

/** An ACK from the peer, with SACK blocks (a D-SACK first, RFC 2883). */
function ack(c: Conn, ackSeq: number, sack: [number, number][] = []): void {
  peerAck(c, ackSeq, { sack });
}

describe("RACK loss detection (RFC 8985 6)", () => {
  it("marks the segments sent before a SACKed one lost and retransmits the first when the reordering timer fires, min_RTT/4 + 2 ms after the SACK", async () => {
    const c = await connect();
    sendSegments(c, 4);
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 3)]);
    const sackedAt = h.clock.now();
    // RACK.rtt = 100 ms; segment 0 was sent with segment 3, so it is lost 25 ms (reo_wnd) from now.
    h.expectNoPacket(26);
    expect(c.s.tcpInfo().tcpi_lost).toBe(0);
    expectSeg(h.nextPacket(5), seg(c, 0));
    expect(h.clock.now() - sackedAt).toBe(27);
    const info = c.s.tcpInfo();
    expect(info.tcpi_ca_state).toBe(CA_RECOVERY);
    expect(info.tcpi_lost).toBe(3);
    expect(h.counters().TcpExtTCPSackRecovery).toBe(1);
    expect(h.counters().TcpExtTCPTimeouts).toBe(0);
  });

  it("does not retransmit a segment that arrives out of order within reo_wnd, and records the reordering", async () => {
    const c = await connect();
    sendSegments(c, 4);
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 1)]);
    h.advance(10);
    // Segment 0 shows up after all: the cumulative ACK covers it and the SACKed segment 1.
    ack(c, seg(c, 1)[1]);
    h.expectNoPacket(100);
    expect(h.counters().TcpRetransSegs).toBe(0);
    expect(h.counters().TcpExtTCPSACKReorder).toBe(1);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_OPEN);
    expect(c.s.tcpInfo().tcpi_lost).toBe(0);
  });

  it("retransmits at once when DupThresh segments are SACKed and no reordering was seen", async () => {
    const c = await connect();
    sendSegments(c, 5);
    h.advance(RTT);
    ack(c, c.s1, [[seg(c, 1)[0], seg(c, 3)[1]]]);
    expectSeg(h.nextPacket(0), seg(c, 0));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
  });

  it("waits reo_wnd even with DupThresh segments SACKed once reordering has been seen", async () => {
    const c = await connect();
    sendSegments(c, 2);
    h.advance(RTT);
    // Reordering: segment 1 SACKed, then segment 0 fills the hole without a retransmission.
    ack(c, c.s1, [seg(c, 1)]);
    ack(c, seg(c, 1)[1]);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_OPEN);
    sendSegments(c, 5);
    const sent = h.clock.now();
    h.advance(RTT);
    const base = seg(c, 2)[0];
    ack(c, base, [[seg(c, 3)[0], seg(c, 5)[1]]]);
    h.expectNoPacket(0);
    const pkt = h.nextPacket(50);
    expectSeg(pkt, seg(c, 2));
    // Lost once RACK.rtt + reo_wnd (min_RTT/4) passed since it was sent, plus the 2 ms slack.
    expect(h.clock.now() - sent).toBe(RTT + RTT / 4 + 2);
  });

  it("never marks a segment lost by time when net.ipv4.tcp_recovery is 0: three SACKed segments (RFC 6675) do it", async () => {
    const c = await connect({ "net.ipv4.tcp_recovery": 0 });
    sendSegments(c, 5);
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 4)]);
    // Until the tail loss probe, armed when the flight left (2·SRTT), nothing is resent.
    h.expectNoPacket(RTT - 10);
    expect(h.counters().TcpRetransSegs).toBe(0);
    ack(c, c.s1, [[seg(c, 2)[0], seg(c, 4)[1]]]);
    expectSeg(h.nextPacket(0), seg(c, 0));
  });
});

describe("RACK reo_wnd adaptation (RFC 8985 6.2 step 4)", () => {
  it("widens reo_wnd to two steps of min_RTT/4 after a D-SACK shows a RACK retransmission was spurious, once reordering has been seen", async () => {
    const c = await connect();
    // Round 1: segment 1 overtakes segment 0: reordering seen, nothing resent.
    sendSegments(c, 2);
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 1)]);
    ack(c, seg(c, 1)[1]);
    // Round 2: segment 3 overtakes segment 2 by more than reo_wnd: a spurious retransmission.
    sendSegments(c, 2);
    h.advance(RTT);
    ack(c, seg(c, 1)[1], [seg(c, 3)]);
    expectSeg(h.nextPacket(30), seg(c, 2));
    ack(c, seg(c, 3)[1]);
    ack(c, seg(c, 3)[1], [seg(c, 2)]);
    expect(h.counters().TcpExtTCPDSACKUndo).toBe(1);
    // Round 3: the same reordering now waits 2 · 25 ms (+ 2 ms) before retransmitting.
    sendSegments(c, 2);
    h.advance(RTT);
    ack(c, seg(c, 3)[1], [seg(c, 5)]);
    const sackedAt = h.clock.now();
    h.expectNoPacket(40);
    expectSeg(h.nextPacket(20), seg(c, 4));
    expect(h.clock.now() - sackedAt).toBe(2 * (RTT / 4) + 2);
  });
});

describe("undo of spurious retransmissions (RFC 2883 5)", () => {
  it("restores cwnd and ssthresh when a D-SACK shows the only retransmission of the recovery was spurious", async () => {
    const c = await connect();
    sendSegments(c, 10);
    const cwnd = c.s.tcpInfo().tcpi_snd_cwnd;
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 4)]);
    expectSeg(h.nextPacket(30), seg(c, 0));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
    expect(c.s.tcpInfo().tcpi_snd_ssthresh).toBe(7);
    // The originals were only late: the peer acknowledges them, then reports the duplicate.
    ack(c, seg(c, 4)[1]);
    ack(c, seg(c, 4)[1], [seg(c, 0)]);
    const info = c.s.tcpInfo();
    expect(h.counters().TcpExtTCPDSACKUndo).toBe(1);
    expect(info.tcpi_snd_cwnd).toBeGreaterThanOrEqual(cwnd);
    expect(info.tcpi_snd_ssthresh).toBeGreaterThan(7);
    expect([CA_OPEN, CA_DISORDER]).toContain(info.tcpi_ca_state);
  });

  it("keeps the reduction when a D-SACK covers only one of two retransmissions", async () => {
    const c = await connect();
    sendSegments(c, 10);
    h.advance(RTT);
    ack(c, c.s1, [[seg(c, 3)[0], seg(c, 5)[1]]]);
    // DupThresh reached: segments 0-2 are lost at once; PRR lets two go out over two ACKs.
    expectSeg(h.nextPacket(0), seg(c, 0));
    ack(c, c.s1, [[seg(c, 3)[0], seg(c, 6)[1]]]);
    expectSeg(h.nextPacket(0), seg(c, 1));
    ack(c, seg(c, 1)[1], [[seg(c, 3)[0], seg(c, 6)[1]]]);
    ack(c, seg(c, 1)[1], [seg(c, 0), [seg(c, 3)[0], seg(c, 6)[1]]]);
    expect(h.counters().TcpExtTCPDSACKUndo).toBe(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
    expect(c.s.tcpInfo().tcpi_snd_ssthresh).toBe(7);
  });

  it("takes a loss probe out of the retransmissions in flight when a D-SACK shows the original was SACKed already", async () => {
    const c = await connect();
    sendSegments(c, 3);
    // No ACK: the tail loss probe resends the last segment.
    expectSeg(h.nextPacket(400), seg(c, 2));
    expect(c.s.tcpInfo().tcpi_retrans).toBe(1);
    // The originals of segments 1 and 2 arrive: the probe, not marked lost, stays in flight …
    ack(c, c.s1, [[seg(c, 1)[0], seg(c, 2)[1]]]);
    expect(c.s.tcpInfo().tcpi_retrans).toBe(1);
    // … until the peer reports the probe as a duplicate (tcp_sacktag_one: "D-SACK … clear it").
    ack(c, c.s1, [seg(c, 2), [seg(c, 1)[0], seg(c, 2)[1]]]);
    expect(c.s.tcpInfo().tcpi_retrans).toBe(0);
  });

  it("counts a full undo when the ACK that ends recovery finds every retransmission D-SACKed", async () => {
    const c = await connect();
    sendSegments(c, 2);
    h.advance(RTT);
    ack(c, c.s1, [seg(c, 1)]);
    expectSeg(h.nextPacket(30), seg(c, 0));
    // The original of segment 0 arrives: a partial ACK, still below the recovery point …
    ack(c, seg(c, 0)[1], [seg(c, 1)]);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_RECOVERY);
    // … then the ACK of everything reports the retransmission as a duplicate.
    ack(c, seg(c, 1)[1], [seg(c, 0)]);
    expect(h.counters().TcpExtTCPFullUndo).toBe(1);
    expect(h.counters().TcpExtTCPDSACKUndo).toBe(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(CA_OPEN);
    expect(c.s.tcpInfo().tcpi_snd_ssthresh).toBeGreaterThan(7);
  });
});
