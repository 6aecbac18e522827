/**
 * The nft lexer: words, strings, punctuation and newlines (a newline ends a rule, as `;` does).
 * A word is a run of letters, digits and `_ . / : - *`, so `10.0.0.0/8`, `1024-65535`,
 * `port-unreachable` and `10/second` are one token each; the parser splits them by context.
 * @packageDocumentation
 */
import type { Loc } from "./ast.js";
import { NftSyntaxError } from "./errors.js";

export type TokenKind = "word" | "string" | "punct" | "nl" | "eof";

export interface Token {
  readonly kind: TokenKind;
  /** The word, the string's contents, or the punctuation (`{`, `==`, …). */
  readonly text: string;
  readonly loc: Loc;
}

const WORD = /[A-Za-z0-9_./:*-]/;
const PUNCT2 = new Set(["==", "!="]);
const PUNCT1 = new Set(["{", "}", ";", ",", "@", "(", ")", "|", "&", "=", "+"]);

/** Splits nft text into tokens. @throws NftSyntaxError on a character nft would not take. */
export function lex(source: string, file: string): Token[] {
  const out: Token[] = [];
  let line = 1;
  let lineStart = 0;
  let i = 0;
  const loc = (start: number, len: number): Loc => ({ line, col: start - lineStart + 1, len });
  while (i < source.length) {
    const c = source[i]!;
    if (c === "\n") {
      out.push({ kind: "nl", text: "\n", loc: loc(i, 1) });
      i++;
      line++;
      lineStart = i;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#") {
      while (i < source.length && source[i] !== "\n") i++;
    } else if (c === "\\" && source[i + 1] === "\n") {
      i += 2; // a continued line
      line++;
      lineStart = i;
    } else if (c === '"') {
      const start = i;
      let text = "";
      i++;
      while (i < source.length && source[i] !== '"' && source[i] !== "\n") {
        if (source[i] === "\\" && i + 1 < source.length && source[i + 1] !== "\n") i++;
        text += source[i];
        i++;
      }
      if (source[i] !== '"') {
        throw new NftSyntaxError("unterminated string", file, source, loc(start, i - start));
      }
      i++;
      out.push({ kind: "string", text, loc: loc(start, i - start) });
    } else if (PUNCT2.has(source.slice(i, i + 2))) {
      out.push({ kind: "punct", text: source.slice(i, i + 2), loc: loc(i, 2) });
      i += 2;
    } else if (PUNCT1.has(c)) {
      out.push({ kind: "punct", text: c, loc: loc(i, 1) });
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < source.length && WORD.test(source[i]!)) i++;
      out.push({ kind: "word", text: source.slice(start, i), loc: loc(start, i - start) });
    } else {
      throw new NftSyntaxError(
        `unexpected character ${JSON.stringify(c)}`,
        file,
        source,
        loc(i, 1),
      );
    }
  }
  out.push({ kind: "eof", text: "end of file", loc: loc(i, 1) });
  return out;
}
