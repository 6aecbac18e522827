import { describe, expect, it } from "vitest";
import { NftSyntaxError } from "../src/nft/errors.js";
import { parseRuleset } from "../src/nft/parser.js";

/** Parses `text` as `fw.nft`, expecting an error; returns it. */
function refuse(text: string): NftSyntaxError {
  try {
    parseRuleset(text, { file: "fw.nft" });
  } catch (error) {
    expect(error).toBeInstanceOf(NftSyntaxError);
    return error as NftSyntaxError;
  }
  throw new Error("the ruleset was accepted");
}

/** The error's message has `where`, then the source line, then carets under `span`. */
function expectAt(e: NftSyntaxError, where: string, line: string, caret: string): void {
  expect(e.message.split("\n")).toEqual([
    expect.stringMatching(new RegExp(`^${where}: error: `)),
    line,
    caret,
  ]);
}

const chain = (rule: string) => `table ip filter {\n\tchain input {\n\t\t${rule}\n\t}\n}\n`;

describe("a bad ruleset", () => {
  it("is refused at an unknown top-level keyword", () => {
    const e = refuse("tabel ip filter {\n}\n");
    expectAt(e, "fw.nft:1:1", "tabel ip filter {", "^^^^^");
    expect(e.reason).toBe('expected "table", got "tabel"');
  });

  it("is refused at an unsupported family", () => {
    const e = refuse("table ip6 filter {}");
    expectAt(e, "fw.nft:1:7", "table ip6 filter {}", "      ^^^");
    expect([e.line, e.column]).toEqual([1, 7]);
  });

  it("is refused at the end when a brace is missing", () => {
    const e = refuse("table ip filter {\n\tchain input {\n\t\taccept\n");
    expect(e.message).toMatch(/^fw\.nft:4:1: error: missing "}" to close chain input/);
  });

  it("is refused at an unknown hook", () => {
    const e = refuse("table ip t {\n\tchain c {\n\t\ttype filter hook inptu priority 0;\n\t}\n}");
    expectAt(
      e,
      "fw.nft:3:20",
      "\t\ttype filter hook inptu priority 0;",
      "\t\t                 ^^^^^",
    );
  });

  it("is refused at an unknown priority name", () => {
    const e = refuse("table ip t { chain c { type filter hook input priority high; } }");
    expectAt(
      e,
      "fw.nft:1:56",
      "table ip t { chain c { type filter hook input priority high; } }",
      `${" ".repeat(55)}^^^^`,
    );
  });

  it("is refused at an unsupported policy", () => {
    const e = refuse(
      "table ip t { chain c { type filter hook input priority 0; policy reject; } }",
    );
    expect(e.reason).toBe('unsupported policy "reject" (accept or drop)');
    expect(e.column).toBe(66);
  });

  it("is refused at an address that is not one", () => {
    const e = refuse(chain("ip saddr 10.0.0.300 drop"));
    expectAt(e, "fw.nft:3:12", "\t\tip saddr 10.0.0.300 drop", "\t\t         ^^^^^^^^^^");
    expect(e.reason).toBe('"10.0.0.300" is not an IPv4 address');
  });

  it("is refused at a prefix length over 32", () => {
    const e = refuse(chain("ip daddr 10.0.0.0/33 drop"));
    expect(e.reason).toBe('"/33" is not a prefix length from 0 to 32');
    expect([e.line, e.column]).toEqual([3, 12]);
  });

  it("is refused at a port out of range", () => {
    const e = refuse(chain("tcp dport 70000 accept"));
    expectAt(e, "fw.nft:3:13", "\t\ttcp dport 70000 accept", "\t\t          ^^^^^");
  });

  it("is refused at an empty range", () => {
    const e = refuse(chain("tcp dport 100-20 accept"));
    expect(e.reason).toBe("range 100-20 is empty: its start is above its end");
  });

  it("is refused at a reference to a set that does not exist", () => {
    const e = refuse(chain("ip saddr @nope drop"));
    expectAt(e, "fw.nft:3:12", "\t\tip saddr @nope drop", "\t\t         ^^^^^");
    expect(e.reason).toBe("set @nope does not exist in table filter");
  });

  it("is refused at a set of the wrong type", () => {
    const e = refuse(
      "table ip t {\n\tset ports { type inet_service; elements = { 22 } }\n\tchain c {\n\t\tip saddr @ports drop\n\t}\n}",
    );
    expect(e.reason).toBe("set @ports holds inet_service, but ip saddr needs ipv4_addr");
    expect([e.line, e.column]).toEqual([4, 12]);
  });

  it("is refused at a prefix in a set without the interval flag", () => {
    const e = refuse("table ip t {\n\tset s { type ipv4_addr; elements = { 10.0.0.0/8 } }\n}");
    expectAt(
      e,
      "fw.nft:2:39",
      "\tset s { type ipv4_addr; elements = { 10.0.0.0/8 } }",
      "\t                                     ^^^^^^^^^^",
    );
  });

  it("is refused at a jump to a chain that does not exist", () => {
    const e = refuse(chain("jump nowhere"));
    expectAt(e, "fw.nft:3:8", "\t\tjump nowhere", "\t\t     ^^^^^^^");
  });

  it("is refused at a jump that makes a loop", () => {
    const e = refuse("table ip t {\n\tchain a { jump b }\n\tchain b { goto a }\n}");
    expect(e.reason).toBe("goto makes a loop: a -> b -> a");
    expect([e.line, e.column]).toEqual([3, 17]);
  });

  it("is refused at a statement after a verdict", () => {
    const e = refuse(chain("drop counter"));
    expectAt(e, "fw.nft:3:8", "\t\tdrop counter", "\t\t     ^^^^^^^");
  });

  it("is refused at an unterminated string", () => {
    const e = refuse(chain('log prefix "oops'));
    expectAt(e, "fw.nft:3:14", '\t\tlog prefix "oops', "\t\t           ^^^^^");
  });

  it("is refused at an unknown rate unit", () => {
    const e = refuse(chain("limit rate 10/fortnight accept"));
    expect(e.reason).toBe('unknown rate unit "fortnight" (second, minute, hour or day)');
  });

  it("is refused at an unknown ct state", () => {
    const e = refuse(chain("ct state established,bogus accept"));
    expect(e.reason).toMatch(/^unknown ct state "bogus"/);
    expect(e.column).toBe(24);
  });

  it("is refused at reject with tcp reset without a tcp match", () => {
    const e = refuse(chain("reject with tcp reset"));
    expect(e.reason).toMatch(/^reject with tcp reset needs a tcp match/);
  });

  it("is refused at snat in a filter chain", () => {
    const e = refuse(
      "table ip t { chain c { type filter hook postrouting priority 0; snat to 192.0.2.1 } }",
    );
    expect(e.reason).toBe("snat is only valid in a nat chain hooked at postrouting or input");
  });

  it("is refused at a chain declared twice", () => {
    const e = refuse("table ip t {\n\tchain c { }\n\tchain c { }\n}");
    expect([e.line, e.column, e.reason]).toEqual([3, 8, "chain c is declared twice in table t"]);
  });

  it("is refused at an unknown match", () => {
    const e = refuse(chain("ip ttl 3 drop"));
    expect(e.reason).toBe('unknown ip expression "ttl"');
  });

  it("is a ConfigError naming the file", () => {
    const e = refuse("table ip6 t {}");
    expect(e.code).toBe("ERR_SKB_CONFIG");
    expect(e.file).toBe("fw.nft:1:7");
  });
});
