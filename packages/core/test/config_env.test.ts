// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} is config syntax in these tests.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { expandEnv } from "../src/config/index.js";
import { ConfigError } from "../src/errors.js";

const env = { HOST: "192.0.2.1", PORT: "8080", EMPTY: "" };

/** The ConfigError a call throws. */
function thrown(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

describe("expandEnv", () => {
  it("replaces ${VAR} with the variable's value inside a string", () => {
    expect(expandEnv("http://${HOST}:${PORT}/", env)).toBe("http://192.0.2.1:8080/");
  });

  it("uses the default of ${VAR:-default} when the variable is unset", () => {
    expect(expandEnv("${TUN_NAME:-tun0}", env)).toBe("tun0");
  });

  it("uses the default of ${VAR:-default} when the variable is empty, as sh does", () => {
    expect(expandEnv("${EMPTY:-x}", env)).toBe("x");
  });

  it("prefers a set variable over the default", () => {
    expect(expandEnv("${PORT:-80}", env)).toBe("8080");
  });

  it("expands a variable set to the empty string to nothing", () => {
    expect(expandEnv("a${EMPTY}b", env)).toBe("ab");
  });

  it("turns $${ into a literal ${ without expanding it", () => {
    expect(expandEnv("$${HOST} costs $5", env)).toBe("${HOST} costs $5");
  });

  it("does not expand the text a variable expanded to", () => {
    expect(expandEnv("${A}", { A: "${B}", B: "no" })).toBe("${B}");
  });

  it("walks mappings and lists and leaves numbers, booleans and keys alone", () => {
    const doc = { "${HOST}": 1, list: ["${PORT}", 7, true, null], nested: { a: "${HOST}" } };
    expect(expandEnv(doc, env)).toEqual({
      "${HOST}": 1,
      list: ["8080", 7, true, null],
      nested: { a: "192.0.2.1" },
    });
  });

  it("does not change the document it is given", () => {
    const doc = { a: ["${HOST}"] };
    expandEnv(doc, env);
    expect(doc).toEqual({ a: ["${HOST}"] });
  });

  it("refuses an unset variable without a default, naming the key path and the variable", () => {
    const err = thrown(() => expandEnv({ devices: [{ name: "${TUN_NAME}" }] }, env));
    expect(err.path).toBe("devices[0].name");
    expect(err.value).toBe("${TUN_NAME}");
    expect(err.message).toContain("TUN_NAME");
  });

  it("refuses a reference it cannot read, and says how to write a literal ${", () => {
    const err = thrown(() => expandEnv({ a: "${not closed" }, env));
    expect(err.path).toBe("a");
    expect(err.expected).toContain("$${");
  });

  it("puts the path it is given in front of the key path", () => {
    expect(thrown(() => expandEnv(["${NOPE}"], env, "hosts.a.routes")).path).toBe(
      "hosts.a.routes[0]",
    );
  });

  it("returns any string without a $ unchanged", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: "grapheme" }).filter((s) => !s.includes("$")),
        (s) => expandEnv(s, env) === s,
      ),
    );
  });

  it("returns any document whose strings have no $ equal to itself", () => {
    const noDollar = fc.string().filter((s) => !s.includes("$"));
    const doc = fc
      .jsonValue()
      .map((v) =>
        JSON.parse(JSON.stringify(v), (_k, x) =>
          typeof x === "string" ? x.replaceAll("$", "") : x,
        ),
      );
    fc.assert(
      fc.property(doc, noDollar, (d, s) => {
        expect(expandEnv([d, s], env)).toEqual([d, s]);
      }),
    );
  });
});
