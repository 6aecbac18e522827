/**
 * `@skbuff/loopback`: the loopback device, `lo`. Packets a stack sends on it come back in on it
 * through the stack's receive softirq, with no checksum work (`CHECKSUM_UNNECESSARY`).
 *
 * ```ts
 * import { createStack } from "@skbuff/core";
 * import { loopback } from "@skbuff/loopback";
 * const stack = await createStack({ devices: [loopback()] }); // lo, mtu 65536, 127.0.0.1/8
 * ```
 * @see drivers/net/loopback.c
 * @packageDocumentation
 */
import { loopback } from "./loopback.js";

export {
  DRIVER_NAME as LOOPBACK_DRIVER,
  type LoopbackPlugin,
  loopback,
  loopbackXmit,
  PLUGIN_NAME as LOOPBACK_PLUGIN,
} from "./loopback.js";
export default loopback;
