/**
 * Choosing a translation: `get_unique_tuple` picks the address from the range and keeps the
 * original port (or ICMP id) when the resulting reply tuple is free, else searches the port
 * range for one that is, so that every connection's reply tuple stays unique.
 * @see net/netfilter/nf_nat_core.c get_unique_tuple(), nf_nat_l4proto_unique_tuple()
 * @packageDocumentation
 */

import type { NfConn } from "../conntrack/nf_conn.js";
import type { NfConntrackTable } from "../conntrack/table.js";
import {
  IPPROTO_ICMP,
  IPPROTO_TCP,
  IPPROTO_UDP,
  invertTuple,
  type NfConntrackTuple,
} from "../conntrack/tuple.js";
import type { NatRange } from "../nf_api.js";
import { NF_NAT_MANIP, type NfNatManipType } from "./manip.js";

/**
 * `nf_nat_used_tuple`: whether a connection other than `ct` already answers to the reply of
 * `t` (the original-direction view after translation).
 */
export function nfNatUsedTuple(t: NfConntrackTuple, ct: NfConn, table: NfConntrackTable): boolean {
  const reply = invertTuple(t);
  return reply === null || table.taken(reply, ct);
}

/** FNV-1a over the tuple: a stable starting point for the port search. */
function tupleHash(t: NfConntrackTuple): number {
  let h = 0x811c9dc5;
  for (const v of [t.src, t.dst, t.protonum, t.sport, t.dport]) {
    for (let i = 0; i < 4; i++) {
      h ^= (v >>> (i * 8)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}

function rangeHasAddrs(r: NatRange | null): r is NatRange {
  return r !== null && (r.minAddr !== 0 || r.maxAddr !== 0);
}

function rangeHasPorts(r: NatRange | null): r is NatRange {
  return r !== null && (r.minPort !== 0 || r.maxPort !== 0);
}

/** The tuple's port (or id) that `maniptype` may change. */
function keyOf(t: NfConntrackTuple, maniptype: NfNatManipType): number {
  if (t.protonum === IPPROTO_ICMP || maniptype === NF_NAT_MANIP.SRC) return t.sport;
  return t.dport;
}

function withKey(t: NfConntrackTuple, maniptype: NfNatManipType, key: number): NfConntrackTuple {
  if (t.protonum === IPPROTO_ICMP || maniptype === NF_NAT_MANIP.SRC) return { ...t, sport: key };
  return { ...t, dport: key };
}

/**
 * `find_best_ips_proto`: the address from the range — the current one when it is in the range,
 * else one chosen by a hash of the tuple, so a flow keeps its address.
 */
function pickAddr(
  t: NfConntrackTuple,
  range: NatRange,
  maniptype: NfNatManipType,
): NfConntrackTuple {
  const min = range.minAddr >>> 0;
  const max = range.maxAddr >>> 0;
  const cur = maniptype === NF_NAT_MANIP.SRC ? t.src : t.dst;
  let addr: number;
  if (min === max) addr = min;
  else if (cur >= min && cur <= max) addr = cur;
  else addr = (min + (tupleHash({ ...t, sport: 0, dport: 0 }) % (max - min + 1))) >>> 0;
  return maniptype === NF_NAT_MANIP.SRC ? { ...t, src: addr } : { ...t, dst: addr };
}

/**
 * `get_unique_tuple`: the original-direction tuple after translation, from `orig` (the
 * connection as it is now), the range and the manip type; null when every candidate clashes.
 */
export function getUniqueTuple(
  orig: NfConntrackTuple,
  range: NatRange | null,
  ct: NfConn,
  maniptype: NfNatManipType,
  table: NfConntrackTable,
): NfConntrackTuple | null {
  const t = rangeHasAddrs(range) ? pickAddr(orig, range, maniptype) : orig;
  const p = t.protonum;
  const hasKey = p === IPPROTO_TCP || p === IPPROTO_UDP || p === IPPROTO_ICMP;
  const specified = rangeHasPorts(range);
  // "Only bother mapping if it's not already in range and unique."
  const key = keyOf(t, maniptype);
  const inRange = !specified || !hasKey || (key >= range.minPort && key <= range.maxPort);
  if (inRange && !nfNatUsedTuple(t, ct, table)) return t;
  if (!hasKey) return null;
  let min: number;
  let size: number;
  if (specified) {
    min = range.minPort;
    size = range.maxPort - range.minPort + 1;
  } else if (p === IPPROTO_ICMP) {
    min = 0;
    size = 65536;
  } else if (maniptype === NF_NAT_MANIP.DST) {
    // "We don't do port mapping for DNAT unless asked": the clash stays, and the connection
    // fails to enter the table.
    return null;
  } else if (key < 1024) {
    // "Loose convention: >> 512 is credential passing"
    if (key < 512) {
      min = 1;
      size = 511;
    } else {
      min = 600;
      size = 1023 - 600 + 1;
    }
  } else {
    min = 1024;
    size = 65535 - 1024 + 1;
  }
  const off = tupleHash(t) % size;
  for (let i = 0; i < size; i++) {
    const cand = withKey(t, maniptype, min + ((off + i) % size));
    if (!nfNatUsedTuple(cand, ct, table)) return cand;
  }
  return null;
}
