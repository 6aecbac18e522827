import { fileURLToPath } from "node:url";
import { ConfigError, loadNetwork, type Network } from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import { blockEcho } from "../src/index.js";

const config = fileURLToPath(new URL("../network.yaml", import.meta.url));
const env = { ...process.env, HOOK_PLUGIN: "./src/index.ts" };

describe("example:block-echo, used from a config file", () => {
  let net: Network | undefined;
  afterEach(async () => {
    await net?.close();
    net = undefined;
  });

  it("lets echo requests from other sources through the router", async () => {
    net = await loadNetwork(config, { env });
    const reply = await net.hosts.client!.ping("198.51.100.1", { timeoutMs: 500 });
    expect(reply.from).toBe("198.51.100.1");
    expect(reply.ttl).toBe(63);
    expect(net.hosts.router!.counters().BlockEchoDropped).toBe(0);
  });

  it("drops echo requests from a blocked source and counts them", async () => {
    net = await loadNetwork(config, { env });
    await expect(
      net.hosts.client!.ping("198.51.100.1", { source: "192.0.2.99", timeoutMs: 500 }),
    ).rejects.toMatchObject({ code: "ETIMEDOUT" });
    const router = net.hosts.router!;
    expect(router.counters().BlockEchoDropped).toBe(1);
    expect(router.dropReasons().NETFILTER_DROP).toBe(1);
    expect(net.hosts.server!.counters().IcmpInEchos ?? 0).toBe(0);
  });

  it("refuses a bad source address with the option's key path", () => {
    expect(() => blockEcho({ sources: ["192.0.2.300"] })).toThrow(ConfigError);
    expect(() => blockEcho({ sources: ["192.0.2.300"] })).toThrow(/sources\[0\]/);
  });
});
