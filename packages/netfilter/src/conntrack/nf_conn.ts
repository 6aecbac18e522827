/**
 * `struct nf_conn`: one tracked connection — its two tuples, status bits, timeout, mark and
 * per-protocol state — with the status bits (`IPS_*`) and TCP conntrack states.
 * @see include/net/netfilter/nf_conntrack.h, include/uapi/linux/netfilter/nf_conntrack_common.h
 * @packageDocumentation
 */
import type { Stack } from "@skbuff/core";
import { IP_CT_DIR, type IpCtDir, type NfConntrackTuple } from "./tuple.js";

/** `enum ip_conntrack_status` bits. */
export const IPS = {
  EXPECTED: 1 << 0,
  /** Traffic was seen in both directions. */
  SEEN_REPLY: 1 << 1,
  /** Never evicted early: the connection proved itself (TCP established, UDP stream). */
  ASSURED: 1 << 2,
  /** In the table. */
  CONFIRMED: 1 << 3,
  /** The connection's source is translated (original direction). */
  SRC_NAT: 1 << 4,
  /** The connection's destination is translated (original direction). */
  DST_NAT: 1 << 5,
  /** Source NAT was decided (possibly a null binding). */
  SRC_NAT_DONE: 1 << 7,
  /** Destination NAT was decided (possibly a null binding). */
  DST_NAT_DONE: 1 << 8,
  /** Removed from the table. */
  DYING: 1 << 9,
} as const;

/** `IPS_NAT_MASK`. */
export const IPS_NAT_MASK = IPS.SRC_NAT | IPS.DST_NAT;

/** `enum tcp_conntrack`: the TCP tracker's states, Linux's numbering. */
export const TCP_CONNTRACK = {
  NONE: 0,
  SYN_SENT: 1,
  SYN_RECV: 2,
  ESTABLISHED: 3,
  FIN_WAIT: 4,
  CLOSE_WAIT: 5,
  LAST_ACK: 6,
  TIME_WAIT: 7,
  CLOSE: 8,
  /** Simultaneous open: a SYN seen in both directions. */
  SYN_SENT2: 9,
} as const;
/** One of {@link TCP_CONNTRACK}. */
export type TcpConntrackState = (typeof TCP_CONNTRACK)[keyof typeof TCP_CONNTRACK];

/** `tcp_conntrack_names`, as `conntrack -L` prints them. */
export const TCP_CONNTRACK_NAMES = [
  "NONE",
  "SYN_SENT",
  "SYN_RECV",
  "ESTABLISHED",
  "FIN_WAIT",
  "CLOSE_WAIT",
  "LAST_ACK",
  "TIME_WAIT",
  "CLOSE",
  "SYN_SENT2",
] as const;

let nextId = 1;

/** One connection (`struct nf_conn`). Both directions' tuples lead to it in the table. */
export class NfConn {
  /** `tuplehash[IP_CT_DIR_ORIGINAL]` and `tuplehash[IP_CT_DIR_REPLY]`; NAT alters the reply. */
  readonly tuplehash: [NfConntrackTuple, NfConntrackTuple];
  /** `IPS_*` bits. */
  status = 0;
  /**
   * Absolute expiry time on the stack's clock (ms) once confirmed; before that, the timeout
   * relative to confirmation, as Linux keeps it.
   */
  timeout: number;
  /** `ct mark`. */
  mark = 0;
  /** `ct->proto.tcp.state`. */
  tcpState: TcpConntrackState = TCP_CONNTRACK.NONE;
  /** `ct->proto.udp.stream_ts`: when a replied UDP flow counts as a stream (ms). */
  udpStreamTs = 0;
  /** Masquerade: the output device's ifindex (`nat->masq_index`), 0 otherwise. */
  masqIndex = 0;
  /** Packets and bytes per direction (`nf_conn_acct`). */
  readonly packets: [number, number] = [0, 0];
  readonly bytes: [number, number] = [0, 0];
  /** A number for listings (`ct->id`). */
  readonly id = nextId++;

  constructor(
    /** The stack whose table this connection belongs to (`ct->ct_net`). */
    readonly net: Stack,
    orig: NfConntrackTuple,
    reply: NfConntrackTuple,
    timeout: number,
  ) {
    this.tuplehash = [orig, reply];
    this.timeout = timeout;
  }

  /** The original direction's tuple. */
  get orig(): NfConntrackTuple {
    return this.tuplehash[IP_CT_DIR.ORIGINAL];
  }

  /** The reply direction's tuple. */
  get reply(): NfConntrackTuple {
    return this.tuplehash[IP_CT_DIR.REPLY];
  }

  /** `nf_ct_is_confirmed`. */
  get confirmed(): boolean {
    return (this.status & IPS.CONFIRMED) !== 0;
  }

  /** `nf_ct_protonum`. */
  get protonum(): number {
    return this.tuplehash[0].protonum;
  }

  /** The tuple of direction `dir`. */
  tuple(dir: IpCtDir): NfConntrackTuple {
    return this.tuplehash[dir];
  }
}
