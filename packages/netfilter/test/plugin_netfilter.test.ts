import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError, createStack, loadStack } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  code,
  createHarness,
  echoId,
  expectIpv4,
  icmp as icmpCheck,
  icmpEcho,
  threeStacks,
  type,
  udpDatagram,
} from "@skbuff/testing";
import { describe, expect, it } from "vitest";
import defaultExport, {
  NETFILTER_PLUGIN,
  NFT_RULESET,
  netfilter,
  type Ruleset,
  rulesetOf,
} from "../src/index.js";
import { NftSyntaxError } from "../src/nft/errors.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/firewall.nft", import.meta.url));
const HERE = dirname(fileURLToPath(import.meta.url));

const harness = (plugin: ReturnType<typeof netfilter>) =>
  createHarness({ plugins: [ipv4(), icmp(), plugin] });

describe("the netfilter plugin", () => {
  it("is named skbuff:netfilter, requires ipv4 and is the default export", () => {
    const p = netfilter();
    expect([p.name, p.requires]).toEqual([NETFILTER_PLUGIN, ["skbuff:ipv4"]]);
    expect(NETFILTER_PLUGIN).toBe("skbuff:netfilter");
    expect(defaultExport).toBe(netfilter);
  });

  it("loads a ruleset file and filters with it, conntrack included", async () => {
    const h = await harness(netfilter({ ruleset: FIXTURE }));
    h.inject({ inner: icmpEcho({ id: 5, seq: 1 }) });
    expectIpv4(h.nextPacket(), icmpCheck(type(0), echoId(5)));
    h.inject({ src: "203.0.113.9", inner: icmpEcho({ id: 6, seq: 1 }) });
    expect(h.drops().NETFILTER_DROP).toBe(1);
    h.inject({ inner: udpDatagram({ sport: 1000, dport: 9 }) });
    expectIpv4(h.nextPacket(), icmpCheck(type(3), code(3)));
    expect(h.drops().NETFILTER_REJECT).toBe(1);
    await h.close();
  });

  it("resolves a relative ruleset path from the baseDir it is given", async () => {
    const h = await harness(netfilter({ ruleset: "fixtures/firewall.nft" }, { baseDir: HERE }));
    expect(rulesetOf(h.stack).list()).toContain("table inet filter {");
    await h.close();
  });

  it("takes nft text as the ruleset", async () => {
    const h = await harness(
      netfilter({
        ruleset: "table ip t { chain c { type filter hook input priority 0; policy drop; } }",
      }),
    );
    h.inject({ inner: icmpEcho({ id: 1, seq: 1 }) });
    expect(h.drops().NETFILTER_DROP).toBe(1);
    await h.close();
  });

  it("gives run-time control of the ruleset under NFT_RULESET", async () => {
    const h = await harness(netfilter());
    const rs = h.stack.container.resolve<Ruleset>(NFT_RULESET);
    expect(rulesetOf(h.stack)).toBe(rs);
    rs.replace("table ip t { chain c { type filter hook input priority 0; policy drop; } }");
    h.inject({ inner: icmpEcho({ id: 1, seq: 1 }) });
    expect(h.pending).toBe(0);
    rs.flush();
    h.inject({ inner: icmpEcho({ id: 1, seq: 2 }) });
    expect(h.pending).toBe(1);
    await h.close();
  });

  it("fails the stack's creation on a bad ruleset, with file, line, column and caret", async () => {
    const error = await harness(
      netfilter({ ruleset: "table ip t {\n\tchain c {\n\t\ttcp dport 99999 accept\n\t}\n}" }),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NftSyntaxError);
    expect((error as Error).message).toBe(
      "<ruleset>:3:13: error: 99999 is out of range (a port from 0 to 65535, or a range like 1024-65535)\n\t\ttcp dport 99999 accept\n\t\t          ^^^^^",
    );
  });

  it("fails the stack's creation when the ruleset file cannot be read", async () => {
    const error = await harness(netfilter({ ruleset: "/nonexistent/fw.nft" })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NftSyntaxError);
    expect((error as Error).message).toMatch(/cannot read the ruleset file \/nonexistent\/fw\.nft/);
  });

  it("refuses unknown options", () => {
    expect(() => netfilter({ rules: "x" } as never)).toThrow(ConfigError);
  });

  it("leaves conntrack out when told, so ct state rules are refused", async () => {
    const error = await harness(
      netfilter({
        conntrack: false,
        ruleset:
          "table ip t { chain c { type filter hook input priority 0; ct state new accept } }",
      }),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/ct state needs the conntrack part of netfilter\(\)/);
  });

  it("names the plugin to add when a stack has no ruleset", async () => {
    const h = await createHarness({ plugins: [ipv4()] });
    expect(() => rulesetOf(h.stack)).toThrow(/add the netfilter\(\) plugin/);
    await h.close();
  });

  it("is loaded from a config file with its ruleset in the options", async () => {
    const stack = await loadStack(fileURLToPath(new URL("./fixtures/stack.yaml", import.meta.url)));
    try {
      expect(rulesetOf(stack).list()).toContain(
        "ip saddr 127.0.0.0/8 icmp type { echo-reply, echo-request } accept",
      );
    } finally {
      await stack.close();
    }
  });

  it("needs the ipv4 plugin", async () => {
    await expect(createStack({ plugins: [netfilter()] })).rejects.toThrow(
      "The dependency 'skbuff:ipv4' of plugin 'skbuff:netfilter' is not registered",
    );
  });
});

describe("a router's forward chain", () => {
  const FORWARD = (rules: string) => `table ip f {
	chain fwd {
		type filter hook forward priority filter; policy drop;
		ct state established,related accept
${rules}
	}
}`;

  it("forwards new connections its rules accept and their replies by ct state", async () => {
    const t = await threeStacks({ plugins: [ipv4(), icmp(), netfilter()] });
    rulesetOf(t.router).replace(FORWARD("\t\tip saddr 192.0.2.0/24 icmp type echo-request accept"));
    await expect(t.a.ping("198.51.100.1", { timeoutMs: 1000 })).resolves.toMatchObject({
      seq: expect.any(Number),
    });
    const counters = rulesetOf(t.router).counters();
    expect(counters.map((c) => c.packets)).toEqual([1, 1]);
    await t.close();
  });

  it("drops what its policy drops", async () => {
    const t = await threeStacks({ plugins: [ipv4(), icmp(), netfilter()] });
    rulesetOf(t.router).replace(FORWARD(""));
    await expect(t.a.ping("198.51.100.1", { timeoutMs: 1000 })).rejects.toThrow();
    expect(t.router.dropReasons().NETFILTER_DROP).toBe(1);
    await t.close();
  });
});
