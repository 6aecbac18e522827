/**
 * Device drivers, registered by name: a driver makes devices from specs ({@link DeviceSpec})
 * and, for link drivers like veth, joins two devices of two stacks.
 * @packageDocumentation
 */
import { ConfigError } from "./errors.js";
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

/** The keys every device spec may have, whatever its driver. */
export const DEVICE_SPEC_KEYS: readonly string[] = Object.freeze([
  "driver",
  "name",
  "address",
  "mtu",
  "up",
  "plugin",
]);

/** What {@link devValidName} accepts, for ConfigErrors. */
export const DEV_NAME_EXPECTED =
  "an interface name of 1 to 15 characters without '/', ':' or white space, other than '.' and '..'";

/**
 * `dev_valid_name`: 1 to 15 characters (`IFNAMSIZ` - 1), not `.` or `..`, without `/`, `:` or
 * white space.
 * @see net/core/dev.c dev_valid_name()
 */
export function devValidName(name: unknown): name is string {
  return (
    typeof name === "string" &&
    name.length > 0 &&
    name.length < 16 &&
    name !== "." &&
    name !== ".." &&
    !/[/:\s]/.test(name)
  );
}

/**
 * Refuses keys a driver does not take: the generic {@link DEVICE_SPEC_KEYS} plus the driver's
 * own `extraKeys` are allowed (and `alsoAllowed`, for specs that are also something else, like
 * the object `loopback()` returns). Throws a {@link ConfigError} at `path.key`.
 */
export function checkDeviceSpecKeys(
  spec: DeviceSpec,
  path: string,
  driver: string,
  extraKeys: readonly string[] = [],
  alsoAllowed: readonly string[] = [],
): void {
  for (const key of Object.keys(spec)) {
    if (DEVICE_SPEC_KEYS.includes(key) || extraKeys.includes(key) || alsoAllowed.includes(key))
      continue;
    throw new ConfigError(
      `${path}.${key}`,
      spec[key],
      `no such key: the ${driver} driver takes ${[...DEVICE_SPEC_KEYS, ...extraKeys].join(", ")}`,
    );
  }
}
