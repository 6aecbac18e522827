/**
 * `loadStack` / `loadNetwork`: a stack or a topology composed from a config file.
 * @packageDocumentation
 */
import { createNetwork, type Network } from "../network.js";
import { createStack, type Stack } from "../stack.js";
import { loadNetworkOptions, loadStackOptions } from "./load.js";

/** Options of {@link loadStack} and {@link loadNetwork}. */
export interface LoadOptions {
  /** Where `${VAR}` comes from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Creates a stack from a config file (`stack.yaml`, `stack.json`, `stack.config.js`): the file
 * is read, `${VAR}`s expanded, validated as a whole, its plugins imported (resolved from the
 * file's own folder), and only then is the stack built.
 */
export async function loadStack(file: string, options: LoadOptions = {}): Promise<Stack> {
  return createStack(await loadStackOptions(file, options));
}

/** Creates a network (hosts + links) from a config file; see {@link loadStack}. */
export async function loadNetwork(file: string, options: LoadOptions = {}): Promise<Network> {
  return createNetwork(await loadNetworkOptions(file, options));
}
