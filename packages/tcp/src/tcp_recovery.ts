/**
 * Tail loss probe (RFC 8985 7, "RACK-TLP"): when the last segments of a flight may be lost and
 * no ACK would arrive to trigger fast recovery, a probe goes out after a probe timeout (PTO) of
 * about two RTTs, well before the RTO. RACK's time-based loss marking, the other half of
 * RACK-TLP, is in tcp_rack.ts.
 * @see net/ipv4/tcp_output.c tcp_schedule_loss_probe(), tcp_send_loss_probe()
 * @packageDocumentation
 */
import { TCP_CA } from "./congestion.js";
import { tcpNet } from "./netns.js";
import { TCP_RTO_MIN, TCP_TIMEOUT_INIT } from "./tcp_output.js";
import { TCP_SKB_CB, type TcpSock } from "./tcp_sock.js";
import { after, before } from "./tcp_states.js";
import { ICSK_TIME, tcpResetXmitTimer } from "./tcp_timer.js";
import { tcpRetransmitSkb, tcpWriteXmit } from "./tcp_write.js";

/** `TCP_TIMEOUT_MIN` (ms): the smallest PTO. */
const TCP_TIMEOUT_MIN = 2;

/** `tcp_rto_delta_us`: ms until the RTO of the oldest outstanding segment expires. */
export function tcpRtoDelta(sk: TcpSock): number {
  const head = sk.rtxQueue.peek();
  if (head === null) return sk.rto;
  return TCP_SKB_CB(head).when + sk.rto - sk.net.clock.now();
}

/**
 * `tcp_schedule_loss_probe`: arms the PTO instead of the RTO when a probe may help. RFC 8985
 * 7.2: "PTO = 2 * SRTT … If FlightSize is one segment … PTO += WCDelAckT" (Linux: 200 ms),
 * and never later than the RTO. Returns whether it was armed.
 */
export function tcpScheduleLossProbe(sk: TcpSock): boolean {
  // No state check: Linux probes in any state with data in flight ("SACK capable connections
  // not in loss recovery"), so a FIN left unacknowledged after close() gets a probe too.
  if (sk.packetsOut === 0 || !sk.rxOpt.sackOk || sk.caState !== TCP_CA.Open) return false;
  if (tcpNet(sk.net).sysctl.earlyRetrans.value < 3) return false;
  if (sk.tlpHighSeq !== null) return false;
  let timeout: number;
  if (sk.srttUs) {
    timeout = Math.ceil((sk.srttUs >> 2) / 1000);
    if (sk.packetsOut === 1) timeout += TCP_RTO_MIN;
    timeout = Math.max(timeout, TCP_TIMEOUT_MIN);
  } else {
    timeout = TCP_TIMEOUT_INIT;
  }
  const rtoDelta = tcpRtoDelta(sk);
  if (rtoDelta > 0) timeout = Math.min(timeout, rtoDelta);
  tcpResetXmitTimer(sk, ICSK_TIME.LOSS_PROBE, timeout);
  return true;
}

/**
 * `tcp_send_loss_probe`: RFC 8985 7.3: "If such a segment [new data] is not available … the
 * sender SHOULD retransmit the most recently sent segment". Then the RTO is armed again.
 */
export function tcpSendLossProbe(sk: TcpSock): void {
  const tn = tcpNet(sk.net);
  const nxt = sk.sndNxt;
  const inFlight = sk.packetsOut;
  // New data first, with cwnd opened by one for the probe.
  if (!sk.writeQueue.isEmpty()) {
    sk.sndCwnd++;
    tcpWriteXmit(sk);
    sk.sndCwnd--;
  }
  if (sk.packetsOut === inFlight || sk.sndNxt === nxt) {
    const last = sk.rtxQueue.peekTail();
    if (last !== null) tcpRetransmitSkb(sk, last);
  }
  if (sk.packetsOut > 0) {
    tn.mib.TcpExtTCPLossProbes++;
    sk.tlpHighSeq = sk.sndNxt;
  }
  tcpResetXmitTimer(sk, ICSK_TIME.RETRANS, Math.max(tcpRtoDelta(sk), 1));
}

/** `tcp_process_tlp_ack`: an ACK at or beyond the probe ends the episode. */
export function tcpProcessTlpAck(sk: TcpSock, ack: number): void {
  if (sk.tlpHighSeq !== null && !before(ack, sk.tlpHighSeq)) sk.tlpHighSeq = null;
  else if (sk.tlpHighSeq !== null && after(sk.sndUna, sk.tlpHighSeq)) sk.tlpHighSeq = null;
}
