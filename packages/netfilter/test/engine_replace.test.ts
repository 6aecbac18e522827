import diagnostics_channel from "node:diagnostics_channel";
import { NF_INET_LOCAL_IN, NF_INET_PRE_ROUTING, NFPROTO_IPV4 } from "@skbuff/core";
import { udpDatagram } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { NFT_LOG_CHANNEL } from "../src/log.js";
import { NftSyntaxError } from "../src/nft/errors.js";
import { type Fw, firewall, inputChain } from "./engine_helpers.js";

let fw: Fw;
afterEach(async () => {
  await fw?.h.close();
});

const udp = (dport: number) => udpDatagram({ sport: 5000, dport, payload: "x" });

/** Generation `g`: a pair of rules that only accept together (set the mark, then match it). */
const generation = (g: number) =>
  inputChain(`\t\tlog prefix "gen${g} " meta mark set ${g}\n\t\tmeta mark ${g} accept`);

describe("replacing the ruleset", () => {
  it("puts the new rules in force", async () => {
    fw = await firewall(inputChain("udp dport 1 accept"));
    fw.rs.replace(inputChain("udp dport 2 accept"));
    expect(fw.send({ inner: udp(1) })).toBe("drop");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
  });

  it("refuses a bad replacement as a whole and keeps the old rules working", async () => {
    fw = await firewall(inputChain("udp dport 1 accept"));
    const listed = fw.rs.list();
    expect(() =>
      fw.rs.replace(inputChain("udp dport 2 accept\n\t\tudp dport 99999 accept"), {
        file: "new.nft",
      }),
    ).toThrow(NftSyntaxError);
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("drop");
    expect(fw.rs.list()).toBe(listed);
  });

  it("registers hooks for the new base chains and unregisters those of the old", async () => {
    fw = await firewall(inputChain("accept"));
    const nf = fw.h.stack.nf;
    const ours = (hook: number) => nf.list(NFPROTO_IPV4, hook).length;
    const before = [ours(NF_INET_PRE_ROUTING), ours(NF_INET_LOCAL_IN)];
    fw.rs.replace(
      "table ip t { chain pre { type filter hook prerouting priority raw; policy accept; } }",
    );
    expect([ours(NF_INET_PRE_ROUTING), ours(NF_INET_LOCAL_IN)]).toEqual([
      before[0]! + 1,
      before[1]! - 1,
    ]);
    fw.rs.flush();
    expect(ours(NF_INET_PRE_ROUTING)).toBe(before[0]);
    expect(fw.rs.list()).toBe("");
  });

  it("never judges a packet by half of each ruleset, under traffic", async () => {
    fw = await firewall(generation(0));
    for (let g = 1; g <= 50; g++) {
      expect(fw.send({ inner: udp(g) })).toBe("accept");
      fw.rs.replace(generation(g));
      expect(fw.send({ inner: udp(g) })).toBe("accept");
    }
  });

  it("finishes a packet with the ruleset it started with when replaced in the middle", async () => {
    fw = await firewall(generation(1));
    const listener = (m: unknown) => {
      if ((m as { prefix: string }).prefix === "gen1 ") fw.rs.replace(generation(2));
    };
    diagnostics_channel.subscribe(NFT_LOG_CHANNEL, listener);
    try {
      expect(fw.send({ inner: udp(1) })).toBe("accept");
    } finally {
      diagnostics_channel.unsubscribe(NFT_LOG_CHANNEL, listener);
    }
    expect(fw.rs.recentLog().at(-1)).toMatch(/^gen1 /);
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.rs.recentLog().at(-1)).toMatch(/^gen2 /);
  });

  it("stops judging packets once closed", async () => {
    fw = await firewall(inputChain("drop"));
    fw.rs.close();
    expect(fw.send({ inner: udp(1) })).toBe("accept");
  });
});
