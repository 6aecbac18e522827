/**
 * The one place that lists the conformance scripts (`shared/conformance/packetdrill/tcp/`) the
 * stack does not pass yet, each with why: the line that fails, what Linux does there and what
 * the stack did instead. The conformance test checks both ways — every script not listed
 * passes and every listed one still fails — so the list stays honest: fix the engine, and the
 * test tells you to remove the entry.
 * @packageDocumentation
 */

/** Script path relative to the `tcp/` folder → the reason it fails today. */
export const KNOWN_FAILING: Readonly<Record<string, string>> = Object.freeze({
  "fast_retransmit/fr-4pkt-fack-last-mss.pkt":
    "line 27: RACK reordering timer: Linux retransmits 1:1001 about 40 ms after the SACK of 3001:4001 (tcp_rack_reo_timeout()); the stack has no RACK reo timer, sends nothing then and at 0.3 s sends a tail loss probe of 3001:4001 (PTO armed when the flight went out, 2*srtt after the 100 ms handshake RTT)",
  "nagle/sockopt_cork_nodelay.pkt":
    "line 41: after send(…, MSG_MORE) Linux's tcp_push() does not tcp_mark_push() the tail (`if (!(flags & MSG_MORE) || forced_push(tp))`), so TCP_NODELAY pushes 161:241 as `.`; the runner emulates MSG_MORE with TCP_CORK and the socket's write() takes no MSG_MORE, so the stack cannot tell it from a corked write and sends P. 161:241",
  "sack/sack-route-refresh-ip-tos.pkt":
    "line 35: Linux retransmits the SACK hole 17521:20441 with PSH, 13141:16061 before it without (how its TSO skbs carried PSH there is not modelled); the stack sent 11681:26281 as one burst with PSH on its last segment only, so it retransmits 17521:20441 as `.` — the only difference: with PSH matched the script passes",
  "sack/sack-shift-sacked-7-3-4-8-9-fack.pkt":
    "line 24: RACK reordering timer: Linux retransmits 1:1001 27 ms after the SACK of 7001:8001 (tcp_rack_reo_timeout()); the stack has no RACK reo timer and sends nothing until a tail loss probe of 9001:10001 at 0.3 s",
  "slow_start/slow-start-after-idle.pkt":
    "line 20: with tcp_min_tso_segs=10 Linux sends the first cwnd of 10 as two TSO packets, P. 1:5001 and P. 5001:10001; the stack has no TSO sizing (tcp_tso_autosize()) and sends the 10 segments as one burst with PSH on its last, so 1:5001 goes out as `.`",
  "tcp_info/tcp-info-sndbuf-limited.pkt":
    "line 28: tcpi_busy_time (50 ms) and tcpi_rwnd_limited (0) match, tcpi_sndbuf_limited is 30 ms instead of ~20 ms: the stack charges payload bytes against the 20000-byte sndbuf and never lets a write overshoot it, while Linux charges skb truesize and fills a whole size_goal skb past the limit, so Linux still has enough queued or in flight to stay cwnd-limited at the ACK of 30001 (0.12 s) and only becomes sndbuf-limited at the ACK of 70001 (0.13 s); the stack is sndbuf-limited from 0.12 s",
});
