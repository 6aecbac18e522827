/**
 * Address-literal checks, exactly Node's (`net.isIP`, `net.isIPv4`, `net.isIPv6`): `stack.net`
 * offers them like `net` does. They only parse strings; no Node socket is involved.
 * @packageDocumentation
 */
export { isIP, isIPv4, isIPv6 } from "node:net";
