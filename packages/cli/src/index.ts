/**
 * @skbuff/cli — the `skb` command: `skb demo`, `skb run CONFIG`.
 * @packageDocumentation
 */
export { blockPingFrom, type DemoOptions, type DemoResult, runDemo } from "./demo.js";
export { type RunOptions, runStack } from "./run.js";
