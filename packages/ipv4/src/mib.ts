/**
 * IPv4 MIB counters (RFC 4293 / `/proc/net/snmp` "Ip:" and `/proc/net/netstat` "IpExt:"), by
 * nstat name.
 * @packageDocumentation
 */

/** The IPv4 counters of one stack. */
export class IpMib {
  /** Datagrams received from devices, including those with errors. */
  IpInReceives = 0;
  /** Discarded for header errors: version, IHL, length, checksum, TTL exceeded. */
  IpInHdrErrors = 0;
  /** Discarded because the destination is not valid for this host. */
  IpInAddrErrors = 0;
  /** Forwarded datagrams. */
  IpForwDatagrams = 0;
  /** Locally addressed, for a protocol nobody handles. */
  IpInUnknownProtos = 0;
  /** Discarded for lack of resources (or trimmed failure). */
  IpInDiscards = 0;
  /** Delivered to a transport protocol. */
  IpInDelivers = 0;
  /** Datagrams local protocols handed to IP for sending (not forwards). */
  IpOutRequests = 0;
  /** Outgoing datagrams discarded (no buffer, netfilter, …). */
  IpOutDiscards = 0;
  /** Outgoing datagrams with no route. */
  IpOutNoRoutes = 0;
  /** Reassemblies that timed out. */
  IpReasmTimeout = 0;
  /** Fragments received needing reassembly. */
  IpReasmReqds = 0;
  /** Datagrams reassembled. */
  IpReasmOKs = 0;
  /** Reassembly failures (timeouts, bad fragments, overflows). */
  IpReasmFails = 0;
  /** Datagrams fragmented. */
  IpFragOKs = 0;
  /** Datagrams that needed fragmenting but could not be (DF set). */
  IpFragFails = 0;
  /** Fragments created. */
  IpFragCreates = 0;
  /** Received datagrams with no route (forwarding on). */
  IpExtInNoRoutes = 0;
  /** Received datagrams shorter than their total length. */
  IpExtInTruncatedPkts = 0;
  /** Received datagrams with a bad header checksum. */
  IpExtInCsumErrors = 0;
  /** Bytes received / sent at the IP layer. */
  IpExtInOctets = 0;
  IpExtOutOctets = 0;
  /** Broadcast datagrams received. */
  IpExtInBcastPkts = 0;
}
