/**
 * Turning a config's plugin entries (`"@skbuff/ipv4"`, `./plugins/my-hook.js`,
 * `{ use, options }`) into plugin objects: resolve the module from the config file's own folder,
 * import it, find its factory and call it with the options.
 * @packageDocumentation
 */
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, extname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ConfigError, describeValue, PluginError } from "../errors.js";
import { isPlugin, type Plugin } from "../plugin.js";
import { isConfigError, issuesToConfigError, joinPath, parsePath } from "./errors.js";
import type { PluginUse } from "./schema.js";

/**
 * The export conditions a package's `exports` are matched against, in Node's way (the first
 * key of the `exports` object that is in this set wins). `@skbuff/source` (a workspace
 * package's TypeScript source) joins when this module itself runs as TypeScript (under vitest
 * or tsx), so that plugins load the same copy of core as the code that loads them, or when Node
 * was started with `--conditions=@skbuff/source`.
 */
function exportConditions(): ReadonlySet<string> {
  const set = new Set(["node", "import", "default"]);
  if (import.meta.url.endsWith(".ts")) set.add("@skbuff/source");
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)];
  for (const [i, flag] of flags.entries()) {
    const m = /^(?:--conditions|-C)(?:=(.+))?$/.exec(flag);
    const name = m ? (m[1] ?? flags[i + 1]) : undefined;
    if (name) set.add(name);
  }
  return set;
}

type ExportsTarget = string | null | readonly ExportsTarget[] | { [key: string]: ExportsTarget };

function resolveTarget(
  target: ExportsTarget,
  conditions: ReadonlySet<string>,
  star?: string,
): string | null {
  if (typeof target === "string") return star === undefined ? target : target.replaceAll("*", star);
  if (target === null) return null;
  if (Array.isArray(target)) {
    for (const t of target) {
      const r = resolveTarget(t, conditions, star);
      if (r !== null) return r;
    }
    return null;
  }
  for (const [key, value] of Object.entries(target)) {
    if (!conditions.has(key)) continue;
    const r = resolveTarget(value, conditions, star);
    if (r !== null) return r;
  }
  return null;
}

/**
 * Resolves a subpath (`.` or `./x`) through a package's `exports`, as Node does: subpath keys,
 * `*` patterns (the longest matching prefix wins) and nested conditions.
 * @see https://nodejs.org/api/packages.html#subpath-exports
 */
function resolveExports(
  exports: ExportsTarget,
  subpath: string,
  conditions: ReadonlySet<string>,
): string | null {
  const isSubpathMap =
    exports !== null &&
    typeof exports === "object" &&
    !Array.isArray(exports) &&
    Object.keys(exports).some((k) => k.startsWith("."));
  if (!isSubpathMap) return subpath === "." ? resolveTarget(exports, conditions) : null;
  const map = exports as { [key: string]: ExportsTarget };
  if (Object.hasOwn(map, subpath)) return resolveTarget(map[subpath]!, conditions);
  let best: { key: string; star: string } | undefined;
  for (const key of Object.keys(map)) {
    const at = key.indexOf("*");
    if (at < 0) continue;
    const before = key.slice(0, at);
    const after = key.slice(at + 1);
    if (
      !subpath.startsWith(before) ||
      !subpath.endsWith(after) ||
      subpath.length < key.length - 1
    ) {
      continue;
    }
    if (!best || before.length > best.key.indexOf("*")) {
      best = { key, star: subpath.slice(before.length, subpath.length - after.length) };
    }
  }
  return best ? resolveTarget(map[best.key]!, conditions, best.star) : null;
}

/** `@scope/name/sub/path` → `["@scope/name", "./sub/path"]`. */
function splitBareSpecifier(spec: string): [string, string] {
  const parts = spec.split("/");
  const n = spec.startsWith("@") ? 2 : 1;
  const rest = parts.slice(n).join("/");
  return [parts.slice(0, n).join("/"), rest ? `./${rest}` : "."];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Resolves an import specifier the way Node resolves imports in a module that sits in
 * `baseDir`: relative and absolute paths (and `file:` URLs) directly; bare package names by
 * walking up `node_modules` folders and reading the package's `exports` (else `main`, else
 * `index.js`). Returns the file's URL (after symlinks, so that a workspace package loads once),
 * or null when nothing is found.
 */
export function resolveModule(spec: string, baseDir: string): string | null {
  let file: string | undefined;
  if (spec.startsWith("file:")) {
    file = fileURLToPath(spec);
  } else if (spec.startsWith("./") || spec.startsWith("../") || isAbsolute(spec)) {
    file = resolve(baseDir, spec);
  } else {
    const [name, subpath] = splitBareSpecifier(spec);
    for (let dir = resolve(baseDir); ; dir = dirname(dir)) {
      const pkgDir = join(dir, "node_modules", name);
      const pkgJson = join(pkgDir, "package.json");
      if (existsSync(pkgJson)) {
        const pkg = JSON.parse(readFileSync(pkgJson, "utf8")) as {
          exports?: ExportsTarget;
          main?: string;
        };
        const target =
          pkg.exports !== undefined
            ? resolveExports(pkg.exports, subpath, exportConditions())
            : subpath === "."
              ? (pkg.main ?? "index.js")
              : subpath;
        if (target === null) return null;
        file = join(pkgDir, target);
        if (!isFile(file) && isFile(`${file}.js`)) file = `${file}.js`;
        if (!isFile(file) && isFile(join(file, "index.js"))) file = join(file, "index.js");
        break;
      }
      if (dirname(dir) === dir) return null;
    }
  }
  if (file === undefined || !isFile(file)) return null;
  return pathToFileURL(realpathSync(file)).href;
}

/** The name a module's factory is exported under: `@skbuff/ipv4` → `ipv4`, `./my-hook.js` → `myHook`. */
export function factoryName(spec: string): string {
  const last = basename(spec.replace(/\/+$/, ""));
  const stem = /\.[cm]?[jt]s$/i.test(last) ? last.slice(0, -extname(last).length) : last;
  return stem.replace(/[-_.]+([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** A plugin factory: `(options, { baseDir }) => Plugin`; `baseDir` is the config file's folder. */
type Factory = (options?: unknown, context?: { readonly baseDir: string }) => unknown;

/** The factory of a plugin module: the default export, else the export named after it, else its only function. */
function findFactory(mod: Record<string, unknown>, spec: string): Factory | Plugin | undefined {
  if (typeof mod.default === "function") return mod.default as Factory;
  if (isPlugin(mod.default)) return mod.default;
  const named = mod[factoryName(spec)];
  if (typeof named === "function") return named as Factory;
  const functions = Object.values(mod).filter((v): v is Factory => typeof v === "function");
  return functions.length === 1 ? functions[0] : undefined;
}

/** Errors of a factory are reported under `<path>.options`, as the options' own key paths. */
function factoryError(err: unknown, path: string, options: unknown, spec: string): ConfigError {
  const optionsPath = `${path}.options`;
  if (isConfigError(err)) {
    return new ConfigError(joinPath(optionsPath, err.path), err.value, err.expected);
  }
  const zodIssues = (err as { name?: unknown; issues?: unknown } | null)?.issues;
  if ((err as { name?: unknown } | null)?.name === "ZodError" && Array.isArray(zodIssues)) {
    return issuesToConfigError(zodIssues, undefined, parsePath(optionsPath));
  }
  const wrapped = new ConfigError(
    optionsPath,
    options,
    `options that ${spec} accepts (its factory threw: ${(err as Error)?.message ?? String(err)})`,
  );
  wrapped.cause = err;
  return wrapped;
}

/**
 * Makes a plugin from a config entry: a module specifier (`"@skbuff/ipv4"`,
 * `./plugins/my-hook.js`) or `{ use, options }`. A plugin object is returned as it is.
 *
 * The module is resolved from `baseDir` (the config file's folder) as Node resolves imports
 * there (see {@link resolveModule}). Its factory is the default export when that is a function,
 * else the export named after the module in camelCase (`ipv4`, `myHook`), else its only exported
 * function; a default export that is a plugin object is used as is (and takes no options). The
 * factory is called with `options` (with nothing for a bare specifier) and may return a promise.
 *
 * @param path - the entry's key path (`plugins[2]`), for errors
 * @throws {@link ConfigError} at `path` when the module is not found, cannot be imported or
 *   makes no plugin; at `path.options…` when the factory refuses its options (its own
 *   ConfigError's path, or a thrown ZodError's, is put under `path.options`).
 */
export async function resolvePlugin(
  entry: string | PluginUse | Plugin,
  baseDir: string,
  path: string,
): Promise<Plugin> {
  if (isPlugin(entry)) return entry;
  const spec = typeof entry === "string" ? entry : entry.use;
  const hasOptions = typeof entry !== "string" && entry.options !== undefined;
  const options = typeof entry === "string" ? undefined : entry.options;
  const url = resolveModule(spec, baseDir);
  if (url === null) {
    throw new ConfigError(
      path,
      spec,
      `an installed npm package or a path relative to ${resolve(baseDir)}`,
    );
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    const failed = new ConfigError(
      path,
      spec,
      `a plugin module that can be imported (importing ${url} failed: ${(err as Error)?.message ?? String(err)})`,
    );
    failed.cause = err;
    throw failed;
  }
  const factory = findFactory(mod, spec);
  if (factory === undefined) {
    throw new ConfigError(
      path,
      spec,
      `a module that exports a plugin factory (a default export, or a function named ${factoryName(spec)})`,
    );
  }
  let plugin: unknown;
  if (typeof factory === "function") {
    try {
      // The second argument tells the factory where the config file is, so relative paths in
      // its options (a ruleset file) resolve from there, not from the process's cwd.
      plugin = await factory(hasOptions ? options : undefined, { baseDir });
    } catch (err) {
      throw factoryError(err, path, options, spec);
    }
  } else if (hasOptions) {
    throw new ConfigError(
      `${path}.options`,
      options,
      `no options: ${spec} exports a plugin, not a factory that takes options`,
    );
  } else {
    plugin = factory;
  }
  if (!isPlugin(plugin)) {
    throw new ConfigError(
      path,
      spec,
      `a module whose factory makes a plugin (an object with a name and register()), but it made ${describeValue(plugin)}`,
    );
  }
  return plugin;
}

/**
 * The plugin of a device driver that a config uses without listing its plugin
 * (`{ driver: loopback }` without `@skbuff/loopback` in `plugins`): imports `@skbuff/<driver>`
 * from `baseDir` and calls its factory with no options.
 *
 * @returns the plugin, or null when no such package is installed
 * @throws {@link PluginError} when the package is installed but makes no plugin
 */
export async function resolveDeviceDriverPlugin(
  driver: string,
  baseDir: string,
): Promise<Plugin | null> {
  if (!/^[a-z0-9][a-z0-9_.-]*$/.test(driver)) return null;
  const spec = `@skbuff/${driver}`;
  if (resolveModule(spec, baseDir) === null) return null;
  try {
    return await resolvePlugin(spec, baseDir, "driver");
  } catch (err) {
    throw new PluginError(
      `The package '${spec}' for device driver '${driver}' is installed but makes no plugin: ${
        isConfigError(err) ? err.expected : (err as Error)?.message
      }`,
    );
  }
}
