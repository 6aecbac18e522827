import type { PluginContext } from "@skbuff/core";
import { TCP_CONGESTION_OPS } from "@skbuff/tcp";
import { describe, expect, it } from "vitest";
import { scalableCc, tcpScalable } from "../src/index.js";
import { Sim, SimSock } from "./sim.js";

describe("tcpScalable (net/ipv4/tcp_scalable.c)", () => {
  it("is named scalable", () => {
    expect(tcpScalable.name).toBe("scalable");
  });

  it("doubles cwnd every RTT in slow start, up to ssthresh", () => {
    const sim = new Sim(tcpScalable, { sndSsthresh: 64 }).run(4);
    expect(sim.cwnds).toEqual([20, 40, 64, 65]);
  });

  it("adds one packet per RTT below 100 packets, like Reno", () => {
    const sim = new Sim(tcpScalable, { sndCwnd: 50, sndSsthresh: 50 }).run(3);
    expect(sim.cwnds).toEqual([51, 52, 53]);
  });

  it("adds 0.01 packet per ACK, 1% per RTT, from 100 packets up", () => {
    const sim = new Sim(tcpScalable, { sndCwnd: 1000, sndSsthresh: 1000 }).run(2);
    expect(sim.cwnds).toEqual([1010, 1020]);
  });

  it("does not grow cwnd while the sender is not cwnd-limited", () => {
    const sk = new SimSock();
    sk.sndCwnd = 1000;
    sk.sndSsthresh = 1000;
    sk.isCwndLimited = false;
    for (let i = 0; i < 500; i++) tcpScalable.congAvoid(sk, i, 1);
    expect(sk.sndCwnd).toBe(1000);
  });

  it("sets ssthresh to 0.875·cwnd on a loss", () => {
    const sim = new Sim(tcpScalable, { sndCwnd: 1000, sndSsthresh: 1000 });
    expect(sim.round(true)).toBe(875);
    expect(sim.sk.sndSsthresh).toBe(875);
  });

  it("never sets ssthresh below 2 packets", () => {
    const sk = new SimSock();
    sk.sndCwnd = 2;
    expect(tcpScalable.ssthresh(sk)).toBe(2);
  });

  it("recovers from a loss in the same number of RTTs whatever the window", () => {
    // 0.875·W back to W at 1% per RTT: ln(1/0.875)/ln(1.01) ≈ 13.4 RTTs, independent of W.
    const rttsToRecover = (w: number): number => {
      const sim = new Sim(tcpScalable, { sndCwnd: w, sndSsthresh: w });
      sim.round(true);
      let n = 0;
      while (sim.sk.sndCwnd < w) {
        sim.round();
        n++;
      }
      return n;
    };
    expect(rttsToRecover(2000)).toBe(14);
    expect(rttsToRecover(20000)).toBe(14);
  });

  it("restores the window from before the reduction when it is undone", () => {
    const sim = new Sim(tcpScalable, { sndCwnd: 1000, sndSsthresh: 1000 });
    sim.round(true);
    expect(tcpScalable.undoCwnd(sim.sk)).toBe(1000);
  });
});

describe("scalableCc(), the plugin", () => {
  it("is namespaced and requires TCP", () => {
    const plugin = scalableCc();
    expect(plugin.name).toBe("example:scalable-cc");
    expect(plugin.requires).toEqual(["skbuff:tcp"]);
  });

  it("registers the scalable table under TCP_CONGESTION_OPS", () => {
    const registered: [symbol, unknown][] = [];
    const ctx = {
      container: {
        register: (tok: symbol, provider: { useValue: unknown }) => {
          registered.push([tok, provider.useValue]);
        },
      },
    } as unknown as PluginContext;
    scalableCc().register(ctx);
    expect(registered).toEqual([[TCP_CONGESTION_OPS, tcpScalable]]);
  });
});
