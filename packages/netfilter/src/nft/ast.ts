/**
 * The parsed form of a ruleset: what the nft parser produces, the TypeScript builder produces,
 * the engine compiles and the formatter prints (`list ruleset`). Plain data: numbers are already
 * resolved (addresses as u32, names of ports and ICMP types as numbers), so two rulesets that
 * mean the same are equal (`toEqual`). Source positions are kept beside the nodes, in a WeakMap
 * ({@link locOf}), so they never take part in equality.
 * @packageDocumentation
 */

/** Table families: `ip` (IPv4) and `inet` (IPv4 and IPv6; here, IPv4). */
export type Family = "ip" | "inet";
/** Base chain types. */
export type ChainType = "filter" | "nat";
/** Base chain hooks, by nft name. */
export type HookName = "prerouting" | "input" | "forward" | "output" | "postrouting";
/** Base chain policies. */
export type Policy = "accept" | "drop";
/** Set element types. */
export type SetType = "ipv4_addr" | "inet_service" | "inet_proto" | "mark";

/** A whole ruleset: `nft list ruleset`. */
export interface RulesetAst {
  readonly tables: readonly TableAst[];
}

export interface TableAst {
  readonly family: Family;
  readonly name: string;
  readonly sets: readonly SetAst[];
  readonly chains: readonly ChainAst[];
}

/** An inclusive range of numbers: a single value has `lo === hi`. Addresses are u32. */
export interface Elem {
  readonly lo: number;
  readonly hi: number;
}

/** A named set: `set blocked { type ipv4_addr; flags interval; elements = { … } }`. */
export interface SetAst {
  readonly name: string;
  readonly type: SetType;
  /** `flags interval`: elements may be prefixes and ranges. */
  readonly interval: boolean;
  /** Sorted by `lo`. */
  readonly elements: readonly Elem[];
}

/** The `type … hook … priority …; policy …;` line of a base chain. */
export interface BaseChainAst {
  readonly type: ChainType;
  readonly hook: HookName;
  /** Resolved priority (`filter` is 0, `srcnat` 100, `mangle - 5` is -155). */
  readonly priority: number;
  readonly policy: Policy;
}

export interface ChainAst {
  readonly name: string;
  /** Absent for a regular chain (a target of jump and goto). */
  readonly base?: BaseChainAst;
  readonly rules: readonly RuleAst[];
}

/** A rule: expressions evaluated in order until one does not match or a verdict ends it. */
export interface RuleAst {
  readonly exprs: readonly Expr[];
}

/** What a match compares. */
export type MatchKey =
  | "ip saddr"
  | "ip daddr"
  | "ip protocol"
  | "tcp sport"
  | "tcp dport"
  | "udp sport"
  | "udp dport"
  | "tcp flags"
  | "icmp type"
  | "iifname"
  | "oifname"
  | "ct state"
  | "meta mark"
  | "meta length";

/** The right-hand side of a match. */
export type MatchValue =
  /** One value, a range or a prefix (a range whose ends are aligned). */
  | { readonly kind: "elem"; readonly elem: Elem }
  /** An anonymous set `{ a, b-c }`. */
  | { readonly kind: "set"; readonly elems: readonly Elem[] }
  /** A named set `@name`. */
  | { readonly kind: "setref"; readonly name: string }
  /** Interface names; a trailing `*` matches a prefix. */
  | { readonly kind: "names"; readonly names: readonly string[] }
  /** Bits (`ct state established,related`, `tcp flags syn,ack`): any of them is set. */
  | { readonly kind: "bits"; readonly bits: number }
  /** `tcp flags & (syn | ack) == syn`. */
  | { readonly kind: "masked"; readonly mask: number; readonly value: number };

/** A match (`ip saddr 10.0.0.0/8`, `tcp dport != { 22, 80 }`). */
export interface MatchExpr {
  readonly kind: "match";
  readonly key: MatchKey;
  /** `==` is also the implicit operator. For `bits`, `==` means "any of", `!=` "none of". */
  readonly op: "==" | "!=";
  readonly value: MatchValue;
}

/** Units of `limit rate N/unit`. */
export type LimitUnit = "second" | "minute" | "hour" | "day";

/** `limit rate N/unit [burst M packets]`: matches while the token bucket has a token. */
export interface LimitExpr {
  readonly kind: "limit";
  readonly rate: number;
  readonly unit: LimitUnit;
  /** Default 5, as nft's. */
  readonly burst: number;
}

/** `counter [packets N bytes M]`. */
export interface CounterStmt {
  readonly kind: "counter";
  readonly packets: number;
  readonly bytes: number;
}

export interface LogStmt {
  readonly kind: "log";
  readonly prefix?: string;
}

export interface MarkStmt {
  readonly kind: "mark";
  readonly value: number;
}

/** ICMP destination-unreachable codes `reject with icmp type …` accepts. */
export const ICMP_REJECT_CODES = {
  "net-unreachable": 0,
  "host-unreachable": 1,
  "prot-unreachable": 2,
  "port-unreachable": 3,
  "net-prohibited": 9,
  "host-prohibited": 10,
  "admin-prohibited": 13,
} as const;
export type IcmpRejectCode = keyof typeof ICMP_REJECT_CODES;

export interface RejectStmt {
  readonly kind: "reject";
  /** Absent: `icmp type port-unreachable`. */
  readonly with?:
    | { readonly kind: "icmp"; readonly code: IcmpRejectCode }
    | { readonly kind: "tcp reset" };
}

export interface VerdictStmt {
  readonly kind: "accept" | "drop" | "return";
}

export interface JumpStmt {
  readonly kind: "jump" | "goto";
  readonly chain: string;
}

export interface QueueStmt {
  readonly kind: "queue";
  readonly num: number;
  readonly bypass: boolean;
}

/** `snat to …`, `dnat to …`, `masquerade [to :ports]`. */
export interface NatStmt {
  readonly kind: "snat" | "dnat" | "masquerade";
  /** Addresses, inclusive; absent for masquerade. */
  readonly addr?: Elem;
  /** Ports, inclusive; absent: keep. */
  readonly port?: Elem;
}

export type Expr =
  | MatchExpr
  | LimitExpr
  | CounterStmt
  | LogStmt
  | MarkStmt
  | RejectStmt
  | VerdictStmt
  | JumpStmt
  | QueueStmt
  | NatStmt;

/** Statements after which nothing in the rule runs. */
export const TERMINAL_KINDS: ReadonlySet<Expr["kind"]> = new Set([
  "accept",
  "drop",
  "return",
  "jump",
  "goto",
  "queue",
  "reject",
  "snat",
  "dnat",
  "masquerade",
]);

/** A position in a ruleset's source. `line` and `col` count from 1; `len` is the span's length. */
export interface Loc {
  readonly line: number;
  readonly col: number;
  readonly len: number;
}

const locs = new WeakMap<object, Loc>();

/** The source position of a node the parser made, if any. */
export function locOf(node: object): Loc | undefined {
  return locs.get(node);
}

/** Records a node's source position (parser only). */
export function setLoc<T extends object>(node: T, loc: Loc | undefined): T {
  if (loc !== undefined) locs.set(node, loc);
  return node;
}
