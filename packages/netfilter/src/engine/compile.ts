/**
 * Compiles a checked ruleset into evaluators: each rule becomes an array of small closures
 * (`steps`) that read header fields straight from the packet's bytes. No string work and no
 * allocation per packet beyond one small context object: addresses compare as u32, prefixes by
 * mask, sets through {@link ElemSet}. A step returns {@link NFT_CONTINUE}, {@link NFT_BREAK}
 * (the rule does not match) or a verdict.
 * @see net/netfilter/nf_tables_core.c nft_do_chain(), nft_cmp_fast.c, nft_lookup.c
 * @packageDocumentation
 */
import {
  getU16,
  getU32,
  NF_ACCEPT,
  NF_QUEUE_NR,
  type NfHookState,
  nfDropReason,
  type SkBuff,
  SkbDropReason,
  type Stack,
} from "@skbuff/core";
import { IP_OFFSET, ipFragOff, ipIhl } from "@skbuff/ipv4";
import { nfLogLine, nftLogChannel } from "../log.js";
import { type ConntrackApi, conntrackOf, type NatApi, natOf } from "../nf_api.js";
import {
  type ChainAst,
  type CounterStmt,
  type Elem,
  type Expr,
  type HookName,
  ICMP_REJECT_CODES,
  type LimitExpr,
  locOf,
  type MatchExpr,
  type RuleAst,
  type RulesetAst,
  type TableAst,
} from "../nft/ast.js";
import { NftSyntaxError } from "../nft/errors.js";
import { nfSendReset, nfSendUnreach } from "../reject.js";
import { ElemSet } from "./sets.js";

/** The rule goes on with its next expression. */
export const NFT_CONTINUE = -1;
/** The rule does not match: go on with the next rule. */
export const NFT_BREAK = -2;
export const NFT_RETURN = -3;
export const NFT_JUMP = -4;
export const NFT_GOTO = -5;

/** What the steps of one evaluation read (`struct nft_pktinfo`). */
export interface Pkt {
  readonly skb: SkBuff;
  readonly state: NfHookState;
  readonly b: Uint8Array;
  /** Offset of the IP header, or -1 when there is no readable one. */
  readonly nh: number;
  readonly proto: number;
  /** Offset of the transport header, or -1 (no IP header, or a fragment after the first). */
  readonly th: number;
  /** Bytes readable from `th`. */
  readonly thLen: number;
  /** The chain a jump or goto goes to. */
  target: CChain | null;
}

/** Builds the evaluation context of a packet. */
export function pktInfo(skb: SkBuff, state: NfHookState): Pkt {
  const b = skb.head;
  const nh = skb.networkHeader;
  if (nh < 0 || nh + 20 > skb.tail || b[nh]! >> 4 !== 4) {
    return { skb, state, b, nh: -1, proto: -1, th: -1, thLen: 0, target: null };
  }
  const th = nh + ipIhl(b, nh) * 4;
  const first = (ipFragOff(b, nh) & IP_OFFSET) === 0 && th <= skb.tail;
  return {
    skb,
    state,
    b,
    nh,
    proto: b[nh + 9]!,
    th: first ? th : -1,
    thLen: first ? skb.tail - th : 0,
    target: null,
  };
}

export type Step = (p: Pkt) => number;

/** Packets and bytes. */
export interface Counter {
  packets: number;
  bytes: number;
}

export interface CRule {
  readonly ast: RuleAst;
  readonly steps: readonly Step[];
  /** Packets that matched the whole rule. */
  readonly counter: Counter;
  /** The live values of the rule's `counter` statements, by expression index. */
  readonly stmtCounters: ReadonlyMap<number, Counter>;
}

export interface CChain {
  readonly table: TableAst;
  readonly ast: ChainAst;
  rules: CRule[];
  /** For base chains. */
  readonly hooknum: number;
  readonly priority: number;
  /** NF verdict of the policy. */
  readonly policyDrop: boolean;
  readonly nat: boolean;
}

export interface CTable {
  readonly ast: TableAst;
  readonly sets: ReadonlyMap<string, ElemSet>;
  readonly chains: readonly CChain[];
}

/** A compiled ruleset: tables, and base chains by hook and priority (in run order). */
export interface Compiled {
  readonly ast: RulesetAst;
  readonly tables: readonly CTable[];
  /** byHook[hooknum]: priority → base chains at it, in table order. */
  readonly byHook: readonly ReadonlyMap<number, readonly CChain[]>[];
  /** The stack's conntrack when the ruleset was compiled (NAT chains ask it for NEW). */
  readonly ct: ConntrackApi | null;
}

/** Hook numbers by nft hook name. */
export const HOOKNUM: Readonly<Record<HookName, number>> = {
  prerouting: 0,
  input: 1,
  forward: 2,
  output: 3,
  postrouting: 4,
};

/** What compiling needs besides the ruleset. */
export interface CompileContext {
  readonly net: Stack;
  readonly file: string;
  readonly source: string | null;
  /** Receives every line a `log` statement writes. */
  readonly onLog: (line: string) => void;
}

const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/** Compiles a checked ruleset. @throws NftSyntaxError when it needs what the stack lacks */
export function compile(ast: RulesetAst, ctx: CompileContext): Compiled {
  const byHook: Map<number, CChain[]>[] = [new Map(), new Map(), new Map(), new Map(), new Map()];
  const tables: CTable[] = [];
  for (const table of ast.tables) {
    const sets = new Map(
      table.sets.map((s) => [s.name, new ElemSet(s.name, s.type, s.interval, s.elements)]),
    );
    const chains: CChain[] = table.chains.map((c) => ({
      table,
      ast: c,
      rules: [],
      hooknum: c.base ? HOOKNUM[c.base.hook] : -1,
      priority: c.base?.priority ?? 0,
      policyDrop: c.base?.policy === "drop",
      nat: c.base?.type === "nat",
    }));
    const byName = new Map(chains.map((c) => [c.ast.name, c]));
    for (const chain of chains) {
      chain.rules = chain.ast.rules.map((r) => compileRule(r, { ...ctx, sets, byName }));
      if (chain.hooknum >= 0) {
        const at = byHook[chain.hooknum]!;
        const list = at.get(chain.priority) ?? [];
        list.push(chain);
        at.set(chain.priority, list);
      }
    }
    tables.push({ ast: table, sets, chains });
  }
  return { ast, tables, byHook, ct: conntrackOf(ctx.net) };
}

interface RuleContext extends CompileContext {
  readonly sets: ReadonlyMap<string, ElemSet>;
  readonly byName: ReadonlyMap<string, CChain>;
}

function compileRule(rule: RuleAst, ctx: RuleContext): CRule {
  const stmtCounters = new Map<number, Counter>();
  const steps = rule.exprs.map((e, i) => {
    if (e.kind === "counter") {
      const c: Counter = { packets: e.packets, bytes: e.bytes };
      stmtCounters.set(i, c);
      return counterStep(c);
    }
    return compileExpr(e, ctx);
  });
  return { ast: rule, steps, counter: { packets: 0, bytes: 0 }, stmtCounters };
}

function counterStep(c: Counter): Step {
  return (p) => {
    c.packets++;
    c.bytes += p.skb.len;
    return NFT_CONTINUE;
  };
}

function fail(ctx: CompileContext, message: string, node: object): never {
  const loc = locOf(node);
  throw new NftSyntaxError(message, ctx.file, loc ? ctx.source : null, loc);
}

function compileExpr(e: Exclude<Expr, CounterStmt>, ctx: RuleContext): Step {
  switch (e.kind) {
    case "match":
      return compileMatch(e, ctx);
    case "limit":
      return limitStep(e, ctx.net);
    case "log": {
      const prefix = e.prefix ?? "";
      const { net, onLog } = ctx;
      return (p) => {
        const line = nfLogLine(prefix, p.skb, p.state);
        onLog(line);
        if (nftLogChannel.hasSubscribers) {
          nftLogChannel.publish({ stack: net, line, prefix, skb: p.skb });
        }
        return NFT_CONTINUE;
      };
    }
    case "mark": {
      const v = e.value;
      return (p) => {
        p.skb.mark = v;
        return NFT_CONTINUE;
      };
    }
    case "accept":
      return () => NF_ACCEPT;
    case "drop":
      return (p) => nfDropReason(p.skb, SkbDropReason.NETFILTER_DROP);
    case "return":
      return () => NFT_RETURN;
    case "jump":
    case "goto": {
      const target = ctx.byName.get(e.chain)!;
      const code = e.kind === "jump" ? NFT_JUMP : NFT_GOTO;
      return (p) => {
        p.target = target;
        return code;
      };
    }
    case "queue": {
      const v = NF_QUEUE_NR(e.num, e.bypass);
      return () => v;
    }
    case "reject": {
      const net = ctx.net;
      if (e.with?.kind === "tcp reset") {
        return (p) => {
          if (p.proto === 6) nfSendReset(net, p.skb);
          return nfDropReason(p.skb, SkbDropReason.NETFILTER_REJECT);
        };
      }
      const code = ICMP_REJECT_CODES[e.with?.code ?? "port-unreachable"];
      return (p) => {
        if (p.nh >= 0) nfSendUnreach(net, p.skb, code);
        return nfDropReason(p.skb, SkbDropReason.NETFILTER_REJECT);
      };
    }
    case "snat":
    case "dnat":
    case "masquerade": {
      const nat: NatApi | null = natOf(ctx.net);
      if (nat === null) fail(ctx, `${e.kind} needs the conntrack/NAT part of netfilter()`, e);
      const range =
        e.addr === undefined && e.port === undefined
          ? null
          : {
              minAddr: e.addr?.lo ?? 0,
              maxAddr: e.addr?.hi ?? 0,
              minPort: e.port?.lo ?? 0,
              maxPort: e.port?.hi ?? 0,
            };
      const type = e.kind;
      return (p) => nat.setup(p.skb, p.state, type, range);
    }
  }
}

/**
 * `limit rate N/unit burst M packets`: a token bucket on the stack's clock. It starts full with
 * `burst` packets' worth; each packet costs one, and tokens come back at `rate` per unit.
 * Worked in ms × rate so that the arithmetic stays exact.
 * @see net/netfilter/nft_limit.c nft_limit_eval()
 */
function limitStep(e: LimitExpr, net: Stack): Step {
  const cost = UNIT_MS[e.unit];
  const max = cost * e.burst;
  let tokens = max;
  let last = net.clock.now();
  return () => {
    const now = net.clock.now();
    tokens = Math.min(max, tokens + (now - last) * e.rate);
    last = now;
    if (tokens >= cost) {
      tokens -= cost;
      return NFT_CONTINUE;
    }
    return NFT_BREAK;
  };
}

type Getter = (p: Pkt) => number;

function l4(proto: number, off: number, size: 1 | 2): Getter {
  if (size === 1) {
    return (p) => (p.proto === proto && p.thLen > off ? p.b[p.th + off]! : -1);
  }
  return (p) => (p.proto === proto && p.thLen >= off + 2 ? getU16(p.b, p.th + off) : -1);
}

function getter(m: MatchExpr, ct: () => ConntrackApi): Getter {
  switch (m.key) {
    case "ip saddr":
      return (p) => (p.nh >= 0 ? getU32(p.b, p.nh + 12) : -1);
    case "ip daddr":
      return (p) => (p.nh >= 0 ? getU32(p.b, p.nh + 16) : -1);
    case "ip protocol":
      return (p) => p.proto;
    case "tcp sport":
      return l4(6, 0, 2);
    case "tcp dport":
      return l4(6, 2, 2);
    case "udp sport":
      return l4(17, 0, 2);
    case "udp dport":
      return l4(17, 2, 2);
    case "tcp flags":
      return l4(6, 13, 1);
    case "icmp type":
      return l4(1, 0, 1);
    case "meta mark":
      return (p) => p.skb.mark >>> 0;
    case "meta length":
      return (p) => p.skb.len;
    case "ct state": {
      const api = ct();
      return (p) => api.ctState(p.skb);
    }
    case "iifname":
    case "oifname":
      throw new Error("unreachable: names have their own matcher");
  }
}

function elemTest(elem: Elem): (v: number) => boolean {
  const { lo, hi } = elem;
  return lo === hi ? (v) => v === lo : (v) => v >= lo && v <= hi;
}

function compileMatch(m: MatchExpr, ctx: RuleContext): Step {
  const neg = m.op === "!=";
  const v = m.value;
  if (m.key === "iifname" || m.key === "oifname") {
    if (v.kind !== "names") fail(ctx, `${m.key} takes interface names`, m);
    const exact = new Set(v.names.filter((n) => !n.endsWith("*")));
    const prefixes = v.names.filter((n) => n.endsWith("*")).map((n) => n.slice(0, -1));
    const input = m.key === "iifname";
    return (p) => {
      const dev = input ? p.state.in : p.state.out;
      if (dev === null) return NFT_BREAK;
      let hit = exact.has(dev.name);
      for (let i = 0; !hit && i < prefixes.length; i++) hit = dev.name.startsWith(prefixes[i]!);
      return hit !== neg ? NFT_CONTINUE : NFT_BREAK;
    };
  }
  const get = getter(m, () => {
    const api = conntrackOf(ctx.net);
    if (api === null) fail(ctx, "ct state needs the conntrack part of netfilter()", m);
    return api;
  });
  switch (v.kind) {
    case "bits": {
      const bits = v.bits;
      return (p) => {
        const x = get(p);
        if (x < 0) return NFT_BREAK;
        return ((x & bits) !== 0) !== neg ? NFT_CONTINUE : NFT_BREAK;
      };
    }
    case "masked": {
      const { mask, value } = v;
      return (p) => {
        const x = get(p);
        if (x < 0) return NFT_BREAK;
        return ((x & mask) === value) !== neg ? NFT_CONTINUE : NFT_BREAK;
      };
    }
    case "elem": {
      const test = elemTest(v.elem);
      return (p) => {
        const x = get(p);
        if (x < 0) return NFT_BREAK;
        return test(x) !== neg ? NFT_CONTINUE : NFT_BREAK;
      };
    }
    case "set":
    case "setref": {
      const set =
        v.kind === "set" ? new ElemSet("", "anonymous", true, v.elems) : ctx.sets.get(v.name)!;
      return (p) => {
        const x = get(p);
        if (x < 0) return NFT_BREAK;
        return set.has(x) !== neg ? NFT_CONTINUE : NFT_BREAK;
      };
    }
    case "names":
      return fail(ctx, `${m.key} does not take names`, m);
  }
}

/**
 * `nft_do_chain`: runs a base chain on a packet. A jump comes back after the rule that jumped,
 * a goto does not; `return` (or the end) of a jumped-to chain goes back; at the base chain they
 * apply its policy. Returns an NF verdict word.
 */
export function runBaseChain(base: CChain, p: Pkt): number {
  let chain = base;
  let i = 0;
  let stack: { chain: CChain; i: number }[] | null = null;
  for (;;) {
    let verdict = NFT_RETURN;
    while (i < chain.rules.length) {
      const rule = chain.rules[i++]!;
      const steps = rule.steps;
      let r = NFT_CONTINUE;
      for (let s = 0; s < steps.length && r === NFT_CONTINUE; s++) r = steps[s]!(p);
      if (r === NFT_BREAK) continue;
      rule.counter.packets++;
      rule.counter.bytes += p.skb.len;
      if (r === NFT_CONTINUE) continue;
      if (r === NFT_JUMP) {
        stack ??= [];
        stack.push({ chain, i });
        chain = p.target!;
        i = 0;
        continue;
      }
      if (r === NFT_GOTO) {
        chain = p.target!;
        i = 0;
        continue;
      }
      verdict = r;
      break;
    }
    if (verdict !== NFT_RETURN) return verdict;
    const back = stack?.pop();
    if (back === undefined) {
      return base.policyDrop ? nfDropReason(p.skb, SkbDropReason.NETFILTER_DROP) : NF_ACCEPT;
    }
    chain = back.chain;
    i = back.i;
  }
}
