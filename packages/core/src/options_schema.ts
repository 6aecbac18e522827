/**
 * Validating plugin options with a schema (zod), so that a bad option fails before anything
 * starts with the key path, the value and what was expected.
 * @packageDocumentation
 */
import { z } from "zod";
import { ConfigError } from "./errors.js";

export { z };

/**
 * Parses plugin options against a schema. On failure throws a {@link ConfigError} whose path is
 * relative to the options object (the config loader prefixes it with `plugins[i].options`).
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  value: unknown,
  plugin: string,
): z.output<S> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path
    .map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join("");
  let v: unknown = value;
  for (const k of issue.path)
    v = v == null ? undefined : (v as Record<PropertyKey, unknown>)[k as PropertyKey];
  const expected =
    issue.code === "unrecognized_keys"
      ? `no key ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} (options of ${plugin})`
      : `${issue.message.replace(/^Invalid input: /, "")} (options of ${plugin})`;
  throw new ConfigError(path, v, expected);
}
