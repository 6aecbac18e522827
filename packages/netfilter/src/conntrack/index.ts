/**
 * Connection tracking: `registerConntrack` and what the rest of @skbuff/netfilter (and tests)
 * use of it.
 * @packageDocumentation
 */
export {
  type ConntrackOptions,
  type ConntrackService,
  conntrackCount,
  conntrackEntries,
  conntrackFlush,
  formatConntrack,
  registerConntrack,
} from "./api.js";
export { ctinfo2dir, nfCtGet } from "./core.js";
export {
  NetnsConntrack,
  NF_CONNTRACK_MAX_DEFAULT,
  NfConntrackMib,
  type NfConntrackSysctls,
} from "./netns.js";
export {
  IPS,
  IPS_NAT_MASK,
  NfConn,
  TCP_CONNTRACK,
  TCP_CONNTRACK_NAMES,
  type TcpConntrackState,
} from "./nf_conn.js";
export { NF_CT_EVICTION_RANGE, NfConntrackTable, type NfConntrackTupleHash } from "./table.js";
export {
  IP_CT_DIR,
  type IpCtDir,
  invertTuple,
  type NfConntrackTuple,
  pktToTuple,
  tupleEqual,
} from "./tuple.js";
