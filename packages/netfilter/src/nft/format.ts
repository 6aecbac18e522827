/**
 * `nft list ruleset`: a ruleset printed back in nft's canonical style (tabs, one rule per line,
 * `priority filter`, counters with their values). Parsing what it prints gives the same ruleset.
 * @see nftables src/rule.c (table_print, chain_print, set_print)
 * @packageDocumentation
 */
import type {
  ChainAst,
  Elem,
  Expr,
  MatchExpr,
  RuleAst,
  RulesetAst,
  SetAst,
  TableAst,
} from "./ast.js";
import { PRIORITY_NAMES } from "./parser.js";
import { CT_STATES, formatBits, formatElem, KEY_TYPE, TCP_FLAGS } from "./values.js";

/** The whole ruleset, as `nft list ruleset` prints it. Empty text for no tables. */
export function formatRuleset(ast: RulesetAst): string {
  return ast.tables.map(formatTable).join("");
}

export function formatTable(t: TableAst): string {
  const parts = [...t.sets.map(formatSet), ...t.chains.map(formatChain)];
  return `table ${t.family} ${quoteName(t.name)} {\n${parts.join("\n")}}\n`;
}

function formatSet(s: SetAst): string {
  let out = `\tset ${quoteName(s.name)} {\n\t\ttype ${s.type}\n`;
  if (s.interval) out += "\t\tflags interval\n";
  if (s.elements.length > 0) {
    out += `\t\telements = { ${s.elements.map((e) => formatElem(s.type, e)).join(", ")} }\n`;
  }
  return `${out}\t}\n`;
}

function formatChain(c: ChainAst): string {
  let out = `\tchain ${quoteName(c.name)} {\n`;
  if (c.base) {
    const b = c.base;
    out += `\t\ttype ${b.type} hook ${b.hook} priority ${formatPriority(b.priority)}; policy ${b.policy};\n`;
  }
  for (const r of c.rules) out += `\t\t${formatRule(r)}\n`;
  return `${out}\t}\n`;
}

/** A priority by its nearest standard name when within 10 of it (`filter + 5`), else a number. */
export function formatPriority(p: number): string {
  let best: [string, number] | null = null;
  for (const [name, value] of Object.entries(PRIORITY_NAMES)) {
    const d = p - value;
    if (Math.abs(d) <= 10 && (best === null || Math.abs(d) < Math.abs(best[1]))) best = [name, d];
  }
  if (best === null) return String(p);
  const [name, d] = best;
  return d === 0 ? name : d > 0 ? `${name} + ${d}` : `${name} - ${-d}`;
}

/** One rule, as it appears on its line. */
export function formatRule(r: RuleAst): string {
  return r.exprs.map(formatExpr).join(" ");
}

function formatExpr(e: Expr): string {
  switch (e.kind) {
    case "match":
      return formatMatch(e);
    case "limit":
      return `limit rate ${e.rate}/${e.unit}${e.burst !== 5 ? ` burst ${e.burst} packets` : ""}`;
    case "counter":
      return `counter packets ${e.packets} bytes ${e.bytes}`;
    case "log":
      return e.prefix === undefined ? "log" : `log prefix ${quote(e.prefix)}`;
    case "mark":
      return `meta mark set ${formatElem("mark", { lo: e.value, hi: e.value })}`;
    case "reject":
      if (e.with === undefined) return "reject";
      return e.with.kind === "tcp reset"
        ? "reject with tcp reset"
        : `reject with icmp type ${e.with.code}`;
    case "accept":
    case "drop":
    case "return":
      return e.kind;
    case "jump":
    case "goto":
      return `${e.kind} ${quoteName(e.chain)}`;
    case "queue":
      return `queue num ${e.num}${e.bypass ? " bypass" : ""}`;
    case "snat":
    case "dnat":
    case "masquerade": {
      const addr = e.addr ? formatElem("ipv4_addr", e.addr) : "";
      const port = e.port ? `:${formatElem("inet_service", e.port)}` : "";
      return addr || port ? `${e.kind} to ${addr}${port}` : e.kind;
    }
  }
}

function formatMatch(m: MatchExpr): string {
  const type = KEY_TYPE[m.key];
  const op = m.op === "!=" ? "!= " : "";
  const v = m.value;
  switch (v.kind) {
    case "elem":
      return `${m.key} ${op}${formatElem(type, v.elem)}`;
    case "set":
      return `${m.key} ${op}{ ${v.elems.map((e: Elem) => formatElem(type, e)).join(", ")} }`;
    case "setref":
      return `${m.key} ${op}@${v.name}`;
    case "names":
      return v.names.length === 1
        ? `${m.key} ${op}${quote(v.names[0]!)}`
        : `${m.key} ${op}{ ${v.names.map(quote).join(", ")} }`;
    case "bits":
      return `${m.key} ${op}${formatBits(m.key === "ct state" ? CT_STATES : TCP_FLAGS, v.bits)}`;
    case "masked": {
      const mask = formatBits(TCP_FLAGS, v.mask).split(",");
      const value = formatBits(TCP_FLAGS, v.value).split(",").join(" | ");
      const maskText = mask.length > 1 ? `(${mask.join(" | ")})` : mask[0];
      return `${m.key} & ${maskText} ${m.op} ${value}`;
    }
  }
}

function quote(s: string): string {
  return `"${s.replace(/["\\]/g, "\\$&")}"`;
}

/** Names print bare when they are plain words, quoted otherwise. */
function quoteName(s: string): string {
  return /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(s) ? s : quote(s);
}
