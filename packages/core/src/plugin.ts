/**
 * Plugins: protocols, drivers, qdiscs and hook modules are plain objects made by factories.
 * Nothing registers on import; a stack registers the plugins it is given, in dependency order.
 * @packageDocumentation
 */
import { ConfigError, PluginError } from "./errors.js";
import type { PluginContext } from "./plugin_context.js";

/**
 * A plugin: a named bundle of registrations into one stack.
 *
 * Lifecycle, per stack: every plugin's `register` runs first (in dependency order) to fill the
 * registries (packet types, protocols, drivers, sysctls, hooks, services); then devices are
 * created and brought up; then every `start` runs (routes, listeners); `stop` runs in reverse
 * order when the stack closes.
 */
export interface Plugin {
  /** Namespaced name, `scope:name` (`skbuff:ipv4`, `acme:firewall`). Unique within a stack. */
  readonly name: string;
  /** Names of plugins that must be registered in the same stack, before this one. */
  readonly requires?: readonly string[];
  /** Fill the stack's registries. No packet flows yet. */
  register(ctx: PluginContext): void | Promise<void>;
  /** Called once devices are up: install routes, open listeners. */
  start?(ctx: PluginContext): void | Promise<void>;
  /**
   * Called when the stack closes, in reverse registration order; only for plugins whose
   * `register` completed (a `register` that throws cleans up after itself, like a failing
   * `module_init`). Also called when creating the stack fails later on.
   */
  stop?(ctx: PluginContext): void | Promise<void>;
}

/**
 * Declares a plugin. It only checks the shape and freezes it: registration happens when a stack
 * is created with it.
 *
 * @example
 * ```ts
 * export const myFirewall = (opts: Options) => definePlugin({
 *   name: "acme:firewall", requires: ["skbuff:ipv4"],
 *   register(ctx) { ctx.nfRegisterHook({ pf: NFPROTO_IPV4, hooknum: NF_INET_LOCAL_IN,
 *     priority: NF_IP_PRI_FILTER, hook: (skb, state) => NF_ACCEPT }); },
 * });
 * ```
 */
export function definePlugin<P extends Plugin>(plugin: P): P {
  if (plugin === null || typeof plugin !== "object") {
    throw new PluginError(`definePlugin() takes an object, got ${typeof plugin}`);
  }
  if (typeof plugin.name !== "string" || !/^[\w@./-]+:[\w./-]+$/.test(plugin.name)) {
    throw new PluginError(
      `A plugin name must be namespaced like 'acme:firewall', got ${JSON.stringify(plugin.name)}`,
    );
  }
  if (typeof plugin.register !== "function") {
    throw new PluginError(`Plugin '${plugin.name}' has no register(ctx) function`);
  }
  for (const hook of ["start", "stop"] as const) {
    if (plugin[hook] !== undefined && typeof plugin[hook] !== "function") {
      throw new PluginError(
        `Plugin '${plugin.name}': ${hook} must be a function, got ${typeof plugin[hook]}`,
      );
    }
  }
  const requires: unknown = plugin.requires;
  if (
    requires !== undefined &&
    (!Array.isArray(requires) || !requires.every((r) => typeof r === "string"))
  ) {
    throw new PluginError(
      `Plugin '${plugin.name}': requires must be a list of plugin names, got ${JSON.stringify(requires)}`,
    );
  }
  if (plugin.requires?.includes(plugin.name)) {
    throw new PluginError(`Plugin '${plugin.name}' requires itself`);
  }
  return Object.freeze({ ...plugin, requires: Object.freeze([...(plugin.requires ?? [])]) });
}

/** True for an object that looks like a plugin (has a name and a register function). */
export function isPlugin(value: unknown): value is Plugin {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof (value as Plugin).name === "string" &&
    typeof (value as Plugin).register === "function"
  );
}

/**
 * Orders plugins so that each comes after the plugins it requires, keeping the given order
 * otherwise (a stable topological sort). Fails, naming both plugins, when a dependency is
 * missing; fails on duplicate names and on cycles.
 */
export function orderPlugins(plugins: readonly Plugin[]): Plugin[] {
  const byName = new Map<string, Plugin>();
  for (const [i, p] of plugins.entries()) {
    if (!isPlugin(p)) {
      throw new ConfigError(`plugins[${i}]`, p, "a plugin object (made by a plugin factory)");
    }
    if (byName.has(p.name)) {
      throw new PluginError(`Plugin '${p.name}' is registered twice`);
    }
    byName.set(p.name, p);
  }
  for (const p of plugins) {
    for (const dep of p.requires ?? []) {
      if (!byName.has(dep)) {
        throw new PluginError(`The dependency '${dep}' of plugin '${p.name}' is not registered`);
      }
    }
  }
  const out: Plugin[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (p: Plugin, chain: string[]): void => {
    const s = state.get(p.name);
    if (s === "done") return;
    if (s === "visiting") {
      throw new PluginError(
        `Plugins depend on each other in a cycle: ${[...chain, p.name].join(" -> ")}`,
      );
    }
    state.set(p.name, "visiting");
    for (const dep of p.requires ?? []) visit(byName.get(dep)!, [...chain, p.name]);
    state.set(p.name, "done");
    out.push(p);
  };
  for (const p of plugins) visit(p, []);
  return out;
}
