/**
 * Undo of a spurious congestion-window reduction (`tcp_undo.ts`), function by function on a bare
 * socket: when timestamps prove a packet was only delayed (`tcp_packet_delayed`), and how fast
 * recovery ends when SND.UNA reaches the recovery point (`tcp_try_undo_recovery`).
 */
import { describe, expect, it } from "vitest";
import { TCP_CA } from "../src/congestion.js";
import { TcpSock } from "../src/index.js";
import { tcpSetCaState } from "../src/tcp.js";
import { tcpPacketDelayed, tcpTryUndoRecovery } from "../src/tcp_undo.js";
import { tcpHarness } from "./helpers.js";

/** A socket on a harness stack with a reduction in progress since SND.UNA 1000. */
async function reducingSock(): Promise<TcpSock> {
  const h = await tcpHarness({});
  const sk = new TcpSock(h.stack);
  sk.sndUna = 1000;
  sk.undoMarker = 1000;
  sk.undoRetrans = -1;
  sk.undoRetransSynced = sk.totalRetrans;
  return sk;
}

describe("delayed-packet detection (tcp_packet_delayed)", () => {
  it("says the packet was delayed when the ACK echoes a timestamp older than the first retransmission", async () => {
    const sk = await reducingSock();
    sk.retransStamp = 5000;
    expect(tcpPacketDelayed(sk, 4000)).toBe(true);
  });

  it("does not say the packet was delayed when a retransmission is recorded and the echoed timestamp is not older than it", async () => {
    const sk = await reducingSock();
    sk.retransStamp = 5000;
    expect(tcpPacketDelayed(sk, 5000)).toBe(false);
    expect(tcpPacketDelayed(sk, 6000)).toBe(false);
    expect(tcpPacketDelayed(sk, null)).toBe(false);
  });

  it("says the packet was delayed when no retransmission was recorded in the episode", async () => {
    const sk = await reducingSock();
    sk.retransStamp = 0;
    expect(tcpPacketDelayed(sk, 6000)).toBe(true);
  });
});

describe("leaving fast recovery (tcp_try_undo_recovery)", () => {
  /** In Recovery with one retransmission not D-SACKed (no undo), SND.UNA at the recovery point. */
  async function recoveringSock(sackOk: boolean): Promise<TcpSock> {
    const sk = await reducingSock();
    sk.rxOpt.sackOk = sackOk;
    tcpSetCaState(sk, TCP_CA.Recovery);
    sk.undoRetrans = 1;
    sk.retransStamp = 5000;
    sk.sndUna = 9000;
    sk.highSeq = 9000;
    return sk;
  }

  it("holds Recovery without SACK while SND.UNA equals the recovery point, until data above it is acknowledged", async () => {
    const sk = await recoveringSock(false);
    expect(tcpTryUndoRecovery(sk, 6000)).toBe(true);
    expect(sk.caState).toBe(TCP_CA.Recovery);
    sk.sndUna = 10000;
    expect(tcpTryUndoRecovery(sk, 6000)).toBe(false);
    expect(sk.caState).toBe(TCP_CA.Open);
  });

  it("returns to Open with SACK as soon as SND.UNA reaches the recovery point", async () => {
    const sk = await recoveringSock(true);
    expect(tcpTryUndoRecovery(sk, 6000)).toBe(false);
    expect(sk.caState).toBe(TCP_CA.Open);
  });
});
