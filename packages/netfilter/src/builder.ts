/**
 * The same rules as nft text, built in TypeScript. The builder produces the
 * {@link RulesetAst} the parser produces, so a built ruleset lists, compiles and behaves the
 * same:
 *
 * ```ts
 * ruleset(
 *   table("ip", "filter")
 *     .chain("input", { type: "filter", hook: "input", priority: 0, policy: "drop" })
 *     .rule(match.ct.state("established", "related"), accept())
 *     .rule(match.tcp.dport([22, 80]), counter(), accept()),
 * );
 * ```
 * @packageDocumentation
 */
import type {
  ChainAst,
  ChainType,
  CounterStmt,
  Expr,
  Family,
  HookName,
  IcmpRejectCode,
  JumpStmt,
  LimitExpr,
  LimitUnit,
  LogStmt,
  MarkStmt,
  MatchExpr,
  MatchKey,
  NatStmt,
  Policy,
  QueueStmt,
  RejectStmt,
  RulesetAst,
  SetAst,
  SetType,
  TableAst,
  VerdictStmt,
} from "./nft/ast.js";
import { PRIORITY_NAMES, type PriorityName, parseValueText } from "./nft/parser.js";
import { CT_STATES, parseElem, sortElems } from "./nft/values.js";

/** A match value: one value (`"10.0.0.0/8"`, `22`, `"1024-65535"`), a list (an anonymous set) or `"@set"`. */
export type ValueInput = string | number | readonly (string | number)[];

/** The `type … hook … priority …; policy …;` of a base chain. */
export interface ChainOptions {
  readonly type: ChainType;
  readonly hook: HookName;
  /** A number or a standard name; default 0 (`filter`). */
  readonly priority?: number | PriorityName;
  /** Default accept. */
  readonly policy?: Policy;
}

/** Builds one table; {@link TableBuilder.rule} adds to the chain added last. */
export class TableBuilder {
  private readonly sets: SetAst[] = [];
  private readonly chains: { name: string; base?: ChainAst["base"]; rules: { exprs: Expr[] }[] }[] =
    [];

  constructor(
    readonly family: Family,
    readonly name: string,
  ) {}

  /** Declares a named set. */
  set(
    name: string,
    opts: {
      readonly type: SetType;
      readonly interval?: boolean;
      readonly elements?: readonly (string | number)[];
    },
  ): this {
    const elements = (opts.elements ?? []).map((x) => {
      const e = parseElem(opts.type, String(x));
      if (typeof e === "string") throw new TypeError(`set ${name}: ${e}`);
      return e;
    });
    this.sets.push({
      name,
      type: opts.type,
      interval: opts.interval ?? false,
      elements: sortElems(elements),
    });
    return this;
  }

  /** Adds a chain: a base chain with options, a regular chain without. */
  chain(name: string, opts?: ChainOptions): this {
    if (opts === undefined) {
      this.chains.push({ name, rules: [] });
      return this;
    }
    const p = opts.priority ?? 0;
    this.chains.push({
      name,
      base: {
        type: opts.type,
        hook: opts.hook,
        priority: typeof p === "number" ? p : PRIORITY_NAMES[p],
        policy: opts.policy ?? "accept",
      },
      rules: [],
    });
    return this;
  }

  /** Adds a rule to the chain added last. */
  rule(...exprs: Expr[]): this {
    const chain = this.chains.at(-1);
    if (chain === undefined) throw new TypeError(`table ${this.name}: add a chain before rules`);
    if (exprs.length === 0) throw new TypeError(`table ${this.name}: a rule needs an expression`);
    chain.rules.push({ exprs });
    return this;
  }

  /** The table's AST. */
  build(): TableAst {
    return {
      family: this.family,
      name: this.name,
      sets: [...this.sets],
      chains: this.chains.map((c) => ({ ...c, rules: [...c.rules] })),
    };
  }
}

/** Starts a table. */
export function table(family: Family, name: string): TableBuilder {
  return new TableBuilder(family, name);
}

/** A ruleset of tables. */
export function ruleset(...tables: readonly (TableBuilder | TableAst)[]): RulesetAst {
  return { tables: tables.map((t) => (t instanceof TableBuilder ? t.build() : t)) };
}

function valueText(v: ValueInput): string {
  if (typeof v === "number") return String(v);
  if (typeof v === "string") return v;
  return `{ ${v.map(String).join(", ")} }`;
}

function m(key: MatchKey): (v: ValueInput) => MatchExpr {
  return (v) => ({ kind: "match", key, op: "==", value: parseValueText(key, valueText(v)) });
}

function names(key: "iifname" | "oifname"): (...n: string[]) => MatchExpr {
  return (...n) => ({ kind: "match", key, op: "==", value: { kind: "names", names: n } });
}

/** Matches, by nft expression. Negate one with {@link not}. */
export const match = {
  ip: { saddr: m("ip saddr"), daddr: m("ip daddr"), protocol: m("ip protocol") },
  tcp: {
    sport: m("tcp sport"),
    dport: m("tcp dport"),
    /** Any of the flags is set (`tcp flags syn,ack`); use `.masked` for `& mask == value`. */
    flags: Object.assign((...f: string[]) => m("tcp flags")(f.join(",")), {
      masked: (mask: readonly string[], value: readonly string[]): MatchExpr => ({
        kind: "match",
        key: "tcp flags",
        op: "==",
        value: masked(mask, value),
      }),
    }),
  },
  udp: { sport: m("udp sport"), dport: m("udp dport") },
  icmp: { type: m("icmp type") },
  iifname: names("iifname"),
  oifname: names("oifname"),
  ct: {
    state: (...states: (keyof typeof CT_STATES)[]): MatchExpr => m("ct state")(states.join(",")),
  },
  meta: { mark: m("meta mark"), length: m("meta length") },
} as const;

function masked(mask: readonly string[], value: readonly string[]) {
  const bits = (f: readonly string[]): number => {
    const v = parseValueText("tcp flags", f.join(","));
    return v.kind === "bits" ? v.bits : 0;
  };
  return { kind: "masked" as const, mask: bits(mask), value: bits(value) };
}

/** `!=`: the negation of a match. */
export function not(e: MatchExpr): MatchExpr {
  return { ...e, op: e.op === "==" ? "!=" : "==" };
}

export const accept = (): VerdictStmt => ({ kind: "accept" });
export const drop = (): VerdictStmt => ({ kind: "drop" });
/** `return`. */
export const ret = (): VerdictStmt => ({ kind: "return" });
export const jump = (chain: string): JumpStmt => ({ kind: "jump", chain });
export const goto = (chain: string): JumpStmt => ({ kind: "goto", chain });
export const counter = (): CounterStmt => ({ kind: "counter", packets: 0, bytes: 0 });
export const log = (prefix?: string): LogStmt =>
  prefix === undefined ? { kind: "log" } : { kind: "log", prefix };
/** `meta mark set N`. */
export const setMark = (value: number): MarkStmt => ({ kind: "mark", value: value >>> 0 });
export const queue = (num = 0, opts: { readonly bypass?: boolean } = {}): QueueStmt => ({
  kind: "queue",
  num,
  bypass: opts.bypass ?? false,
});
/** `reject`, `reject with icmp type CODE` or (`"tcp reset"`) `reject with tcp reset`. */
export const reject = (how?: IcmpRejectCode | "tcp reset"): RejectStmt =>
  how === undefined
    ? { kind: "reject" }
    : how === "tcp reset"
      ? { kind: "reject", with: { kind: "tcp reset" } }
      : { kind: "reject", with: { kind: "icmp", code: how } };
export const limit = (rate: number, unit: LimitUnit, burst = 5): LimitExpr => ({
  kind: "limit",
  rate,
  unit,
  burst,
});

function natTo(kind: "snat" | "dnat", to: string): NatStmt {
  const colon = to.indexOf(":");
  const addr = parseElem("ipv4_addr", colon < 0 ? to : to.slice(0, colon));
  if (typeof addr === "string") throw new TypeError(`${kind} to ${to}: ${addr}`);
  if (colon < 0) return { kind, addr };
  const port = parseElem("inet_service", to.slice(colon + 1));
  if (typeof port === "string") throw new TypeError(`${kind} to ${to}: ${port}`);
  return { kind, addr, port };
}

/** `snat to ADDR[:PORT[-PORT]]`. */
export const snat = (to: string): NatStmt => natTo("snat", to);
/** `dnat to ADDR[:PORT[-PORT]]`. */
export const dnat = (to: string): NatStmt => natTo("dnat", to);
/** `masquerade [to :PORTS]`. */
export const masquerade = (ports?: string): NatStmt => {
  if (ports === undefined) return { kind: "masquerade" };
  const port = parseElem("inet_service", ports.replace(/^:/, ""));
  if (typeof port === "string") throw new TypeError(`masquerade to ${ports}: ${port}`);
  return { kind: "masquerade", port };
};
