/**
 * @skbuff/netfilter — an nftables-like firewall for skbuff stacks: a ruleset language (a
 * practical subset of nft's), a rule engine on the stack's netfilter hooks, conntrack, NAT,
 * NFQUEUE, LOG and REJECT.
 *
 * Layers:
 * - `nft/`: the language: lexer, parser, checks, `list ruleset` formatter, errors with carets;
 * - `engine/`: the compiled ruleset ({@link Ruleset}): evaluators, sets, atomic replacement;
 * - `reject.ts`, `log.ts`: the REJECT and LOG targets;
 * - `builder.ts`: the same rules built in TypeScript;
 * - `plugin.ts`: {@link netfilter}, the plugin factory (also the default export).
 * @packageDocumentation
 */
export {
  accept,
  type ChainOptions,
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
  TableBuilder,
  table,
  type ValueInput,
} from "./builder.js";
export * from "./conntrack/index.js";
export {
  type CChain,
  type Compiled,
  type Counter,
  type CRule,
  type CTable,
  NFT_BREAK,
  NFT_CONTINUE,
  NFT_GOTO,
  NFT_JUMP,
  NFT_RETURN,
  type Pkt,
  type Step,
} from "./engine/compile.js";
export {
  createRuleset,
  LOG_LINES_KEPT,
  type ReplaceOptions,
  type RuleCounters,
  Ruleset,
} from "./engine/ruleset.js";
export { ElemSet } from "./engine/sets.js";
export { NFT_LOG_CHANNEL, type NftLogMessage, nfLogLine } from "./log.js";
export * from "./nat/index.js";
export {
  CONNTRACK_API,
  type ConntrackApi,
  CT_STATE,
  conntrackOf,
  IP_CT,
  NAT_API,
  type NatApi,
  type NatRange,
  type NatType,
  natOf,
} from "./nf_api.js";
export {
  type NfqueueBinding,
  type NfqueueHandler,
  type NfqueueOptions,
  type NfqueuePacket,
  type NfqueuePluginOptions,
  NfqueueStats,
  type NfqueueVerdict,
  nfqueueBind,
  nfqueueOf,
  nfqueuePlugin,
} from "./nfqueue.js";
export type {
  BaseChainAst,
  ChainAst,
  ChainType,
  CounterStmt,
  Elem,
  Expr,
  Family,
  HookName,
  IcmpRejectCode,
  JumpStmt,
  LimitExpr,
  LimitUnit,
  Loc,
  LogStmt,
  MarkStmt,
  MatchExpr,
  MatchKey,
  MatchValue,
  NatStmt,
  Policy,
  QueueStmt,
  RejectStmt,
  RuleAst,
  RulesetAst,
  SetAst,
  SetType,
  TableAst,
  VerdictStmt,
} from "./nft/ast.js";
export { ICMP_REJECT_CODES, locOf } from "./nft/ast.js";
export { checkRuleset } from "./nft/check.js";
export { NftSyntaxError } from "./nft/errors.js";
export { formatPriority, formatRule, formatRuleset } from "./nft/format.js";
export {
  type ParseOptions,
  PRIORITY_NAMES,
  type PriorityName,
  parseRule,
  parseRuleset,
} from "./nft/parser.js";
export {
  NETFILTER_PLUGIN,
  type NetfilterContext,
  type NetfilterOptions,
  NFT_RULESET,
  netfilter,
  rulesetOf,
} from "./plugin.js";
export { nfSendReset, nfSendUnreach } from "./reject.js";

import { netfilter } from "./plugin.js";
export default netfilter;
