/**
 * Tracepoints on Node's `diagnostics_channel`, named like the kernel's (`skb:kfree_skb` becomes
 * `skbuff:kfree_skb`). Publishing checks `hasSubscribers` first, so an unsubscribed tracepoint
 * costs one property read.
 * @packageDocumentation
 */
import diagnostics_channel, { type Channel } from "node:diagnostics_channel";

/** Names of the tracepoints the stack publishes. */
export const TRACEPOINTS = {
  /** `{ skb, reason, stack }` when a packet is dropped. */
  kfreeSkb: "skbuff:kfree_skb",
  /** `{ skb, stack }` when a packet is consumed (delivered). */
  consumeSkb: "skbuff:consume_skb",
  /** `{ skb, dev, len, rc }` after a driver's xmit. */
  netDevXmit: "skbuff:net_dev_xmit",
  /** `{ skb, dev }` when a packet enters the stack from the backlog. */
  netifReceiveSkb: "skbuff:netif_receive_skb",
  /** `{ skb, dev }` when a driver hands a packet to `netifRx`. */
  netifRx: "skbuff:netif_rx",
  /** `{ skb, stack, pf, hooknum, verdict }` after each netfilter hook function. */
  nfHook: "skbuff:nf_hook",
  /**
   * `{ stack, error }` when a hook, handler or driver throws, plus what threw: `hook` (the
   * `NfHookOps`), `handler` (the `PacketType`) or `dev` (the driver's device).
   */
  handlerError: "skbuff:handler_error",
  /** `{ sk, skb }` when TCP retransmits. */
  tcpRetransmitSkb: "skbuff:tcp_retransmit_skb",
  /** `{ fn, phase: "entry" | "exit", arg0, depth, timeUs }` from the function-graph tracer. */
  funcGraph: "skbuff:func_graph",
} as const;

/** The channel for one tracepoint name. */
export function tracepoint(name: string): Channel {
  return diagnostics_channel.channel(name);
}

/** Pre-made channels, read on the hot path. */
export const tp = {
  kfreeSkb: tracepoint(TRACEPOINTS.kfreeSkb),
  consumeSkb: tracepoint(TRACEPOINTS.consumeSkb),
  netDevXmit: tracepoint(TRACEPOINTS.netDevXmit),
  netifReceiveSkb: tracepoint(TRACEPOINTS.netifReceiveSkb),
  netifRx: tracepoint(TRACEPOINTS.netifRx),
  nfHook: tracepoint(TRACEPOINTS.nfHook),
  handlerError: tracepoint(TRACEPOINTS.handlerError),
  tcpRetransmitSkb: tracepoint(TRACEPOINTS.tcpRetransmitSkb),
  funcGraph: tracepoint(TRACEPOINTS.funcGraph),
} as const;
