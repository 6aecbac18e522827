import { ConfigError } from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { type NetemTime, netem, netemOf } from "@skbuff/netem";
import { describe, expect, it } from "vitest";
import { threeStacks, twoStacks } from "../src/index.js";

const plugins = () => [ipv4(), icmpPlugin()];

describe("twoStacks", () => {
  it("joins a (192.0.2.1) and b (192.0.2.2) so that a ping gets its reply", async () => {
    const t = await twoStacks({ plugins: plugins() });
    expect(await t.a.ping("192.0.2.2")).toMatchObject({ from: "192.0.2.2", ttl: 64, rttMs: 0 });
    await t.close();
  });

  it("names both ends eth0 and shares one virtual clock", async () => {
    const t = await twoStacks({ plugins: plugins() });
    expect(t.a.getDevice("eth0")!.addresses[0]!.address).toBe("192.0.2.1");
    expect(t.b.getDevice("eth0")!.addresses[0]!.address).toBe("192.0.2.2");
    expect(t.a.clock).toBe(t.clock);
    expect(t.b.clock).toBe(t.clock);
    expect(t.net.hosts).toEqual({ a: t.a, b: t.b });
    await t.close();
  });

  it("takes other addresses", async () => {
    const t = await twoStacks({
      plugins: plugins(),
      addresses: { a: "198.51.100.1/24", b: "198.51.100.2/24" },
    });
    expect((await t.b.ping("198.51.100.1")).from).toBe("198.51.100.1");
    await t.close();
  });

  it("delays both directions with netem: 5 ms each way is a 10 ms round trip", async () => {
    const t = await twoStacks({ plugins: plugins(), netem: { delay: "5ms" } });
    expect((await t.a.ping("192.0.2.2")).rttMs).toBe(10);
    expect(netemOf(t.a.getDevice("eth0")!)).not.toBeNull();
    expect(netemOf(t.b.getDevice("eth0")!)).not.toBeNull();
    await t.close();
  });

  it("takes netem settings as tc spells them", async () => {
    const t = await twoStacks({ plugins: plugins(), netem: "delay 20ms" });
    expect((await t.a.ping("192.0.2.2")).rttMs).toBe(40);
    await t.close();
  });

  it("uses the netem() plugin it is given instead of adding one", async () => {
    const t = await twoStacks({ plugins: [...plugins(), netem()], netem: { delay: "1ms" } });
    expect(t.a.plugins.filter((p) => p.name === "skbuff:netem")).toHaveLength(1);
    await t.close();
  });

  it("leaves netem out when no link asks for it", async () => {
    const t = await twoStacks({ plugins: plugins() });
    expect(t.a.plugins.map((p) => p.name)).not.toContain("skbuff:netem");
    await t.close();
  });

  it("loses every packet with 100% loss, so the ping times out", async () => {
    const t = await twoStacks({ plugins: plugins(), netem: { loss: "100%" } });
    await expect(t.a.ping("192.0.2.2", { timeoutMs: 500 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    await t.close();
  });

  it("refuses bad netem settings, naming the option that holds them", async () => {
    const bad = twoStacks({ plugins: plugins(), netem: "delay soon" });
    await expect(bad).rejects.toThrow(ConfigError);
    await expect(bad).rejects.toThrow(/^netem\.tc\[1\]: got "soon", expected a time/);
  });

  it("names the link of bad netem settings in a three-stack topology", async () => {
    // Typed code cannot write this; a value read from a file can hold anything.
    const bad = threeStacks({
      plugins: plugins(),
      netem: { right: { delay: "soon" as NetemTime } },
    });
    await expect(bad).rejects.toThrow(/^netem\.right\.delay: got "soon", expected a time/);
  });
});

describe("threeStacks", () => {
  it("routes a ping from a to b through the router, which decrements the TTL", async () => {
    const t = await threeStacks({ plugins: plugins() });
    expect(await t.a.ping("198.51.100.1")).toMatchObject({ from: "198.51.100.1", ttl: 63 });
    await t.close();
  });

  it("makes the router forward and the ends route through it", async () => {
    const t = await threeStacks({ plugins: plugins() });
    expect(t.router.sysctl.get("net.ipv4.ip_forward")).toBe(1);
    expect(t.a.sysctl.get("net.ipv4.ip_forward")).toBe(0);
    expect((await t.b.ping("192.0.2.1")).ttl).toBe(63);
    expect(t.router.counters()).toMatchObject({ IpForwDatagrams: 2 });
    await t.close();
  });

  it("puts netem on each link separately", async () => {
    const t = await threeStacks({
      plugins: plugins(),
      netem: { left: { delay: "5ms" }, right: "delay 20ms" },
    });
    expect((await t.a.ping("198.51.100.1")).rttMs).toBe(50);
    expect((await t.a.ping("192.0.2.254")).rttMs).toBe(10);
    await t.close();
  });

  it("delays only the link that asks for it", async () => {
    const t = await threeStacks({ plugins: plugins(), netem: { right: { delay: "3ms" } } });
    expect((await t.a.ping("192.0.2.254")).rttMs).toBe(0);
    expect((await t.a.ping("198.51.100.1")).rttMs).toBe(6);
    await t.close();
  });
});
