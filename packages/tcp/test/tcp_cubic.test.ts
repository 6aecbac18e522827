import { describe, expect, it } from "vitest";
import { TCP_CA, TCP_INFINITE_SSTHRESH } from "../src/congestion.js";
import {
  type BictcpCa,
  CUBIC_BETA,
  CUBIC_C,
  CUBIC_DEFAULTS,
  createCubic,
  tcpCubic,
} from "../src/tcp_cubic.js";
import { CcSim, type RoundRecord, SimSock } from "./cc_sim.js";

const BETA = CUBIC_BETA / 1024;

function state(sim: CcSim): BictcpCa {
  return sim.sk.caPriv as BictcpCa;
}

/** RFC 9438 Figure 1: W_cubic(t) = C*(t-K)^3 + W_max. */
function wCubic(t: number, k: number, wMax: number): number {
  return CUBIC_C * (t - k) ** 3 + wMax;
}

/** A flow at cwnd `wMax` in congestion avoidance that has just lost a packet (fast recovery). */
function afterLossAt(wMax: number, rttUs = 100_000): CcSim {
  const sim = new CcSim(tcpCubic, { rttUs, sock: { sndCwnd: wMax, sndSsthresh: wMax } });
  sim.round({ loss: true });
  return sim;
}

/** Seconds from the CUBIC epoch start to the round's start. */
function epochTime(sim: CcSim, r: RoundRecord): number {
  return (r.startUs / 1000 - (state(sim).epochStart ?? Number.NaN)) / 1000;
}

describe("tcpCubic (net/ipv4/tcp_cubic.c, RFC 9438)", () => {
  describe("init and release", () => {
    it("creates the per-socket state in caPriv on init", () => {
      const sk = new SimSock();
      tcpCubic.init!(sk);
      const ca = sk.caPriv as BictcpCa;
      expect(ca.lastMaxCwnd).toBe(0);
      expect(ca.epochStart).toBeUndefined();
      expect(ca.found).toBe(false);
    });

    it("gives every socket its own state", () => {
      const a = new SimSock();
      const b = new SimSock();
      tcpCubic.init!(a);
      tcpCubic.init!(b);
      a.sndCwnd = 50;
      tcpCubic.ssthresh(a);
      expect((a.caPriv as BictcpCa).lastMaxCwnd).toBe(50);
      expect((b.caPriv as BictcpCa).lastMaxCwnd).toBe(0);
    });

    it("drops the per-socket state on release", () => {
      const sim = afterLossAt(100);
      sim.close();
      expect(sim.sk.caPriv).toBeNull();
    });

    it("starts from fresh state on a socket init has not run on yet, as Linux's zeroed priv", () => {
      const sk = new SimSock();
      sk.sndCwnd = 50;
      expect(tcpCubic.ssthresh(sk)).toBe(35);
      expect((sk.caPriv as BictcpCa).lastMaxCwnd).toBe(50);
    });

    it("resets the state on init", () => {
      const sim = afterLossAt(100);
      tcpCubic.init!(sim.sk);
      expect(state(sim).lastMaxCwnd).toBe(0);
    });
  });

  describe("multiplicative decrease (RFC 9438 4.6)", () => {
    it("sets ssthresh to β·cwnd with β = 717/1024", () => {
      const sk = new SimSock();
      tcpCubic.init!(sk);
      sk.sndCwnd = 1000;
      expect(tcpCubic.ssthresh(sk)).toBe(Math.floor(1000 * BETA));
      expect(tcpCubic.ssthresh(sk)).toBe(700);
    });

    it("reduces cwnd to 0.7·cwnd when fast recovery ends", () => {
      const sim = afterLossAt(100);
      expect(sim.sk.sndSsthresh).toBe(70);
      expect(sim.sk.sndCwnd).toBe(70);
    });

    it("never sets ssthresh below 2 packets", () => {
      const sk = new SimSock();
      tcpCubic.init!(sk);
      sk.sndCwnd = 2;
      expect(tcpCubic.ssthresh(sk)).toBe(2);
    });

    it("remembers the window before the reduction as W_max", () => {
      const sim = afterLossAt(100);
      expect(state(sim).lastMaxCwnd).toBe(100);
      expect(sim.sk.priorCwnd).toBe(100);
    });

    it("restores the window from before the reduction when it is undone", () => {
      const sim = afterLossAt(100);
      sim.undo();
      expect(sim.sk.sndCwnd).toBe(100);
    });
  });

  describe("window increase function (RFC 9438 4.2)", () => {
    it("computes K = cbrt(W_max·(1-β)/C) at the start of the epoch", () => {
      const sim = afterLossAt(100);
      sim.round();
      // cwnd_epoch = 70 = W_max·β, so W_max - cwnd_epoch = W_max·(1-β) = 30: K = cbrt(75) s.
      expect(state(sim).bicK).toBeCloseTo(Math.cbrt((100 * (1 - 0.7)) / CUBIC_C), 9);
      expect(state(sim).bicK).toBeCloseTo(4.2172, 4);
    });

    it("keeps cwnd between W_cubic(t) and the target W_cubic(t + 2·RTT) every round", () => {
      const sim = afterLossAt(100);
      sim.run(90);
      const { bicK: k } = state(sim);
      const rtt = sim.rttUs / 1e6;
      // The ACKs of a round that starts at t arrive at t + RTT, and CUBIC aims one RTT further
      // (target = W_cubic(t + RTT) at the ACK); windows are whole packets, so allow one more.
      for (const r of sim.history.slice(2)) {
        const t = epochTime(sim, r);
        expect(r.cwnd).toBeGreaterThanOrEqual(Math.floor(wCubic(t, k, 100)) - 1);
        expect(r.cwnd).toBeLessThanOrEqual(Math.ceil(wCubic(t + 2 * rtt, k, 100)) + 1);
      }
    });

    it("is back at W_max when t reaches K", () => {
      const sim = afterLossAt(100);
      sim.run(60);
      const { bicK: k } = state(sim);
      const rtt = sim.rttUs / 1e6;
      const atK = sim.history
        .slice(1)
        .reduce((a, b) =>
          Math.abs(epochTime(sim, b) - k) < Math.abs(epochTime(sim, a) - k) ? b : a,
        );
      // Tolerance from Figure 1: the curve moves C·(2·RTT)^3 (< 0.01 packet) around K, plus the
      // one packet of integer windows.
      const tolerance = 1 + CUBIC_C * (2 * rtt) ** 3;
      expect(Math.abs(epochTime(sim, atK) - k)).toBeLessThanOrEqual(rtt / 2);
      expect(Math.abs(atK.cwnd - 100)).toBeLessThanOrEqual(tolerance);
    });

    it("grows fast after the reduction, flattens near W_max, then accelerates past it", () => {
      const sim = afterLossAt(100);
      sim.run(90);
      const k = state(sim).bicK;
      const cwndAt = (t: number): number =>
        sim.history
          .slice(1)
          .reduce((a, b) =>
            Math.abs(epochTime(sim, b) - t) < Math.abs(epochTime(sim, a) - t) ? b : a,
          ).cwnd;
      const concave = cwndAt(1) - cwndAt(0);
      const plateau = cwndAt(k + 0.5) - cwndAt(k - 0.5);
      const convex = cwndAt(k + 4) - cwndAt(k + 3);
      expect(concave).toBeGreaterThan(10);
      expect(plateau).toBeLessThanOrEqual(1);
      expect(convex).toBeGreaterThan(10);
      expect(cwndAt(k + 4)).toBeGreaterThan(120);
    });

    it("does not count idle time as CUBIC time", () => {
      const idle = afterLossAt(100);
      const busy = afterLossAt(100);
      idle.run(10);
      busy.run(10);
      const before = state(idle).epochStart!;
      idle.idle(5_000_000);
      expect(state(idle).epochStart).toBe(before + 5000);
      idle.run(20);
      busy.run(20);
      expect(idle.history.map((r) => r.cwnd)).toEqual(busy.history.map((r) => r.cwnd));
    });
  });

  describe("fast convergence (RFC 9438 4.7)", () => {
    it("lowers W_max to cwnd·(1+β)/2 when the new maximum is below the old one", () => {
      const sim = afterLossAt(100);
      sim.sk.sndCwnd = 80;
      sim.round({ loss: true });
      expect(state(sim).lastMaxCwnd).toBe(Math.floor((80 * (1 + BETA)) / 2));
      expect(state(sim).lastMaxCwnd).toBe(68);
    });

    it("takes cwnd as W_max when it is at or above the old maximum", () => {
      const sim = afterLossAt(100);
      sim.sk.sndCwnd = 120;
      sim.round({ loss: true });
      expect(state(sim).lastMaxCwnd).toBe(120);
    });

    it("keeps W_max = cwnd when fast convergence is off", () => {
      const ops = createCubic({ fastConvergence: false });
      const sim = new CcSim(ops, { sock: { sndCwnd: 100, sndSsthresh: 100 } });
      sim.round({ loss: true });
      sim.sk.sndCwnd = 80;
      sim.round({ loss: true });
      expect(state(sim).lastMaxCwnd).toBe(80);
    });
  });

  describe("Reno-friendly region (RFC 9438 4.3)", () => {
    it("follows the Reno estimate rather than the cubic curve at a short RTT and small window", () => {
      const sim = afterLossAt(20, 10_000);
      sim.run(100);
      const ca = state(sim);
      const t = epochTime(sim, sim.history.at(-1)!);
      // The curve climbs back to 20 only after K = cbrt(6/0.4) ≈ 2.5 s; a Reno flow with
      // α = 3(1-β)/(1+β) ≈ 0.53 packets per RTT gains ~50 packets in these 100 RTTs.
      expect(wCubic(t, ca.bicK, 20)).toBeLessThan(20);
      expect(sim.sk.sndCwnd).toBeGreaterThan(14 + 0.45 * 100);
      expect(Math.abs(sim.sk.sndCwnd - ca.tcpCwnd)).toBeLessThanOrEqual(3);
    });

    it("lets the cubic curve lead at a long RTT", () => {
      const sim = afterLossAt(100);
      sim.run(30);
      const ca = state(sim);
      expect(sim.sk.sndCwnd).toBeGreaterThan(ca.tcpCwnd + 10);
    });
  });

  describe("HyStart", () => {
    it("leaves slow start without a loss when the RTT rises by more than the threshold", () => {
      const sim = new CcSim(tcpCubic, { rttUs: 50_000 });
      sim.run(3);
      expect(sim.sk.sndCwnd).toBe(80);
      expect(sim.sk.sndSsthresh).toBe(TCP_INFINITE_SSTHRESH);
      // delay_min 50 ms: threshold clamp(50/8, 4, 16) = 6.25 ms; 80 ms is well above.
      sim.round({ rttUs: 80_000 });
      // Found on the round's 9th sample (HYSTART_MIN_SAMPLES = 8 first): cwnd was 80 + 8.
      expect(state(sim).found).toBe(true);
      expect(sim.sk.sndSsthresh).toBe(88);
      expect(sim.history.every((r) => !r.loss)).toBe(true);
    });

    it("stays in slow start when the RTT rises by less than the threshold", () => {
      const sim = new CcSim(tcpCubic, { rttUs: 50_000 });
      sim.run(3);
      sim.run(2, { rttUs: 56_000 });
      expect(state(sim).found).toBe(false);
      expect(sim.sk.sndSsthresh).toBe(TCP_INFINITE_SSTHRESH);
      expect(sim.sk.sndCwnd).toBe(320);
    });

    it("leaves slow start when an ACK train lasts longer than half the minimum RTT", () => {
      // A bottleneck spacing ACKs 1 ms apart: rounds of 10, 20 and 40 ACKs last at most 39 ms
      // (< delay_min/2 = 50 ms); the round of 80 lasts 79 ms.
      const sim = new CcSim(tcpCubic, { rttUs: 100_000, ackSpacingUs: 1000 });
      sim.run(3);
      expect(sim.sk.sndCwnd).toBe(80);
      expect(sim.sk.sndSsthresh).toBe(TCP_INFINITE_SSTHRESH);
      sim.round();
      // The 52nd ACK is 51 ms into the train; cwnd had grown by 51 by then.
      expect(sim.sk.sndSsthresh).toBe(80 + 51);
    });

    it("does not act below hystart_low_window", () => {
      const sim = new CcSim(tcpCubic, { rttUs: 50_000, sock: { sndCwnd: 4 } });
      sim.round();
      sim.round({ rttUs: 200_000 });
      expect(sim.sk.sndCwnd).toBe(16);
      expect(sim.sk.sndSsthresh).toBe(TCP_INFINITE_SSTHRESH);
      expect(CUBIC_DEFAULTS.hystartLowWindow).toBe(16);
    });

    it("can be turned off", () => {
      const sim = new CcSim(createCubic({ hystart: false }), { rttUs: 50_000 });
      sim.run(3);
      sim.round({ rttUs: 80_000 });
      expect(sim.sk.sndSsthresh).toBe(TCP_INFINITE_SSTHRESH);
      expect(sim.sk.sndCwnd).toBe(160);
    });
  });

  describe("retransmission timeout", () => {
    it("forgets W_max and HyStart's verdict on entering Loss", () => {
      const sim = afterLossAt(100);
      sim.run(3);
      sim.setState(TCP_CA.Loss);
      expect(state(sim).lastMaxCwnd).toBe(0);
      expect(state(sim).epochStart).toBeUndefined();
      expect(state(sim).found).toBe(false);
    });
  });
});
