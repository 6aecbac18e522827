import { readFileSync } from "node:fs";
import { fc, test } from "@fast-check/vitest";
import { describe, expect, it } from "vitest";
import type { RulesetAst } from "../src/nft/ast.js";
import { NftSyntaxError } from "../src/nft/errors.js";
import { formatRuleset } from "../src/nft/format.js";
import { parseRule, parseRuleset } from "../src/nft/parser.js";
import { sortElems } from "../src/nft/values.js";

const rule = (text: string) => parseRule(text).exprs;

describe("the nft parser", () => {
  it("parses a table with a base chain, its type, hook, priority and policy", () => {
    const ast = parseRuleset(
      "table ip filter {\n chain input {\n  type filter hook input priority 0; policy drop;\n }\n}\n",
    );
    expect(ast).toEqual({
      tables: [
        {
          family: "ip",
          name: "filter",
          sets: [],
          chains: [
            {
              name: "input",
              base: { type: "filter", hook: "input", priority: 0, policy: "drop" },
              rules: [],
            },
          ],
        },
      ],
    });
  });

  it("gives a base chain without a policy the accept policy", () => {
    const ast = parseRuleset("table inet t { chain c { type filter hook output priority 0; } }");
    expect(ast.tables[0]!.chains[0]!.base?.policy).toBe("accept");
  });

  it("resolves priority names with offsets to nft's values", () => {
    const prio = (p: string) =>
      parseRuleset(`table ip t { chain c { type filter hook prerouting priority ${p}; } }`)
        .tables[0]!.chains[0]!.base!.priority;
    expect(prio("raw")).toBe(-300);
    expect(prio("mangle")).toBe(-150);
    expect(prio("dstnat")).toBe(-100);
    expect(prio("filter")).toBe(0);
    expect(prio("security")).toBe(50);
    expect(prio("srcnat")).toBe(100);
    expect(prio("filter + 10")).toBe(10);
    expect(prio("mangle - 5")).toBe(-155);
    expect(prio("-42")).toBe(-42);
  });

  it("parses a regular chain, which has no base", () => {
    const ast = parseRuleset("table ip t { chain helper { accept } }");
    expect(ast.tables[0]!.chains[0]).toEqual({
      name: "helper",
      rules: [{ exprs: [{ kind: "accept" }] }],
    });
  });

  it("parses a named set with its type, interval flag and sorted elements", () => {
    const ast = parseRuleset(
      "table ip t {\n set s {\n  type ipv4_addr; flags interval\n  elements = { 10.0.0.0/8, 192.0.2.1 }\n }\n}",
    );
    expect(ast.tables[0]!.sets[0]).toEqual({
      name: "s",
      type: "ipv4_addr",
      interval: true,
      elements: [
        { lo: 0x0a000000, hi: 0x0affffff },
        { lo: 0xc0000201, hi: 0xc0000201 },
      ],
    });
  });

  it("parses address matches: an address, a prefix, a range, a negation", () => {
    expect(rule("ip saddr 192.0.2.1")).toEqual([
      {
        kind: "match",
        key: "ip saddr",
        op: "==",
        value: { kind: "elem", elem: { lo: 0xc0000201, hi: 0xc0000201 } },
      },
    ]);
    expect(rule("ip daddr != 10.0.0.0/8")).toEqual([
      {
        kind: "match",
        key: "ip daddr",
        op: "!=",
        value: { kind: "elem", elem: { lo: 0x0a000000, hi: 0x0affffff } },
      },
    ]);
    expect(rule("ip saddr 10.0.0.1-10.0.0.9")[0]).toMatchObject({
      value: { kind: "elem", elem: { lo: 0x0a000001, hi: 0x0a000009 } },
    });
  });

  it("parses anonymous sets and named set references", () => {
    expect(rule("tcp dport { 443, 22, 8000-8080 }")[0]).toMatchObject({
      value: {
        kind: "set",
        elems: [
          { lo: 22, hi: 22 },
          { lo: 443, hi: 443 },
          { lo: 8000, hi: 8080 },
        ],
      },
    });
    expect(rule("ip saddr @blocked")[0]).toMatchObject({
      value: { kind: "setref", name: "blocked" },
    });
  });

  it("parses protocol, port, ICMP type, length and mark matches with names and numbers", () => {
    expect(rule("ip protocol tcp")[0]).toMatchObject({
      key: "ip protocol",
      value: { elem: { lo: 6 } },
    });
    expect(rule("udp sport 1024-65535")[0]).toMatchObject({
      value: { elem: { lo: 1024, hi: 65535 } },
    });
    expect(rule("tcp dport ssh")[0]).toMatchObject({ value: { elem: { lo: 22, hi: 22 } } });
    expect(rule("icmp type echo-request")[0]).toMatchObject({ value: { elem: { lo: 8, hi: 8 } } });
    expect(rule("meta length 0-100")[0]).toMatchObject({ value: { elem: { lo: 0, hi: 100 } } });
    expect(rule("meta mark 0x2a")[0]).toMatchObject({ value: { elem: { lo: 42, hi: 42 } } });
  });

  it("parses ct state and tcp flags as bits, and a masked tcp flags comparison", () => {
    expect(rule("ct state established,related")[0]).toMatchObject({
      value: { kind: "bits", bits: 6 },
    });
    expect(rule("tcp flags syn")[0]).toMatchObject({ value: { kind: "bits", bits: 2 } });
    expect(rule("tcp flags & (syn | ack) == syn")[0]).toMatchObject({
      op: "==",
      value: { kind: "masked", mask: 0x12, value: 0x02 },
    });
  });

  it("parses interface names, quoted or not, and sets of them", () => {
    expect(rule('iifname "lo"')[0]).toMatchObject({ value: { kind: "names", names: ["lo"] } });
    expect(rule('oifname { "eth*", tst0 }')[0]).toMatchObject({
      value: { names: ["eth*", "tst0"] },
    });
  });

  it("parses every statement", () => {
    expect(
      rule(
        'limit rate 10/second burst 3 packets counter log prefix "x: " meta mark set 7 queue num 4 bypass',
      ),
    ).toEqual([
      { kind: "limit", rate: 10, unit: "second", burst: 3 },
      { kind: "counter", packets: 0, bytes: 0 },
      { kind: "log", prefix: "x: " },
      { kind: "mark", value: 7 },
      { kind: "queue", num: 4, bypass: true },
    ]);
    expect(rule("reject with icmp type host-unreachable")).toEqual([
      { kind: "reject", with: { kind: "icmp", code: "host-unreachable" } },
    ]);
    expect(rule("tcp dport 1 reject with tcp reset")[1]).toEqual({
      kind: "reject",
      with: { kind: "tcp reset" },
    });
    expect(rule("jump other")).toEqual([{ kind: "jump", chain: "other" }]);
    expect(rule("goto other")).toEqual([{ kind: "goto", chain: "other" }]);
    expect(rule("return")).toEqual([{ kind: "return" }]);
    expect(rule("snat to 198.51.100.1:1000-2000")).toEqual([
      { kind: "snat", addr: { lo: 0xc6336401, hi: 0xc6336401 }, port: { lo: 1000, hi: 2000 } },
    ]);
    expect(rule("dnat to 10.0.0.2")).toEqual([
      { kind: "dnat", addr: { lo: 0x0a000002, hi: 0x0a000002 } },
    ]);
    expect(rule("masquerade")).toEqual([{ kind: "masquerade" }]);
  });

  it("gives limit nft's default burst of 5 packets", () => {
    expect(rule("limit rate 3/minute")).toEqual([
      { kind: "limit", rate: 3, unit: "minute", burst: 5 },
    ]);
  });

  it("accepts comments, flush ruleset, ; between rules and continued lines", () => {
    const ast = parseRuleset(
      "flush ruleset\n# comment\ntable ip t { chain c { accept; drop # end\n tcp dport \\\n 22 accept } }",
    );
    expect(ast.tables[0]!.chains[0]!.rules.map((r) => r.exprs.length)).toEqual([1, 1, 2]);
  });
});

const CANONICAL = `table inet filter {
	set blocked {
		type ipv4_addr
		flags interval
		elements = { 198.51.100.7, 203.0.113.0/24 }
	}

	chain input {
		type filter hook input priority filter; policy drop;
		iifname "lo" accept
		ip saddr @blocked counter packets 0 bytes 0 drop
		ct state established,related accept
		ct state invalid drop
		icmp type echo-request limit rate 10/second accept
		tcp dport { 22, 80, 443 } counter packets 0 bytes 0 accept
		udp dport 53 accept
		log prefix "input drop: " reject with icmp type port-unreachable
	}

	chain forward {
		type filter hook forward priority filter; policy drop;
	}

	chain output {
		type filter hook output priority filter; policy accept;
	}
}
`;

describe("list ruleset", () => {
  it("prints a parsed file in nft's canonical style", () => {
    const text = readFileSync(new URL("./fixtures/firewall.nft", import.meta.url), "utf8");
    expect(formatRuleset(parseRuleset(text))).toBe(CANONICAL);
  });

  it("prints text that parses back to the same ruleset", () => {
    const ast = parseRuleset(CANONICAL);
    expect(parseRuleset(formatRuleset(ast))).toEqual(ast);
  });

  it("prints priorities by name with an offset, and other numbers as numbers", () => {
    const text = `table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat - 5; policy accept;
		tcp dport 8080 dnat to 10.0.0.2:80
	}

	chain post {
		type nat hook postrouting priority 1000; policy accept;
		ip saddr 10.0.0.0/8 masquerade
		ip saddr 192.168.0.0/16 snat to 198.51.100.1-198.51.100.9
	}
}
`;
    expect(formatRuleset(parseRuleset(text))).toBe(text);
  });

  it("prints statements and matches back the way they were written", () => {
    const text = `table ip t {
	chain c {
		tcp flags & (fin | syn | rst | ack) == syn meta mark set 0x0000002a accept
		tcp flags != syn,ack udp sport != { 1-10, 53 } jump d
		meta mark 0x00000001 meta length 64-1500 queue num 3 bypass
		ip protocol icmp icmp type { echo-reply, echo-request } limit rate 1/hour burst 2 packets log
		oifname { "eth*", "tst0" } reject
		tcp dport 1 reject with tcp reset
		goto d
	}

	chain d {
		ct state != new return
	}
}
`;
    expect(formatRuleset(parseRuleset(text))).toBe(text);
  });

  test.prop([fc.string({ maxLength: 80 })])(
    "never throws anything but NftSyntaxError on any text",
    (text) => {
      try {
        parseRuleset(`table ip t { chain c { ${text} } }`);
      } catch (error) {
        expect(error).toBeInstanceOf(NftSyntaxError);
      }
    },
  );

  test.prop([
    fc.array(
      fc.constantFrom(
        "ip saddr 10.0.0.0/8",
        "ip daddr != { 192.0.2.1, 198.51.100.0/24 }",
        "tcp dport 22",
        "udp sport 1-1023",
        "ct state established,related",
        "meta mark 0x00000005",
        'iifname "tst0"',
        "counter packets 3 bytes 100",
        "limit rate 5/second",
        "log",
        "meta mark set 0x00000002",
        "icmp type 0-8",
        "ip protocol { 1-6, udp }",
        "meta mark 0x00000001-0x00000005",
      ),
      { maxLength: 4 },
    ),
    fc.constantFrom("accept", "drop", "reject", "queue num 1", "jump j", "return"),
  ])("round-trips any rule built from the supported expressions", (exprs, verdict) => {
    const text = `table ip t {\n\tchain c {\n\t\t${[...exprs, verdict].join(" ")}\n\t}\n\n\tchain j {\n\t}\n}\n`;
    const ast = parseRuleset(text);
    expect(formatRuleset(ast)).toBe(text);
    expect(parseRuleset(formatRuleset(ast))).toEqual(ast);
  });
});

describe("list ruleset on generated rules", () => {
  const MAX = {
    "ip saddr": 0xffffffff,
    "ip daddr": 0xffffffff,
    "ip protocol": 255,
    "tcp dport": 65535,
    "udp sport": 65535,
    "icmp type": 255,
    "meta mark": 0xffffffff,
    "meta length": 0xffffffff,
  } as const;
  const elemOf = (max: number) =>
    fc
      .tuple(fc.nat({ max }), fc.nat({ max }), fc.boolean())
      .map(([a, b, single]) =>
        single ? { lo: a, hi: a } : { lo: Math.min(a, b), hi: Math.max(a, b) },
      );
  const matchArb = fc.constantFrom(...(Object.keys(MAX) as (keyof typeof MAX)[])).chain((key) =>
    fc.record({
      kind: fc.constant("match" as const),
      key: fc.constant(key),
      op: fc.constantFrom("==" as const, "!=" as const),
      value: fc.oneof(
        elemOf(MAX[key]).map((elem) => ({ kind: "elem" as const, elem })),
        fc
          .array(elemOf(MAX[key]), { minLength: 1, maxLength: 5 })
          .map((elems) => ({ kind: "set" as const, elems: sortElems(elems) })),
      ),
    }),
  );

  test.prop([fc.array(matchArb, { minLength: 1, maxLength: 4 })])(
    "parses back to the same rule for any values",
    (matches) => {
      const ast: RulesetAst = {
        tables: [
          {
            family: "ip",
            name: "t",
            sets: [],
            chains: [{ name: "c", rules: [{ exprs: [...matches, { kind: "accept" }] }] }],
          },
        ],
      };
      expect(parseRuleset(formatRuleset(ast))).toEqual(ast);
    },
  );
});
