/**
 * Values by data type: how nft text spells them and how `list ruleset` prints them back.
 * Addresses (`ipv4_addr`) are u32 and print as a dotted quad, a prefix or a range; ports
 * (`inet_service`) as numbers; protocols and ICMP types by name when they have one; marks in
 * hex, as nft prints them.
 * @packageDocumentation
 */
import { inetAton, inetMakeMask, inetNtoa } from "@skbuff/core";
import type { Elem, MatchKey, SetType } from "./ast.js";

/** The data types of match keys and set elements. */
export type DataType = SetType | "icmp_type" | "length" | "ifname" | "ct_state" | "tcp_flag";

/** The data type each match key compares. */
export const KEY_TYPE: Readonly<Record<MatchKey, DataType>> = {
  "ip saddr": "ipv4_addr",
  "ip daddr": "ipv4_addr",
  "ip protocol": "inet_proto",
  "tcp sport": "inet_service",
  "tcp dport": "inet_service",
  "udp sport": "inet_service",
  "udp dport": "inet_service",
  "tcp flags": "tcp_flag",
  "icmp type": "icmp_type",
  iifname: "ifname",
  oifname: "ifname",
  "ct state": "ct_state",
  "meta mark": "mark",
  "meta length": "length",
};

/** Protocol names (`/etc/protocols`). */
export const PROTOCOLS: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  sctp: 132,
};

/** Service names nft accepts for ports (printed as numbers). */
export const SERVICES: Readonly<Record<string, number>> = {
  ftp: 21,
  ssh: 22,
  telnet: 23,
  smtp: 25,
  domain: 53,
  http: 80,
  pop3: 110,
  ntp: 123,
  imap: 143,
  https: 443,
};

/** ICMP type names, as nft spells them. */
export const ICMP_TYPES: Readonly<Record<string, number>> = {
  "echo-reply": 0,
  "destination-unreachable": 3,
  "source-quench": 4,
  redirect: 5,
  "echo-request": 8,
  "router-advertisement": 9,
  "router-solicitation": 10,
  "time-exceeded": 11,
  "parameter-problem": 12,
  "timestamp-request": 13,
  "timestamp-reply": 14,
  "info-request": 15,
  "info-reply": 16,
  "address-mask-request": 17,
  "address-mask-reply": 18,
};

/** `ct state` bits by name, in the order nft prints them. */
export const CT_STATES: Readonly<Record<string, number>> = {
  invalid: 1,
  established: 2,
  related: 4,
  new: 8,
  untracked: 64,
};

/** TCP flag bits by name, in the order nft prints them. */
export const TCP_FLAGS: Readonly<Record<string, number>> = {
  fin: 0x01,
  syn: 0x02,
  rst: 0x04,
  psh: 0x08,
  ack: 0x10,
  urg: 0x20,
  ecn: 0x40,
  cwr: 0x80,
};

/** The largest value of each numeric type. */
const MAX: Readonly<Record<string, number>> = {
  ipv4_addr: 0xffffffff,
  inet_service: 0xffff,
  inet_proto: 0xff,
  icmp_type: 0xff,
  mark: 0xffffffff,
  length: 0xffffffff,
};

const NAMES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  inet_proto: PROTOCOLS,
  inet_service: SERVICES,
  icmp_type: ICMP_TYPES,
};

/** What a type's values look like, for messages. */
export const TYPE_DESCRIPTION: Readonly<Record<string, string>> = {
  ipv4_addr: "an IPv4 address, prefix (10.0.0.0/8) or range",
  inet_service: "a port from 0 to 65535, or a range like 1024-65535",
  inet_proto: "a protocol name (tcp, udp, icmp) or number from 0 to 255",
  icmp_type: "an ICMP type name (echo-request, …) or number from 0 to 255",
  mark: "a number from 0 to 0xffffffff",
  length: "a length, or a range like 0-1500",
};

/** One number of a type, or an error message. */
function scalar(type: DataType, text: string): number | string {
  const named = NAMES[type]?.[text];
  if (named !== undefined) return named;
  if (type === "ipv4_addr") {
    const a = inetAton(text);
    return a ?? `"${text}" is not an IPv4 address`;
  }
  if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(text)) {
    return `"${text}" is not ${TYPE_DESCRIPTION[type] ?? "a value of this type"}`;
  }
  const n = Number(text);
  if (n > MAX[type]!) return `${text} is out of range (${TYPE_DESCRIPTION[type]})`;
  return n;
}

/**
 * Parses one element of a numeric type: a value, `lo-hi`, or (addresses) `a.b.c.d/len`.
 * Returns the element or an error message.
 */
export function parseElem(type: DataType, text: string): Elem | string {
  if (type === "ipv4_addr") {
    const slash = text.indexOf("/");
    if (slash >= 0) {
      const a = inetAton(text.slice(0, slash));
      if (a === null) return `"${text.slice(0, slash)}" is not an IPv4 address`;
      const lenText = text.slice(slash + 1);
      if (!/^\d{1,2}$/.test(lenText) || Number(lenText) > 32) {
        return `"/${lenText}" is not a prefix length from 0 to 32`;
      }
      const mask = inetMakeMask(Number(lenText));
      const lo = (a & mask) >>> 0;
      return { lo, hi: (lo | ~mask) >>> 0 };
    }
  }
  const dash = text.indexOf("-", 1);
  // Names may contain dashes (echo-request): try the whole word first.
  const whole = scalar(type, text);
  if (typeof whole === "number") return { lo: whole, hi: whole };
  if (dash < 0) return whole;
  const lo = scalar(type, text.slice(0, dash));
  if (typeof lo === "string") return lo;
  const hi = scalar(type, text.slice(dash + 1));
  if (typeof hi === "string") return hi;
  if (lo > hi) return `range ${text} is empty: its start is above its end`;
  return { lo, hi };
}

/** The prefix length of an element when it is exactly a prefix, else -1. */
export function prefixLen(e: Elem): number {
  for (let len = 32; len >= 0; len--) {
    const mask = inetMakeMask(len);
    if ((e.lo & mask) >>> 0 === e.lo && (e.lo | ~mask) >>> 0 === e.hi) return len;
  }
  return -1;
}

function scalarText(type: DataType, n: number): string {
  switch (type) {
    case "ipv4_addr":
      return inetNtoa(n);
    case "mark":
      return `0x${n.toString(16).padStart(8, "0")}`;
    case "inet_proto":
    case "icmp_type": {
      const names = NAMES[type]!;
      for (const k in names) if (names[k] === n) return k;
      return String(n);
    }
    default:
      return String(n);
  }
}

/** An element as `list ruleset` prints it. */
export function formatElem(type: DataType, e: Elem): string {
  if (e.lo === e.hi) return scalarText(type, e.lo);
  if (type === "ipv4_addr") {
    const len = prefixLen(e);
    if (len >= 0) return `${inetNtoa(e.lo)}/${len}`;
  }
  // Ranges of named types print as numbers: names have dashes of their own (echo-reply).
  if (type === "inet_proto" || type === "icmp_type") return `${e.lo}-${e.hi}`;
  return `${scalarText(type, e.lo)}-${scalarText(type, e.hi)}`;
}

/** Bits as a comma list of names, in the order nft prints them. */
export function formatBits(names: Readonly<Record<string, number>>, bits: number): string {
  const out: string[] = [];
  for (const k in names) if ((bits & names[k]!) !== 0) out.push(k);
  return out.join(",");
}

/** Sorts elements by start, then end. */
export function sortElems(elems: readonly Elem[]): Elem[] {
  return [...elems].sort((a, b) => a.lo - b.lo || a.hi - b.hi);
}
