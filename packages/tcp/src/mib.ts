/**
 * TCP's SNMP counters, as `nstat` names them: the RFC 1213 `Tcp*` group and Linux's `TcpExt*`.
 * @see include/uapi/linux/snmp.h, net/ipv4/proc.c
 * @packageDocumentation
 */

/** The `Tcp` and `TcpExt` counters of one stack. */
export class TcpMib {
  TcpActiveOpens = 0;
  TcpPassiveOpens = 0;
  TcpAttemptFails = 0;
  TcpEstabResets = 0;
  /** A gauge: connections in ESTABLISHED or CLOSE_WAIT. */
  TcpCurrEstab = 0;
  TcpInSegs = 0;
  TcpOutSegs = 0;
  TcpRetransSegs = 0;
  TcpInErrs = 0;
  TcpOutRsts = 0;
  TcpInCsumErrors = 0;
  TcpExtListenOverflows = 0;
  TcpExtListenDrops = 0;
  TcpExtSyncookiesSent = 0;
  TcpExtSyncookiesRecv = 0;
  TcpExtSyncookiesFailed = 0;
  TcpExtTCPChallengeACK = 0;
  TcpExtTCPTimeouts = 0;
  TcpExtTCPFastRetrans = 0;
  TcpExtTCPLossProbes = 0;
  TcpExtTCPSackRecovery = 0;
  TcpExtTCPRenoRecovery = 0;
  TcpExtTCPDSACKRecv = 0;
  TcpExtTCPDSACKOldSent = 0;
  TcpExtTCPDSACKOfoSent = 0;
  TcpExtDelayedACKs = 0;
  TcpExtTCPPureAcks = 0;
  TcpExtTCPHPHits = 0;
  TcpExtTCPHPAcks = 0;
  TcpExtTW = 0;
  TcpExtTWRecycled = 0;
  TcpExtTWKilled = 0;
  TcpExtPAWSEstab = 0;
  TcpExtTCPAbortOnData = 0;
  TcpExtTCPAbortOnClose = 0;
  TcpExtTCPAbortOnTimeout = 0;
  TcpExtTCPAbortOnLinger = 0;
  TcpExtTCPAbortOnMemory = 0;
  TcpExtTCPSynRetrans = 0;
  TcpExtTCPOFOQueue = 0;
  TcpExtTCPRcvCoalesce = 0;
  TcpExtTCPSACKReneging = 0;
  TcpExtTCPLossUndo = 0;
  TcpExtTCPSpuriousRTOs = 0;
  TcpExtTCPPartialUndo = 0;
  TcpExtTCPTSReorder = 0;
  TcpExtTCPFullUndo = 0;
  TcpExtTCPDSACKUndo = 0;
  TcpExtTCPSACKReorder = 0;
  TcpExtTCPLostRetransmit = 0;
  TcpExtTCPZeroWindowDrop = 0;
  TcpExtTCPWinProbe = 0;
  TcpExtTCPKeepAlive = 0;
  TcpExtTCPSACKDiscard = 0;
  TcpExtEmbryonicRsts = 0;
  TcpExtTCPReqQFullDrop = 0;
  TcpExtTCPReqQFullDoCookies = 0;
  TcpExtPAWSActive = 0;
  TcpExtTCPTimeWaitOverflow = 0;
}
