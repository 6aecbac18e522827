/**
 * The seams between the parts of @skbuff/netfilter: the rule engine (nftables-like rules),
 * connection tracking, NAT and NFQUEUE. The engine asks conntrack for a packet's `ct state` and
 * asks NAT to bind a connection's translation; both live behind these interfaces so each part
 * stands and is tested on its own.
 * @packageDocumentation
 */
import type { NfHookState, SkBuff, Stack } from "@skbuff/core";
import { token } from "@skbuff/core";

/** `enum ip_conntrack_info`: how a packet relates to its connection (`skb.nfctinfo`). */
export const IP_CT = {
  /** Part of an established connection, original direction. */
  ESTABLISHED: 0,
  /** Like NEW, but related to an existing connection (an ICMP error, an FTP data channel). */
  RELATED: 1,
  /** Starts a new connection, or belongs to one not yet seen in both directions. */
  NEW: 2,
  /** Added to the others for packets in the reply direction. */
  IS_REPLY: 3,
  ESTABLISHED_REPLY: 3,
  RELATED_REPLY: 4,
  /** Untracked (the `notrack` statement). */
  UNTRACKED: 7,
} as const;

/** `ct state` bits, as nftables matches them (`ct state established,related`). */
export const CT_STATE = {
  INVALID: 1,
  ESTABLISHED: 2,
  RELATED: 4,
  NEW: 8,
  UNTRACKED: 64,
} as const;

/** What the rule engine needs from connection tracking. */
export interface ConntrackApi {
  /**
   * The `ct state` bit of a packet that passed conntrack's PRE_ROUTING/LOCAL_OUT hook
   * (`CT_STATE.INVALID` when conntrack could not track it, `UNTRACKED` when told not to).
   */
  ctState(skb: SkBuff): number;
  /** The conntrack entry of the packet, or null (`nf_ct_get`). */
  ctOf(skb: SkBuff): object | null;
  /** The entry's mark (`ct mark`), 0 when untracked. */
  ctMark(skb: SkBuff): number;
  setCtMark(skb: SkBuff, mark: number): void;
}

/** A NAT range (`struct nf_nat_range2`): addresses and ports, inclusive; 0 port = keep. */
export interface NatRange {
  /** u32 addresses; equal for a single address. 0/0 with masquerade: the output device's. */
  readonly minAddr: number;
  readonly maxAddr: number;
  readonly minPort: number;
  readonly maxPort: number;
}

/** The kinds of translation a rule can ask for. */
export type NatType = "snat" | "dnat" | "masquerade" | "redirect";

/** What the rule engine needs from NAT. */
export interface NatApi {
  /**
   * `nf_nat_setup_info` from a rule in a `type nat` chain: binds the packet's new connection to
   * a translation. Returns a netfilter verdict (NF_ACCEPT, or NF_DROP when no tuple is free).
   */
  setup(skb: SkBuff, state: NfHookState, type: NatType, range: NatRange | null): number;
}

/** DI tokens under which a stack's conntrack and NAT are provided. */
export const CONNTRACK_API = token<ConntrackApi>("skbuff:nf_conntrack");
export const NAT_API = token<NatApi>("skbuff:nf_nat");

/** Resolves a stack's conntrack, or null when the conntrack plugin part is not loaded. */
export function conntrackOf(net: Stack): ConntrackApi | null {
  return net.container.isRegistered(CONNTRACK_API, true)
    ? net.container.resolve(CONNTRACK_API)
    : null;
}

/** Resolves a stack's NAT, or null. */
export function natOf(net: Stack): NatApi | null {
  return net.container.isRegistered(NAT_API, true) ? net.container.resolve(NAT_API) : null;
}
