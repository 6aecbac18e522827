/**
 * `struct dst_entry`: the routing decision attached to a packet (`skb.dst`): where it goes
 * (`input` for received packets, `output` for sent ones) and through which device.
 * @see include/net/dst.h
 * @packageDocumentation
 */
import type { NetDevice } from "./netdevice.js";
import type { SkBuff } from "./skbuff.js";
import type { Stack } from "./stack.js";

/** A routing decision. Protocols extend it (IPv4's `rtable`). */
export interface DstEntry {
  /** Output device. */
  readonly dev: NetDevice;
  /** What a received packet does next: local delivery or forwarding (`dst_input`). */
  input(skb: SkBuff): number;
  /** How a packet leaves (`dst_output`): `ip_output` for IPv4. */
  output(net: Stack, sk: unknown, skb: SkBuff): number;
  /** Non-zero once the route is stale and must be looked up again (`dst->obsolete`). */
  obsolete: number;
  /** A negative errno for reject/unreachable routes, else 0. */
  readonly error: number;
}

/** `skb_dst()`. */
export function skbDst<D extends DstEntry = DstEntry>(skb: SkBuff): D | null {
  return skb.dst as D | null;
}
