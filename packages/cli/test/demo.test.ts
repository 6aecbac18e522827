import { describe, expect, it } from "vitest";
import { runDemo } from "../src/demo.js";

describe("skb demo", () => {
  it("pings across three stacks and reports what happened to each ping", async () => {
    const lines: string[] = [];
    const r = await runDemo({ out: (l) => lines.push(l) });
    const byLabel = (to: string, pred: (d: string) => boolean) =>
      r.pings.find((p) => p.to === to && pred(p.detail));
    expect(r.pings).toHaveLength(7);
    const [lo, router, b, frag, ttl1, firewalled, noRoute] = r.pings;
    expect(lo).toMatchObject({ ok: true });
    expect(lo!.detail).toMatch(/from 127\.0\.0\.1: .*ttl=64/);
    expect(router!.detail).toMatch(/from 192\.0\.2\.254: .*ttl=64/);
    expect(b!.detail).toMatch(/from 198\.51\.100\.1: .*ttl=63/);
    expect(frag).toMatchObject({ ok: true });
    expect(frag!.detail).toMatch(/^3000 bytes/);
    expect(ttl1).toMatchObject({ ok: false });
    expect(ttl1!.detail).toMatch(/Time to live exceeded/i);
    expect(firewalled).toMatchObject({ ok: false });
    expect(firewalled!.detail).toMatch(/^ETIMEDOUT/);
    expect(noRoute).toMatchObject({ ok: false });
    expect(noRoute!.detail).toMatch(/^ENETUNREACH/);
    expect(byLabel("198.51.100.1", (d) => d.includes("ttl=63"))).toBeDefined();
  });

  it("shows the firewall's drop and the TTL expiry as drop reasons on the router", async () => {
    const r = await runDemo({ out: () => {} });
    expect(r.drops.router).toMatchObject({ NETFILTER_DROP: 1, IP_INHDR: 1, IP_INNOROUTES: 1 });
    expect(r.counters.router).toMatchObject({ IcmpOutTimeExcds: 1, IcmpOutDestUnreachs: 1 });
    expect(r.counters.router!.IpForwDatagrams).toBeGreaterThanOrEqual(4);
    expect(r.counters.a!.IpFragCreates).toBeGreaterThanOrEqual(3);
    expect(r.counters.b!.IpReasmOKs).toBeGreaterThanOrEqual(1);
  });

  it("prints the packet's path through the stack like ftrace's function_graph", async () => {
    const lines: string[] = [];
    const r = await runDemo({ out: (l) => lines.push(l) });
    expect(r.trace).toMatch(/ip_rcv\(\) \{/);
    expect(r.trace).toMatch(/ip_forward\(\) \{/);
    expect(r.trace).toMatch(/ip_local_deliver_finish\(\) \{/);
    expect(lines.join("\n")).toContain("drops, by reason");
  });
});
