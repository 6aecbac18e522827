/**
 * The UDP tracker: one timeout for a flow seen one way (`nf_conntrack_udp_timeout`), and once
 * replied and older than two seconds, the longer stream timeout
 * (`nf_conntrack_udp_timeout_stream`), which also makes it ASSURED.
 * @see net/netfilter/nf_conntrack_proto_udp.c
 * @packageDocumentation
 */
import { getU16, type SkBuff } from "@skbuff/core";
import { CT_VERDICT, type CtVerdict, nfL4ChecksumOk } from "./l4.js";
import type { NetnsConntrack } from "./netns.js";
import { IPS, type NfConn } from "./nf_conn.js";

/** A replied flow counts as a stream this long after its first packet (ms). */
export const UDP_STREAM_DELAY_MS = 2000;

/**
 * `udp_error`: whether the datagram at `th` is malformed: short, a length field that does not
 * fit, or (in PRE_ROUTING) a bad checksum. A zero checksum means none was sent (RFC 768).
 * @see net/netfilter/nf_conntrack_proto_udp.c udp_error()
 */
export function udpError(
  skb: SkBuff,
  hook: number,
  nh: number,
  th: number,
  end: number,
  ns: NetnsConntrack,
): boolean {
  const b = skb.head;
  if (th + 8 > end) return true;
  const ulen = getU16(b, th + 4);
  if (ulen > end - th || ulen < 8) return true;
  if (getU16(b, th + 6) === 0 || !ns.sysctl.checksum.value) return false;
  return !nfL4ChecksumOk(skb, hook, nh, th, th + ulen, 17);
}

/** `udp_new` side of `nf_conntrack_udp_packet`: a new flow becomes a stream 2 s from now. */
export function udpNew(ct: NfConn, now: number): void {
  ct.udpStreamTs = now + UDP_STREAM_DELAY_MS;
}

/**
 * `nf_conntrack_udp_packet`: refreshes the timeout. "If we've seen traffic both ways, this is
 * some kind of UDP stream. Set Assured." — once it is still active two seconds after it began.
 * @see net/netfilter/nf_conntrack_proto_udp.c nf_conntrack_udp_packet()
 */
export function udpPacket(ct: NfConn, ns: NetnsConntrack): CtVerdict {
  const { udpTimeout, udpTimeoutStream } = ns.sysctl;
  if ((ct.status & IPS.SEEN_REPLY) !== 0) {
    let extra = udpTimeout.value;
    let stream = false;
    // "Still active after two seconds? Extend timeout."
    if (ns.net.clock.now() > ct.udpStreamTs) {
      extra = udpTimeoutStream.value;
      stream = true;
    }
    ns.table.refresh(ct, extra * 1000);
    if (stream) ct.status |= IPS.ASSURED;
  } else {
    ns.table.refresh(ct, udpTimeout.value * 1000);
  }
  return CT_VERDICT.ACCEPT;
}
