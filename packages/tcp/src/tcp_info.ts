/**
 * `struct tcp_info` (`getsockopt(TCP_INFO)`), with Linux's field names and units (times in µs
 * unless noted, windows in segments).
 * @see include/uapi/linux/tcp.h struct tcp_info, net/ipv4/tcp.c tcp_get_info()
 * @packageDocumentation
 */

/** `tcpi_options` bits. */
export const TCPI_OPT = {
  TIMESTAMPS: 1,
  SACK: 2,
  WSCALE: 4,
  ECN: 8,
} as const;

/** `struct tcp_info`. */
export interface TcpInfo {
  readonly tcpi_state: number;
  readonly tcpi_ca_state: number;
  readonly tcpi_retransmits: number;
  readonly tcpi_probes: number;
  readonly tcpi_backoff: number;
  /** {@link TCPI_OPT} bits. */
  readonly tcpi_options: number;
  readonly tcpi_snd_wscale: number;
  readonly tcpi_rcv_wscale: number;
  /** µs. */
  readonly tcpi_rto: number;
  /** µs. */
  readonly tcpi_ato: number;
  readonly tcpi_snd_mss: number;
  readonly tcpi_rcv_mss: number;
  readonly tcpi_unacked: number;
  readonly tcpi_sacked: number;
  readonly tcpi_lost: number;
  readonly tcpi_retrans: number;
  readonly tcpi_fackets: number;
  /** ms since. */
  readonly tcpi_last_data_sent: number;
  readonly tcpi_last_data_recv: number;
  readonly tcpi_last_ack_recv: number;
  readonly tcpi_pmtu: number;
  readonly tcpi_rcv_ssthresh: number;
  /** µs. */
  readonly tcpi_rtt: number;
  readonly tcpi_rttvar: number;
  readonly tcpi_snd_ssthresh: number;
  readonly tcpi_snd_cwnd: number;
  readonly tcpi_advmss: number;
  readonly tcpi_reordering: number;
  readonly tcpi_rcv_rtt: number;
  readonly tcpi_rcv_space: number;
  readonly tcpi_total_retrans: number;
  readonly tcpi_bytes_acked: number;
  readonly tcpi_bytes_received: number;
  readonly tcpi_segs_out: number;
  readonly tcpi_segs_in: number;
  readonly tcpi_min_rtt: number;
  /** Bytes per second. */
  readonly tcpi_delivery_rate: number;
  readonly tcpi_data_segs_in: number;
  readonly tcpi_data_segs_out: number;
  readonly tcpi_notsent_bytes: number;
  readonly tcpi_dsack_dups: number;
  /** µs the socket had data to send (busy + rwnd- + sndbuf-limited), `tcp_chrono_*`. */
  readonly tcpi_busy_time: number;
  /** µs it was limited by the peer's window. */
  readonly tcpi_rwnd_limited: number;
  /** µs it was limited by the send buffer. */
  readonly tcpi_sndbuf_limited: number;
}
