/**
 * @skbuff/ipv4 — IPv4 as `net/ipv4` does it: `ipRcv`/`ipRcvCore` validation with Linux's drop
 * reasons and counters, the FIB with longest-prefix match, local delivery, forwarding, output,
 * fragmentation and reassembly.
 *
 * Its main export is the plugin factory {@link ipv4}; the path functions are exported for
 * protocols (`ipBuildAndSendPkt`, `ipQueueXmit`, `ipRouteOutputKey`) and for readers.
 * @packageDocumentation
 */
export {
  Fib,
  type FibEntry,
  FibTable,
  type RouteProto,
  RT_SCOPE,
  RTN,
  type RtnType,
} from "./fib.js";
export { ipForward, ipForwardFinish } from "./ip_forward.js";
export {
  type ExpiryEntry,
  type InetPeer,
  type IpFragEntry,
  type IpFragQueue,
  type IpFragState,
  ipDefrag,
  ipFragment,
} from "./ip_fragment.js";
export { ipLocalDeliver, ipLocalDeliverFinish, ipRcv, ipRcvCore, ipRcvFinish } from "./ip_input.js";
export {
  devLoopbackXmit,
  dstOutput,
  type IpSendOptions,
  ipBuildAndSendPkt,
  ipFinishOutput,
  ipFinishOutput2,
  ipLocalOut,
  ipLoopbackOutput,
  ipMcOutput,
  ipOutput,
  ipQueueXmit,
  ipSendCheck,
  nextIdent,
} from "./ip_output.js";
export { IpMib } from "./mib.js";
export * from "./netns.js";
export { addRoute, IPV4_PLUGIN, type Ipv4Options, ipv4 } from "./plugin.js";
export {
  type Flowi4,
  ipRouteInputNoref,
  ipRouteOutputKey,
  type OutputRoute,
  type RouteInputError,
  Rtable,
} from "./route.js";
export * from "./wire/iphdr.js";

import { ipv4 } from "./plugin.js";
export default ipv4;
