// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is config syntax in these tests.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ConfigFileError,
  loadNetworkOptions,
  loadStackOptions,
  readConfigFile,
} from "../src/config/index.js";
import { ConfigError } from "../src/errors.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures/config");
let dir: string;
let n = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "skbuff-config-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes a config file into the temporary folder and returns its path. */
async function write(text: string, ext = "yaml"): Promise<string> {
  const file = join(dir, `config-${++n}.${ext}`);
  await writeFile(file, text);
  return file;
}

/** The ConfigError a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof ConfigError) return err;
  throw new Error(`expected a ConfigError, got ${String(err)}`);
}

interface BadValue {
  readonly title: string;
  readonly network?: boolean;
  readonly yaml: string;
  readonly path: string;
  readonly value: unknown;
  readonly expected: string;
}

const badValues: BadValue[] = [
  {
    title: "refuses an address with an octet over 255",
    yaml: "devices:\n  - { driver: veth, address: 192.0.2.300/24 }\n",
    path: "devices[0].address",
    value: "192.0.2.300/24",
    expected: "an IPv4 address with prefix length, like 192.0.2.1/24",
  },
  {
    title: "refuses an address without a prefix length inside a list of addresses",
    yaml: "devices:\n  - { driver: veth, address: [192.0.2.1/24, 10.0.0.1] }\n",
    path: "devices[0].address[1]",
    value: "10.0.0.1",
    expected: "an IPv4 address with prefix length, like 192.0.2.1/24",
  },
  {
    title: "refuses a prefix length over 32",
    yaml: "devices:\n  - { driver: veth, address: 192.0.2.1/33 }\n",
    path: "devices[0].address",
    value: "192.0.2.1/33",
    expected: "an IPv4 address with prefix length, like 192.0.2.1/24",
  },
  {
    title: "refuses an MTU below 68",
    yaml: "devices:\n  - { driver: veth, mtu: 40 }\n",
    path: "devices[0].mtu",
    value: 40,
    expected: "an integer from 68 to 65536",
  },
  {
    title: "refuses a device without a driver",
    yaml: "devices:\n  - { name: eth0 }\n",
    path: "devices[0].driver",
    value: undefined,
    expected: "the name of a device driver, like loopback or veth",
  },
  {
    title: "refuses a port over 65535",
    yaml: "services:\n  - { kind: echo, port: 70000 }\n",
    path: "services[0].port",
    value: 70000,
    expected: "an integer from 1 to 65535",
  },
  {
    title: "refuses a port that is not a number",
    yaml: "services:\n  - { kind: echo, port: seven }\n",
    path: "services[0].port",
    value: "seven",
    expected: "an integer from 1 to 65535",
  },
  {
    title: "refuses an unknown service kind",
    yaml: "services:\n  - { kind: ftp, port: 21 }\n",
    path: "services[0].kind",
    value: "ftp",
    expected: "one of echo, discard, chargen, http",
  },
  {
    title: "refuses an unknown top-level key, so that a typo is not ignored",
    yaml: "name: a\ndevicez: []\n",
    path: "devicez",
    value: "devicez",
    expected: "one of the keys name, plugins, devices, routes, sysctl, services, clock",
  },
  {
    title: "refuses an unknown key in a route",
    yaml: "routes:\n  - { to: default, gw: 192.0.2.1 }\n",
    path: "routes[0].gw",
    value: "gw",
    expected: "one of the keys to, via, dev, metric",
  },
  {
    title: "refuses a route to something that is neither default nor a prefix",
    yaml: "routes:\n  - { to: everywhere }\n",
    path: "routes[0].to",
    value: "everywhere",
    expected: "default or an IPv4 prefix, like 198.51.100.0/24",
  },
  {
    title: "refuses a gateway that is not an IPv4 address",
    yaml: "routes:\n  - { to: default, via: 192.0.2.1/24 }\n",
    path: "routes[0].via",
    value: "192.0.2.1/24",
    expected: "an IPv4 address, like 192.0.2.1",
  },
  {
    title: "refuses a sysctl name outside net.",
    yaml: "sysctl: { kernel.panic: 1 }\n",
    path: 'sysctl["kernel.panic"]',
    value: "kernel.panic",
    expected:
      "a sysctl name under net., like net.ipv4.ip_forward (lower-case letters, digits, _ and .)",
  },
  {
    title: "refuses a sysctl set both as a flat key and as a nested one",
    yaml: "sysctl:\n  net.ipv4.ip_forward: 1\n  net: { ipv4: { ip_forward: 0 } }\n",
    path: 'sysctl["net.ipv4.ip_forward"]',
    value: 0,
    expected: "each sysctl set once (it is also set as a flat key or a nested one)",
  },
  {
    title: "refuses a sysctl vector with a non-number in it",
    yaml: "sysctl: { net.ipv4.tcp_rmem: [4096, lots] }\n",
    path: 'sysctl["net.ipv4.tcp_rmem"][1]',
    value: "lots",
    expected: "a number",
  },
  {
    title: "refuses a clock other than real or virtual",
    yaml: "clock: fast\n",
    path: "clock",
    value: "fast",
    expected: "real or virtual",
  },
  {
    title: "refuses a plugin entry that is a number",
    yaml: "plugins: [42]\n",
    path: "plugins[0]",
    value: 42,
    expected: "an npm package name, a path relative to the config file, or { use, options }",
  },
  {
    title: "refuses a misspelt key in { use, options }",
    yaml: "plugins:\n  - { use: '@skbuff/tcp', option: { congestion: cubic } }\n",
    path: "plugins[0].option",
    value: "option",
    expected: "one of the keys use, options",
  },
  {
    title: "refuses a config that is not a mapping",
    yaml: "- just\n- a list\n",
    path: "",
    value: ["just", "a list"],
    expected:
      "a mapping of stack settings (name, plugins, devices, routes, sysctl, clock, services)",
  },
  {
    title: "refuses a link end naming a host that does not exist",
    network: true,
    yaml: "hosts:\n  a: { devices: [{ driver: veth, name: eth0 }] }\n  b: { devices: [{ driver: veth, name: eth0 }] }\nlinks:\n  - { ends: [a:eth0, c:eth0] }\n",
    path: "links[0].ends[1]",
    value: "c:eth0",
    expected: "the name of a host in hosts (a, b)",
  },
  {
    title: "refuses a link end naming a device its host does not declare",
    network: true,
    yaml: "hosts:\n  a: { devices: [{ driver: veth, name: eth0 }] }\n  b: { devices: [{ driver: veth, name: eth0 }] }\nlinks:\n  - { ends: [a:eth0, b:eth9] }\n",
    path: "links[0].ends[1]",
    value: "b:eth9",
    expected: "a device that host b declares (eth0)",
  },
  {
    title: "refuses a device joined by two links",
    network: true,
    yaml: "hosts:\n  a: { devices: [{ driver: veth, name: eth0 }] }\n  b: { devices: [{ driver: veth, name: eth0 }, { driver: veth, name: eth1 }] }\nlinks:\n  - { ends: [a:eth0, b:eth0] }\n  - { ends: [b:eth1, a:eth0] }\n",
    path: "links[1].ends[1]",
    value: "a:eth0",
    expected: "a device that no other link joins (links[0] joins a:eth0)",
  },
  {
    title: "refuses a link with three ends",
    network: true,
    yaml: "hosts: {}\nlinks:\n  - { ends: [a:eth0, b:eth0, c:eth0] }\n",
    path: "links[0].ends",
    value: ["a:eth0", "b:eth0", "c:eth0"],
    expected: "two ends, like [a:eth0, b:eth0]",
  },
  {
    title: "refuses a name on a host, where the hosts mapping names it",
    network: true,
    yaml: "hosts:\n  a: { name: x }\n",
    path: "hosts.a.name",
    value: "name",
    expected: "one of the keys plugins, devices, routes, sysctl, services",
  },
  {
    title: "refuses an unknown top-level key in a network file",
    network: true,
    yaml: "hosts: {}\nlink: []\n",
    path: "link",
    value: "link",
    expected: "one of the keys plugins, hosts, links, clock",
  },
  {
    title: "refuses a host name with a colon, which would make link ends ambiguous",
    network: true,
    yaml: 'hosts:\n  "r:1": {}\n',
    path: 'hosts["r:1"]',
    value: "r:1",
    expected: "a host name of letters, digits, ., _ and - (no :)",
  },
  {
    title: "refuses a network file without hosts",
    network: true,
    yaml: "links: []\n",
    path: "hosts",
    value: undefined,
    expected: "a mapping of host names to hosts",
  },
  {
    title: "refuses a bad address deep inside a host, with the whole key path",
    network: true,
    yaml: "hosts:\n  a:\n    devices:\n      - { driver: veth, address: 1.2.3/24 }\n",
    path: "hosts.a.devices[0].address",
    value: "1.2.3/24",
    expected: "an IPv4 address with prefix length, like 192.0.2.1/24",
  },
];

describe("a bad value in a config file", () => {
  it.each(badValues)("$title", async ({ network, yaml, path, value, expected }) => {
    const file = await write(yaml);
    const load = network ? loadNetworkOptions : loadStackOptions;
    const err = await rejection(load(file, { env: {} }));
    expect({ path: err.path, value: err.value, expected: err.expected }).toEqual({
      path,
      value,
      expected,
    });
  });

  it("is reported with the file, line and column of the offending key", async () => {
    const file = await write("name: a\nservices:\n  - kind: echo\n    port: 70000\n");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.file).toBe(`${file}:4:5`);
    expect(err.message).toBe(
      `${file}:4:5: services[0].port: got 70000, expected an integer from 1 to 65535`,
    );
  });

  it("is located in a nested sysctl mapping under its flattened name", async () => {
    const file = await write("sysctl:\n  net:\n    ipv4:\n      ip_forward: [1, x]\n");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.path).toBe('sysctl["net.ipv4.ip_forward"][1]');
    expect(err.file).toBe(`${file}:4:23`);
  });

  it("is located in a JSON file too", async () => {
    const file = await write('{\n  "name": "a",\n  "clock": "fast"\n}\n', "json");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.file).toBe(`${file}:3:3`);
  });

  it("fails before any plugin module is imported", async () => {
    const g = globalThis as { __skbuffSideEffectImported?: boolean };
    delete g.__skbuffSideEffectImported;
    const err = await rejection(loadStackOptions(join(fixtures, "bad-after-plugin.yaml")));
    expect(err.path).toBe("services[0].port");
    expect(g.__skbuffSideEffectImported).toBeUndefined();
  });
});

describe("an unset environment variable", () => {
  it("fails naming the key path, the file position and the variable", async () => {
    const file = await write("devices:\n  - { driver: tun, name: '${TUN_NAME}' }\n");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.path).toBe("devices[0].name");
    expect(err.file).toBe(`${file}:2:20`);
    expect(err.message).toContain("the environment variable TUN_NAME to be set");
  });

  it("is not an error when the reference has a default", async () => {
    const file = await write("devices:\n  - { driver: tun, name: '${TUN_NAME:-tun7}' }\n");
    const options = await loadStackOptions(file, { env: {} });
    expect(options.devices).toEqual([{ driver: "tun", name: "tun7" }]);
  });

  it("is looked up in the env option rather than process.env", async () => {
    const file = await write("name: ${STACK_NAME}\n");
    const options = await loadStackOptions(file, { env: { STACK_NAME: "from-env" } });
    expect(options.name).toBe("from-env");
  });
});

describe("a broken config file", () => {
  it("shows the line and column of a YAML syntax error", async () => {
    const file = await write("name: a\nplugins: [one\nroutes: []\n");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err).toBeInstanceOf(ConfigFileError);
    expect(err.message).toMatch(new RegExp(`^${file}:3:1: YAML syntax error: `));
    expect({
      line: (err as ConfigFileError).line,
      column: (err as ConfigFileError).column,
    }).toEqual({ line: 3, column: 1 });
  });

  it("refuses a key written twice in YAML, at the second one", async () => {
    const file = await write("name: a\nclock: real\nname: b\n");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.message).toMatch(
      new RegExp(`^${file}:3:1: YAML syntax error: Map keys must be unique`),
    );
  });

  it("shows the line and column of a JSON syntax error", async () => {
    const file = await write('{\n  "name": "a",\n  "clock": "real",\n}\n', "json");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.message).toMatch(new RegExp(`^${file}:4:1: JSON syntax error: `));
  });

  it("shows the position of a JSON error that V8 does not give one for", async () => {
    const file = await write('{\n  "name": "a",\n  "up": tru\n}\n', "json");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.message).toMatch(new RegExp(`^${file}:3:9: JSON syntax error: `));
  });

  it("names a missing file", async () => {
    const err = await rejection(readConfigFile(join(dir, "absent.yaml")));
    expect(err.message).toBe(
      `${join(dir, "absent.yaml")}: cannot read the config file: no such file`,
    );
  });

  it("refuses a file type it does not know", async () => {
    const err = await rejection(readConfigFile(join(dir, "stack.toml")));
    expect(err.message).toContain("use .yaml, .yml, .json, .js, .mjs or .ts");
  });
});
