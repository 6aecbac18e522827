import { describe, expect, it } from "vitest";
import { TCP_INFINITE_SSTHRESH } from "../src/congestion.js";
import { tcpReno, tcpRenoSsthresh } from "../src/tcp_cong_reno.js";
import { CcSim, SimSock } from "./cc_sim.js";

describe("tcpReno (net/ipv4/tcp_cong.c)", () => {
  it("is registered under the name reno with the three required ops", () => {
    expect(tcpReno.name).toBe("reno");
    expect(typeof tcpReno.ssthresh).toBe("function");
    expect(typeof tcpReno.congAvoid).toBe("function");
    expect(typeof tcpReno.undoCwnd).toBe("function");
  });

  it("doubles cwnd every RTT in slow start", () => {
    const sim = new CcSim(tcpReno).run(4);
    expect(sim.history.map((r) => r.cwnd)).toEqual([20, 40, 80, 160]);
  });

  it("stops slow start at ssthresh and carries the leftover acks into congestion avoidance", () => {
    const sim = new CcSim(tcpReno, { sock: { sndSsthresh: 64 } }).run(4);
    // 10 → 20 → 40 → 64 (40 acks: 24 to reach ssthresh, 16 counted towards the next packet).
    expect(sim.history.map((r) => r.cwnd)).toEqual([20, 40, 64, 65]);
  });

  it("adds one packet per RTT in congestion avoidance", () => {
    const sim = new CcSim(tcpReno, { sock: { sndCwnd: 50, sndSsthresh: 50 } }).run(10);
    expect(sim.history.map((r) => r.cwnd)).toEqual([51, 52, 53, 54, 55, 56, 57, 58, 59, 60]);
  });

  it("does not grow cwnd while the sender is not cwnd-limited", () => {
    const sim = new CcSim(tcpReno, { sock: { sndCwnd: 50, sndSsthresh: 50 } });
    sim.run(5, { appLimitedTo: 20 });
    expect(sim.sk.sndCwnd).toBe(50);
  });

  it("sets ssthresh to half of cwnd", () => {
    const sk = new SimSock();
    sk.sndCwnd = 101;
    expect(tcpRenoSsthresh(sk)).toBe(50);
  });

  it("never sets ssthresh below 2 packets", () => {
    const sk = new SimSock();
    sk.sndCwnd = 3;
    expect(tcpReno.ssthresh(sk)).toBe(2);
    sk.sndCwnd = 1;
    expect(tcpReno.ssthresh(sk)).toBe(2);
  });

  it("halves cwnd on a loss and grows by one packet per RTT afterwards", () => {
    const sim = new CcSim(tcpReno, { sock: { sndCwnd: 80, sndSsthresh: 80 } });
    sim.run(4, { lossAt: [1] });
    expect(sim.history.map((r) => [r.cwnd, r.ssthresh])).toEqual([
      [81, 80],
      [40, 40],
      [41, 40],
      [42, 40],
    ]);
  });

  it("leaves slow start at the first loss", () => {
    const sim = new CcSim(tcpReno).run(3, { lossAt: [2] });
    expect(sim.history[1]!.ssthresh).toBe(TCP_INFINITE_SSTHRESH);
    expect(sim.sk.sndSsthresh).toBe(20);
    expect(sim.sk.sndCwnd).toBe(20);
  });

  it("restores the window from before the reduction when it is undone", () => {
    const sim = new CcSim(tcpReno, { sock: { sndCwnd: 80, sndSsthresh: 80 } });
    sim.round({ loss: true });
    expect(sim.sk.sndCwnd).toBe(40);
    sim.undo();
    expect(sim.sk.sndCwnd).toBe(80);
  });

  it("keeps the current window on undo when it has grown past the one before the reduction", () => {
    const sk = new SimSock();
    sk.sndCwnd = 90;
    sk.priorCwnd = 80;
    expect(tcpReno.undoCwnd(sk)).toBe(90);
  });
});
