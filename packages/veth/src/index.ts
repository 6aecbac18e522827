/**
 * `@skbuff/veth`: pairs of devices joined back to back, possibly in two stacks: the links of a
 * `createNetwork` topology, or a pair made in code with {@link vethPair}.
 *
 * skbuff's veth is an L3 point-to-point pipe, like a pair of TUN devices: it carries bare IPv4
 * packets with no link-layer header (`POINTOPOINT | NOARP`, `ARPHRD_NONE`). Checksum offload is
 * off by default, so checksums are really computed by the sender and verified by the receiver.
 * @see drivers/net/veth.c
 * @packageDocumentation
 */
import { veth } from "./veth.js";

export { type VethPairOptions, vethPair } from "./pair.js";
export {
  skbScrubPacket,
  type VethDeviceSpec,
  veth,
  vethLink,
  vethPeer,
  vethXmit,
} from "./veth.js";
export default veth;
