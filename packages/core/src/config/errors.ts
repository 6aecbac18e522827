/**
 * Turning what went wrong in a config file into one {@link ConfigError}: key paths rendered the
 * way a reader writes them (`hosts.a.devices[0].address`, `sysctl["net.ipv4.ip_forward"]`),
 * zod issues reduced to the first one with a human phrase for what was expected, and the
 * `file:line:col` of the offending key when the file's source is known.
 * @packageDocumentation
 */
import { ConfigError } from "../errors.js";

/** One step of a key path: a mapping key or a list index. */
export type PathSegment = string | number;

/** A 1-based line and column in a config file. */
export interface SourcePosition {
  readonly line: number;
  readonly col: number;
}

/** Finds where a key path sits in the config file's source, as far down the path as it can. */
export type Locator = (path: readonly PathSegment[]) => SourcePosition | undefined;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * Renders a key path: identifiers join with dots, indices go in brackets, and any other key is
 * quoted in brackets (`sysctl["net.ipv4.ip_forward"]`).
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) out = appendPath(out, seg);
  return out;
}

/** Appends one segment to a rendered key path (see {@link formatPath}). */
export function appendPath(base: string, seg: PropertyKey): string {
  if (typeof seg === "number") return `${base}[${seg}]`;
  const key = String(seg);
  if (IDENTIFIER.test(key)) return base ? `${base}.${key}` : key;
  return `${base}[${JSON.stringify(key)}]`;
}

/** Joins a rendered key path and a path relative to it (`plugins[2].options` + `congestion`). */
export function joinPath(base: string, rest: string): string {
  if (!rest) return base;
  if (!base || rest.startsWith("[")) return `${base}${rest}`;
  return `${base}.${rest}`;
}

/**
 * Splits a rendered key path back into segments: the inverse of {@link formatPath}. Text it
 * cannot read is kept as one key, so a locator still finds the keys before it.
 */
export function parsePath(path: string): PathSegment[] {
  const out: PathSegment[] = [];
  const re = /(?:^|\.)([^.[\]]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  let i = 0;
  while (i < path.length) {
    re.lastIndex = i;
    const m = re.exec(path);
    if (!m) {
      out.push(path.slice(i));
      break;
    }
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else out.push(JSON.parse(m[3]!) as string);
    i = re.lastIndex;
  }
  return out;
}

/**
 * A config file could not be read at all: it is missing, its syntax is broken (the message then
 * starts with `file:line:col`), its extension is unknown, or Node cannot load it. It is a
 * {@link ConfigError} whose `path` is empty.
 */
export class ConfigFileError extends ConfigError {
  /** 1-based line of the problem, when known. */
  readonly line: number | undefined;
  /** 1-based column of the problem, when known. */
  readonly column: number | undefined;
  constructor(file: string, reason: string, expected: string, pos?: SourcePosition) {
    const where = pos ? `${file}:${pos.line}:${pos.col}` : file;
    super("", undefined, expected, where);
    this.message = `${where}: ${reason}`;
    this.line = pos?.line;
    this.column = pos?.col;
  }
}

/** True for a {@link ConfigError}, also one thrown by another copy of `@skbuff/core`. */
export function isConfigError(err: unknown): err is ConfigError {
  if (err instanceof ConfigError) return true;
  const e = err as Partial<ConfigError> | null;
  return (
    e !== null &&
    typeof e === "object" &&
    e.code === "ERR_SKB_CONFIG" &&
    typeof e.path === "string" &&
    typeof e.expected === "string"
  );
}

/** Where a config came from, to put `file:line:col` into the errors about it. */
export interface ConfigSourceRef {
  readonly file: string;
  readonly locate?: Locator | undefined;
}

/** `file:line:col` for a key path when it can be located, else `file`. */
export function fileAt(source: ConfigSourceRef, path: readonly PathSegment[]): string {
  const pos = source.locate?.(path);
  return pos ? `${source.file}:${pos.line}:${pos.col}` : source.file;
}

/**
 * Gives a ConfigError raised without a file (by {@link expandEnv}, a plugin factory, …) the file
 * and, when found, the line and column of its key path. Errors that name a file already are
 * returned unchanged.
 */
export function atSource(err: ConfigError, source: ConfigSourceRef): ConfigError {
  if (err.file !== undefined) return err;
  const located = new ConfigError(
    err.path,
    err.value,
    err.expected,
    fileAt(source, parsePath(err.path)),
  );
  if (err.cause !== undefined) located.cause = err.cause;
  return located;
}

/** The parts of a zod issue this module reads; a structural type, so any zod 4 copy fits. */
export interface IssueLike {
  readonly code?: string | undefined;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly input?: unknown;
  readonly keys?: readonly string[];
  readonly errors?: readonly (readonly IssueLike[])[];
  readonly issues?: readonly IssueLike[];
  readonly params?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * Marks a `z.custom` check as a type test (`isPlugin`, a falsy list entry): a union branch that
 * fails only such tests did not match the value's type, so its message is not the one to show.
 */
export const TYPE_ONLY = { typeOnly: true } as const;

/** A union branch that failed only on the type of the value as a whole. */
function wrongType(issues: readonly IssueLike[]): boolean {
  return issues.every(
    (i) =>
      i.path.length === 0 &&
      (i.code === "invalid_type" || (i.code === "custom" && i.params?.typeOnly === true)),
  );
}

/**
 * Reduces zod issues to the first one and turns it into a ConfigError: `path` rendered with
 * {@link formatPath} (and prefixed with `prefix`), `value` the offending value and `expected`
 * the issue's message, which the schemas set to a human phrase.
 *
 * A union that failed is explained through the one branch that matched the value's type (a
 * list for `address: [..]`), so the error points at the element inside it; when none or several
 * did, the union's own phrase is used. An unknown key is reported at the key, with the key as
 * the value.
 */
export function issuesToConfigError(
  issues: readonly IssueLike[],
  source?: ConfigSourceRef,
  prefix: readonly PropertyKey[] = [],
): ConfigError {
  const issue = issues[0];
  if (issue === undefined) {
    return new ConfigError(formatPath(prefix), undefined, "a valid value", source?.file);
  }
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors) {
    const matched = issue.errors.filter((branch) => branch.length > 0 && !wrongType(branch));
    if (matched.length === 1) return issuesToConfigError(matched[0]!, source, path);
  }
  let value = issue.input;
  let expected = issue.message;
  if (issue.code === "unrecognized_keys" && issue.keys?.[0] !== undefined) {
    value = issue.keys[0];
    path.push(issue.keys[0]);
  } else if (issue.code === "invalid_key" && issue.issues?.[0]) {
    expected = issue.issues[0].message;
  }
  const segments = path.map((s) => (typeof s === "number" ? s : String(s)));
  return new ConfigError(
    formatPath(segments),
    value,
    expected,
    source ? fileAt(source, segments) : undefined,
  );
}

const TYPE_PHRASES: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping of keys to values",
  record: "a mapping of keys to values",
  array: "a list",
  tuple: "a list",
};

/**
 * The phrase for an issue whose schema set none: the per-parse fallback of zod's error map, so
 * that no message reads like zod's own ("Invalid input: expected string, received number").
 */
export function fallbackPhrase(issue: {
  readonly code?: string | undefined;
  readonly [key: string]: unknown;
}): string {
  switch (issue.code) {
    case "invalid_type":
      return TYPE_PHRASES[String(issue.expected)] ?? `a value of type ${String(issue.expected)}`;
    case "too_small":
      return `at least ${String(issue.minimum)}${issue.origin === "array" ? " entries" : issue.origin === "string" ? " characters" : ""}`;
    case "too_big":
      return `at most ${String(issue.maximum)}${issue.origin === "array" ? " entries" : issue.origin === "string" ? " characters" : ""}`;
    case "invalid_value":
      return `one of ${(issue.values as unknown[]).map(String).join(", ")}`;
    case "unrecognized_keys":
      return "no such key (unknown keys are refused, so that a typo is not ignored)";
    case "invalid_format":
      return `a string in the format ${String(issue.format)}`;
    default:
      return "a valid value";
  }
}
