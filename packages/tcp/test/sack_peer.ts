/**
 * A harness peer for loss-recovery tests: the stack connects to 192.0.2.2:80 with SACK,
 * timestamps and wscale 7, the SYN-ACK comes back {@link RTT} ms later (so min_RTT = SRTT =
 * 100 ms), and the test plays the peer's ACKs and SACKs by hand on the virtual clock.
 */

import type { SysctlValue } from "@skbuff/core";
import type { Harness, TcpOptionInput } from "@skbuff/testing";
import { tcpSegment } from "@skbuff/testing";
import { expect } from "vitest";
import { IPPROTO_TCP_LEVEL, TCP_ESTABLISHED, TCP_OPT, type TcpSocketHandle } from "../src/index.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";

/** The peer's initial sequence number. */
export const PEER_ISN = 9000;
/** The stack's MSS: the peer's 1460 less the 12 bytes of timestamps. */
export const MSS = 1448;
/** Handshake RTT, ms. */
export const RTT = 100;

/** A connection to the peer. */
export interface SackConn {
  readonly h: Harness;
  readonly s: TcpSocketHandle;
  /** Sequence number of the first data byte. */
  readonly s1: number;
  readonly sport: number;
}

/** Connects (TCP_NODELAY on); the SYN-ACK comes back after {@link RTT} ms. */
export async function connectSackPeer(sysctl: Record<string, SysctlValue> = {}): Promise<SackConn> {
  const h = await tcpHarness(sysctl);
  const s = api(h).socket();
  s.connect("192.0.2.2", 80);
  const syn = tcpOf(h.nextPacket());
  const tsval = syn.options?.find((o) => o.kind === "ts");
  h.advance(RTT);
  h.inject(
    tcpSegment({
      sport: 80,
      dport: syn.srcPort,
      seq: PEER_ISN,
      ack: syn.seq + 1,
      flags: "SA",
      win: 65535,
      options: [
        { kind: "mss", value: 1460 },
        "sackOK",
        { kind: "ts", val: 1, ecr: tsval?.kind === "ts" ? tsval.val : 0 },
        "nop",
        { kind: "wscale", value: 7 },
      ],
    }),
  );
  h.nextPacket(0);
  expect(s.state).toBe(TCP_ESTABLISHED);
  s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
  return { h, s, s1: (syn.seq + 1) >>> 0, sport: syn.srcPort };
}

/** The `[start, end)` of full segment `i` (0-based). */
export function seg(c: SackConn, i: number): [number, number] {
  return [(c.s1 + i * MSS) >>> 0, (c.s1 + (i + 1) * MSS) >>> 0];
}

/**
 * An ACK from the peer echoing `ecr` (default 0: no usable echo), with SACK blocks (a D-SACK
 * first, RFC 2883).
 */
export function peerAck(
  c: SackConn,
  ackSeq: number,
  opts: { sack?: [number, number][]; ecr?: number } = {},
): void {
  const options: TcpOptionInput[] = ["nop", "nop", { kind: "ts", val: 2, ecr: opts.ecr ?? 0 }];
  if (opts.sack?.length) options.push("nop", "nop", { kind: "sack", blocks: opts.sack });
  c.h.inject(
    tcpSegment({
      sport: 80,
      dport: c.sport,
      seq: PEER_ISN + 1,
      ack: ackSeq >>> 0,
      flags: "A",
      win: 1024,
      options,
    }),
  );
}

/** Expects `pkt` to carry exactly the bytes `[start, end)`. */
export function expectSeg(pkt: Uint8Array, [start, end]: [number, number]): void {
  const v = tcpOf(pkt);
  expect({ seq: v.seq, len: v.payload.length }).toEqual({ seq: start, len: end - start });
}
