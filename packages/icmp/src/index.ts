/**
 * @skbuff/icmp — ICMP for IPv4 as `net/ipv4/icmp.c` and `net/ipv4/ping.c` do it: echo replies,
 * errors (destination unreachable, time exceeded, parameter problem) with Linux's rate limits,
 * ping sockets, and `stack.ping()`.
 *
 * Layers, bottom up:
 * - wire: {@link icmpParse} / {@link icmpEmit} and the header view (`ICMPHDR`, accessors); a leaf
 * - receive and send: {@link icmpRcv} (the handler of IP protocol 1) and {@link icmpSend} (the
 *   errors IPv4 sends through `ipv4Net(net).icmpSend`)
 * - sockets: {@link PingSocket} over {@link PingSock}, and the ping service behind `stack.ping`
 * - the plugin: {@link icmp}
 *
 * ```ts
 * const stack = await createStack({ plugins: [ipv4(), icmp()], devices: [loopback()] });
 * const reply = await stack.ping("127.0.0.1"); // { seq: 1, ttl: 64, rttMs, bytes: 56, from }
 * ```
 * @packageDocumentation
 */
import { icmp } from "./plugin.js";

export {
  icmpEcho,
  icmpErr,
  icmpIsError,
  icmpRcv,
  icmpRedirect,
  icmpSend,
  icmpTimestamp,
  icmpUnreach,
} from "./icmp.js";
export { type IcmpCounter, IcmpMib, IcmpMsgMib, icmpMsgIn, icmpMsgOut } from "./mib.js";
export { type IcmpSysctls, icmpNet, NetnsIcmp } from "./netns.js";
export {
  type PingMessage,
  type PingSendOptions,
  PingSock,
  PingSocket,
  pingErr,
  pingGetPort,
  pingLookup,
  pingRcv,
  pingUnhash,
  pingV4Sendmsg,
} from "./ping.js";
export {
  describeIcmpError,
  ERRNO,
  type ErrnoName,
  errnoError,
  ICMP_ERR_CONVERT,
  PingError,
} from "./ping_error.js";
export {
  IcmpPingService,
  PING_DEFAULT_SIZE,
  PING_DEFAULT_TIMEOUT_MS,
  pingPayload,
} from "./ping_service.js";
export { ICMP_PLUGIN, type IcmpOptions, icmp } from "./plugin.js";
export { IcmpGlobalLimit, IcmpPeerLimit, icmpMaskAllow, XRLIM_BURST_FACTOR } from "./ratelimit.js";
export {
  ICMP_EXC,
  ICMP_REDIR,
  ICMP_TYPE,
  ICMP_UNREACH,
  ICMPHDR,
  type IcmpDestUnreachRepr,
  type IcmpEchoRepr,
  type IcmpOtherRepr,
  type IcmpParamProblemRepr,
  type IcmpRepr,
  type IcmpTimeExceededRepr,
  type IcmpType,
  icmpBufferLen,
  icmpChecksum,
  icmpChecksumValid,
  icmpCode,
  icmpComputeChecksum,
  icmpEchoId,
  icmpEchoSeq,
  icmpEmit,
  icmpFillChecksum,
  icmpFragMtu,
  icmpGateway,
  icmpHdrCheckLen,
  icmpParse,
  icmpPointer,
  icmpType,
  icmpUnused,
  NR_ICMP_TYPES,
  NR_ICMP_UNREACH,
  setIcmpChecksum,
  setIcmpCode,
  setIcmpEchoId,
  setIcmpEchoSeq,
  setIcmpFragMtu,
  setIcmpGateway,
  setIcmpPointer,
  setIcmpType,
  setIcmpUnused,
} from "./wire/icmphdr.js";

export default icmp;
