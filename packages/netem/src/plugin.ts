/**
 * The `netem()` plugin, which registers the `netem` qdisc kind, and helpers to attach netem to
 * a device in code (`tc qdisc replace dev eth0 root netem …`) and to read its counters.
 * @packageDocumentation
 */
import {
  ConfigError,
  definePlugin,
  type NetDevice,
  type Plugin,
  parseOptions,
  SkbuffError,
  type Stack,
  z,
} from "@skbuff/core";
import type { NetemConfig, NetemOptions } from "./config.js";
import { NetemQdisc } from "./netem.js";
import { NETEM_PLUGIN_NAME, parseNetemOptions } from "./options.js";

/** Options of {@link netem}. */
export interface NetemPluginOptions {
  /**
   * netem to attach to devices of the stack when it starts, by device name: the config-file
   * way of `tc qdisc replace dev eth0 root netem delay 10ms`.
   *
   * ```yaml
   * plugins:
   *   - { use: "@skbuff/netem", options: { attach: { eth0: { delay: 10ms, loss: 1% } } } }
   *   - { use: "@skbuff/netem", options: { attach: { eth0: "delay 10ms loss 1%" } } }
   * ```
   */
  readonly attach?: Readonly<Record<string, NetemOptions | string>>;
}

const pluginSchema = z.strictObject({
  attach: z
    .record(z.string(), z.unknown(), { error: "an object of netem settings by device name" })
    .optional(),
});

/** Runs `fn`; a ConfigError it throws gets `prefix` in front of its path. */
function under<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ConfigError) {
      const path = error.path === "" ? prefix : `${prefix}.${error.path}`;
      throw new ConfigError(path, error.value, error.expected, error.file);
    }
    throw error;
  }
}

/**
 * The netem plugin: registers the qdisc kind `netem`, so that links can ask for it
 * (`links: [{ ends, netem: { delay: "5ms", loss: "1%" } }]`) and code can attach it with
 * {@link netemAttach} or `stack.qdiscReplace(dev, "netem", options)`. Options are checked here,
 * before any stack is made.
 * @throws ConfigError for bad options, with their key path
 */
export function netem(options: NetemPluginOptions = {}): Plugin {
  const opts = parseOptions(pluginSchema, options, NETEM_PLUGIN_NAME);
  const attach = Object.entries(opts.attach ?? {}).map(
    ([name, o]) =>
      [name, under(`attach.${name}`, () => parseNetemOptions(o as NetemOptions | string))] as const,
  );
  return definePlugin({
    name: NETEM_PLUGIN_NAME,
    register(ctx) {
      ctx.registerQdisc({
        kind: "netem",
        create: (dev, o) => new NetemQdisc(dev, parseNetemOptions(o)),
      });
    },
    start(ctx) {
      const stack = ctx.stack;
      for (const [name, config] of attach) {
        const dev = stack.getDevice(name);
        if (dev === undefined) {
          throw new ConfigError(
            `attach.${name}`,
            name,
            `a device of stack '${stack.name}' (${stack.devices.map((d) => d.name).join(", ") || "it has none"})`,
          );
        }
        stack.qdiscReplace(dev, "netem", config);
      }
    },
  });
}

/**
 * `tc qdisc replace dev DEV root netem OPTIONS`: attaches a new netem qdisc to a device (its
 * old qdisc is destroyed, and the packets it held with it) and returns it. The stack needs the
 * {@link netem} plugin.
 *
 * ```ts
 * const q = netemAttach(stack, "eth0", { delay: "100ms", jitter: "10ms", loss: "1%" });
 * netemAttach(stack, "eth0", "delay 100ms 10ms loss 1%"); // the same, as tc spells it
 * ```
 * @throws ConfigError for bad options; SkbuffError `ENODEV` for a device the stack does not
 *   have; PluginError when the stack has no netem plugin
 */
export function netemAttach(
  stack: Stack,
  dev: string | NetDevice,
  options: NetemOptions | string | NetemConfig = {},
): NetemQdisc {
  const d = typeof dev === "string" ? stack.getDevice(dev) : dev;
  if (d === undefined || d.net !== stack) {
    const name = typeof dev === "string" ? dev : dev.name;
    throw new SkbuffError("ENODEV", `Device '${name}' does not exist in stack '${stack.name}'`);
  }
  const config = parseNetemOptions(options);
  const q = stack.qdiscReplace(d, "netem", config);
  if (!(q instanceof NetemQdisc)) {
    throw new SkbuffError(
      "EINVAL",
      `The qdisc kind 'netem' of stack '${stack.name}' is not @skbuff/netem's`,
    );
  }
  return q;
}

/** The netem qdisc attached to `dev`, or null when it has another one or none (`tc -s qdisc`). */
export function netemOf(dev: NetDevice): NetemQdisc | null {
  return dev.qdisc instanceof NetemQdisc ? dev.qdisc : null;
}
