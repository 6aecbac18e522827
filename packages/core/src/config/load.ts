/**
 * The config-file half of `loadStack` and `loadNetwork`: read the file, expand `${VAR}`,
 * validate all of it, then make the plugins it names. Everything that can be wrong with a
 * config fails here, before any stack starts, with one {@link ConfigError} that names the key
 * path, the value and what was expected (and `file:line:col` when the file is YAML or JSON).
 * @packageDocumentation
 */
import { dirname, resolve } from "node:path";
import type { z } from "zod";
import type {
  DeviceSpec,
  HostOptions,
  LinkSpec,
  Maybe,
  NetworkOptions,
  RouteSpec,
  ServiceSpec,
  StackOptions,
  SysctlValue,
} from "../options.js";
import type { Plugin } from "../plugin.js";
import { type ConfigEnv, expandEnv } from "./env.js";
import {
  atSource,
  type ConfigSourceRef,
  fallbackPhrase,
  formatPath,
  isConfigError,
  issuesToConfigError,
} from "./errors.js";
import { type ConfigSource, readConfigSource } from "./read.js";
import { resolvePlugin } from "./resolve.js";
import {
  type HostFile,
  type NetworkFile,
  NetworkFileSchema,
  type PluginEntry,
  type StackFile,
  StackFileSchema,
} from "./schema.js";

export { readConfigFile, readConfigSource } from "./read.js";
export { resolveDeviceDriverPlugin, resolvePlugin } from "./resolve.js";

/** Options of {@link loadStackOptions} and {@link loadNetworkOptions}. */
export interface LoadConfigOptions {
  /** Variables for `${VAR}` expansion; `process.env` by default. */
  readonly env?: ConfigEnv;
}

/**
 * Reads a stack config file (`stack.yaml`, `stack.json`, `stack.config.js`/`.ts`) into the
 * options `createStack` takes. Plugins named in the file are imported (resolved from the
 * file's folder) and made with their options; devices, routes, sysctls and services are passed
 * on as validated data; `clock: virtual` stays the string.
 *
 * YAML and JSON files get `${VAR}` expansion from `env`; a `.js`/`.ts` config is code and reads
 * `process.env` itself.
 *
 * @throws {@link ConfigError} for the first thing wrong with the file, before any plugin module
 *   is imported when the file's data is at fault.
 */
export async function loadStackOptions(
  file: string,
  { env = process.env }: LoadConfigOptions = {},
): Promise<StackOptions> {
  const source = await readConfigSource(file);
  const parsed = validate(StackFileSchema, prepare(source, env), source);
  const baseDir = dirname(resolve(file));
  const plugins = await withSource(source, () => makePlugins(parsed.plugins, baseDir, "plugins"));
  return compact({
    name: parsed.name,
    ...hostOptions(parsed, plugins),
    clock: parsed.clock as StackOptions["clock"],
  });
}

/**
 * Reads a network config file (`network.yaml`, …): hosts, links and default plugins, into the
 * options `createNetwork` takes. As {@link loadStackOptions}; link ends are checked
 * against the hosts and the devices they declare before any plugin is imported.
 *
 * @throws {@link ConfigError} for the first thing wrong with the file.
 */
export async function loadNetworkOptions(
  file: string,
  { env = process.env }: LoadConfigOptions = {},
): Promise<NetworkOptions> {
  const source = await readConfigSource(file);
  const parsed: NetworkFile = validate(NetworkFileSchema, prepare(source, env), source);
  const baseDir = dirname(resolve(file));
  return withSource(source, async () => {
    const plugins = await makePlugins(parsed.plugins, baseDir, "plugins");
    const hosts: Record<string, HostOptions> = {};
    for (const [name, host] of Object.entries(parsed.hosts)) {
      const own = await makePlugins(host.plugins, baseDir, formatPath(["hosts", name, "plugins"]));
      hosts[name] = hostOptions(host, own);
    }
    return compact({
      plugins,
      hosts,
      links: parsed.links?.map(
        (l): LinkSpec => compact({ ends: [l.ends[0], l.ends[1]] as const, netem: l.netem }),
      ),
      clock: parsed.clock as NetworkOptions["clock"],
    }) as NetworkOptions;
  });
}

/** Expands `${VAR}` in YAML and JSON data; module configs are code and are left as they are. */
function prepare(source: ConfigSource, env: ConfigEnv): unknown {
  if (source.format === "module") return source.data;
  return withSourceSync(source, () => expandEnv(source.data, env, ""));
}

/** Validates a document with a schema, or throws the ConfigError of its first issue. */
function validate<S extends z.ZodType>(
  schema: S,
  data: unknown,
  source: ConfigSourceRef,
): z.output<S> {
  const result = schema.safeParse(data, { reportInput: true, error: fallbackPhrase });
  if (!result.success) throw issuesToConfigError(result.error.issues, source);
  return result.data;
}

/** Makes the plugins of one `plugins` list, in order; falsy entries are skipped. */
async function makePlugins(
  entries: readonly PluginEntry[] | undefined,
  baseDir: string,
  path: string,
): Promise<Plugin[] | undefined> {
  if (entries === undefined) return undefined;
  const out: Plugin[] = [];
  for (const [i, entry] of entries.entries()) {
    if (entry === false || entry === null || entry === undefined) continue;
    out.push(await resolvePlugin(entry, baseDir, `${path}[${i}]`));
  }
  return out;
}

/** The code form of a host's settings (a stack's, without name and clock). */
function hostOptions(host: HostFile | StackFile, plugins: Plugin[] | undefined): HostOptions {
  return compact({
    plugins,
    devices: host.devices as readonly Maybe<DeviceSpec>[] | undefined,
    routes: host.routes?.map((r) => compact(r) as RouteSpec),
    sysctl: host.sysctl as Readonly<Record<string, SysctlValue>> | undefined,
    services: host.services?.map((s) => compact(s) as ServiceSpec),
  });
}

/** Drops keys whose value is undefined, so the options hold only what the file set. */
function compact<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** Runs `fn`, giving any ConfigError it throws the file and position of its key path. */
async function withSource<T>(source: ConfigSourceRef, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw isConfigError(err) ? atSource(err, source) : err;
  }
}

function withSourceSync<T>(source: ConfigSourceRef, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw isConfigError(err) ? atSource(err, source) : err;
  }
}
