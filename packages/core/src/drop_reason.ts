/**
 * Why a packet was dropped: Linux's `enum skb_drop_reason` (include/net/dropreason-core.h), with
 * the `SKB_DROP_REASON_` prefix removed. Every {@link kfreeSkb} carries one, and the stack counts
 * drops per reason ({@link Stack.dropReasons}).
 * @packageDocumentation
 */

/** Drop reasons, by Linux name. The value is the name itself, so it prints as it reads. */
export const SkbDropReason = {
  /** Reason not specified (`kfree_skb()` without a reason). */
  NOT_SPECIFIED: "NOT_SPECIFIED",
  /** No socket matched the packet's addresses and ports. */
  NO_SOCKET: "NO_SOCKET",
  /** The packet is shorter than its headers or its IP total length. */
  PKT_TOO_SMALL: "PKT_TOO_SMALL",
  /** TCP checksum error. */
  TCP_CSUM: "TCP_CSUM",
  /** The socket's filter dropped it. */
  SOCKET_FILTER: "SOCKET_FILTER",
  /** UDP checksum error. */
  UDP_CSUM: "UDP_CSUM",
  /** A netfilter hook returned NF_DROP. */
  NETFILTER_DROP: "NETFILTER_DROP",
  /** Addressed to another host (the device is promiscuous), `PACKET_OTHERHOST`. */
  OTHERHOST: "OTHERHOST",
  /** IP header checksum error. */
  IP_CSUM: "IP_CSUM",
  /** Something wrong in the IP header: version, IHL, total length, TTL. */
  IP_INHDR: "IP_INHDR",
  /** Reverse-path filter refused the source address. */
  IP_RPFILTER: "IP_RPFILTER",
  /** No protocol handler for the IP protocol number. */
  IP_NOPROTO: "IP_NOPROTO",
  /** The socket's receive buffer is full. */
  SOCKET_RCVBUFF: "SOCKET_RCVBUFF",
  /** The protocol's memory limit is reached. */
  PROTO_MEM: "PROTO_MEM",
  /** The socket backlog is full. */
  SOCKET_BACKLOG: "SOCKET_BACKLOG",
  /** TCP flags are invalid for the state (e.g. SYN+FIN to a listener). */
  TCP_FLAGS: "TCP_FLAGS",
  /** TCP received data while the receive window was zero. */
  TCP_ZEROWINDOW: "TCP_ZEROWINDOW",
  /** TCP data already received (a retransmission). */
  TCP_OLD_DATA: "TCP_OLD_DATA",
  /** TCP data beyond the receive window. */
  TCP_OVERWINDOW: "TCP_OVERWINDOW",
  /** Merged into the out-of-order queue. */
  TCP_OFOMERGE: "TCP_OFOMERGE",
  /** PAWS check failed (RFC 7323). */
  TCP_RFC7323_PAWS: "TCP_RFC7323_PAWS",
  /** Sequence number outside the window. */
  TCP_INVALID_SEQUENCE: "TCP_INVALID_SEQUENCE",
  /** A RST was received. */
  TCP_RESET: "TCP_RESET",
  /** SYN in a synchronized state (RFC 5961 4.2). */
  TCP_INVALID_SYN: "TCP_INVALID_SYN",
  /** The socket is closed. */
  TCP_CLOSE: "TCP_CLOSE",
  /** ACK for data we never sent or that is too old. */
  TCP_OLD_ACK: "TCP_OLD_ACK",
  /** ACK older than the previous window. */
  TCP_TOO_OLD_ACK: "TCP_TOO_OLD_ACK",
  /** ACK for data not sent yet. */
  TCP_ACK_UNSENT_DATA: "TCP_ACK_UNSENT_DATA",
  /** Pruned from the out-of-order queue under memory pressure. */
  TCP_OFO_QUEUE_PRUNE: "TCP_OFO_QUEUE_PRUNE",
  /** Out-of-order data dropped. */
  TCP_OFO_DROP: "TCP_OFO_DROP",
  /** No route to send the packet out. */
  IP_OUTNOROUTES: "IP_OUTNOROUTES",
  /** The device is not up or not ready. */
  DEV_READY: "DEV_READY",
  /** The qdisc refused the packet (queue full, or an impairment dropped it). */
  QDISC_DROP: "QDISC_DROP",
  /** The per-stack receive backlog is full (`net.core.netdev_max_backlog`). */
  CPU_BACKLOG: "CPU_BACKLOG",
  /** No packet type handler for the link-layer protocol. */
  UNHANDLED_PROTO: "UNHANDLED_PROTO",
  /** Out of memory (a buffer could not be allocated). */
  NOMEM: "NOMEM",
  /** A header is truncated. */
  HDR_TRUNC: "HDR_TRUNC",
  /** ICMP checksum error. */
  ICMP_CSUM: "ICMP_CSUM",
  /** Invalid protocol field or message. */
  INVALID_PROTO: "INVALID_PROTO",
  /** The destination address is not ours and forwarding is off, or is invalid. */
  IP_INADDRERRORS: "IP_INADDRERRORS",
  /** A martian source address: multicast, broadcast, network 0, or loopback from the wire. */
  IP_INVALID_SOURCE: "IP_INVALID_SOURCE",
  /** A martian destination address: network 0, loopback from the wire, or unjoined multicast. */
  IP_INVALID_DEST: "IP_INVALID_DEST",
  /** No route for the destination on input. */
  IP_INNOROUTES: "IP_INNOROUTES",
  /** Bigger than the MTU with DF set. */
  PKT_TOO_BIG: "PKT_TOO_BIG",
  /** A duplicate fragment. */
  DUP_FRAG: "DUP_FRAG",
  /** Reassembly did not complete in time (`ipfrag_time`). */
  FRAG_REASM_TIMEOUT: "FRAG_REASM_TIMEOUT",
  /** A fragment too far ahead of the others (`ipfrag_max_dist`). */
  FRAG_TOO_FAR: "FRAG_TOO_FAR",
  /** The queue was purged (device down, socket closed, stack closed). */
  QUEUE_PURGE: "QUEUE_PURGE",
  /** The device has no carrier (its peer is gone or down). */
  DEV_CARRIER: "DEV_CARRIER",
  /** The conntrack table is full (`nf_conntrack_max`) and no entry could be evicted. */
  NF_CONNTRACK_FULL: "NF_CONNTRACK_FULL",
  /** skbuff: an NFQUEUE queue was full (its `maxLen`) and it does not fail open. */
  NFQUEUE_FULL: "NFQUEUE_FULL",
  /** skbuff: an NFQUEUE handler gave no verdict within the queue's timeout. */
  NFQUEUE_TIMEOUT: "NFQUEUE_TIMEOUT",
  /** An nftables `reject` statement refused the packet (an ICMP error or RST was sent). */
  NETFILTER_REJECT: "NETFILTER_REJECT",
  /** skbuff: a netfilter hook threw an exception; counted as a drop, the stack goes on. */
  NF_HOOK_EXCEPTION: "NF_HOOK_EXCEPTION",
  /** skbuff: a hook returned NF_REPEAT too many times in a row for one packet. */
  NF_REPEAT_LIMIT: "NF_REPEAT_LIMIT",
  /** skbuff: a packet handler threw an exception; counted as a drop, the stack goes on. */
  HANDLER_EXCEPTION: "HANDLER_EXCEPTION",
} as const;

/** One of the {@link SkbDropReason} names. */
export type SkbDropReason = (typeof SkbDropReason)[keyof typeof SkbDropReason];
