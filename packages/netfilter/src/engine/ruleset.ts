/**
 * A stack's ruleset: what `nft` manages in a network namespace. {@link Ruleset.replace} compiles
 * a whole new ruleset before touching anything and then swaps it in at once, so a packet is
 * judged entirely by the old ruleset or entirely by the new one, and a bad ruleset leaves the
 * old one in force.
 *
 * How: one dispatcher hook is registered per (hook, priority) that some base chain uses. Each
 * reads the compiled ruleset in force when a packet reaches it. A replacement first registers the
 * dispatchers the new ruleset needs (they find nothing to run in the old one), then swaps the
 * compiled ruleset (one assignment), then unregisters the dispatchers nothing uses any more.
 * @see net/netfilter/nf_tables_api.c (the transaction that commits a ruleset)
 * @packageDocumentation
 */
import {
  NF_ACCEPT,
  NFPROTO_IPV4,
  type NfHookOps,
  type NfHookState,
  type SkBuff,
  SkbuffError,
  type Stack,
} from "@skbuff/core";
import { type ConntrackApi, CT_STATE } from "../nf_api.js";
import type { Expr, RulesetAst, SetAst, TableAst } from "../nft/ast.js";
import { checkRuleset } from "../nft/check.js";
import { formatRule, formatRuleset } from "../nft/format.js";
import { parseRuleset } from "../nft/parser.js";
import { parseElem } from "../nft/values.js";
import { type CChain, type Compiled, compile, pktInfo, runBaseChain } from "./compile.js";
import type { ElemSet } from "./sets.js";

/** How many recent `log` lines a ruleset keeps. */
export const LOG_LINES_KEPT = 256;

/** Per-rule counters, as {@link Ruleset.counters} reports them. */
export interface RuleCounters {
  readonly family: string;
  readonly table: string;
  readonly chain: string;
  /** Position of the rule in its chain, from 0. */
  readonly index: number;
  /** The rule as `list ruleset` prints it. */
  readonly rule: string;
  /** Packets (and their bytes) that matched the whole rule. */
  readonly packets: number;
  readonly bytes: number;
}

/** Options of {@link Ruleset.replace}. */
export interface ReplaceOptions {
  /** The file errors name; default `<ruleset>`. */
  readonly file?: string;
}

const EMPTY: Compiled = {
  ast: { tables: [] },
  tables: [],
  byHook: [new Map(), new Map(), new Map(), new Map(), new Map()],
  ct: null,
};

/** A stack's nftables-like ruleset. Make one with {@link createRuleset} or the plugin. */
export class Ruleset {
  private current: Compiled = EMPTY;
  private readonly dispatchers = new Map<string, () => void>();
  private readonly logLines: string[] = [];
  private closed = false;

  constructor(
    /** The stack the ruleset filters. */
    readonly net: Stack,
    private readonly registerHook: (ops: NfHookOps) => () => void,
  ) {}

  /**
   * Replaces the whole ruleset with nft text or a built ruleset, atomically. It is parsed,
   * checked and compiled first; on any error it throws and the ruleset in force stays.
   * Counters start from the values the new ruleset gives (0 unless `counter packets N …`).
   * @throws NftSyntaxError with file, line, column and a caret
   */
  replace(input: string | RulesetAst, options: ReplaceOptions = {}): void {
    if (this.closed) throw new SkbuffError("ESHUTDOWN", "the ruleset's stack is closed");
    const file = options.file ?? "<ruleset>";
    let ast: RulesetAst;
    if (typeof input === "string") {
      ast = parseRuleset(input, { file });
    } else {
      checkRuleset(input, file, null);
      ast = input;
    }
    const next = compile(ast, {
      net: this.net,
      file,
      source: typeof input === "string" ? input : null,
      onLog: (line) => this.pushLog(line),
    });
    const keys = new Set<string>();
    next.byHook.forEach((prios, hooknum) => {
      for (const priority of prios.keys()) {
        const key = `${hooknum}:${priority}`;
        keys.add(key);
        if (!this.dispatchers.has(key)) {
          this.dispatchers.set(key, this.registerDispatcher(hooknum, priority));
        }
      }
    });
    this.current = next;
    for (const [key, unregister] of this.dispatchers) {
      if (!keys.has(key)) {
        unregister();
        this.dispatchers.delete(key);
      }
    }
  }

  /** Removes every table (`nft flush ruleset`). */
  flush(): void {
    this.replace({ tables: [] });
  }

  private registerDispatcher(hooknum: number, priority: number): () => void {
    return this.registerHook({
      pf: NFPROTO_IPV4,
      hooknum,
      priority,
      hook: (skb, state) => this.dispatch(hooknum, priority, skb, state),
    });
  }

  /** Runs the base chains in force at one (hook, priority) on a packet. */
  private dispatch(hooknum: number, priority: number, skb: SkBuff, state: NfHookState): number {
    const chains = this.current.byHook[hooknum]!.get(priority);
    if (chains === undefined) return NF_ACCEPT;
    return runChains(chains, skb, state, this.current.ct);
  }

  /**
   * Judges a packet at `state.hook` with every base chain of the ruleset in force, in priority
   * order, as the hooks would (without other plugins' hooks). For tests and tools.
   */
  evaluate(skb: SkBuff, state: NfHookState): number {
    const prios = [...this.current.byHook[state.hook]!.entries()].sort((a, b) => a[0] - b[0]);
    for (const [, chains] of prios) {
      const v = runChains(chains, skb, state, this.current.ct);
      if (v !== NF_ACCEPT) return v;
    }
    return NF_ACCEPT;
  }

  /** The ruleset in force, with live set elements and counter values. */
  ast(): RulesetAst {
    return {
      tables: this.current.tables.map((t) => ({
        family: t.ast.family,
        name: t.ast.name,
        sets: t.ast.sets.map(
          (s): SetAst => ({ ...s, elements: [...t.sets.get(s.name)!.elements()] }),
        ),
        chains: t.chains.map((c) => ({
          ...c.ast,
          rules: c.rules.map((r) => ({
            exprs: r.ast.exprs.map((e, i): Expr => {
              const live = r.stmtCounters.get(i);
              return live ? { kind: "counter", packets: live.packets, bytes: live.bytes } : e;
            }),
          })),
        })),
      })),
    };
  }

  /** `nft list ruleset`. */
  list(): string {
    return formatRuleset(this.ast());
  }

  /** Every rule's counters, in ruleset order. */
  counters(): RuleCounters[] {
    const out: RuleCounters[] = [];
    for (const t of this.current.tables) {
      for (const c of t.chains) {
        c.rules.forEach((r, index) => {
          out.push({
            family: t.ast.family,
            table: t.ast.name,
            chain: c.ast.name,
            index,
            rule: formatRule(r.ast),
            packets: r.counter.packets,
            bytes: r.counter.bytes,
          });
        });
      }
    }
    return out;
  }

  /** The latest lines `log` statements wrote (at most {@link LOG_LINES_KEPT}), oldest first. */
  recentLog(): readonly string[] {
    return [...this.logLines];
  }

  /**
   * `nft add element`: adds elements (`"10.0.0.1"`, `"10.1.0.0/16"`, `"1024-2000"`, numbers) to
   * a named set. The table is `NAME` or `FAMILY NAME`. All are checked before any is added.
   * @throws SkbuffError ENOENT for an unknown table or set, EINVAL for a bad element
   */
  addElement(table: string, set: string, elements: readonly (string | number)[]): void {
    const s = this.findSet(table, set);
    s.add(this.elems(s, set, elements));
  }

  /**
   * `nft delete element`: removes elements from a named set.
   * @throws SkbuffError ENOENT for an unknown table, set or element, EINVAL for a bad element
   */
  deleteElement(table: string, set: string, elements: readonly (string | number)[]): void {
    const s = this.findSet(table, set);
    const parsed = this.elems(s, set, elements);
    const have = new Set(s.elements().map((e) => `${e.lo}-${e.hi}`));
    const missing = parsed.find((e) => !have.has(`${e.lo}-${e.hi}`));
    if (missing !== undefined) {
      throw new SkbuffError("ENOENT", `set ${set}: an element to delete is not in it`);
    }
    s.delete(parsed);
  }

  /** Unregisters the ruleset's hooks; it judges no more packets. */
  close(): void {
    for (const unregister of this.dispatchers.values()) unregister();
    this.dispatchers.clear();
    this.current = EMPTY;
    this.closed = true;
  }

  private findSet(table: string, set: string): ElemSet {
    const [a, b] = table.trim().split(/\s+/);
    const family = b === undefined ? undefined : a;
    const name = b ?? a;
    const t = this.current.tables.find(
      (x) => x.ast.name === name && (family === undefined || x.ast.family === family),
    );
    if (t === undefined) throw new SkbuffError("ENOENT", `no table ${table}`);
    const s = t.sets.get(set);
    if (s === undefined) throw new SkbuffError("ENOENT", `no set ${set} in table ${table}`);
    return s;
  }

  private elems(s: ElemSet, set: string, elements: readonly (string | number)[]) {
    const type = s.type === "anonymous" ? "ipv4_addr" : s.type;
    return elements.map((x) => {
      const e = parseElem(type, String(x));
      if (typeof e === "string") throw new SkbuffError("EINVAL", `set ${set}: ${e}`);
      if (!s.interval && e.lo !== e.hi) {
        throw new SkbuffError(
          "EINVAL",
          `set ${set}: ${x} is a range or prefix: the set needs "flags interval" to hold one`,
        );
      }
      return e;
    });
  }

  private pushLog(line: string): void {
    this.logLines.push(line);
    if (this.logLines.length > LOG_LINES_KEPT) this.logLines.shift();
  }

  /** The tables in force (their ASTs, as compiled). */
  tables(): readonly TableAst[] {
    return this.current.ast.tables;
  }
}

function runChains(
  chains: readonly CChain[],
  skb: SkBuff,
  state: NfHookState,
  ct: ConntrackApi | null,
): number {
  const p = pktInfo(skb, state);
  for (const chain of chains) {
    // NAT chains see only the first packet of a connection (nf_nat_inet_fn).
    if (chain.nat && ct !== null && ct.ctState(skb) !== CT_STATE.NEW) continue;
    p.target = null;
    const v = runBaseChain(chain, p);
    if (v !== NF_ACCEPT) return v;
  }
  return NF_ACCEPT;
}

/** A ruleset for a stack, registering its hooks directly (the plugin uses its context). */
export function createRuleset(net: Stack): Ruleset {
  return new Ruleset(net, (ops) => net.nf.register(ops));
}
