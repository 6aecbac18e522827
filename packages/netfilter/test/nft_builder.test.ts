import { describe, expect, it } from "vitest";
import {
  accept,
  counter,
  dnat,
  drop,
  goto,
  jump,
  limit,
  log,
  masquerade,
  match,
  not,
  queue,
  reject,
  ret,
  ruleset,
  setMark,
  snat,
  table,
} from "../src/builder.js";
import { checkRuleset } from "../src/nft/check.js";
import { NftSyntaxError } from "../src/nft/errors.js";
import { formatRuleset } from "../src/nft/format.js";
import { parseRuleset } from "../src/nft/parser.js";

describe("the TypeScript builder", () => {
  it("builds the same ruleset as the nft text", () => {
    const built = ruleset(
      table("inet", "filter")
        .set("blocked", {
          type: "ipv4_addr",
          interval: true,
          elements: ["203.0.113.0/24", "198.51.100.7"],
        })
        .chain("input", { type: "filter", hook: "input", priority: "filter", policy: "drop" })
        .rule(match.iifname("lo"), accept())
        .rule(match.ip.saddr("@blocked"), counter(), drop())
        .rule(match.ct.state("established", "related"), accept())
        .rule(match.ct.state("invalid"), drop())
        .rule(match.icmp.type("echo-request"), limit(10, "second", 5), accept())
        .rule(match.tcp.dport([22, 80, 443]), counter(), accept())
        .rule(match.udp.dport(53), accept())
        .rule(log("input drop: "), reject("port-unreachable"))
        .chain("forward", { type: "filter", hook: "forward", policy: "drop" })
        .chain("output", { type: "filter", hook: "output" }),
    );
    const text = formatRuleset(parseRuleset(formatRuleset(built)));
    expect(built).toEqual(parseRuleset(text));
  });

  it("builds every statement and negated matches", () => {
    const built = ruleset(
      table("ip", "t")
        .chain("c")
        .rule(
          not(match.tcp.sport("1-1023")),
          match.tcp.flags("syn"),
          setMark(42),
          queue(3, { bypass: true }),
        )
        .rule(match.tcp.flags.masked(["syn", "ack"], ["syn"]), match.meta.mark(1), jump("d"))
        .rule(match.meta.length("0-100"), match.oifname("eth*"), goto("d"))
        .rule(match.ip.protocol("tcp"), reject("tcp reset"))
        .chain("d")
        .rule(match.ip.daddr("10.0.0.0/8"), ret())
        .chain("n", { type: "nat", hook: "postrouting", priority: 100 })
        .rule(match.ip.saddr("10.0.0.0/8"), masquerade(":1000-2000"))
        .rule(snat("198.51.100.1"))
        .chain("p", { type: "nat", hook: "prerouting", priority: "dstnat" })
        .rule(dnat("10.0.0.2:80")),
    );
    expect(() => checkRuleset(built, "<built>", null)).not.toThrow();
    expect(formatRuleset(built)).toBe(`table ip t {
	chain c {
		tcp sport != 1-1023 tcp flags syn meta mark set 0x0000002a queue num 3 bypass
		tcp flags & (syn | ack) == syn meta mark 0x00000001 jump d
		meta length 0-100 oifname "eth*" goto d
		ip protocol tcp reject with tcp reset
	}

	chain d {
		ip daddr 10.0.0.0/8 return
	}

	chain n {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.0.0.0/8 masquerade to :1000-2000
		snat to 198.51.100.1
	}

	chain p {
		type nat hook prerouting priority dstnat; policy accept;
		dnat to 10.0.0.2:80
	}
}
`);
  });

  it("refuses a bad value with the same message as the parser", () => {
    expect(() => match.tcp.dport(70000)).toThrow(NftSyntaxError);
    expect(() => match.tcp.dport(70000)).toThrow(/70000 is out of range/);
  });

  it("produces rulesets the checks refuse like parsed ones, without a position", () => {
    const built = ruleset(table("ip", "t").chain("c").rule(jump("nowhere")));
    expect(() => checkRuleset(built, "<built>", null)).toThrow(
      "<built>: error: jump to chain nowhere, which does not exist",
    );
  });
});
