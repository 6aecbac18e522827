/**
 * The LOG target: one line per packet in the kernel's format (`IN=eth0 OUT= SRC=… DST=… LEN=…
 * … PROTO=TCP SPT=… DPT=…`), published on the `skbuff:nft_log` diagnostics channel.
 * @see net/netfilter/nf_log_syslog.c dump_ipv4_packet()
 * @packageDocumentation
 */
import diagnostics_channel from "node:diagnostics_channel";
import { getU16, getU32, inetNtoa, type NfHookState, type SkBuff, type Stack } from "@skbuff/core";
import {
  IP_DF,
  IP_MF,
  IP_OFFSET,
  ipFragOff,
  ipId,
  ipIhl,
  ipTos,
  ipTotLen,
  ipTtl,
} from "@skbuff/ipv4";

/** The channel `log` statements publish on. */
export const NFT_LOG_CHANNEL = "skbuff:nft_log";

/** What is published on {@link NFT_LOG_CHANNEL}. */
export interface NftLogMessage {
  readonly stack: Stack;
  /** The line, prefix first, as the kernel writes it to its log. */
  readonly line: string;
  readonly prefix: string;
  readonly skb: SkBuff;
}

/** The channel, to publish on. */
export const nftLogChannel = diagnostics_channel.channel(NFT_LOG_CHANNEL);

const PROTO_NAMES: Readonly<Record<number, string>> = { 1: "ICMP", 6: "TCP", 17: "UDP" };

/**
 * The log line of a packet at a hook (`nf_log_ip_packet`): devices, addresses, header fields,
 * and the transport's ports (TCP, UDP) or type and code (ICMP).
 */
export function nfLogLine(prefix: string, skb: SkBuff, state: NfHookState): string {
  const b = skb.head;
  const nh = skb.networkHeader;
  let line = `${prefix}IN=${state.in?.name ?? ""} OUT=${state.out?.name ?? ""} `;
  if (nh < 0 || nh + 20 > skb.tail) return `${line}TRUNCATED`;
  const frag = ipFragOff(b, nh);
  line +=
    `SRC=${inetNtoa(getU32(b, nh + 12))} DST=${inetNtoa(getU32(b, nh + 16))} ` +
    `LEN=${ipTotLen(b, nh)} TOS=0x${hex2(ipTos(b, nh) & 0x1e)} PREC=0x${hex2(ipTos(b, nh) & 0xe0)} ` +
    `TTL=${ipTtl(b, nh)} ID=${ipId(b, nh)} ${frag & IP_DF ? "DF " : ""}${frag & IP_MF ? "MF " : ""}`;
  if ((frag & IP_OFFSET) !== 0) line += `FRAG:${frag & IP_OFFSET} `;
  const proto = b[nh + 9]!;
  const th = nh + ipIhl(b, nh) * 4;
  line += `PROTO=${PROTO_NAMES[proto] ?? proto} `;
  if ((frag & IP_OFFSET) !== 0) return line.trimEnd();
  if ((proto === 6 || proto === 17) && th + 4 <= skb.tail) {
    line += `SPT=${getU16(b, th)} DPT=${getU16(b, th + 2)} `;
    if (proto === 6 && th + 14 <= skb.tail) {
      const f = b[th + 13]!;
      for (const [bit, name] of TCP_FLAG_NAMES) if (f & bit) line += `${name} `;
    }
  } else if (proto === 1 && th + 2 <= skb.tail) {
    line += `TYPE=${b[th]} CODE=${b[th + 1]} `;
  }
  if (skb.mark !== 0) line += `MARK=0x${(skb.mark >>> 0).toString(16)} `;
  return line.trimEnd();
}

const TCP_FLAG_NAMES: readonly (readonly [number, string])[] = [
  [0x80, "CWR"],
  [0x40, "ECE"],
  [0x20, "URG"],
  [0x10, "ACK"],
  [0x08, "PSH"],
  [0x04, "RST"],
  [0x02, "SYN"],
  [0x01, "FIN"],
];

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0").toUpperCase();
}
