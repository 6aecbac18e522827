/**
 * The nft parser: a practical subset of nftables' syntax into a {@link RulesetAst}.
 *
 * ```
 * table ip|inet NAME {
 *   set NAME { type ipv4_addr|inet_service|inet_proto|mark; flags interval; elements = { … } }
 *   chain NAME {
 *     type filter|nat hook prerouting|input|forward|output|postrouting priority N|NAME[±N]; policy accept|drop;
 *     RULE …          # one per line, or separated by ;
 *   }
 * }
 * ```
 * Every error (syntax, or a rule that cannot work: see {@link checkRuleset}) is an
 * {@link NftSyntaxError} naming the file, line and column with a caret under the problem.
 * @see nftables src/parser_bison.y (the grammar this follows)
 * @packageDocumentation
 */
import {
  type BaseChainAst,
  type ChainAst,
  type ChainType,
  type Elem,
  type Expr,
  type Family,
  type HookName,
  ICMP_REJECT_CODES,
  type IcmpRejectCode,
  type LimitUnit,
  type Loc,
  type MatchExpr,
  type MatchKey,
  type MatchValue,
  type NatStmt,
  type RuleAst,
  type RulesetAst,
  type SetAst,
  type SetType,
  setLoc,
  type TableAst,
} from "./ast.js";
import { checkRuleset } from "./check.js";
import { NftSyntaxError } from "./errors.js";
import { lex, type Token } from "./lexer.js";
import { CT_STATES, type DataType, KEY_TYPE, parseElem, sortElems, TCP_FLAGS } from "./values.js";

/** Options of {@link parseRuleset}. */
export interface ParseOptions {
  /** The file name errors name; default `<ruleset>`. */
  readonly file?: string;
}

/** nft's standard priorities (`nft describe`), by name. */
export const PRIORITY_NAMES = {
  raw: -300,
  mangle: -150,
  dstnat: -100,
  filter: 0,
  security: 50,
  srcnat: 100,
} as const;
export type PriorityName = keyof typeof PRIORITY_NAMES;

const HOOKS: readonly HookName[] = ["prerouting", "input", "forward", "output", "postrouting"];
const SET_TYPES: readonly SetType[] = ["ipv4_addr", "inet_service", "inet_proto", "mark"];
const LIMIT_UNITS: readonly LimitUnit[] = ["second", "minute", "hour", "day"];

/**
 * Parses nft text into a ruleset, then checks it ({@link checkRuleset}).
 * @throws NftSyntaxError at the first problem
 */
export function parseRuleset(source: string, options: ParseOptions = {}): RulesetAst {
  const file = options.file ?? "<ruleset>";
  const ast = new Parser(lex(source, file), file, source).ruleset();
  checkRuleset(ast, file, source);
  return ast;
}

/**
 * Parses one rule (`tcp dport 22 accept`) into its AST, for the builder and for tools.
 * It is checked on its own only (sets and chains it names are checked with its ruleset).
 */
export function parseRule(source: string, options: ParseOptions = {}): RuleAst {
  const file = options.file ?? "<rule>";
  const p = new Parser(lex(source, file), file, source);
  const rule = p.rule();
  p.expectEnd();
  return rule;
}

/** A rule element's type-specific value, for the builder (`ip saddr` + `10.0.0.0/8`). */
export function parseValueText(key: MatchKey, text: string): MatchValue {
  const p = new Parser(lex(text, "<value>"), "<value>", text);
  const v = p.value(key);
  p.expectEnd();
  return v;
}

class Parser {
  private pos = 0;

  constructor(
    private readonly toks: readonly Token[],
    private readonly file: string,
    private readonly source: string,
  ) {}

  // --- tokens ----------------------------------------------------------------------------------

  private peek(ahead = 0): Token {
    return this.toks[Math.min(this.pos + ahead, this.toks.length - 1)]!;
  }

  private next(): Token {
    const t = this.peek();
    if (t.kind !== "eof") this.pos++;
    return t;
  }

  private is(text: string, ahead = 0): boolean {
    const t = this.peek(ahead);
    return (t.kind === "word" || t.kind === "punct") && t.text === text;
  }

  private accept(text: string): boolean {
    if (!this.is(text)) return false;
    this.pos++;
    return true;
  }

  fail(message: string, at: Token | Loc): never {
    const loc = "kind" in at ? at.loc : at;
    throw new NftSyntaxError(message, this.file, this.source, loc);
  }

  private describe(t: Token): string {
    if (t.kind === "eof") return "end of file";
    if (t.kind === "nl") return "end of line";
    if (t.kind === "string") return `"${t.text}"`;
    return `"${t.text}"`;
  }

  private expect(text: string, what = `"${text}"`): Token {
    const t = this.peek();
    if (!this.is(text)) this.fail(`expected ${what}, got ${this.describe(t)}`, t);
    return this.next();
  }

  private word(what: string): Token {
    const t = this.peek();
    if (t.kind !== "word") this.fail(`expected ${what}, got ${this.describe(t)}`, t);
    return this.next();
  }

  /** A word or a string (names may be quoted). */
  private name(what: string): Token {
    const t = this.peek();
    if (t.kind !== "word" && t.kind !== "string") {
      this.fail(`expected ${what}, got ${this.describe(t)}`, t);
    }
    return this.next();
  }

  private number(what: string, max: number): number {
    const t = this.word(what);
    if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(t.text) || Number(t.text) > max) {
      this.fail(`expected ${what}, got "${t.text}"`, t);
    }
    return Number(t.text);
  }

  private skipSeparators(): void {
    while (this.peek().kind === "nl" || this.is(";")) this.pos++;
  }

  private skipNewlines(): void {
    while (this.peek().kind === "nl") this.pos++;
  }

  /** After a statement: a newline, `;`, `}` or the end. */
  private endOfStatement(): void {
    const t = this.peek();
    if (t.kind === "nl" || t.kind === "eof" || this.is(";")) {
      this.next();
      return;
    }
    if (this.is("}")) return;
    this.fail(`unexpected ${this.describe(t)}`, t);
  }

  expectEnd(): void {
    this.skipSeparators();
    const t = this.peek();
    if (t.kind !== "eof") this.fail(`unexpected ${this.describe(t)}`, t);
  }

  // --- structure -------------------------------------------------------------------------------

  ruleset(): RulesetAst {
    const tables: TableAst[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (t.kind === "eof") break;
      if (this.accept("flush")) {
        this.expect("ruleset");
        this.endOfStatement();
        continue;
      }
      if (!this.is("table")) this.fail(`expected "table", got ${this.describe(t)}`, t);
      const table = this.table();
      const dup = tables.find((x) => x.family === table.family && x.name === table.name);
      if (dup) this.fail(`table ${table.family} ${table.name} is declared twice`, t);
      tables.push(table);
    }
    return { tables };
  }

  private table(): TableAst {
    this.expect("table");
    const famTok = this.word("a family (ip or inet)");
    if (famTok.text !== "ip" && famTok.text !== "inet") {
      this.fail(`unsupported family "${famTok.text}" (ip or inet)`, famTok);
    }
    const nameTok = this.name("a table name");
    this.expect("{");
    const sets: SetAst[] = [];
    const chains: ChainAst[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (this.accept("}")) break;
      if (this.is("chain")) chains.push(this.chain());
      else if (this.is("set")) sets.push(this.set());
      else if (t.kind === "eof") this.fail(`missing "}" to close table ${nameTok.text}`, t);
      else this.fail(`expected "chain", "set" or "}", got ${this.describe(t)}`, t);
    }
    this.endOfStatement();
    return setLoc({ family: famTok.text as Family, name: nameTok.text, sets, chains }, nameTok.loc);
  }

  private set(): SetAst {
    this.expect("set");
    const nameTok = this.name("a set name");
    this.expect("{");
    let type: SetType | undefined;
    let interval = false;
    let elements: Elem[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (this.accept("}")) break;
      if (this.accept("type")) {
        const tt = this.word("a set type");
        if (!SET_TYPES.includes(tt.text as SetType)) {
          this.fail(`unsupported set type "${tt.text}" (${SET_TYPES.join(", ")})`, tt);
        }
        type = tt.text as SetType;
      } else if (this.accept("flags")) {
        do {
          const f = this.word("a set flag");
          if (f.text === "interval") interval = true;
          else if (f.text !== "constant" && f.text !== "dynamic") {
            this.fail(`unsupported set flag "${f.text}" (interval)`, f);
          }
        } while (this.accept(","));
      } else if (this.is("elements")) {
        const et = this.next();
        if (type === undefined) this.fail(`set ${nameTok.text}: give its type before elements`, et);
        this.expect("=");
        elements = this.elemList(type, interval);
      } else if (t.kind === "eof") {
        this.fail(`missing "}" to close set ${nameTok.text}`, t);
      } else {
        this.fail(`expected "type", "flags", "elements" or "}", got ${this.describe(t)}`, t);
      }
    }
    this.endOfStatement();
    if (type === undefined) this.fail(`set ${nameTok.text} has no type`, nameTok);
    return setLoc(
      { name: nameTok.text, type, interval, elements: sortElems(elements) },
      nameTok.loc,
    );
  }

  /** `{ a, b-c, … }` of a numeric type. */
  private elemList(type: DataType, interval: boolean): Elem[] {
    this.expect("{");
    const out: Elem[] = [];
    this.skipNewlines();
    if (this.accept("}")) return out;
    for (;;) {
      this.skipNewlines();
      const t = this.name(`an element (${type})`);
      const e = parseElem(type, t.text);
      if (typeof e === "string") this.fail(e, t);
      if (!interval && e.lo !== e.hi) {
        this.fail(`${t.text} is a range or prefix: the set needs "flags interval" to hold one`, t);
      }
      out.push(e);
      this.skipNewlines();
      if (this.accept("}")) return out;
      if (!this.accept(","))
        this.fail(`expected "," or "}", got ${this.describe(this.peek())}`, this.peek());
    }
  }

  private chain(): ChainAst {
    this.expect("chain");
    const nameTok = this.name("a chain name");
    this.expect("{");
    let base: { type: ChainType; hook: HookName; priority: number; policy?: string } | undefined;
    const rules: RuleAst[] = [];
    for (;;) {
      this.skipSeparators();
      const t = this.peek();
      if (this.accept("}")) break;
      if (t.kind === "eof") this.fail(`missing "}" to close chain ${nameTok.text}`, t);
      if (this.is("type") && this.peek(1).kind === "word") {
        if (base !== undefined) this.fail(`chain ${nameTok.text} has two "type" lines`, t);
        if (rules.length > 0) this.fail(`the "type" line must come before the rules`, t);
        base = this.baseChain();
      } else if (this.is("policy")) {
        this.next();
        const p = this.word("a policy (accept or drop)");
        if (p.text !== "accept" && p.text !== "drop") {
          this.fail(`unsupported policy "${p.text}" (accept or drop)`, p);
        }
        if (base === undefined) this.fail("a policy needs a base chain (a type … hook … line)", p);
        base.policy = p.text;
        this.endOfStatement();
      } else {
        rules.push(this.rule());
        this.endOfStatement();
      }
    }
    this.endOfStatement();
    const chain: ChainAst =
      base === undefined
        ? { name: nameTok.text, rules }
        : {
            name: nameTok.text,
            base: {
              type: base.type,
              hook: base.hook,
              priority: base.priority,
              policy: (base.policy ?? "accept") as BaseChainAst["policy"],
            },
            rules,
          };
    return setLoc(chain, nameTok.loc);
  }

  private baseChain(): { type: ChainType; hook: HookName; priority: number } {
    this.expect("type");
    const tt = this.word("a chain type (filter or nat)");
    if (tt.text !== "filter" && tt.text !== "nat") {
      this.fail(`unsupported chain type "${tt.text}" (filter or nat)`, tt);
    }
    this.expect("hook");
    const ht = this.word("a hook");
    if (!HOOKS.includes(ht.text as HookName)) {
      this.fail(`unknown hook "${ht.text}" (${HOOKS.join(", ")})`, ht);
    }
    this.expect("priority");
    const priority = this.priority();
    this.accept(";");
    return { type: tt.text, hook: ht.text as HookName, priority };
  }

  private priority(): number {
    const t = this.word("a priority (a number or raw, mangle, dstnat, filter, security, srcnat)");
    let value: number;
    if (/^-?\d+$/.test(t.text)) {
      value = Number(t.text);
    } else {
      const m = /^([a-z]+)(-\d+)?$/.exec(t.text);
      const base = m ? PRIORITY_NAMES[m[1] as PriorityName] : undefined;
      if (m === null || base === undefined || !Object.hasOwn(PRIORITY_NAMES, m[1]!)) {
        this.fail(
          `unknown priority "${t.text}" (a number or raw, mangle, dstnat, filter, security, srcnat)`,
          t,
        );
      }
      value = base + (m[2] ? Number(m[2]) : 0);
      if (!m[2]) {
        if (this.accept("+")) value += this.number("a priority offset", 0x7fffffff);
        else if (this.is("-")) {
          this.next();
          value -= this.number("a priority offset", 0x7fffffff);
        }
      }
    }
    if (!Number.isSafeInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      this.fail(`priority ${value} is out of range`, t);
    }
    return value;
  }

  // --- rules -----------------------------------------------------------------------------------

  rule(): RuleAst {
    const exprs: Expr[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === "nl" || t.kind === "eof" || this.is(";") || this.is("}")) break;
      exprs.push(this.expr());
    }
    if (exprs.length === 0) this.fail("expected a rule", this.peek());
    return { exprs };
  }

  private expr(): Expr {
    const t = this.peek();
    if (t.kind !== "word") this.fail(`expected a match or a statement, got ${this.describe(t)}`, t);
    const start = t.loc;
    const done = <E extends Expr>(e: E): E => setLoc(e, start);
    switch (t.text) {
      case "accept":
      case "drop":
      case "return":
        this.next();
        return done({ kind: t.text });
      case "jump":
      case "goto": {
        this.next();
        const target = this.name("a chain name");
        return setLoc({ kind: t.text, chain: target.text }, target.loc);
      }
      case "counter": {
        this.next();
        let packets = 0;
        let bytes = 0;
        if (this.accept("packets")) {
          packets = this.number("a packet count", Number.MAX_SAFE_INTEGER);
          this.expect("bytes");
          bytes = this.number("a byte count", Number.MAX_SAFE_INTEGER);
        }
        return done({ kind: "counter", packets, bytes });
      }
      case "log": {
        this.next();
        if (this.accept("prefix")) {
          const p = this.peek();
          if (p.kind !== "string")
            this.fail(`expected a quoted prefix, got ${this.describe(p)}`, p);
          this.next();
          return done({ kind: "log", prefix: p.text });
        }
        return done({ kind: "log" });
      }
      case "limit":
        return done(this.limit());
      case "queue":
        return done(this.queue());
      case "reject":
        return done(this.reject());
      case "snat":
      case "dnat":
      case "masquerade":
        return done(this.nat(t.text));
      case "meta":
        if (this.is("mark", 1) && this.is("set", 2)) {
          this.pos += 3;
          return done({ kind: "mark", value: this.number("a mark (0 to 0xffffffff)", 0xffffffff) });
        }
        return done(this.match());
      default:
        return done(this.match());
    }
  }

  private match(): MatchExpr {
    const t = this.next();
    let key: string;
    if (t.text === "iifname" || t.text === "oifname") {
      key = t.text;
    } else {
      const sub = this.peek();
      key = `${t.text} ${sub.text}`;
      if (!Object.hasOwn(KEY_TYPE, key) || sub.kind !== "word") {
        if (["ip", "tcp", "udp", "icmp", "ct", "meta"].includes(t.text)) {
          this.fail(`unknown ${t.text} expression "${sub.text}"`, sub);
        }
        this.fail(`unknown match or statement "${t.text}"`, t);
      }
      this.next();
    }
    const mk = key as MatchKey;
    if (mk === "tcp flags" && this.is("&")) return this.maskedFlags();
    let op: "==" | "!=" = "==";
    if (this.accept("!=")) op = "!=";
    else this.accept("==");
    return { kind: "match", key: mk, op, value: this.value(mk) };
  }

  /** `tcp flags & (syn | ack) == syn`. */
  private maskedFlags(): MatchExpr {
    this.expect("&");
    const paren = this.accept("(");
    const mask = this.flagUnion();
    if (paren) this.expect(")");
    const opTok = this.peek();
    let op: "==" | "!=";
    if (this.accept("==")) op = "==";
    else if (this.accept("!=")) op = "!=";
    else this.fail(`expected "==" or "!=" after the mask, got ${this.describe(opTok)}`, opTok);
    const value = this.flagUnion();
    return { kind: "match", key: "tcp flags", op, value: { kind: "masked", mask, value } };
  }

  private flagUnion(): number {
    let bits = 0;
    do {
      do bits |= this.bitName(TCP_FLAGS, "tcp flag");
      while (this.accept(","));
    } while (this.accept("|"));
    return bits;
  }

  private bitName(names: Readonly<Record<string, number>>, what: string): number {
    const t = this.word(`a ${what}`);
    const bit = Object.hasOwn(names, t.text) ? names[t.text] : undefined;
    if (bit === undefined) {
      this.fail(`unknown ${what} "${t.text}" (${Object.keys(names).join(", ")})`, t);
    }
    return bit;
  }

  value(key: MatchKey): MatchValue {
    const type = KEY_TYPE[key];
    const t = this.peek();
    if (type === "ct_state" || type === "tcp_flag") {
      const names = type === "ct_state" ? CT_STATES : TCP_FLAGS;
      const what = type === "ct_state" ? "ct state" : "tcp flag";
      const braces = this.accept("{");
      let bits = 0;
      do {
        if (braces) this.skipNewlines();
        bits |= this.bitName(names, what);
        if (braces) this.skipNewlines();
      } while (this.accept(",") || (type === "tcp_flag" && this.accept("|")));
      if (braces) this.expect("}");
      return setLoc({ kind: "bits", bits }, t.loc);
    }
    if (this.is("@")) {
      this.next();
      const n = this.name("a set name");
      return setLoc({ kind: "setref", name: n.text }, { ...t.loc, len: n.text.length + 1 });
    }
    if (type === "ifname") {
      if (this.accept("{")) {
        const names: string[] = [];
        do {
          this.skipNewlines();
          names.push(this.name("an interface name").text);
          this.skipNewlines();
        } while (this.accept(","));
        this.expect("}");
        return setLoc({ kind: "names", names }, t.loc);
      }
      return setLoc({ kind: "names", names: [this.name("an interface name").text] }, t.loc);
    }
    if (this.is("{")) {
      const elems = this.elemList(type, true);
      if (elems.length === 0) this.fail("an anonymous set needs at least one element", t);
      return setLoc({ kind: "set", elems: sortElems(elems) }, t.loc);
    }
    const w = this.name(`a value (${type})`);
    const e = parseElem(type, w.text);
    if (typeof e === "string") this.fail(e, w);
    return setLoc({ kind: "elem", elem: e }, w.loc);
  }

  // --- statements ------------------------------------------------------------------------------

  private limit(): Expr {
    this.expect("limit");
    this.expect("rate");
    const t = this.word("a rate like 10/second");
    const m = /^(\d+)\/([a-z]+)$/.exec(t.text);
    if (m === null) this.fail(`expected a rate like 10/second, got "${t.text}"`, t);
    if (!LIMIT_UNITS.includes(m[2] as LimitUnit)) {
      this.fail(`unknown rate unit "${m[2]}" (second, minute, hour or day)`, t);
    }
    const rate = Number(m[1]);
    if (rate === 0 || rate > 0xffffffff) this.fail(`rate ${m[1]} is out of range (1 or more)`, t);
    let burst = 5;
    if (this.accept("burst")) {
      burst = this.number("a burst (packets)", 0xffffffff);
      this.expect("packets");
    }
    return { kind: "limit", rate, unit: m[2] as LimitUnit, burst };
  }

  private queue(): Expr {
    this.expect("queue");
    let num = 0;
    let bypass = false;
    for (;;) {
      if (this.accept("num")) num = this.number("a queue number (0 to 65535)", 0xffff);
      else if (this.accept("bypass")) bypass = true;
      else break;
    }
    return { kind: "queue", num, bypass };
  }

  private reject(): Expr {
    this.expect("reject");
    if (!this.accept("with")) return { kind: "reject" };
    if (this.accept("tcp")) {
      this.expect("reset");
      return { kind: "reject", with: { kind: "tcp reset" } };
    }
    const t = this.peek();
    if (!this.accept("icmp"))
      this.fail(`expected "icmp" or "tcp reset", got ${this.describe(t)}`, t);
    this.accept("type");
    const c = this.word("an ICMP unreachable code");
    if (!Object.hasOwn(ICMP_REJECT_CODES, c.text)) {
      this.fail(
        `unknown reject code "${c.text}" (${Object.keys(ICMP_REJECT_CODES).join(", ")})`,
        c,
      );
    }
    return { kind: "reject", with: { kind: "icmp", code: c.text as IcmpRejectCode } };
  }

  private nat(kind: "snat" | "dnat" | "masquerade"): NatStmt {
    this.next();
    if (kind === "masquerade") {
      if (!this.accept("to")) return { kind };
      const t = this.word("ports like :1024-2000");
      if (!t.text.startsWith(":")) this.fail(`expected ports like :1024-2000, got "${t.text}"`, t);
      const port = parseElem("inet_service", t.text.slice(1));
      if (typeof port === "string") this.fail(port, t);
      return { kind, port };
    }
    this.expect("to");
    const t = this.word("an address, like 192.0.2.1 or 192.0.2.1:8080");
    const colon = t.text.indexOf(":");
    const addr = parseElem("ipv4_addr", colon < 0 ? t.text : t.text.slice(0, colon));
    if (typeof addr === "string") this.fail(addr, t);
    if (colon < 0) return { kind, addr };
    const port = parseElem("inet_service", t.text.slice(colon + 1));
    if (typeof port === "string") this.fail(port, t);
    return { kind, addr, port };
  }
}
