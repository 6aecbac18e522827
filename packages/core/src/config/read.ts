/**
 * Reading a config file into a plain document: YAML, JSON, or a JavaScript/TypeScript module
 * whose default export is the config. Syntax errors carry `file:line:col`.
 * @packageDocumentation
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import { ConfigFileError, type Locator, type PathSegment, type SourcePosition } from "./errors.js";

/** How a config file is read, by extension. */
export type ConfigFormat = "yaml" | "json" | "module";

const FORMATS: Readonly<Record<string, ConfigFormat>> = {
  ".yaml": "yaml",
  ".yml": "yaml",
  ".json": "json",
  ".js": "module",
  ".mjs": "module",
  ".cjs": "module",
  ".ts": "module",
  ".mts": "module",
  ".cts": "module",
};

/** A config file read into a document, with a way back to the source for error positions. */
export interface ConfigSource {
  /** The file as it was named. */
  readonly file: string;
  readonly format: ConfigFormat;
  /** The document: plain data for YAML and JSON, the default export's value for a module. */
  readonly data: unknown;
  /** Finds a key path's line and column (YAML and JSON only). */
  readonly locate?: Locator | undefined;
}

/**
 * Reads a config file into a plain document:
 * - `.yaml`/`.yml`: YAML 1.2 (core schema), one document, duplicate keys refused;
 * - `.json`: JSON;
 * - `.js`/`.mjs`/`.cjs`/`.ts`/`.mts`/`.cts`: imported; its default export is the config, or a
 *   function returning it (or a promise of it). Node 20 cannot import TypeScript by itself:
 *   run under tsx, or use YAML, JSON or JavaScript.
 *
 * @throws {@link ConfigFileError} when the file is missing, unreadable, of an unknown kind, or
 *   broken (with its line and column).
 */
export async function readConfigFile(file: string): Promise<unknown> {
  return (await readConfigSource(file)).data;
}

/** {@link readConfigFile}, keeping the format and a locator for error positions. */
export async function readConfigSource(file: string): Promise<ConfigSource> {
  const format = FORMATS[extname(file).toLowerCase()];
  if (format === undefined) {
    throw new ConfigFileError(
      file,
      `unknown config file type ${JSON.stringify(extname(file))}: use .yaml, .yml, .json, .js, .mjs or .ts`,
      "a .yaml, .yml, .json, .js, .mjs or .ts file",
    );
  }
  if (format === "module") return { file, format, data: await importConfig(file) };
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(err);
    throw new ConfigFileError(file, `cannot read the config file: ${reason}`, "a readable file");
  }
  return format === "yaml" ? parseYaml(file, text) : parseJson(file, text);
}

function parseYaml(file: string, text: string): ConfigSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0] ?? lineCounter.linePos(error.pos[0]);
    throw new ConfigFileError(
      file,
      `YAML syntax error: ${tidyYamlMessage(error.message)}`,
      "valid YAML",
      pos,
    );
  }
  return {
    file,
    format: "yaml",
    data: doc.toJS({ maxAliasCount: 100 }),
    locate: yamlLocator(doc, lineCounter),
  };
}

/** Drops yaml's own " at line L, column C:" (the position leads the message already). */
function tidyYamlMessage(message: string): string {
  return message.replace(/ at line \d+, column \d+:?/, ":").replace(/:\n*$/, "");
}

function parseJson(file: string, text: string): ConfigSource {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const reason = (err as Error).message;
    throw new ConfigFileError(
      file,
      `JSON syntax error: ${reason}`,
      "valid JSON",
      jsonErrorPosition(text, reason),
    );
  }
  // JSON is YAML 1.2 flow syntax: the YAML parser gives the positions of keys for errors.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, schema: "json" });
  return {
    file,
    format: "json",
    data,
    locate: doc.errors.length ? undefined : yamlLocator(doc, lineCounter),
  };
}

/**
 * Where JSON.parse stopped: V8 says "at position N" for most errors; for the others the YAML
 * parser, run with the JSON schema, usually finds the same fault with its position.
 */
function jsonErrorPosition(text: string, reason: string): SourcePosition | undefined {
  const at = /at position (\d+)/.exec(reason);
  const offset = at
    ? Number(at[1])
    : /end of JSON input/.test(reason)
      ? text.length
      : parseDocument(text, { schema: "json" }).errors[0]?.pos[0];
  if (offset === undefined) return undefined;
  return offsetToPosition(text, offset);
}

function offsetToPosition(text: string, offset: number): SourcePosition {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const col = offset - (before.lastIndexOf("\n") + 1) + 1;
  return { line, col };
}

/**
 * Finds a key path in a YAML document. A key with dots that is not in a mapping is also looked
 * for as nested keys (`sysctl["net.ipv4.ip_forward"]` in `net: { ipv4: { ip_forward: 0 } }`).
 * Points at the key of a mapping entry, or at a list item; stops at the deepest node found.
 */
function yamlLocator(doc: Document, lineCounter: LineCounter): Locator {
  return (path: readonly PathSegment[]) => {
    let node: unknown = doc.contents;
    let offset: number | undefined = (doc.contents as { range?: [number] } | null)?.range?.[0];
    const segs = [...path];
    while (segs.length > 0) {
      const seg = segs.shift()!;
      if (isSeq(node) && typeof seg === "number") {
        const item = node.items[seg];
        if (item === undefined) break;
        node = item;
        offset = (item as { range?: [number] }).range?.[0] ?? offset;
        continue;
      }
      if (!isMap(node)) break;
      const key = String(seg);
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === key,
      );
      if (pair) {
        node = pair.value;
        offset = (pair.key as { range?: [number] }).range?.[0] ?? offset;
        continue;
      }
      const prefix = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && key.startsWith(`${String(p.key.value)}.`),
      );
      if (!prefix || !isScalar(prefix.key)) break;
      node = prefix.value;
      offset = prefix.key.range?.[0] ?? offset;
      segs.unshift(key.slice(String(prefix.key.value).length + 1));
    }
    return offset === undefined ? undefined : lineCounter.linePos(offset);
  };
}

async function importConfig(file: string): Promise<unknown> {
  if (!existsSync(file)) {
    throw new ConfigFileError(file, "cannot read the config file: no such file", "a readable file");
  }
  const url = pathToFileURL(resolve(file)).href;
  let mod: { default?: unknown };
  try {
    mod = (await import(url)) as { default?: unknown };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ERR_UNKNOWN_FILE_EXTENSION" && /\.[mc]?ts$/i.test(file)) {
      throw new ConfigFileError(
        file,
        "Node cannot load a TypeScript config by itself: run under tsx (npx tsx …), or write the config as .yaml, .json or .js",
        "a config file Node can load",
      );
    }
    throw err;
  }
  if (!("default" in mod)) {
    throw new ConfigFileError(
      file,
      "the config module has no default export: write `export default { … }`",
      "a default export",
    );
  }
  const exported = mod.default;
  return typeof exported === "function" ? await (exported as () => unknown)() : exported;
}
