/**
 * The one place that lists the conformance scripts (`shared/conformance/packetdrill/tcp/`) the
 * stack does not pass yet, each with why: the line that fails, what Linux does there and what
 * the stack did instead. The conformance test checks both ways — every script not listed
 * passes and every listed one still fails — so the list stays honest: fix the engine, and the
 * test tells you to remove the entry.
 * @packageDocumentation
 */

const PSH_ON_CWND_LIMITED_FLIGHT =
  "PSH on a cwnd-limited flight: Linux sends the part of a larger write that cwnd allows as one TSO packet with PSH set (`P.`), the stack marks PSH only on the segment that ends the write queue (tcp_write.ts), so the flight goes out as `.`";

/** Script path relative to the `tcp/` folder → the reason it fails today. */
export const KNOWN_FAILING: Readonly<Record<string, string>> = Object.freeze({
  "fast_recovery/prr-ss-10pkt-lost-1.pkt":
    "line 62: on leaving fast recovery Linux has tcpi_snd_cwnd == ssthresh == 7 (PRR, tcp_end_cwnd_reduction() sets cwnd = ssthresh); the stack leaves recovery with cwnd 8",
  "fast_retransmit/fr-4pkt-fack-last-mss.pkt":
    "line 27: RACK reordering timer: Linux retransmits 1:1001 about 40 ms after the SACK of 3001:4001 (tcp_rack_reo_timeout()); the stack has no RACK reo timer, sends nothing then and at 1.1 s sends a probe of 3001:4001",
  "limited_transmit/limited-transmit-sack.pkt": `line 21: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:10001(10000)); after that, line 36: on the ACK of 3001 Linux sends 12001:14001 and sends 14001:15001 only on the ACK of 5001 at 0.35 s, the stack sends 12001:15001 at once at 0.33 s (one segment more of cwnd)`,
  "mss/mss-setsockopt-tcp_maxseg-server.pkt": `line 28: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:11001(11000)) — the only difference: with PSH matched the script passes`,
  "nagle/sockopt_cork_nodelay.pkt":
    "line 32: setsockopt(TCP_NODELAY, 1) on a corked socket: Linux sets TCP_NAGLE_OFF|TCP_NAGLE_PUSH and pushes the 80 pending bytes at once (do_tcp_setsockopt(), tcp_nagle_test() returns true on TCP_NAGLE_PUSH); the stack's tcpSetNagle() pushes without TCP_NAGLE.PUSH, so the cork keeps holding them (it sends only a probe 80:80(0) at 0.29 s)",
  "sack/sack-route-refresh-ip-tos.pkt":
    "line 35: Linux retransmits the SACK hole 17521:20441 with PSH (the write-queue skb kept the PSH tcp_push() set); the stack retransmits it as `.` (see the PSH entries) — the only difference: with PSH matched the script passes",
  "sack/sack-shift-sacked-7-3-4-8-9-fack.pkt":
    "line 24: RACK reordering timer: Linux retransmits 1:1001 27 ms after the SACK of 7001:8001 (tcp_rack_reo_timeout()); the stack has no RACK reo timer and sends nothing until a probe of 9001:10001 at 1.1 s",
  "shutdown/shutdown-rdwr-send-queue-ack-close.pkt": `line 22: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:10001(10000)); after that, line 33: Linux sends a tail loss probe of 12001:13001 5 ms later (2*RTT + min), the stack sends no probe and retransmits 1001:2001 on RTO at 0.213 s`,
  "slow_start/slow-start-ack-per-1pkt.pkt": `line 22: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:10001(10000)) — the only difference: with PSH matched the script passes`,
  "slow_start/slow-start-ack-per-4pkt.pkt": `line 22: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:10001(10000)) — the only difference: with PSH matched the script passes`,
  "slow_start/slow-start-after-idle.pkt": `line 20: ${PSH_ON_CWND_LIMITED_FLIGHT} (expected P. 1:5001(5000); the script also sets tcp_min_tso_segs, which the stack does not have) — the only difference: with PSH matched the script passes`,
  "tcp_info/tcp-info-last_data_recv.pkt":
    "line 14: Linux sets lrcvtime when the connection is established (tcp_finish_connect()), so tcpi_last_data_recv is ~1000 ms one second later; the stack only sets it on data and reports 0",
  "tcp_info/tcp-info-sndbuf-limited.pkt":
    "line 28: the stack's tcp_info has no tcpi_sndbuf_limited, tcpi_busy_time or tcpi_rwnd_limited (Linux's chrono counters, tcp_chrono_start())",
  "user_timeout/user_timeout.pkt":
    "line 24: after a 100 ms handshake RTT Linux retransmits the FIN ~300 ms later (RTO from the SYN-ACK/ACK RTT sample, tcp_synack_rtt_meas()); the stack retransmits after 1 s (RTO still the initial 1 s)",
});
