import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  factoryName,
  loadStackOptions,
  resolveDeviceDriverPlugin,
  resolvePlugin,
} from "../src/config/index.js";
import { ConfigError, PluginError } from "../src/errors.js";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures/config");
let root: string;
let app: string;

/** Writes files (path → content) under the temporary root. */
async function files(tree: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(tree)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

const pluginSource = (exportName: string, name: string) =>
  `export ${exportName === "default" ? "default" : `const ${exportName} =`} (opts) => ({ name: "${name}", register() {}, opts });\n`;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "skbuff-plugins-"));
  app = join(root, "app/configs");
  await files({
    "app/configs/.keep": "",
    // An ESM-only package: "import" and "require" conditions, a subpath and a pattern export.
    "node_modules/@acme/rate-limit/package.json": JSON.stringify({
      name: "@acme/rate-limit",
      type: "module",
      exports: {
        ".": { require: "./cjs/index.cjs", import: "./esm/index.js" },
        "./extra": "./esm/extra.js",
        "./hooks/*": "./esm/hooks/*.js",
      },
    }),
    "node_modules/@acme/rate-limit/esm/index.js": pluginSource("rateLimit", "acme:rate-limit"),
    "node_modules/@acme/rate-limit/esm/extra.js": pluginSource("default", "acme:extra"),
    "node_modules/@acme/rate-limit/esm/hooks/log.js": pluginSource("log", "acme:log"),
    // An old-style package with "main" and no exports, found further up than app/.
    "node_modules/old-plugin/package.json": JSON.stringify({
      name: "old-plugin",
      main: "lib/main.mjs",
    }),
    "node_modules/old-plugin/lib/main.mjs": pluginSource("oldPlugin", "acme:old"),
    // A workspace-style driver package linked into node_modules, built output absent: its
    // TypeScript source is what runs under vitest, through the @skbuff/source condition.
    "pkgs/testdrv/package.json": JSON.stringify({
      name: "@skbuff/testdrv",
      type: "module",
      exports: { ".": { "@skbuff/source": "./src/index.ts", default: "./dist/index.js" } },
    }),
    "pkgs/testdrv/src/index.ts":
      'export const testdrv = (): { name: string; register(): void } => ({ name: "skbuff:testdrv", register() {} });\n',
    "pkgs/notdrv/package.json": JSON.stringify({
      name: "@skbuff/notdrv",
      type: "module",
      main: "index.js",
    }),
    "pkgs/notdrv/index.js": "export const helper = 1;\n",
  });
  await mkdir(join(root, "node_modules/@skbuff"), { recursive: true });
  await symlink(join(root, "pkgs/testdrv"), join(root, "node_modules/@skbuff/testdrv"), "dir");
  await symlink(join(root, "pkgs/notdrv"), join(root, "node_modules/@skbuff/notdrv"), "dir");
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

/** The ConfigError a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (err instanceof ConfigError) return err;
  throw new Error(`expected a ConfigError, got ${String(err)}`);
}

describe("resolvePlugin", () => {
  it("calls a module's default export with the entry's options", async () => {
    const plugin = await resolvePlugin(
      { use: "./plugins/tcp.js", options: { congestion: "cubic" } },
      fixtures,
      "plugins[0]",
    );
    expect(plugin).toMatchObject({ name: "test:tcp", opts: { congestion: "cubic" } });
  });

  it("calls the factory with no argument for a bare specifier, so its defaults apply", async () => {
    const plugin = await resolvePlugin("./plugins/strict.ts", fixtures, "plugins[0]");
    expect(plugin).toMatchObject({ name: "test:strict", opts: {} });
  });

  it("finds the factory exported under the module's name in camelCase", async () => {
    const plugin = await resolvePlugin("./plugins/my-hook.js", fixtures, "plugins[0]");
    expect(plugin.name).toBe("test:my-hook");
  });

  it("returns a plugin object it is given as it is", async () => {
    const given = { name: "acme:given", register() {} };
    expect(await resolvePlugin(given, fixtures, "plugins[0]")).toBe(given);
  });

  it("resolves an ESM-only package by its import condition from the config's folder upwards", async () => {
    const plugin = await resolvePlugin("@acme/rate-limit", app, "plugins[0]");
    expect(plugin.name).toBe("acme:rate-limit");
  });

  it("resolves a package subpath and a pattern export", async () => {
    expect((await resolvePlugin("@acme/rate-limit/extra", app, "plugins[0]")).name).toBe(
      "acme:extra",
    );
    expect((await resolvePlugin("@acme/rate-limit/hooks/log", app, "plugins[0]")).name).toBe(
      "acme:log",
    );
  });

  it("resolves a package without exports through its main field", async () => {
    expect((await resolvePlugin("old-plugin", app, "plugins[0]")).name).toBe("acme:old");
  });

  it("refuses a relative path that does not exist, naming the folder it looked in", async () => {
    const err = await rejection(resolvePlugin("./plugins/nope.js", fixtures, "plugins[3]"));
    expect({ path: err.path, value: err.value, expected: err.expected }).toEqual({
      path: "plugins[3]",
      value: "./plugins/nope.js",
      expected: `an installed npm package or a path relative to ${fixtures}`,
    });
  });

  it("refuses a package that is not installed", async () => {
    const err = await rejection(resolvePlugin({ use: "@acme/nope" }, app, "plugins[1]"));
    expect({ path: err.path, value: err.value }).toEqual({
      path: "plugins[1]",
      value: "@acme/nope",
    });
    expect(err.expected).toBe(`an installed npm package or a path relative to ${app}`);
  });

  it("puts the path of the options in front of a ConfigError the factory throws", async () => {
    const err = await rejection(
      resolvePlugin(
        { use: "./plugins/strict.ts", options: { congestion: "cubci" } },
        fixtures,
        "plugins[2]",
      ),
    );
    expect({ path: err.path, value: err.value, expected: err.expected }).toEqual({
      path: "plugins[2].options.congestion",
      value: "cubci",
      expected: "one of cubic, reno",
    });
  });

  it("refuses a module whose factory makes something that is not a plugin", async () => {
    const err = await rejection(resolvePlugin("./plugins/not-a-plugin.js", fixtures, "plugins[0]"));
    expect(err.path).toBe("plugins[0]");
    expect(err.expected).toContain("but it made 42");
  });
});

describe("plugins in a config file", () => {
  it("report a factory's ConfigError at the options' key, with its line and column", async () => {
    const file = join(fixtures, "plugin-options.yaml");
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.path).toBe("plugins[1].options.congestion");
    expect(err.file).toBe(`${file}:5:7`);
  });

  it("report a plugin that is not found with the file and position of its entry", async () => {
    const file = join(root, "app/configs/missing.yaml");
    await files({ "app/configs/missing.yaml": "plugins:\n  - old-plugin\n  - '@acme/absent'\n" });
    const err = await rejection(loadStackOptions(file, { env: {} }));
    expect(err.message).toBe(
      `${file}:3:5: plugins[1]: got "@acme/absent", expected an installed npm package or a path relative to ${app}`,
    );
  });
});

describe("resolveDeviceDriverPlugin", () => {
  it("makes the plugin of @skbuff/<driver> when that package is installed", async () => {
    const plugin = await resolveDeviceDriverPlugin("testdrv", app);
    expect(plugin?.name).toBe("skbuff:testdrv");
  });

  it("returns null when no package is installed for the driver", async () => {
    expect(await resolveDeviceDriverPlugin("nosuchdriver", app)).toBeNull();
  });

  it("returns null for a driver name that cannot be a package name", async () => {
    expect(await resolveDeviceDriverPlugin("../../etc", app)).toBeNull();
  });

  it("fails when the driver's package is installed but makes no plugin", async () => {
    await expect(resolveDeviceDriverPlugin("notdrv", app)).rejects.toThrow(PluginError);
  });
});

describe("factoryName", () => {
  it.each([
    ["@skbuff/ipv4", "ipv4"],
    ["./plugins/my-hook.js", "myHook"],
    ["@acme/rate-limit", "rateLimit"],
    ["../hooks/tcp_cubic.ts", "tcpCubic"],
  ])("names the factory of %s %s", (spec, name) => {
    expect(factoryName(spec)).toBe(name);
  });
});
