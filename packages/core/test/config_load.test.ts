// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is config syntax in these tests.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { loadNetworkOptions, loadStackOptions, readConfigFile } from "../src/config/index.js";
import type { Plugin } from "../src/plugin.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures/config");
const fixture = (name: string): string => join(fixtures, name);

/** A stand-in plugin's name and the options its factory got. */
const described = (plugins: readonly unknown[] | undefined) =>
  plugins?.map((p) => ({ name: (p as Plugin).name, opts: (p as { opts?: unknown }).opts }));

describe("loadStackOptions", () => {
  it("turns the DESIGN example stack.yaml into StackOptions", async () => {
    const options = await loadStackOptions(fixture("stack.yaml"), { env: { TUN_NAME: "tun0" } });
    expect(described(options.plugins)).toEqual([
      { name: "test:ipv4", opts: undefined },
      { name: "test:tcp", opts: { congestion: "cubic" } },
      { name: "test:my-hook", opts: undefined },
    ]);
    expect({ ...options, plugins: undefined }).toEqual({
      name: "host-a",
      plugins: undefined,
      devices: [
        { driver: "loopback" },
        { driver: "tun", name: "tun0", address: "192.0.2.2/24", queues: 2 },
      ],
      routes: [{ to: "default", via: "192.0.2.1", dev: "tun0" }],
      sysctl: { "net.ipv4.ip_forward": 0, "net.ipv4.tcp_rmem": [4096, 131072, 6291456] },
      services: [
        { kind: "echo", port: 7 },
        { kind: "discard", port: 9 },
        { kind: "chargen", port: 19 },
        { kind: "http", port: 80 },
      ],
      clock: "virtual",
    });
  });

  it("gives each plugin a register function, so the stack can register it", async () => {
    const options = await loadStackOptions(fixture("stack.yaml"), { env: { TUN_NAME: "tun0" } });
    for (const p of options.plugins ?? []) expect(typeof (p as Plugin).register).toBe("function");
  });

  it("reads a port written as ${VAR} as the number the variable holds", async () => {
    const options = await loadStackOptions(fixture("stack.yaml"), {
      env: { TUN_NAME: "tun0", HTTP_PORT: "8080" },
    });
    expect(options.services?.[3]).toEqual({ kind: "http", port: 8080 });
  });

  it("reads a JSON config the same way as YAML, ${VAR} defaults included", async () => {
    const options = await loadStackOptions(fixture("stack.json"), { env: {} });
    expect(described(options.plugins)).toEqual([
      { name: "test:ipv4", opts: undefined },
      { name: "test:tcp", opts: { congestion: "reno" } },
    ]);
    expect(options.devices).toEqual([{ driver: "loopback" }]);
    expect(options.sysctl).toEqual({ "net.ipv4.tcp_syncookies": 1 });
    expect(options.services).toEqual([{ kind: "echo", port: 7 }]);
  });

  it("takes a JavaScript config's default export, calling it when it is a function", async () => {
    const options = await loadStackOptions(fixture("stack.config.js"));
    expect(options.name).toBe("from-js");
    expect(described(options.plugins)).toEqual([{ name: "test:ipv4", opts: undefined }]);
    expect(options.clock).toBe("virtual");
  });

  it("leaves out the keys a config does not set", async () => {
    const options = await loadStackOptions(fixture("stack.config.js"));
    expect(Object.keys(options).sort()).toEqual(["clock", "devices", "name", "plugins"]);
  });
});

describe("loadNetworkOptions", () => {
  it("turns network.yaml into NetworkOptions with hosts, links and per-host plugins", async () => {
    const options = await loadNetworkOptions(fixture("network.yaml"), { env: {} });
    expect(described(options.plugins)).toEqual([{ name: "test:ipv4", opts: undefined }]);
    expect(Object.keys(options.hosts)).toEqual(["a", "router", "b"]);
    expect(options.hosts.a).toEqual({
      devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }],
      routes: [{ to: "default", via: "192.0.2.254" }],
    });
    expect(described(options.hosts.router?.plugins)).toEqual([
      { name: "test:ipv4", opts: undefined },
      { name: "test:my-hook", opts: undefined },
    ]);
    expect(options.hosts.router?.devices?.[1]).toEqual({
      driver: "veth",
      name: "eth1",
      address: ["198.51.100.254/24", "203.0.113.1/24"],
    });
    expect(options.links).toEqual([
      { ends: ["a:eth0", "router:eth0"], netem: { delay: "5ms", loss: "1%" } },
      { ends: ["router:eth1", "b:eth0"] },
    ]);
    expect(options.clock).toBe("virtual");
  });

  it("flattens a nested sysctl mapping into dotted names", async () => {
    const options = await loadNetworkOptions(fixture("network.yaml"), { env: {} });
    expect(options.hosts.router?.sysctl).toEqual({ "net.ipv4.ip_forward": 1 });
  });
});

describe("readConfigFile", () => {
  it("reads YAML's { net.ipv4.ip_forward: 0 } as one flat key", async () => {
    const doc = (await readConfigFile(fixture("stack.yaml"))) as { sysctl: object };
    expect(Object.keys(doc.sysctl)).toContain("net.ipv4.ip_forward");
  });

  it("returns the document before ${VAR} expansion", async () => {
    const doc = (await readConfigFile(fixture("stack.yaml"))) as { devices: { name?: string }[] };
    expect(doc.devices[1]?.name).toBe("${TUN_NAME}");
  });
});
