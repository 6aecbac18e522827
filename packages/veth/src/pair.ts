/**
 * A veth pair made in code, for stacks built without `createNetwork`.
 * @packageDocumentation
 */
import {
  ConfigError,
  DEV_NAME_EXPECTED,
  devValidName,
  type NetDevice,
  PluginError,
  parseCidr,
  type Stack,
} from "@skbuff/core";
import { VETH_PLUGIN_NAME, type VethDeviceSpec, vethLink } from "./veth.js";

/** Options of {@link vethPair}. */
export interface VethPairOptions {
  /** MTU of both ends (default 1500). */
  readonly mtu?: number;
  /** Checksum offload on both ends (default false); see {@link VethDeviceSpec.offload}. */
  readonly offload?: boolean;
  /** Bring both ends up (default true), like `ip link set DEV up`. */
  readonly up?: boolean;
  /** An address for the first end, like `192.0.2.1/24`. */
  readonly addressA?: string;
  /** An address for the second end. */
  readonly addressB?: string;
}

/**
 * `ip link add NAME_A type veth peer name NAME_B netns B`: creates a veth device in each stack
 * with the stacks' `veth` driver (both need the `veth()` plugin), pairs them, brings them up
 * and adds the addresses given, in that order, as a device spec would.
 *
 * ```ts
 * const [a0, b0] = vethPair(a, "eth0", b, "eth0", { addressA: "192.0.2.1/24", addressB: "192.0.2.2/24" });
 * ```
 * @returns the two ends, in the order of the arguments
 * @throws PluginError when a stack has no `veth` driver; ConfigError for a bad MTU or address;
 *   SkbuffError `EEXIST` when a name is taken
 * @see drivers/net/veth.c veth_newlink()
 */
export function vethPair(
  stackA: Stack,
  nameA: string,
  stackB: Stack,
  nameB: string,
  opts: VethPairOptions = {},
): [NetDevice, NetDevice] {
  const { mtu, offload = false, up = true, addressA, addressB } = opts;
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 68 || mtu > 65536)) {
    throw new ConfigError("mtu", mtu, "an integer from 68 to 65536");
  }
  if (typeof offload !== "boolean") throw new ConfigError("offload", offload, "true or false");
  for (const [key, name] of [
    ["nameA", nameA],
    ["nameB", nameB],
  ] as const) {
    if (!devValidName(name)) {
      throw new ConfigError(key, name, DEV_NAME_EXPECTED);
    }
  }
  for (const [key, cidr] of [
    ["addressA", addressA],
    ["addressB", addressB],
  ] as const) {
    if (
      cidr !== undefined &&
      (typeof cidr !== "string" || !cidr.includes("/") || parseCidr(cidr) === null)
    ) {
      throw new ConfigError(key, cidr, "an IPv4 address with prefix length, like 192.0.2.1/24");
    }
  }
  const make = (stack: Stack, name: string): NetDevice => {
    const driver = stack.driver("veth");
    if (driver === undefined) {
      throw new PluginError(
        `vethPair(): device driver 'veth' is not registered in stack '${stack.name}'; add the plugin veth() (@skbuff/veth), named '${VETH_PLUGIN_NAME}'`,
      );
    }
    const spec: VethDeviceSpec = { driver: "veth", name, offload };
    const dev = driver.create(stack, spec, "vethPair");
    if (dev instanceof Promise) {
      throw new PluginError("the veth driver created a device asynchronously");
    }
    if (mtu !== undefined) dev.mtu = mtu;
    return dev;
  };
  const a = make(stackA, nameA);
  let b: NetDevice;
  try {
    b = make(stackB, nameB);
  } catch (error) {
    stackA.unregisterNetdev(a);
    throw error;
  }
  vethLink(a, b);
  if (up) {
    stackA.devOpen(a);
    stackB.devOpen(b);
  }
  if (addressA !== undefined) stackA.addAddress(a, addressA);
  if (addressB !== undefined) stackB.addAddress(b, addressB);
  return [a, b];
}
