/**
 * Schemas of the config-file forms of {@link StackOptions} and {@link NetworkOptions}.
 *
 * The file form differs from the code form only in `plugins`: an entry names a module (an npm
 * package or a path relative to the file) instead of holding a plugin object. A `.js`/`.ts`
 * config may still hold plugin objects and falsy entries (`cond && plugin()`), so both forms
 * pass. Every schema sets its message to a phrase that completes "expected …", which
 * {@link issuesToConfigError} puts into the {@link ConfigError}.
 *
 * Numbers and `${VAR}`: after environment expansion every value is a string, so a numeric field
 * (`port`, `mtu`, `metric`, a sysctl value) also takes a string that is exactly an integer
 * (`"8080"`, `"-1"`), and `up` takes `"true"`/`"false"`. Any other string stays a string.
 * @packageDocumentation
 */
import { z } from "zod";
import { isPlugin, type Plugin } from "../plugin.js";
import { TYPE_ONLY } from "./errors.js";

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const DOTTED_QUAD = `${OCTET}(?:\\.${OCTET}){3}`;

/** An IPv4 address in dotted-quad form, each octet 0-255 without leading zeros. */
export const IPV4_ADDRESS = new RegExp(`^${DOTTED_QUAD}$`);
/** An IPv4 address with a prefix length from 0 to 32 (`192.0.2.1/24`). */
export const IPV4_CIDR = new RegExp(`^${DOTTED_QUAD}/(?:3[0-2]|[12]?\\d)$`);
/** A sysctl name as the config takes it: the `net.` tree, lower-case. */
export const SYSCTL_NAME = /^net\.[a-z0-9_.]+$/;
/** A host name in a network file: no `:`, which separates host and device in link ends. */
export const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * The phrases that complete "expected …" in config errors, one per kind of value.
 */
export const EXPECTED = {
  stackFile:
    "a mapping of stack settings (name, plugins, devices, routes, sysctl, clock, services)",
  networkFile: "a mapping of network settings (plugins, hosts, links, clock)",
  name: "a non-empty string",
  plugins: "a list of plugins",
  plugin: "an npm package name, a path relative to the config file, or { use, options }",
  use: "an npm package name or a relative path, like @skbuff/ipv4 or ./plugins/my-hook.js",
  pluginOptions: "a mapping of the plugin's options",
  devices: "a list of devices",
  device: "a device, like { driver: loopback }",
  driver: "the name of a device driver, like loopback or veth",
  ifname: "an interface name of 1 to 15 characters without /, : or spaces, like eth0",
  address: "an IPv4 address with prefix length, like 192.0.2.1/24",
  addresses: "an IPv4 address with prefix length, like 192.0.2.1/24, or a list of them",
  mtu: "an integer from 68 to 65536",
  up: "true or false",
  routes: "a list of routes",
  route: "a route, like { to: default, via: 192.0.2.1 }",
  routeTo: "default or an IPv4 prefix, like 198.51.100.0/24",
  ipv4: "an IPv4 address, like 192.0.2.1",
  metric: "an integer, 0 or more",
  sysctl: "a mapping of sysctl names to values, like { net.ipv4.ip_forward: 1 }",
  sysctlName:
    "a sysctl name under net., like net.ipv4.ip_forward (lower-case letters, digits, _ and .)",
  sysctlOnce: "each sysctl set once (it is also set as a flat key or a nested one)",
  sysctlValue: "a number, a string or a list of numbers",
  services: "a list of services",
  service: "a service, like { kind: echo, port: 7 }",
  serviceKind: "one of echo, discard, chargen, http",
  port: "an integer from 1 to 65535",
  clock: "real or virtual",
  hosts: "a mapping of host names to hosts",
  host: "a host: a mapping with plugins, devices, routes, sysctl or services",
  hostName: "a host name of letters, digits, ., _ and - (no :)",
  links: "a list of links",
  link: "a link, like { ends: [a:eth0, b:eth0] }",
  ends: "two ends, like [a:eth0, b:eth0]",
  end: "host:device, like a:eth0",
  netem: 'netem settings, like { delay: 5ms, loss: 1% } or "delay 5ms loss 1%"',
} as const;

/** The error map of an object schema: its own phrase, or the keys it knows for an unknown one. */
function objectError(shape: object, what: string) {
  const keys = Object.keys(shape).join(", ");
  return (issue: { readonly code?: string | undefined }): string =>
    issue.code === "unrecognized_keys" ? `one of the keys ${keys}` : what;
}

/** Reads a string that is exactly an integer as that integer (see the module notes). */
function integerString(value: unknown): unknown {
  return typeof value === "string" && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

/** An integer field with bounds, all of its failures phrased as `phrase`. */
function integer(min: number, max: number | undefined, phrase: string) {
  const base = z.int({ error: phrase }).min(min, { error: phrase });
  return z.preprocess(integerString, max === undefined ? base : base.max(max, { error: phrase }));
}

const isFalsy = (v: unknown): v is false | null | undefined =>
  v === false || v === null || v === undefined;
/** A skipped list entry, as code writes `cond && plugin()`. */
const falsy = z.custom<false | null | undefined>(isFalsy, { error: "nothing", params: TYPE_ONLY });

const ipv4 = z.string({ error: EXPECTED.ipv4 }).regex(IPV4_ADDRESS, { error: EXPECTED.ipv4 });
const cidr = z.string({ error: EXPECTED.address }).regex(IPV4_CIDR, { error: EXPECTED.address });

/**
 * An interface name as Linux accepts it: shorter than IFNAMSIZ (16), not `.` or `..`, without
 * `/`, `:` or whitespace.
 * @see net/core/dev.c dev_valid_name()
 */
const ifname = z
  .string({ error: EXPECTED.ifname })
  .regex(/^[^\s/:]{1,15}$/, { error: EXPECTED.ifname })
  .refine((n) => n !== "." && n !== "..", { error: EXPECTED.ifname });

const pluginUseShape = {
  use: z.string({ error: EXPECTED.use }).min(1, { error: EXPECTED.use }),
  options: z.record(z.string(), z.unknown(), { error: EXPECTED.pluginOptions }).optional(),
};

/** `{ use, options }`: a plugin module and the options its factory is called with. */
export const PluginUseSchema = z.strictObject(pluginUseShape, {
  error: objectError(pluginUseShape, EXPECTED.plugin),
});

/** A plugin entry: a module specifier, `{ use, options }`, a plugin object or a falsy entry. */
export const PluginEntrySchema = z.union(
  [
    z.string().min(1, { error: EXPECTED.use }),
    PluginUseSchema,
    z.custom<Plugin>(isPlugin, { error: EXPECTED.plugin, params: TYPE_ONLY }),
    falsy,
  ],
  { error: EXPECTED.plugin },
);

const pluginsSchema = z.array(PluginEntrySchema, { error: EXPECTED.plugins });

/**
 * A device: `driver` plus the generic keys checked here; the driver's own keys pass through
 * unchecked (the driver validates them when the device is created).
 */
export const DeviceSchema = z.looseObject(
  {
    driver: z
      .string({ error: EXPECTED.driver })
      .regex(/^[a-z0-9][a-z0-9_.-]*$/i, { error: EXPECTED.driver }),
    name: ifname.optional(),
    address: z.union([cidr, z.array(cidr)], { error: EXPECTED.addresses }).optional(),
    mtu: integer(68, 65536, EXPECTED.mtu).optional(),
    up: z
      .preprocess(
        (v) => (v === "true" ? true : v === "false" ? false : v),
        z.boolean({ error: EXPECTED.up }),
      )
      .optional(),
  },
  { error: EXPECTED.device },
);

const devicesSchema = z.array(z.union([DeviceSchema, falsy], { error: EXPECTED.device }), {
  error: EXPECTED.devices,
});

const routeShape = {
  to: z
    .string({ error: EXPECTED.routeTo })
    .refine((v) => v === "default" || IPV4_CIDR.test(v), { error: EXPECTED.routeTo }),
  via: ipv4.optional(),
  dev: ifname.optional(),
  metric: integer(0, 0xffff_ffff, EXPECTED.metric).optional(),
};

/** A route, like `ip route add`; unknown keys are refused. */
export const RouteSchema = z.strictObject(routeShape, {
  error: objectError(routeShape, EXPECTED.route),
});

const sysctlValue = z.preprocess(
  integerString,
  z.union(
    [
      z.number(),
      z.string(),
      z.boolean(),
      z.array(z.preprocess(integerString, z.number({ error: "a number" }))),
    ],
    { error: EXPECTED.sysctlValue },
  ),
);

const isMapping = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && !isPlugin(v);

/**
 * Flattens nested sysctl mappings into dotted names (`net: { ipv4: { ip_forward: 0 } }` is
 * `net.ipv4.ip_forward`), which is also what YAML makes of `{ net.ipv4.ip_forward: 0 }`, and
 * checks each name.
 */
function flattenSysctl(input: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (!isMapping(input)) return input;
  const out: Record<string, unknown> = {};
  const walk = (obj: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(obj)) {
      const name = prefix ? `${prefix}.${key}` : key;
      if (isMapping(value)) {
        walk(value, name);
        continue;
      }
      if (!SYSCTL_NAME.test(name)) {
        ctx.addIssue({ code: "custom", message: EXPECTED.sysctlName, path: [name], input: name });
      } else if (Object.hasOwn(out, name)) {
        ctx.addIssue({ code: "custom", message: EXPECTED.sysctlOnce, path: [name], input: value });
      } else {
        out[name] = value;
      }
    }
  };
  walk(input, "");
  return out;
}

/** Linux sysctl names and values; nested mappings are flattened into dotted names. */
export const SysctlSchema = z.preprocess(
  flattenSysctl,
  z.record(z.string(), sysctlValue, { error: EXPECTED.sysctl }),
);

const serviceShape = {
  kind: z.enum(["echo", "discard", "chargen", "http"], { error: EXPECTED.serviceKind }),
  port: integer(1, 65535, EXPECTED.port),
  address: ipv4.optional(),
};

/** A small built-in server, like inetd's; unknown keys are refused. */
export const ServiceSchema = z.strictObject(serviceShape, {
  error: objectError(serviceShape, EXPECTED.service),
});

/** `real`, `virtual`, or (in a `.js`/`.ts` config) a clock object with `now()`. */
const clockSchema = z.union(
  [
    z.enum(["real", "virtual"], { error: EXPECTED.clock }),
    z.custom<object>(
      (v) =>
        v !== null && typeof v === "object" && typeof (v as { now?: unknown }).now === "function",
      { error: EXPECTED.clock, params: TYPE_ONLY },
    ),
  ],
  { error: EXPECTED.clock },
);

const hostShape = {
  plugins: pluginsSchema.optional(),
  devices: devicesSchema.optional(),
  routes: z.array(RouteSchema, { error: EXPECTED.routes }).optional(),
  sysctl: SysctlSchema.optional(),
  services: z.array(ServiceSchema, { error: EXPECTED.services }).optional(),
};

/** One host of a network file: a stack's settings without `name` and `clock`. */
export const HostSchema = z.strictObject(hostShape, {
  error: objectError(hostShape, EXPECTED.host),
});

const stackShape = {
  name: z.string({ error: EXPECTED.name }).min(1, { error: EXPECTED.name }).optional(),
  ...hostShape,
  clock: clockSchema.optional(),
};

/** A stack config file (`stack.yaml`); unknown keys are refused so typos are not ignored. */
export const StackFileSchema = z.strictObject(stackShape, {
  error: objectError(stackShape, EXPECTED.stackFile),
});

const end = z.string({ error: EXPECTED.end }).regex(/^[^:\s]+:[^:\s]+$/, { error: EXPECTED.end });

const linkShape = {
  ends: z.tuple([end, end], { error: EXPECTED.ends }),
  netem: z
    .union([z.string(), z.record(z.string(), z.unknown())], { error: EXPECTED.netem })
    .optional(),
};

/** A link between two devices, each named `host:device`. */
export const LinkSchema = z.strictObject(linkShape, {
  error: objectError(linkShape, EXPECTED.link),
});

const networkShape = {
  plugins: pluginsSchema.optional(),
  hosts: z.record(z.string().regex(HOST_NAME, { error: EXPECTED.hostName }), HostSchema, {
    error: EXPECTED.hosts,
  }),
  links: z.array(LinkSchema, { error: EXPECTED.links }).optional(),
  clock: clockSchema.optional(),
};

/**
 * A network file (`network.yaml`): hosts and the links between them. Beyond the shapes, each
 * link end must name a host in `hosts` and a device that host declares by name, and a device
 * may be joined by one link only.
 */
export const NetworkFileSchema = z
  .strictObject(networkShape, { error: objectError(networkShape, EXPECTED.networkFile) })
  .superRefine((net, ctx) => {
    const hostNames = Object.keys(net.hosts);
    const usedBy = new Map<string, number>();
    for (const [i, link] of (net.links ?? []).entries()) {
      for (const [j, endName] of link.ends.entries()) {
        const path = ["links", i, "ends", j];
        const [host, dev] = endName.split(":") as [string, string];
        const spec = net.hosts[host];
        if (spec === undefined) {
          const known = hostNames.length ? hostNames.join(", ") : "none are declared";
          ctx.addIssue({
            code: "custom",
            path,
            input: endName,
            message: `the name of a host in hosts (${known})`,
          });
          continue;
        }
        const devNames = (spec.devices ?? []).flatMap((d) =>
          d !== false && d?.name ? [d.name] : [],
        );
        if (!devNames.includes(dev)) {
          const known = devNames.length ? devNames.join(", ") : "it names none";
          ctx.addIssue({
            code: "custom",
            path,
            input: endName,
            message: `a device that host ${host} declares (${known})`,
          });
          continue;
        }
        const other = usedBy.get(endName);
        if (other !== undefined) {
          ctx.addIssue({
            code: "custom",
            path,
            input: endName,
            message: `a device that no other link joins (links[${other}] joins ${endName})`,
          });
          continue;
        }
        usedBy.set(endName, i);
      }
    }
  });

/** A plugin entry as written in a config file: a module specifier or `{ use, options }`. */
export type PluginUse = z.output<typeof PluginUseSchema>;
/** Any entry a config's `plugins` list may hold. */
export type PluginEntry = z.output<typeof PluginEntrySchema>;
/** A stack config file, validated. */
export type StackFile = z.output<typeof StackFileSchema>;
/** A network config file, validated. */
export type NetworkFile = z.output<typeof NetworkFileSchema>;
/** One host of a network file, validated. */
export type HostFile = z.output<typeof HostSchema>;
