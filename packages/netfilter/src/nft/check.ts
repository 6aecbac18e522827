/**
 * Checks that a ruleset can work, before anything of it is used: names are unique, sets and
 * chains that rules name exist and fit, jumps make no loop, verdicts end their rule, NAT
 * statements sit in NAT chains at the right hooks. The parser runs it on every ruleset it
 * parses and the engine on every ruleset it compiles (built in TypeScript too).
 * @see nftables src/evaluate.c (the checks this follows)
 * @packageDocumentation
 */
import {
  type ChainAst,
  type Expr,
  type Loc,
  locOf,
  type RulesetAst,
  type TableAst,
  TERMINAL_KINDS,
} from "./ast.js";
import { NftSyntaxError } from "./errors.js";
import { KEY_TYPE } from "./values.js";

/**
 * Throws an {@link NftSyntaxError} (with the position when the node came from the parser) at
 * the first problem.
 */
export function checkRuleset(ast: RulesetAst, file: string, source: string | null): void {
  const fail = (message: string, node: object | undefined): never => {
    const loc: Loc | undefined = node ? locOf(node) : undefined;
    throw new NftSyntaxError(message, file, loc ? source : null, loc);
  };
  const tables = new Set<string>();
  for (const table of ast.tables) {
    const id = `${table.family} ${table.name}`;
    if (tables.has(id)) fail(`table ${id} is declared twice`, table);
    tables.add(id);
    checkTable(table, fail);
  }
}

type Fail = (message: string, node: object | undefined) => never;

function checkTable(table: TableAst, fail: Fail): void {
  const sets = new Map(table.sets.map((s) => [s.name, s]));
  if (sets.size !== table.sets.length) {
    const dup = table.sets.find((s, i) => table.sets.findIndex((x) => x.name === s.name) !== i);
    fail(`set ${dup!.name} is declared twice in table ${table.name}`, dup);
  }
  const chains = new Map<string, ChainAst>();
  for (const c of table.chains) {
    if (chains.has(c.name)) fail(`chain ${c.name} is declared twice in table ${table.name}`, c);
    chains.set(c.name, c);
  }
  for (const chain of table.chains) {
    if (chain.base?.type === "nat" && chain.base.hook === "forward") {
      fail(`chain ${chain.name}: a nat chain cannot hook forward`, chain);
    }
    for (const rule of chain.rules) {
      let tcpMatched = false;
      rule.exprs.forEach((e, i) => {
        if (i > 0 && TERMINAL_KINDS.has(rule.exprs[i - 1]!.kind)) {
          fail(`"${rule.exprs[i - 1]!.kind}" ends the rule: nothing after it would run`, e);
        }
        if (e.kind === "match") {
          if (e.key.startsWith("tcp ")) tcpMatched = true;
          if (
            e.key === "ip protocol" &&
            e.op === "==" &&
            e.value.kind === "elem" &&
            e.value.elem.lo === 6 &&
            e.value.elem.hi === 6
          ) {
            tcpMatched = true;
          }
          if (e.value.kind === "setref") {
            const set = sets.get(e.value.name);
            if (set === undefined) {
              fail(`set @${e.value.name} does not exist in table ${table.name}`, e.value);
            }
            if (set.type !== KEY_TYPE[e.key]) {
              fail(
                `set @${set.name} holds ${set.type}, but ${e.key} needs ${KEY_TYPE[e.key]}`,
                e.value,
              );
            }
          }
        }
        checkStatement(e, chain, chains, tcpMatched, fail);
      });
    }
  }
  checkLoops(table, chains, fail);
}

function checkStatement(
  e: Expr,
  chain: ChainAst,
  chains: ReadonlyMap<string, ChainAst>,
  tcpMatched: boolean,
  fail: Fail,
): void {
  switch (e.kind) {
    case "jump":
    case "goto": {
      const target = chains.get(e.chain);
      if (target === undefined) fail(`${e.kind} to chain ${e.chain}, which does not exist`, e);
      if (target.base !== undefined) fail(`${e.kind} to base chain ${e.chain}`, e);
      break;
    }
    case "reject":
      if (e.with?.kind === "tcp reset" && !tcpMatched) {
        fail(
          "reject with tcp reset needs a tcp match before it (like tcp dport 22 or ip protocol tcp)",
          e,
        );
      }
      break;
    case "snat":
    case "dnat":
    case "masquerade": {
      const hooks = e.kind === "dnat" ? ["prerouting", "output"] : ["postrouting", "input"];
      if (
        chain.base !== undefined &&
        (chain.base.type !== "nat" || !hooks.includes(chain.base.hook))
      ) {
        fail(`${e.kind} is only valid in a nat chain hooked at ${hooks.join(" or ")}`, e);
      }
      break;
    }
    default:
      break;
  }
}

/** Refuses jump/goto cycles, naming the loop (`a -> b -> a`). */
function checkLoops(table: TableAst, chains: ReadonlyMap<string, ChainAst>, fail: Fail): void {
  const state = new Map<string, "visiting" | "done">();
  const visit = (chain: ChainAst, path: string[]): void => {
    state.set(chain.name, "visiting");
    for (const rule of chain.rules) {
      for (const e of rule.exprs) {
        if (e.kind !== "jump" && e.kind !== "goto") continue;
        const target = chains.get(e.chain)!;
        const s = state.get(target.name);
        if (s === "visiting") {
          fail(`${e.kind} makes a loop: ${[...path, chain.name, target.name].join(" -> ")}`, e);
        }
        if (s === undefined) visit(target, [...path, chain.name]);
      }
    }
    state.set(chain.name, "done");
  };
  for (const c of table.chains) if (!state.has(c.name)) visit(c, []);
}
