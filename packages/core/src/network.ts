/**
 * Several stacks joined by links, like a containerlab or mininet topology in one process.
 * @packageDocumentation
 */
import { type Clock, isClock, RealClock, VirtualClock } from "./clock.js";
import { ConfigError, PluginError } from "./errors.js";
import type { NetDevice } from "./netdevice.js";
import type { NetworkOptions, StackOptions } from "./options.js";
import { buildStack, type Stack, startStack } from "./stack.js";

/** A running topology: its hosts by name, and the shared clock. */
export class Network {
  constructor(
    /** Each host's stack, by the name the topology gave it. */
    readonly hosts: Readonly<Record<string, Stack>>,
    readonly clock: Clock,
    /** The links, as pairs of devices. */
    readonly links: readonly (readonly [NetDevice, NetDevice])[],
  ) {}

  /** Closes every host, even when closing one fails (then rejects with the first error). */
  async close(): Promise<void> {
    const results = await Promise.allSettled(Object.values(this.hosts).map((h) => h.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * Creates hosts (each a {@link Stack}, with the network's default plugins unless it lists its
 * own), joins their devices with links (made by the devices' driver, e.g. veth), attaches netem
 * to links that ask for it, then starts every host. All hosts share one clock.
 */
export async function createNetwork(options: NetworkOptions): Promise<Network> {
  if (
    options === null ||
    typeof options !== "object" ||
    typeof options.hosts !== "object" ||
    options.hosts === null
  ) {
    throw new ConfigError(
      "hosts",
      (options as NetworkOptions | null)?.hosts,
      "an object of hosts by name",
    );
  }
  const clock = resolveNetClock(options.clock);
  const hosts: Record<string, Stack> = {};
  const built: Stack[] = [];
  const links: [NetDevice, NetDevice][] = [];
  const used = new Map<string, number>();
  try {
    for (const [name, host] of Object.entries(options.hosts)) {
      if (host === null || typeof host !== "object") {
        throw new ConfigError(
          `hosts.${name}`,
          host,
          "a host's options (plugins, devices, routes, …)",
        );
      }
      const hostOpts: StackOptions = { ...host, name, plugins: host.plugins ?? options.plugins };
      const stack = await buildStack(hostOpts, { pathPrefix: `hosts.${name}.`, clock });
      hosts[name] = stack;
      built.push(stack);
    }
    for (const [i, link] of (options.links ?? []).entries()) {
      const path = `links[${i}]`;
      if (link === null || typeof link !== "object") {
        throw new ConfigError(path, link, 'a link like { ends: ["a:eth0", "b:eth0"] }');
      }
      if (!Array.isArray(link.ends) || link.ends.length !== 2) {
        throw new ConfigError(`${path}.ends`, link.ends, 'two ends like ["a:eth0", "b:eth0"]');
      }
      const devs = link.ends.map((end, j) => {
        const where = `${path}.ends[${j}]`;
        const m = typeof end === "string" ? /^([^:]+):(.+)$/.exec(end) : null;
        if (!m) throw new ConfigError(where, end, "host:device");
        const stack = hosts[m[1]!];
        if (!stack) {
          throw new ConfigError(
            where,
            end,
            `a host of this network (${Object.keys(hosts).join(", ")})`,
          );
        }
        const dev = stack.getDevice(m[2]!);
        if (!dev) {
          throw new ConfigError(
            where,
            end,
            `a device of host ${m[1]} (${stack.devices.map((d) => d.name).join(", ")})`,
          );
        }
        if (used.has(end)) {
          throw new ConfigError(where, end, `a device not already used by links[${used.get(end)}]`);
        }
        used.set(end, i);
        return dev;
      }) as [NetDevice, NetDevice];
      const [a, b] = devs;
      const driverA = a.net.driver(deviceDriverName(a));
      if (!driverA?.link || deviceDriverName(a) !== deviceDriverName(b)) {
        throw new ConfigError(
          `${path}.ends`,
          link.ends,
          "two devices of one link driver (like veth)",
        );
      }
      if (link.netem) {
        for (const d of devs) {
          if (!d.net.hasQdisc("netem")) {
            throw new PluginError(
              `${path}: link ${link.ends[0]} <-> ${link.ends[1]} asks for netem, which needs the netem() plugin (@skbuff/netem) in host '${d.net.name}'`,
            );
          }
        }
      }
      driverA.link(a, b, link);
      if (link.netem) {
        devs.forEach((d, j) => {
          try {
            d.net.qdiscReplace(d, "netem", endNetemOptions(link.netem!, j));
          } catch (error) {
            if (error instanceof ConfigError) {
              throw new ConfigError(
                `${path}.netem${error.path ? `.${error.path}` : ""}`,
                error.value,
                error.expected,
              );
            }
            throw error;
          }
        });
      }
      links.push(devs);
    }
    for (const [name, host] of Object.entries(options.hosts)) {
      await startStack(hosts[name]!, host, { pathPrefix: `hosts.${name}.` });
    }
  } catch (error) {
    // Close every host made so far; the error that stopped creation is the one to report.
    await Promise.allSettled(built.map((s) => s.close()));
    throw error;
  }
  return new Network(hosts, clock, links);
}

function deviceDriverName(dev: NetDevice): string {
  return dev.kind;
}

function resolveNetClock(clock: NetworkOptions["clock"]): Clock {
  if (clock === undefined || clock === "real") return new RealClock();
  if (clock === "virtual") return new VirtualClock();
  if (isClock(clock)) return clock;
  throw new ConfigError("clock", clock, `"real", "virtual" or a Clock object`);
}

/**
 * One end's netem options: the two directions of a link are independent, so each end gets its
 * own seed (the given one, or 1, plus the end's index), like two `tc … seed N` with distinct N.
 */
function endNetemOptions(
  opts: Readonly<Record<string, unknown>> | string,
  end: number,
): Readonly<Record<string, unknown>> | string {
  if (typeof opts === "string") {
    const m = /\bseed\s+(\d+)/.exec(opts);
    return m ? opts.replace(m[0], `seed ${Number(m[1]) + end}`) : `${opts} seed ${1 + end}`;
  }
  const seed = typeof opts.seed === "number" ? opts.seed : 1;
  return { ...opts, seed: seed + end };
}
