/**
 * `${VAR}` expansion in config files, as docker compose and shells do it.
 * @packageDocumentation
 */
import { ConfigError } from "../errors.js";
import { appendPath } from "./errors.js";

/** The environment variables a config is expanded with (`process.env` by default). */
export type ConfigEnv = Readonly<Record<string, string | undefined>>;

const REFERENCE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

/**
 * Expands environment references inside every string of a parsed config document and returns a
 * new document (the input is not changed; keys are not expanded).
 *
 * - `${VAR}` is the value of `VAR`; when `VAR` is unset, a {@link ConfigError} names the key
 *   path and the variable. A variable set to the empty string expands to it.
 * - `${VAR:-default}` is `default` when `VAR` is unset or empty (as in sh). The default is
 *   taken literally and cannot contain `}`.
 * - `$${` is a literal `${`; a `$` not followed by `{` is kept as it is.
 *
 * Expanded text is not expanded again. Every result is a string: the schemas read a string that
 * is exactly an integer as a number where they expect one (see `schema.ts`).
 *
 * @param value - the parsed document (or a part of it)
 * @param env - the variables to expand from
 * @param path - the key path of `value` in the document, used in errors
 */
export function expandEnv(value: unknown, env: ConfigEnv, path = ""): unknown {
  if (typeof value === "string") return expandString(value, env, path);
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, appendPath(path, i)));
  if (isPlainObject(value)) {
    // fromEntries defines own properties, so a key like __proto__ stays data.
    return Object.fromEntries(
      Object.entries(value).map(([key, v]) => [key, expandEnv(v, env, appendPath(path, key))]),
    );
  }
  return value;
}

function expandString(text: string, env: ConfigEnv, path: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf("$", i);
    if (dollar < 0) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    if (text.startsWith("$${", dollar)) {
      out += "${";
      i = dollar + 3;
      continue;
    }
    if (text[dollar + 1] !== "{") {
      out += "$";
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf("}", dollar + 2);
    const match = close < 0 ? null : REFERENCE.exec(text.slice(dollar + 2, close));
    if (!match) {
      // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is config syntax here.
      throw new ConfigError(path, text, "${NAME} or ${NAME:-default} (write $${ for a literal ${)");
    }
    const [, name, fallback] = match as unknown as [string, string, string | undefined];
    const set = env[name];
    if (fallback !== undefined) {
      out += set === undefined || set === "" ? fallback : set;
    } else if (set === undefined) {
      throw new ConfigError(
        path,
        text,
        `the environment variable ${name} to be set (or a default: \${${name}:-value})`,
      );
    } else {
      out += set;
    }
    i = close + 1;
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
