/**
 * ICMP MIB counters (RFC 2011 / `/proc/net/snmp` "Icmp:" and "IcmpMsg:"), by nstat name.
 *
 * As in Linux, the per-type counters (`IcmpInEchos`, `IcmpOutTimeExcds`, …) and the per-type
 * `IcmpMsgInType<N>` / `IcmpMsgOutType<N>` move together: {@link icmpMsgIn} and
 * {@link icmpMsgOut} count a message of a type in both.
 * @see net/ipv4/proc.c icmp_put(), icmpmsg_put()
 * @packageDocumentation
 */

/** The "Icmp:" counters of one stack. */
export class IcmpMib {
  /** Messages received, including those with errors (`ICMP_MIB_INMSGS`). */
  IcmpInMsgs = 0;
  /** Received messages with an ICMP-specific error: bad checksum, too short, unknown type. */
  IcmpInErrors = 0;
  /** Received messages with a bad checksum. */
  IcmpInCsumErrors = 0;
  IcmpInDestUnreachs = 0;
  IcmpInTimeExcds = 0;
  IcmpInParmProbs = 0;
  IcmpInSrcQuenchs = 0;
  IcmpInRedirects = 0;
  IcmpInEchos = 0;
  IcmpInEchoReps = 0;
  IcmpInTimestamps = 0;
  IcmpInTimestampReps = 0;
  IcmpInAddrMasks = 0;
  IcmpInAddrMaskReps = 0;
  /** Messages this stack tried to send (`icmp_out_count`). */
  IcmpOutMsgs = 0;
  /** Messages not sent because of a problem within ICMP (no buffer, no route to push them). */
  IcmpOutErrors = 0;
  /** Messages not sent: the global `icmp_msgs_per_sec` budget was spent. */
  IcmpOutRateLimitGlobal = 0;
  /** Messages not sent: the per-destination `icmp_ratelimit` token bucket was empty. */
  IcmpOutRateLimitHost = 0;
  IcmpOutDestUnreachs = 0;
  IcmpOutTimeExcds = 0;
  IcmpOutParmProbs = 0;
  IcmpOutSrcQuenchs = 0;
  IcmpOutRedirects = 0;
  IcmpOutEchos = 0;
  IcmpOutEchoReps = 0;
  IcmpOutTimestamps = 0;
  IcmpOutTimestampReps = 0;
  IcmpOutAddrMasks = 0;
  IcmpOutAddrMaskReps = 0;
}

/**
 * The "IcmpMsg:" counters: `IcmpMsgInType<N>` and `IcmpMsgOutType<N>`, one per type seen. As in
 * `/proc/net/snmp`, a type appears only once a message of it was counted.
 */
export class IcmpMsgMib {
  [counter: string]: number;
}

/** A counter of {@link IcmpMib}. */
export type IcmpCounter = keyof IcmpMib;

/** `icmpmibmap`: which "Icmp:" counter a type also counts in, In and Out. */
const BY_TYPE: readonly (readonly [number, string])[] = [
  [3, "DestUnreachs"],
  [11, "TimeExcds"],
  [12, "ParmProbs"],
  [4, "SrcQuenchs"],
  [5, "Redirects"],
  [8, "Echos"],
  [0, "EchoReps"],
  [13, "Timestamps"],
  [14, "TimestampReps"],
  [17, "AddrMasks"],
  [18, "AddrMaskReps"],
];

const IN_COUNTER: (IcmpCounter | undefined)[] = new Array(256).fill(undefined);
const OUT_COUNTER: (IcmpCounter | undefined)[] = new Array(256).fill(undefined);
for (const [type, name] of BY_TYPE) {
  IN_COUNTER[type] = `IcmpIn${name}` as IcmpCounter;
  OUT_COUNTER[type] = `IcmpOut${name}` as IcmpCounter;
}
const IN_MSG = Array.from({ length: 256 }, (_, t) => `IcmpMsgInType${t}`);
const OUT_MSG = Array.from({ length: 256 }, (_, t) => `IcmpMsgOutType${t}`);

/**
 * `ICMPMSGIN_INC_STATS`: a received message of `type`.
 * @see include/net/icmp.h ICMPMSGIN_INC_STATS
 */
export function icmpMsgIn(mib: IcmpMib, msg: IcmpMsgMib, type: number): void {
  const t = type & 0xff;
  const c = IN_COUNTER[t];
  if (c !== undefined) mib[c]++;
  const k = IN_MSG[t]!;
  msg[k] = (msg[k] ?? 0) + 1;
}

/**
 * `icmp_out_count`: a message of `type` leaves (`ICMPMSGOUT_INC_STATS` + `ICMP_MIB_OUTMSGS`).
 * @see net/ipv4/icmp.c icmp_out_count()
 */
export function icmpMsgOut(mib: IcmpMib, msg: IcmpMsgMib, type: number): void {
  const t = type & 0xff;
  mib.IcmpOutMsgs++;
  const c = OUT_COUNTER[t];
  if (c !== undefined) mib[c]++;
  const k = OUT_MSG[t]!;
  msg[k] = (msg[k] ?? 0) + 1;
}
