/**
 * @skbuff/cli — the `skb` command: `skb demo`, `skb run CONFIG`, `skb packetdrill FILE…`.
 * @packageDocumentation
 */
export { blockPingFrom, type DemoOptions, type DemoResult, runDemo } from "./demo.js";
export { runPacketdrill } from "./packetdrill.js";
export { type RunOptions, runStack } from "./run.js";
