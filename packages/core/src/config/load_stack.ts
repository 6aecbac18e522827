/**
 * `loadStack` / `loadNetwork`: a stack or a topology composed from a config file.
 * @packageDocumentation
 */
import { dirname, resolve } from "node:path";
import { createNetwork, type Network } from "../network.js";
import type { DeviceSpec, HostOptions, Maybe, StackOptions } from "../options.js";
import type { Plugin } from "../plugin.js";
import { createStack, type Stack } from "../stack.js";
import { loadNetworkOptions, loadStackOptions, resolveDeviceDriverPlugin } from "./load.js";

/** Options of {@link loadStack} and {@link loadNetwork}. */
export interface LoadOptions {
  /** Where `${VAR}` comes from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Creates a stack from a config file (`stack.yaml`, `stack.json`, `stack.config.js`): the file
 * is read, `${VAR}`s expanded, validated as a whole, its plugins imported (resolved from the
 * file's own folder), and only then is the stack built. A device whose driver no listed plugin
 * provides gets the `@skbuff/<driver>` package's plugin when it is installed (so
 * `{ driver: loopback }` needs no plugin line).
 */
export async function loadStack(file: string, options: LoadOptions = {}): Promise<Stack> {
  const opts = await loadStackOptions(file, options);
  return createStack(await withDriverPlugins(opts, dirname(resolve(file)), opts.plugins));
}

/** Creates a network (hosts + links) from a config file; see {@link loadStack}. */
export async function loadNetwork(file: string, options: LoadOptions = {}): Promise<Network> {
  const opts = await loadNetworkOptions(file, options);
  const baseDir = dirname(resolve(file));
  const hosts: Record<string, HostOptions> = {};
  for (const [name, host] of Object.entries(opts.hosts)) {
    hosts[name] = await withDriverPlugins(host, baseDir, host.plugins ?? opts.plugins);
  }
  return createNetwork({ ...opts, hosts });
}

async function withDriverPlugins<O extends StackOptions>(
  opts: O,
  baseDir: string,
  plugins: readonly Maybe<Plugin>[] | undefined,
): Promise<O> {
  const names = new Set((plugins ?? []).filter((p): p is Plugin => Boolean(p)).map((p) => p.name));
  const devices: DeviceSpec[] = [];
  for (const d of opts.devices ?? []) {
    if (!d) continue;
    if (!d.plugin && !names.has(`skbuff:${d.driver}`)) {
      const plugin = await resolveDeviceDriverPlugin(d.driver, baseDir);
      if (plugin) {
        devices.push({ ...d, plugin });
        continue;
      }
    }
    devices.push(d);
  }
  return { ...opts, devices };
}
