import "reflect-metadata";
import { container as rootContainer } from "tsyringe";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  ConfigError,
  createNetwork,
  createStack,
  definePlugin,
  ETH_P_IP,
  NETDEV_TX_OK,
  type NetDevice,
  type NetdevEvent,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NFPROTO_IPV4,
  netifRx,
  type Plugin,
  PluginError,
  type SkBuff,
  type Stack,
  type StackOptions,
  skbFromBytes,
  TOKENS,
  token,
  VirtualClock,
} from "../src/index.js";

const stacks: Stack[] = [];

afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close().catch(() => {});
});

function manualClock(): VirtualClock {
  return new VirtualClock({ autoAdvance: false });
}

/** createStack on a manual clock; the stack is closed after the test. */
async function stackOf(options: StackOptions = {}): Promise<Stack> {
  const s = await createStack({ clock: manualClock(), ...options });
  stacks.push(s);
  return s;
}

/** A plugin with a `test` driver; `linked` records the pairs its link() joins. */
function testDriver(linked: [NetDevice, NetDevice][] = [], extra: Partial<Plugin> = {}) {
  const sent: SkBuff[] = [];
  return definePlugin({
    name: "test:driver",
    register(ctx) {
      ctx.registerDriver({
        name: "test",
        create(stack, spec) {
          return stack.registerNetdev({
            name: spec.name ?? "t0",
            kind: "test",
            mtu: 1500,
            maxMtu: 9000,
            ops: {
              ndoStartXmit(skb) {
                sent.push(skb);
                return NETDEV_TX_OK;
              },
            },
          });
        },
        link(a, b) {
          linked.push([a, b]);
        },
      });
    },
    ...extra,
  });
}

/** A plugin that logs its lifecycle calls into `log`. */
function logged(name: string, log: string[], extra: Partial<Plugin> = {}) {
  return definePlugin({
    name,
    register() {
      log.push(`register ${name}`);
    },
    start() {
      log.push(`start ${name}`);
    },
    stop() {
      log.push(`stop ${name}`);
    },
    ...extra,
  });
}

/** Rejection of a promise, for inspecting the error. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("createStack", () => {
  it("names the stack as asked, and makes a unique name otherwise", async () => {
    const named = await stackOf({ name: "host-a" });
    const a = await stackOf();
    const b = await stackOf();
    expect(named.name).toBe("host-a");
    expect(a.name).not.toBe(b.name);
  });

  it("uses the clock it is given", async () => {
    const clock = manualClock();
    const s = await stackOf({ clock });
    expect(s.clock).toBe(clock);
  });

  it("creates the devices of the specs, up, with their addresses and MTU", async () => {
    const s = await stackOf({
      plugins: [testDriver()],
      devices: [
        { driver: "test", name: "eth0", address: ["192.0.2.1/24", "198.51.100.1/24"], mtu: 1400 },
      ],
    });
    const dev = s.getDevice("eth0")!;
    expect(dev.isUp).toBe(true);
    expect(dev.mtu).toBe(1400);
    expect(dev.addresses.map((a) => `${a.address}/${a.prefixLen}`)).toEqual([
      "192.0.2.1/24",
      "198.51.100.1/24",
    ]);
  });

  it("leaves a device with up: false down", async () => {
    const s = await stackOf({ plugins: [testDriver()], devices: [{ driver: "test", up: false }] });
    expect(s.getDevice("t0")!.isUp).toBe(false);
  });

  it("adds the plugin a device spec carries", async () => {
    const s = await stackOf({ devices: [{ driver: "test", plugin: testDriver() }] });
    expect(s.plugins.map((p) => p.name)).toEqual(["test:driver"]);
    expect(s.getDevice("t0")).toBeDefined();
  });

  it("does not add a device spec's plugin twice when the plugin list has it", async () => {
    const driver = testDriver();
    const s = await stackOf({
      plugins: [driver],
      devices: [
        { driver: "test", name: "a", plugin: driver },
        { driver: "test", name: "b", plugin: testDriver() },
      ],
    });
    expect(s.plugins).toHaveLength(1);
  });

  it("fails with a PluginError naming the plugin to add for an unknown driver", async () => {
    const error = await rejection(
      createStack({ clock: manualClock(), devices: [{ driver: "tun" }] }),
    );
    expect(error).toBeInstanceOf(PluginError);
    expect((error as Error).message).toMatch(/devices\[0\].*'tun'.*tun\(\).*@skbuff\/tun/);
  });

  it("fails with a ConfigError at the key path for a bad device address", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [{ driver: "test", address: "192.0.2.300/24" }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "devices[0].address", value: "192.0.2.300/24" });
  });

  it("points at the entry of an address list that is bad", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [{ driver: "test", address: ["192.0.2.1/24", "192.0.2.2"] }],
      }),
    );
    expect(error).toMatchObject({ path: "devices[0].address[1]", value: "192.0.2.2" });
  });

  it("fails with a ConfigError at the key path for a bad MTU", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [{ driver: "test", mtu: 20 }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "devices[0].mtu", value: 20 });
  });

  it("fails with a ConfigError at the key path for an MTU outside the driver's range", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [{ driver: "test", mtu: 9001 }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "devices[0].mtu", value: 9001 });
    expect((error as ConfigError).expected).toMatch(/68 to 9000/);
  });

  it("counts skipped falsy entries in the key path", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [false, { driver: "test", address: "nope" }],
      }),
    );
    expect(error).toMatchObject({ path: "devices[1].address" });
  });

  it("refuses two devices of one name", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [testDriver()],
        devices: [{ driver: "test" }, { driver: "test" }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "devices[1].name" });
    expect((error as Error).message).toMatch(/t0/);
  });

  it("applies the sysctl option", async () => {
    const s = await stackOf({ sysctl: { "net.core.netdev_budget": 600 } });
    expect(s.sysctl.get("net.core.netdev_budget")).toBe(600);
  });

  it("fails with a ConfigError at sysctl[name] for a value out of range", async () => {
    const error = await rejection(
      createStack({ clock: manualClock(), sysctl: { "net.core.netdev_budget": 0 } }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: 'sysctl["net.core.netdev_budget"]', value: 0 });
    expect((error as ConfigError).expected).toMatch(/out of range/);
  });

  it("fails with a ConfigError at sysctl[name] for an unknown sysctl", async () => {
    const error = await rejection(
      createStack({ clock: manualClock(), sysctl: { "net.ipv4.nope": 1 } }),
    );
    expect(error).toMatchObject({ path: 'sysctl["net.ipv4.nope"]' });
  });

  it("refuses routes when no plugin installs them", async () => {
    const error = await rejection(
      createStack({ clock: manualClock(), routes: [{ to: "default", via: "192.0.2.1" }] }),
    );
    expect(error).toMatchObject({ path: "routes" });
  });

  it("rejects ping with a PluginError naming icmp() when no plugin provides it", async () => {
    const s = await stackOf();
    const error = await rejection(s.ping("127.0.0.1"));
    expect(error).toBeInstanceOf(PluginError);
    expect((error as Error).message).toMatch(/icmp\(\)/);
  });

  it("throws a PluginError naming tcp() for stack.net without the plugin", async () => {
    const s = await stackOf();
    expect(() => s.net).toThrow(PluginError);
    expect(() => s.net).toThrow(/tcp\(\)/);
  });

  it("resolves ping through the service a plugin provided", async () => {
    const reply = { seq: 1, ttl: 64, rttMs: 0, bytes: 56, from: "127.0.0.1" };
    const s = await stackOf({
      plugins: [
        definePlugin({
          name: "test:ping",
          register(ctx) {
            ctx.provide(TOKENS.ping, { ping: async () => reply });
          },
        }),
      ],
    });
    await expect(s.ping("127.0.0.1")).resolves.toBe(reply);
  });
});

describe("a failure during createStack", () => {
  it("rejects with the error and stops the plugins that registered, in reverse order", async () => {
    const log: string[] = [];
    const boom = new Error("boom");
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [
          logged("a:one", log),
          logged("a:two", log),
          logged("a:bad", log, {
            register() {
              throw boom;
            },
          }),
        ],
      }),
    );
    expect(error).toBe(boom);
    expect(log).toEqual(["register a:one", "register a:two", "stop a:two", "stop a:one"]);
  });

  it("stops every plugin when a device cannot be created", async () => {
    const log: string[] = [];
    await rejection(
      createStack({
        clock: manualClock(),
        plugins: [logged("a:one", log)],
        devices: [{ driver: "missing" }],
      }),
    );
    expect(log).toEqual(["register a:one", "stop a:one"]);
  });

  it("closes the stack when a plugin's start fails: timers are cancelled, devices are gone", async () => {
    let made: Stack | undefined;
    const fired = vi.fn();
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [
          testDriver(),
          definePlugin({
            name: "a:timer",
            register(ctx) {
              made = ctx.stack;
              ctx.stack.createTimer(fired).arm(10);
            },
            start() {
              throw new Error("start failed");
            },
          }),
        ],
        devices: [{ driver: "test" }],
      }),
    );
    expect((error as Error).message).toBe("start failed");
    expect(made!.closed).toBe(true);
    expect(made!.devices).toEqual([]);
    (made!.clock as VirtualClock).advanceSync(100);
    expect(fired).not.toHaveBeenCalled();
  });

  it("reports the creation error, not an error of a stop that ran after it", async () => {
    const error = await rejection(
      createStack({
        clock: manualClock(),
        plugins: [
          definePlugin({
            name: "a:fragile",
            register() {},
            stop() {
              throw new Error("stop failed");
            },
          }),
          definePlugin({
            name: "a:bad",
            register() {
              throw new Error("register failed");
            },
          }),
        ],
      }),
    );
    expect((error as Error).message).toBe("register failed");
  });
});

describe("Stack.close", () => {
  it("stops plugins in reverse order, then runs the onClose functions", async () => {
    const log: string[] = [];
    const s = await stackOf({
      plugins: [
        logged("a:one", log, {
          register(ctx) {
            ctx.onClose(() => {
              log.push("onClose a:one");
            });
          },
        }),
        logged("a:two", log),
      ],
    });
    log.length = 0;
    await s.close();
    expect(log).toEqual(["stop a:two", "stop a:one", "onClose a:one"]);
  });

  it("is idempotent: a second close stops nothing again", async () => {
    const stop = vi.fn();
    const s = await stackOf({ plugins: [definePlugin({ name: "a:one", register() {}, stop })] });
    await s.close();
    await s.close();
    expect(stop).toHaveBeenCalledOnce();
  });

  it("makes a second, concurrent close wait until the teardown is over", async () => {
    let release!: () => void;
    const stopped = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await stackOf({
      plugins: [definePlugin({ name: "a:slow", register() {}, stop: () => stopped })],
    });
    const first = s.close();
    let secondDone = false;
    const second = s.close().then(() => {
      secondDone = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondDone).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(secondDone).toBe(true);
  });

  it("frees the packets on the backlog with QUEUE_PURGE", async () => {
    const s = await stackOf({ plugins: [testDriver()], devices: [{ driver: "test" }] });
    s.protocols.devAddPack({ type: ETH_P_IP, func: () => 0 });
    for (let i = 0; i < 3; i++) {
      const skb = skbFromBytes(new Uint8Array(20));
      skb.dev = s.getDevice("t0")!;
      skb.protocol = ETH_P_IP;
      netifRx(skb);
    }
    await s.close();
    expect(s.softnet.backlog.qlen).toBe(0);
    expect(s.dropReasons()).toEqual({ QUEUE_PURGE: 3 });
  });

  it("cancels the timers made with stack.createTimer", async () => {
    const clock = manualClock();
    const s = await stackOf({ clock });
    const fired = vi.fn();
    s.createTimer(fired).arm(5);
    await s.close();
    clock.advanceSync(10);
    expect(fired).not.toHaveBeenCalled();
  });

  it("unregisters every device, telling the notifier chain", async () => {
    const s = await stackOf({ plugins: [testDriver()], devices: [{ driver: "test" }] });
    const events: NetdevEvent[] = [];
    s.registerNotifier((event) => events.push(event));
    await s.close();
    expect(events).toEqual(["down", "unregister"]);
    expect(s.devices).toEqual([]);
  });

  it("finishes the teardown when a plugin's stop throws, then rejects with its error", async () => {
    const fired = vi.fn();
    const clock = manualClock();
    const s = await createStack({
      clock,
      plugins: [
        definePlugin({
          name: "a:fragile",
          register() {},
          stop() {
            throw new Error("stop failed");
          },
        }),
      ],
    });
    s.createTimer(fired).arm(1);
    await expect(s.close()).rejects.toThrow("stop failed");
    clock.advanceSync(5);
    expect(fired).not.toHaveBeenCalled();
  });
});

describe("the stack's DI container", () => {
  it("resolves TOKENS.stack to the stack and TOKENS.clock to its clock", async () => {
    const s = await stackOf();
    expect(s.container.resolve(TOKENS.stack)).toBe(s);
    expect(s.container.resolve(TOKENS.clock)).toBe(s.clock);
  });

  it("keeps a service provided in one stack out of another stack and out of the root container", async () => {
    const tok = token<{ n: number }>("test:service");
    const a = await stackOf({
      plugins: [
        definePlugin({
          name: "a:svc",
          register(ctx) {
            ctx.provide(tok, { n: 1 });
          },
        }),
      ],
    });
    const b = await stackOf();
    expect(a.container.resolve(tok)).toEqual({ n: 1 });
    expect(b.container.isRegistered(tok, true)).toBe(false);
    expect(rootContainer.isRegistered(tok)).toBe(false);
    expect(a.container).not.toBe(b.container);
  });
});

describe("two stacks", () => {
  it("share no counters, drops, sysctls or hooks", async () => {
    const a = await stackOf();
    const b = await stackOf();
    a.sysctl.set("net.core.netdev_budget", 50);
    a.softnetMib.NfQueued = 7;
    a.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_LOCAL_IN,
      priority: 0,
      hook: () => NF_ACCEPT,
    });
    a.drops.NOT_SPECIFIED = 1;
    expect(b.sysctl.get("net.core.netdev_budget")).toBe(300);
    expect(b.counters(true)).toEqual({});
    expect(b.nf.has(NFPROTO_IPV4, NF_INET_LOCAL_IN)).toBe(false);
    expect(b.dropReasons()).toEqual({});
  });
});

describe("createNetwork", () => {
  function twoHosts(linked: [NetDevice, NetDevice][] = []) {
    return {
      clock: manualClock(),
      plugins: [testDriver(linked)],
      hosts: {
        a: { devices: [{ driver: "test", name: "eth0" }] },
        b: {
          devices: [
            { driver: "test", name: "eth0" },
            { driver: "test", name: "eth1" },
          ],
        },
      },
    };
  }

  it("makes each host a stack with the default plugins, sharing one clock", async () => {
    const opts = twoHosts();
    const net = await createNetwork(opts);
    stacks.push(...Object.values(net.hosts));
    expect(Object.keys(net.hosts)).toEqual(["a", "b"]);
    expect(net.hosts.a!.name).toBe("a");
    expect(net.hosts.a!.clock).toBe(opts.clock);
    expect(net.hosts.b!.clock).toBe(opts.clock);
    expect(net.hosts.b!.plugins.map((p) => p.name)).toEqual(["test:driver"]);
  });

  it("joins the ends of a link with their driver's link()", async () => {
    const linked: [NetDevice, NetDevice][] = [];
    const net = await createNetwork({
      ...twoHosts(linked),
      links: [{ ends: ["a:eth0", "b:eth1"] }],
    });
    stacks.push(...Object.values(net.hosts));
    const pair = [net.hosts.a!.getDevice("eth0"), net.hosts.b!.getDevice("eth1")];
    expect(linked).toEqual([pair]);
    expect(net.links).toEqual([pair]);
  });

  it("fails with a ConfigError at links[0].ends[1] for an end naming a missing host", async () => {
    const error = await rejection(
      createNetwork({ ...twoHosts(), links: [{ ends: ["a:eth0", "c:eth0"] }] }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "links[0].ends[1]", value: "c:eth0" });
  });

  it("fails with a ConfigError at links[0].ends[1] for an end naming a missing device", async () => {
    const error = await rejection(
      createNetwork({ ...twoHosts(), links: [{ ends: ["a:eth0", "b:eth7"] }] }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "links[0].ends[1]", value: "b:eth7" });
  });

  it("fails with a ConfigError for an end that is not host:device", async () => {
    const error = await rejection(
      createNetwork({ ...twoHosts(), links: [{ ends: ["a:eth0", "eth0"] }] }),
    );
    expect(error).toMatchObject({ path: "links[0].ends[1]" });
  });

  it("fails with a PluginError naming netem() for a link with netem when no netem qdisc is registered", async () => {
    const error = await rejection(
      createNetwork({
        ...twoHosts(),
        links: [{ ends: ["a:eth0", "b:eth0"], netem: { delay: "5ms" } }],
      }),
    );
    expect(error).toBeInstanceOf(PluginError);
    expect((error as Error).message).toMatch(/netem\(\)/);
  });

  it("refuses a device used by two links", async () => {
    const error = await rejection(
      createNetwork({
        ...twoHosts(),
        links: [{ ends: ["a:eth0", "b:eth0"] }, { ends: ["a:eth0", "b:eth1"] }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ path: "links[1].ends[0]", value: "a:eth0" });
  });

  it("closes every host it made when it fails", async () => {
    const stop = vi.fn();
    const opts = twoHosts();
    const error = await rejection(
      createNetwork({
        ...opts,
        plugins: [...opts.plugins, definePlugin({ name: "a:watch", register() {}, stop })],
        links: [{ ends: ["a:eth0", "b:nope"] }],
      }),
    );
    expect(error).toBeInstanceOf(ConfigError);
    expect(stop).toHaveBeenCalledTimes(2);
  });

  it("prefixes a host's errors with hosts.<name>.", async () => {
    const error = await rejection(
      createNetwork({
        clock: manualClock(),
        plugins: [testDriver()],
        hosts: { a: { devices: [{ driver: "test", mtu: 1 }] } },
      }),
    );
    expect(error).toMatchObject({ path: "hosts.a.devices[0].mtu" });
  });

  it("closes every host on close()", async () => {
    const net = await createNetwork(twoHosts());
    await net.close();
    expect(Object.values(net.hosts).map((h) => h.closed)).toEqual([true, true]);
  });
});
