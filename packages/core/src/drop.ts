/**
 * The two ways a packet's life ends: {@link consumeSkb} (it was used) and {@link kfreeSkb}
 * (it was dropped, and why). Every packet ends in exactly one of them.
 * @see net/core/skbuff.c consume_skb(), kfree_skb_reason()
 * @packageDocumentation
 */
import { SkbDropReason } from "./drop_reason.js";
import type { NetDevice } from "./netdevice.js";
import type { SkBuff } from "./skbuff.js";
import type { Stack } from "./stack.js";
import { tp } from "./trace.js";

function netOf(skb: SkBuff, net: Stack | null | undefined): Stack | null {
  if (net) return net;
  const dev = skb.dev as NetDevice | null;
  return dev?.net ?? null;
}

/**
 * Drops a packet: records the reason on the skb, counts it in the stack's per-reason drop
 * counters and fires the `skbuff:kfree_skb` tracepoint. `net` is needed only when the skb has no
 * device yet (locally generated and not routed).
 * @see net/core/skbuff.c kfree_skb_reason()
 */
export function kfreeSkb(
  skb: SkBuff,
  reason: SkbDropReason = SkbDropReason.NOT_SPECIFIED,
  net?: Stack | null,
): void {
  skb.dropReason = reason;
  const ns = netOf(skb, net);
  if (ns !== null) {
    const d = ns.drops;
    d[reason] = (d[reason] ?? 0) + 1;
  }
  // A subscriber may keep the skb and read it later: its head then stays out of the pool.
  if (tp.kfreeSkb.hasSubscribers) {
    tp.kfreeSkb.publish({ skb, reason, stack: ns });
    skb.release(false);
  } else {
    skb.release();
  }
}

/**
 * Frees a packet that was used as intended (delivered, transmitted, copied to a socket).
 * @see net/core/skbuff.c consume_skb()
 */
export function consumeSkb(skb: SkBuff, net?: Stack | null): void {
  if (tp.consumeSkb.hasSubscribers) {
    tp.consumeSkb.publish({ skb, stack: netOf(skb, net) });
    skb.release(false);
  } else {
    skb.release();
  }
}
