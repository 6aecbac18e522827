/**
 * Script text with line bookkeeping, and the parse error that quotes it.
 * @packageDocumentation
 */
import { SkbuffError } from "@skbuff/core";
import type { SourceLocation } from "./ast.js";

/** A script's text plus the offsets where its lines start, for offset → line:column. */
export class SourceText {
  readonly text: string;
  readonly file: string;
  private readonly lineStarts: number[];

  constructor(text: string, file: string) {
    this.text = text;
    this.file = file;
    const starts = [0];
    for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
    this.lineStarts = starts;
  }

  /** The location of a 0-based offset (clamped to the text). */
  locAt(offset: number): SourceLocation {
    const off = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= off) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: off - this.lineStarts[lo]! + 1, offset: off };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    return lineOf(this.text, line);
  }
}

/** The text of a 1-based line of `text`, without its line break (`\r` included). */
export function lineOf(text: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", start);
    if (nl === -1) return "";
    start = nl + 1;
  }
  const end = text.indexOf("\n", start);
  const raw = end === -1 ? text.slice(start) : text.slice(start, end);
  return raw.endsWith("\r") ? raw.slice(0, -1) : raw;
}

/**
 * `file:line:column: message`, then the source line and a caret under the column. Tabs before
 * the column are kept in the caret line so the caret lines up in a terminal.
 */
export function describeAt(loc: SourceLocation, text: string, message: string): string {
  const line = lineOf(text, loc.line);
  const pad = line.slice(0, loc.column - 1).replace(/[^\t]/g, " ");
  return `${loc.file}:${loc.line}:${loc.column}: ${message}\n${line}\n${pad}^`;
}

/**
 * A script that does not parse. The message reads
 * `file:line:column: expected …, found …` followed by the source line and a caret.
 */
export class PacketdrillParseError extends SkbuffError {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** The message without location, source line or caret. */
  readonly reason: string;
  /** The offending source line. */
  readonly sourceLine: string;

  constructor(loc: SourceLocation, reason: string, text: string) {
    super("ERR_PACKETDRILL_PARSE", describeAt(loc, text, reason));
    this.file = loc.file;
    this.line = loc.line;
    this.column = loc.column;
    this.reason = reason;
    this.sourceLine = lineOf(text, loc.line);
  }
}
