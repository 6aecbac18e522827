/**
 * Names of numbers, for messages people read: IP protocols, ICMP types and codes, TCP flags.
 * @packageDocumentation
 */
import { TCP_FLAG } from "@skbuff/tcp";

const PROTOCOLS: Readonly<Record<number, string>> = { 1: "ICMP", 6: "TCP", 17: "UDP" };

/** `TCP`, `UDP`, `ICMP`, or `proto N`. */
export function protocolName(protocol: number): string {
  return PROTOCOLS[protocol] ?? `proto ${protocol}`;
}

const ICMP_TYPES: Readonly<Record<number, string>> = {
  0: "echo reply",
  3: "destination unreachable",
  4: "source quench",
  5: "redirect",
  8: "echo request",
  11: "time exceeded",
  12: "parameter problem",
  13: "timestamp request",
  14: "timestamp reply",
};

/** `echo reply`, `destination unreachable`, …, or `type N`. */
export function icmpTypeName(type: number): string {
  return ICMP_TYPES[type] ?? `type ${type}`;
}

const UNREACH_CODES = [
  "net unreachable",
  "host unreachable",
  "protocol unreachable",
  "port unreachable",
  "fragmentation needed",
  "source route failed",
  "net unknown",
  "host unknown",
  "host isolated",
  "net prohibited",
  "host prohibited",
  "net unreachable for TOS",
  "host unreachable for TOS",
  "communication prohibited",
  "host precedence violation",
  "precedence cutoff",
];
const TIME_EXCEEDED_CODES = ["ttl exceeded in transit", "fragment reassembly time exceeded"];
const REDIRECT_CODES = ["net", "host", "net and TOS", "host and TOS"];

/** The meaning of `code` for an ICMP message of `type`, or null when it has none. */
export function icmpCodeName(type: number, code: number): string | null {
  switch (type) {
    case 3:
      return UNREACH_CODES[code] ?? null;
    case 5:
      return REDIRECT_CODES[code] === undefined ? null : `redirect ${REDIRECT_CODES[code]}`;
    case 11:
      return TIME_EXCEEDED_CODES[code] ?? null;
    default:
      return null;
  }
}

/** Flag letters in their canonical order: F S R P A U E C. */
const FLAG_LETTERS: readonly (readonly [string, number, string])[] = [
  ["F", TCP_FLAG.FIN, "FIN"],
  ["S", TCP_FLAG.SYN, "SYN"],
  ["R", TCP_FLAG.RST, "RST"],
  ["P", TCP_FLAG.PSH, "PSH"],
  ["A", TCP_FLAG.ACK, "ACK"],
  ["U", TCP_FLAG.URG, "URG"],
  ["E", TCP_FLAG.ECE, "ECE"],
  ["C", TCP_FLAG.CWR, "CWR"],
];

/**
 * The flags byte of a string of flag letters: `F`in, `S`yn, `R`st, `P`sh, `A`ck, `U`rg, `E`ce,
 * `C`wr, in any order; `.` is ACK as in tcpdump and packetdrill (`S.` is `SA`). `""` is no flag.
 * @throws TypeError on any other character
 */
export function tcpFlagsFromLetters(letters: string): number {
  let bits = 0;
  for (const ch of letters) {
    if (ch === ".") {
      bits |= TCP_FLAG.ACK;
      continue;
    }
    const f = FLAG_LETTERS.find(([l]) => l === ch.toUpperCase());
    if (f === undefined) {
      throw new TypeError(
        `TCP flags ${JSON.stringify(letters)}: '${ch}' is not one of F S R P A U E C or '.'`,
      );
    }
    bits |= f[1];
  }
  return bits;
}

/** The flags byte as canonical letters: `SA`, `PA`, `FA`, `R`; `none` when no flag is set. */
export function tcpFlagsLetters(bits: number): string {
  const s = FLAG_LETTERS.filter(([, b]) => (bits & b) !== 0)
    .map(([l]) => l)
    .join("");
  return s === "" ? "none" : s;
}

/** The flags byte as names: `SYN|ACK`; `none` when no flag is set. */
export function tcpFlagsNames(bits: number): string {
  const s = FLAG_LETTERS.filter(([, b]) => (bits & b) !== 0)
    .map(([, , n]) => n)
    .join("|");
  return s === "" ? "none" : s;
}

/** The flags byte as tcpdump prints it: `S`, `S.`, `P.`, `F.`, `R`, `.` (ACK alone), `none`. */
export function tcpFlagsTcpdump(bits: number): string {
  const letters = FLAG_LETTERS.filter(([, b]) => b !== TCP_FLAG.ACK && (bits & b) !== 0)
    .map(([l]) => l)
    .join("");
  const s = letters + ((bits & TCP_FLAG.ACK) !== 0 ? "." : "");
  return s === "" ? "none" : s;
}
