/**
 * Device drivers, registered by name: a driver makes devices from specs ({@link DeviceSpec})
 * and, for link drivers like veth, joins two devices of two stacks.
 * @packageDocumentation
 */
import type { NetDevice } from "./netdevice.js";
import type { DeviceSpec, LinkSpec } from "./options.js";
import type { Stack } from "./stack.js";

/** A device driver. */
export interface NetDeviceDriver {
  /** The `driver:` name in device specs. */
  readonly name: string;
  /**
   * Creates and registers one device (with {@link Stack.registerNetdev}). `path` is the spec's
   * key path, for ConfigErrors about driver-specific keys.
   */
  create(stack: Stack, spec: DeviceSpec, path: string): NetDevice | Promise<NetDevice>;
  /** Joins two of this driver's devices (in two stacks) into one link. */
  link?(a: NetDevice, b: NetDevice, spec: LinkSpec): void;
}
