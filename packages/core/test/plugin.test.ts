import { afterEach, describe, expect, it } from "vitest";
import {
  ConfigError,
  createStack,
  definePlugin,
  ETH_P_IP,
  IPPROTO_TCP,
  isPlugin,
  NETDEV_TX_OK,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NF_IP_PRI_FILTER,
  NFPROTO_IPV4,
  orderPlugins,
  type Plugin,
  PluginContext,
  PluginError,
  type Stack,
  type StackOptions,
  VirtualClock,
} from "../src/index.js";

const stacks: Stack[] = [];

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

async function stackOf(options: StackOptions): Promise<Stack> {
  const s = await createStack({ clock: new VirtualClock({ autoAdvance: false }), ...options });
  stacks.push(s);
  return s;
}

/** A plugin that does nothing but exist, with the given dependencies. */
function plain(name: string, requires: string[] = [], log?: string[]): Plugin {
  return definePlugin({
    name,
    requires,
    register() {
      log?.push(name);
    },
  });
}

const names = (plugins: readonly Plugin[]) => plugins.map((p) => p.name);

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("definePlugin", () => {
  it("returns a frozen copy of the plugin with a requires list", () => {
    const p: Plugin = definePlugin({ name: "acme:firewall", register() {} });
    expect(Object.isFrozen(p)).toBe(true);
    expect(p.requires).toEqual([]);
    expect(isPlugin(p)).toBe(true);
  });

  it("refuses something that is not an object", () => {
    expect(() => definePlugin(null as unknown as Plugin)).toThrow(PluginError);
  });

  it("refuses a name without a namespace", () => {
    expect(() => definePlugin({ name: "firewall", register() {} })).toThrow(
      /namespaced like 'acme:firewall'/,
    );
  });

  it("refuses a plugin without a register function", () => {
    expect(() => definePlugin({ name: "acme:x" } as unknown as Plugin)).toThrow(
      /'acme:x' has no register/,
    );
  });

  it("refuses start or stop that are not functions", () => {
    expect(() =>
      definePlugin({ name: "acme:x", register() {}, stop: 1 } as unknown as Plugin),
    ).toThrow(/stop must be a function/);
  });

  it("refuses requires that is not a list of names", () => {
    expect(() =>
      definePlugin({ name: "acme:x", register() {}, requires: "skbuff:ipv4" } as unknown as Plugin),
    ).toThrow(/requires must be a list/);
  });

  it("refuses a plugin that requires itself", () => {
    expect(() => definePlugin({ name: "acme:x", requires: ["acme:x"], register() {} })).toThrow(
      PluginError,
    );
  });
});

describe("orderPlugins", () => {
  it("keeps a list whose dependencies come first as it is", () => {
    const list = [plain("a:one"), plain("a:two", ["a:one"]), plain("a:three")];
    expect(names(orderPlugins(list))).toEqual(["a:one", "a:two", "a:three"]);
  });

  it("moves a dependency in front of the first plugin that needs it", () => {
    const list = [plain("a:app", ["a:base"]), plain("a:other"), plain("a:base")];
    expect(names(orderPlugins(list))).toEqual(["a:base", "a:app", "a:other"]);
  });

  it("puts every plugin after all of its dependencies, transitively", () => {
    const list = [plain("a:top", ["a:mid", "a:low"]), plain("a:mid", ["a:low"]), plain("a:low")];
    expect(names(orderPlugins(list))).toEqual(["a:low", "a:mid", "a:top"]);
  });

  it("fails naming both plugins when a dependency is missing", () => {
    expect(() => orderPlugins([plain("acme:firewall", ["skbuff:ipv4"])])).toThrow(
      new PluginError("The dependency 'skbuff:ipv4' of plugin 'acme:firewall' is not registered"),
    );
  });

  it("fails on two plugins of one name", () => {
    expect(() => orderPlugins([plain("a:one"), plain("a:one")])).toThrow(
      /'a:one' is registered twice/,
    );
  });

  it("fails on a cycle, naming the plugins in it", () => {
    expect(() => orderPlugins([plain("a:x", ["a:y"]), plain("a:y", ["a:x"])])).toThrow(
      /cycle: a:x -> a:y -> a:x/,
    );
  });
});

describe("plugins of createStack", () => {
  it("registers plugins in dependency order", async () => {
    const log: string[] = [];
    await stackOf({
      plugins: [plain("acme:firewall", ["skbuff:ipv4"], log), plain("skbuff:ipv4", [], log)],
    });
    expect(log).toEqual(["skbuff:ipv4", "acme:firewall"]);
  });

  it("fails with the fastify-style sentence when a required plugin is not given", async () => {
    const error = await rejection(
      createStack({
        clock: new VirtualClock({ autoAdvance: false }),
        plugins: [plain("acme:firewall", ["skbuff:ipv4"])],
      }),
    );
    expect(error).toBeInstanceOf(PluginError);
    expect((error as Error).message).toBe(
      "The dependency 'skbuff:ipv4' of plugin 'acme:firewall' is not registered",
    );
  });

  it("skips falsy entries (cond && plugin())", async () => {
    const log: string[] = [];
    const off = false as boolean;
    const s = await stackOf({
      plugins: [off && plain("a:off", [], log), null, undefined, plain("a:on", [], log)],
    });
    expect(log).toEqual(["a:on"]);
    expect(names(s.plugins)).toEqual(["a:on"]);
  });

  it("refuses an entry that is not a plugin with a ConfigError at its index", async () => {
    const error = await rejection(
      createStack({
        clock: new VirtualClock({ autoAdvance: false }),
        plugins: [false, "@skbuff/ipv4" as unknown as Plugin],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "plugins[1]", value: "@skbuff/ipv4" });
  });

  it("fails on two plugins of one name", async () => {
    const error = await rejection(
      createStack({
        clock: new VirtualClock({ autoAdvance: false }),
        plugins: [plain("a:one"), plain("a:one")],
      }),
    );
    expect(error).toBeInstanceOf(PluginError);
  });

  it("runs every register before any start, and start after the devices exist", async () => {
    const log: string[] = [];
    const plugin = (name: string) =>
      definePlugin({
        name,
        register(ctx) {
          log.push(`register ${name}`);
          if (name === "a:one") {
            ctx.registerDriver({
              name: "test",
              create: (stack) =>
                stack.registerNetdev({
                  name: "t0",
                  mtu: 1500,
                  ops: { ndoStartXmit: () => NETDEV_TX_OK },
                }),
            });
          }
        },
        start(ctx) {
          log.push(`start ${name} devices=${ctx.stack.devices.length}`);
        },
      });
    await stackOf({ plugins: [plugin("a:one"), plugin("a:two")], devices: [{ driver: "test" }] });
    expect(log).toEqual([
      "register a:one",
      "register a:two",
      "start a:one devices=1",
      "start a:two devices=1",
    ]);
  });
});

describe("PluginContext", () => {
  /** A stack and a context for a plugin named `a:ctx`. */
  async function context(): Promise<PluginContext> {
    const s = await stackOf({});
    return new PluginContext(s, "a:ctx");
  }

  it("registers netfilter hooks into its stack", async () => {
    const ctx = await context();
    const unregister = ctx.nfRegisterHook({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_LOCAL_IN,
      priority: NF_IP_PRI_FILTER,
      hook: () => NF_ACCEPT,
    });
    expect(ctx.stack.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(true);
    unregister();
    expect(ctx.stack.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(false);
  });

  it("registers packet types into its stack", async () => {
    const ctx = await context();
    const pt = { type: ETH_P_IP, func: () => 0 };
    ctx.devAddPack(pt);
    expect(ctx.stack.protocols.packetTypes(ETH_P_IP)).toEqual([pt]);
  });

  it("refuses a second handler for an IP protocol with a PluginError naming the plugin", async () => {
    const ctx = await context();
    ctx.inetAddProtocol({ protocol: IPPROTO_TCP, handler: () => 0 });
    expect(() => ctx.inetAddProtocol({ protocol: IPPROTO_TCP, handler: () => 0 })).toThrow(
      PluginError,
    );
    expect(() => ctx.inetAddProtocol({ protocol: IPPROTO_TCP, handler: () => 0 })).toThrow(
      /'a:ctx'.*protocol 6/,
    );
  });

  it("refuses a driver name that is registered already", async () => {
    const ctx = await context();
    const driver = { name: "dup", create: () => Promise.reject(new Error("unused")) };
    ctx.registerDriver(driver);
    expect(() => ctx.registerDriver(driver)).toThrow(PluginError);
  });

  it("adds a plugin's MIB group to the stack's counters", async () => {
    const ctx = await context();
    const mib = ctx.registerMib({ AcmeInDrops: 0 });
    mib.AcmeInDrops += 3;
    expect(ctx.stack.counters().AcmeInDrops).toBe(3);
  });

  it("adds a plugin's sysctl to the stack's sysctls", async () => {
    const ctx = await context();
    const entry = ctx.registerSysctl({ name: "net.acme.enabled", type: "bool", default: 0 });
    ctx.stack.sysctl.set("net.acme.enabled", "1");
    expect(entry.value).toBe(1);
  });

  it("gives the stack's container and clock", async () => {
    const ctx = await context();
    expect(ctx.container).toBe(ctx.stack.container);
    expect(ctx.clock).toBe(ctx.stack.clock);
  });
});
