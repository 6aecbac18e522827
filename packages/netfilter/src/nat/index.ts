/**
 * NAT: `registerNat` and the pieces of it a reader or a test may want.
 * @packageDocumentation
 */
export { nfNatInitialized, nfNatSetupInfo, registerNat } from "./core.js";
export {
  hook2manip,
  NF_NAT_MANIP,
  type NfNatManipType,
  nfNatIcmpReplyTranslation,
  nfNatIpv4ManipPkt,
  nfNatPacket,
} from "./manip.js";
export { getUniqueTuple, nfNatUsedTuple } from "./unique.js";
