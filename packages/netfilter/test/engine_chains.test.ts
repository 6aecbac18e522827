import diagnostics_channel from "node:diagnostics_channel";
import { tcpSegment, udpDatagram } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { NFT_LOG_CHANNEL, type NftLogMessage } from "../src/log.js";
import { type Fw, firewall } from "./engine_helpers.js";

let fw: Fw;
afterEach(async () => {
  await fw?.h.close();
});

const udp = (dport: number) => udpDatagram({ sport: 5000, dport, payload: "x" });

const withChains = (input: string, others: string, policy = "drop") => `table ip t {
	chain input {
		type filter hook input priority filter; policy ${policy};
${input}
	}
${others}
}`;

describe("chain traversal", () => {
  it("comes back from a jump to the rule after the jump", async () => {
    fw = await firewall(
      withChains(
        "\t\tjump sub\n\t\tudp dport 2 accept",
        "\tchain sub {\n\t\tudp dport 1 accept\n\t}",
      ),
    );
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
    expect(fw.send({ inner: udp(3) })).toBe("drop");
  });

  it("does not come back from a goto: the end of the target applies the base policy", async () => {
    fw = await firewall(
      withChains(
        "\t\tgoto sub\n\t\tudp dport 2 drop",
        "\tchain sub {\n\t\tudp dport 1 drop\n\t}",
        "accept",
      ),
    );
    expect(fw.send({ inner: udp(1) })).toBe("drop");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
  });

  it("returns from a jumped-to chain at return", async () => {
    fw = await firewall(
      withChains(
        "\t\tjump sub\n\t\taccept",
        "\tchain sub {\n\t\tudp dport 1 return\n\t\tdrop\n\t}",
      ),
    );
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("drop");
  });

  it("applies the base chain's policy at a return in the base chain", async () => {
    fw = await firewall(withChains("\t\tudp dport 1 return\n\t\taccept", ""));
    expect(fw.send({ inner: udp(1) })).toBe("drop");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
  });

  it("follows nested jumps back up the stack", async () => {
    fw = await firewall(
      withChains(
        "\t\tjump a\n\t\tudp dport 3 accept",
        "\tchain a {\n\t\tjump b\n\t\tudp dport 2 accept\n\t}\n\tchain b {\n\t\tudp dport 1 accept\n\t}",
      ),
    );
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
    expect(fw.send({ inner: udp(3) })).toBe("accept");
    expect(fw.send({ inner: udp(4) })).toBe("drop");
  });

  it("accepts by policy when no rule decides in an accept chain", async () => {
    fw = await firewall(withChains("\t\tudp dport 1 drop", "", "accept"));
    expect(fw.send({ inner: udp(2) })).toBe("accept");
  });

  it("drops in a later base chain even when an earlier one accepted", async () => {
    fw = await firewall(`table ip a {
	chain in {
		type filter hook input priority -10; policy accept;
		accept
	}
}
table ip b {
	chain in {
		type filter hook input priority 10; policy accept;
		udp dport 1 drop
	}
}`);
    expect(fw.send({ inner: udp(1) })).toBe("drop");
    expect(fw.send({ inner: udp(2) })).toBe("accept");
  });

  it("runs base chains in an inet table too", async () => {
    fw = await firewall(
      "table inet f { chain in { type filter hook input priority 0; policy drop; udp dport 1 accept } }",
    );
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("drop");
  });
});

describe("counters", () => {
  it("counts packets and bytes per rule that matched", async () => {
    fw = await firewall(withChains("\t\tudp dport 1 accept\n\t\tudp dport 2 accept", ""));
    fw.send({ inner: udp(1) });
    fw.send({ inner: udp(1) });
    fw.send({ inner: udp(3) });
    const c = fw.rs.counters();
    expect(c.map((r) => [r.rule, r.packets, r.bytes])).toEqual([
      ["udp dport 1 accept", 2, 2 * 29],
      ["udp dport 2 accept", 0, 0],
    ]);
    expect(c[0]).toMatchObject({ family: "ip", table: "t", chain: "input", index: 0 });
  });

  it("shows the counter statement's values in list ruleset", async () => {
    fw = await firewall(withChains("\t\tudp dport 1 counter accept", ""));
    fw.send({ inner: udp(1) });
    expect(fw.rs.list()).toContain("\t\tudp dport 1 counter packets 1 bytes 29 accept\n");
  });

  it("starts a counter from the values the ruleset gives", async () => {
    fw = await firewall(withChains("\t\tcounter packets 10 bytes 1000 accept", ""));
    fw.send({ inner: udp(1) });
    expect(fw.rs.list()).toContain("counter packets 11 bytes 1029 accept");
  });
});

describe("log", () => {
  it("publishes a kernel-style line on skbuff:nft_log and keeps it", async () => {
    fw = await firewall(withChains('\t\tlog prefix "in: " accept', ""));
    const seen: NftLogMessage[] = [];
    const listener = (m: unknown) => seen.push(m as NftLogMessage);
    diagnostics_channel.subscribe(NFT_LOG_CHANNEL, listener);
    try {
      fw.send({ inner: tcpSegment({ sport: 40000, dport: 22, flags: "S" }) });
    } finally {
      diagnostics_channel.unsubscribe(NFT_LOG_CHANNEL, listener);
    }
    const line =
      "in: IN=tst0 OUT= SRC=192.0.2.2 DST=192.0.2.1 LEN=40 TOS=0x00 PREC=0x00 TTL=64 ID=0 PROTO=TCP SPT=40000 DPT=22 SYN";
    expect(seen.map((m) => [m.line, m.prefix, m.stack])).toEqual([[line, "in: ", fw.h.stack]]);
    expect(fw.rs.recentLog()).toEqual([line]);
  });
});

describe("limit", () => {
  it("lets a burst through, then the rate, over virtual time", async () => {
    fw = await firewall(withChains("\t\tlimit rate 10/second burst 5 packets accept", ""));
    const burst = () => {
      let n = 0;
      for (let i = 0; i < 20; i++) if (fw.send({ inner: udp(1) }) === "accept") n++;
      return n;
    };
    expect(burst()).toBe(5);
    fw.h.advance(100);
    expect(burst()).toBe(1);
    fw.h.advance(250);
    expect(burst()).toBe(2);
    fw.h.advance(10_000);
    expect(burst()).toBe(5);
  });

  it("uses a burst of 5 by default and refills per minute", async () => {
    fw = await firewall(withChains("\t\tlimit rate 6/minute accept", ""));
    const results = Array.from({ length: 7 }, () => fw.send({ inner: udp(1) }));
    expect(results.filter((r) => r === "accept")).toHaveLength(5);
    fw.h.advance(9_999);
    expect(fw.send({ inner: udp(1) })).toBe("drop");
    fw.h.advance(1);
    expect(fw.send({ inner: udp(1) })).toBe("accept");
  });
});
