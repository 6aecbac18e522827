/**
 * Errors in a ruleset, reported as nft does: `file:line:col: error: …`, the source line, and a
 * caret under the problem. A ruleset with an error is refused as a whole.
 * @packageDocumentation
 */
import { ConfigError } from "@skbuff/core";
import type { Loc } from "./ast.js";

/**
 * A ruleset was refused: a syntax error, or a rule that cannot work (an unknown set, a jump to a
 * missing chain, a loop). `line` and `column` count from 1; they are 0 for a ruleset built in
 * TypeScript, which has no source.
 */
export class NftSyntaxError extends ConfigError {
  readonly line: number;
  readonly column: number;
  /** What is wrong, without the position and the source excerpt. */
  readonly reason: string;

  constructor(reason: string, file: string, source: string | null, loc: Loc | undefined) {
    const line = loc?.line ?? 0;
    const column = loc?.col ?? 0;
    const where = loc !== undefined ? `${file}:${line}:${column}` : file;
    super("ruleset", file, reason, where);
    this.line = line;
    this.column = column;
    this.reason = reason;
    this.message = `${where}: error: ${reason}${excerpt(source, loc)}`;
  }
}

/** The source line and a caret line under `loc` (tabs kept so the carets line up). */
function excerpt(source: string | null, loc: Loc | undefined): string {
  if (source === null || loc === undefined) return "";
  const text = source.split(/\r?\n/)[loc.line - 1] ?? "";
  const pad = text.slice(0, loc.col - 1).replace(/[^\t]/g, " ");
  const width = Math.max(1, Math.min(loc.len, text.length - loc.col + 1));
  return `\n${text}\n${pad}${"^".repeat(width)}`;
}
