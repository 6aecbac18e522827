/**
 * @skbuff/tcp — TCP as `net/ipv4/tcp*.c` does it, for IPv4.
 *
 * Along the packet path:
 * - wire: {@link tcpParse}, {@link tcpEmit}, the header view (`wire/tcphdr.ts`, a leaf)
 * - receive: {@link tcpV4Rcv} → {@link tcpV4DoRcv} → {@link tcpRcvEstablished} /
 *   {@link tcpRcvStateProcess}; ACKs in {@link tcpAck}; ICMP errors in {@link tcpV4Err}
 * - send: {@link tcpSendmsg} → {@link tcpPush} → {@link tcpWriteXmit} → {@link tcpTransmitSkb}
 *   → `ipQueueXmit`
 * - timers: {@link tcpRetransmitTimer}, {@link tcpProbeTimer}, {@link tcpKeepaliveTimer}
 * - sockets: {@link TcpSocket} implementing {@link TcpSocketHandle}, provided per stack under
 *   {@link TCP_SOCKET_API} by the {@link tcp} plugin
 * - congestion control: the {@link TcpCongestionOps} plugin point
 * @packageDocumentation
 */
export * from "./congestion.js";
export { InetEhash, InetHashinfo, inetEhashfn } from "./inet_hashtables.js";
export { TcpMib } from "./mib.js";
export { keyedHash, secureTcpSeq, TCP_RENO_FALLBACK, TcpNet, tcpNet } from "./netns.js";
export { TCP_PLUGIN, TCP_SOCKET_API, type TcpOptions, tcp } from "./plugin.js";
export { TcpSocket, TcpSocketApiImpl, tcpGetInfo } from "./socket.js";
export * from "./socket_api.js";
export { cookieV4Check, cookieV4InitSequence, type FourTuple, MSSTAB } from "./syncookies.js";
export { registerTcpSysctls, type TcpSysctls } from "./sysctl.js";
export {
  RCV_SHUTDOWN,
  SEND_SHUTDOWN,
  TCP_TIMEWAIT_LEN,
  tcpClose,
  tcpDisconnect,
  tcpDone,
  tcpListen,
  tcpPoll,
  tcpRecvmsg,
  tcpSendmsg,
  tcpShutdown,
  tcpV4Connect,
} from "./tcp.js";
export { ACK_FLAG, type AckInfo, tcpAck, tcpRttEstimator } from "./tcp_ack.js";
export { tcpReno, tcpRenoCongAvoid, tcpRenoSsthresh, tcpRenoUndoCwnd } from "./tcp_cong_reno.js";
export {
  type BictcpCa,
  CUBIC_DEFAULTS,
  type CubicParams,
  createCubic,
  HYSTART,
  tcpCubic,
} from "./tcp_cubic.js";
export { TCPI_OPT, type TcpInfo } from "./tcp_info.js";
export {
  type SegOptions,
  tcpParseSegOptions,
  tcpRcvEstablished,
  tcpRcvStateProcess,
  tcpSendChallengeAck,
} from "./tcp_input.js";
export { tcpConnRequest, tcpV4DoRcv, tcpV4Err, tcpV4Rcv, tcpV4SendReset } from "./tcp_ipv4.js";
export { RequestSock, TCP_TW, TcpTimewaitSock, tcpTimewaitStateProcess } from "./tcp_minisocks.js";
export {
  MAX_TCP_HEADER,
  TCP_INIT_CWND,
  TCP_MSS_DEFAULT,
  TCP_RTO_MAX,
  TCP_RTO_MIN,
  TCP_TIMEOUT_INIT,
  tcpMssToMtu,
  tcpMtuToMss,
  tcpSelectWindow,
  tcpSendAck,
  tcpSendActiveReset,
  tcpSendDelayedAck,
  tcpSendFin,
  tcpSyncMss,
  tcpSynOptions,
  tcpTransmitSkb,
} from "./tcp_output.js";
export { tcpScheduleLossProbe, tcpSendLossProbe } from "./tcp_recovery.js";
export {
  IcskAck,
  TCP_SKB_CB,
  TCPCB,
  TcpOptionsReceived,
  type TcpSkbCb,
  TcpSock,
} from "./tcp_sock.js";
export * from "./tcp_states.js";
export { ICSK_TIME, tcpKeepaliveTimer, tcpProbeTimer, tcpRetransmitTimer } from "./tcp_timer.js";
export {
  tcpPush,
  tcpRetransmitSkb,
  tcpSendmsgLocked,
  tcpWriteXmit,
  tcpXmitRetransmitQueue,
} from "./tcp_write.js";
export * from "./wire/tcphdr.js";

import { tcp } from "./plugin.js";
export default tcp;

// Node-style sockets over the socket API: `stack.net` (`netApi()`).
export * from "./net/index.js";
