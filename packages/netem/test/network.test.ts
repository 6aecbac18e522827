/** netem on the links of a topology, between stacks running IPv4 and ICMP. */
import { fileURLToPath } from "node:url";
import {
  createNetwork,
  type LinkSpec,
  loadNetwork,
  loadStack,
  type Network,
  VirtualClock,
} from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { veth } from "@skbuff/veth";
import { afterEach, describe, expect, it } from "vitest";
import { netem, netemOf } from "../src/index.js";

const networks: Network[] = [];

afterEach(async () => {
  for (const n of networks.splice(0)) await n.close();
});

/** Hosts a (192.0.2.1) and b (192.0.2.2) joined by one link with these netem settings. */
async function pair(linkNetem: LinkSpec["netem"]): Promise<Network> {
  const net = await createNetwork({
    plugins: [veth(), netem(), ipv4(), icmp()],
    hosts: {
      a: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }] },
      b: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.2/24" }] },
    },
    links: [{ ends: ["a:eth0", "b:eth0"], ...(linkNetem ? { netem: linkNetem } : {}) }],
    clock: new VirtualClock(),
  });
  networks.push(net);
  return net;
}

describe("a link with netem", () => {
  it("delays both directions, so a ping takes twice the delay", async () => {
    const net = await pair({ delay: "5ms", loss: "0%" });
    const reply = await net.hosts.a!.ping("192.0.2.2");
    expect(reply.rttMs).toBe(10);
  });

  it("puts a netem qdisc on each end", async () => {
    const net = await pair({ delay: "5ms" });
    for (const host of ["a", "b"]) {
      expect(netemOf(net.hosts[host]!.getDevice("eth0")!)?.config.delay).toBe(5);
    }
  });

  it("counts each packet of a ping on the end that sent it", async () => {
    const net = await pair({ delay: "5ms" });
    await net.hosts.a!.ping("192.0.2.2");
    expect(netemOf(net.hosts.a!.getDevice("eth0")!)?.netemStats.sent).toBe(1);
    expect(netemOf(net.hosts.b!.getDevice("eth0")!)?.netemStats.sent).toBe(1);
  });

  it("makes a ping fail when every packet is corrupted, as the receiver drops them", async () => {
    const net = await pair({ corrupt: "100%" });
    await expect(net.hosts.a!.ping("192.0.2.2", { timeoutMs: 1000 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    // The flipped bit is in the IP header or in the ICMP message: either checksum fails (or the
    // header makes no sense any more).
    const reasons = Object.keys(net.hosts.b!.dropReasons());
    expect(reasons.length).toBeGreaterThan(0);
    for (const r of reasons) expect(r).toMatch(/^(IP_CSUM|ICMP_CSUM|IP_INHDR|PKT_TOO_SMALL)$/);
    expect(netemOf(net.hosts.a!.getDevice("eth0")!)?.netemStats.corrupted).toBe(1);
  });

  it("makes a ping fail when every packet is lost", async () => {
    const net = await pair({ loss: "100%" });
    await expect(net.hosts.a!.ping("192.0.2.2", { timeoutMs: 1000 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    expect(net.hosts.a!.dropReasons().QDISC_DROP).toBe(1);
  });

  it("leaves no timer behind when the network closes", async () => {
    const net = await pair({ delay: "50ms" });
    const pending = net.hosts.a!.ping("192.0.2.2").catch(() => undefined);
    await net.close();
    await pending;
    for (const host of Object.values(net.hosts)) expect(host.timerCount).toBe(0);
  });

  it("refuses bad settings with a ConfigError that names the setting", async () => {
    await expect(pair({ delay: "5 parsecs" })).rejects.toMatchObject({
      code: "ERR_SKB_CONFIG",
      path: expect.stringContaining("delay"),
    });
  });
});

describe("a config file", () => {
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

  it("puts netem on a link, as a network file says", async () => {
    const net = await loadNetwork(fixture("network.yaml"));
    networks.push(net);
    const reply = await net.hosts.a!.ping("192.0.2.2");
    expect(reply.rttMs).toBe(10);
  });

  it("attaches netem to a device, as the plugin's options in a stack file say", async () => {
    const stack = await loadStack(fixture("stack.yaml"));
    try {
      const q = netemOf(stack.getDevice("eth0")!);
      expect(q?.config).toMatchObject({
        delay: 10,
        jitter: 2,
        loss: { model: "random", probability: 0.01 },
      });
    } finally {
      await stack.close();
    }
  });
});
