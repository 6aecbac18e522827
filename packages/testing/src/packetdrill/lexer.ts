/**
 * The packetdrill tokenizer. Follows packetdrill's flex rules (`lexer.l`): whitespace and line
 * breaks separate tokens and mean nothing else; `//` and `/* *\/` are comments; the longest match
 * wins, so `0x2` is a hex number, `1.2.3.4` an address, `+.1...0.2` is `+ .1 ... 0.2` and
 * `1:1(0)` is `1 : 1 ( 0 )`. Keywords are not reserved here: the parser reads words in context.
 * @see packetdrill gtests/net/packetdrill/lexer.l
 * @packageDocumentation
 */
import { PacketdrillParseError, type SourceText } from "./source.js";

/** What a token is. */
export type TokenKind =
  | "int"
  | "hex"
  | "float"
  | "word"
  | "string"
  | "backquote"
  | "code"
  | "option"
  | "ipv4"
  | "ellipsis"
  | "punct"
  | "eof";

/** One token. `start`/`end` are offsets into the script text. */
export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token. */
  readonly text: string;
  /**
   * The payload: a string's or command's contents, a code block's code (spaces and tabs
   * stripped at both ends), an option's name, a punctuation character, or `text`.
   */
  readonly value: string;
  /** For an `option` token: the value after `=`, or `undefined` for a bare `--flag`. */
  readonly optionValue?: string | undefined;
  readonly start: number;
  readonly end: number;
}

const RE_IPV4 = /\d+\.\d+\.\d+\.\d+/y;
const RE_FLOAT = /-?\d*\.\d+/y;
const RE_INT = /-?\d+/y;
const RE_HEX = /0x[0-9a-fA-F]+/y;
const RE_WORD = /[A-Za-z0-9_]+/y;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isWordStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isWordChar(c: number): boolean {
  return isWordStart(c) || isDigit(c);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}

function matchAt(re: RegExp, text: string, at: number): number {
  re.lastIndex = at;
  return re.test(text) ? re.lastIndex - at : 0;
}

/**
 * Splits a script into tokens, ending with one `eof` token.
 * @throws PacketdrillParseError for an unterminated string, command, code block or comment, or
 *   a `--flag=` with no value.
 */
export function tokenize(src: SourceText): Token[] {
  const text = src.text;
  const n = text.length;
  const out: Token[] = [];
  const fail = (at: number, reason: string): never => {
    throw new PacketdrillParseError(src.locAt(at), reason, text);
  };
  const push = (kind: TokenKind, start: number, end: number, value?: string): void => {
    const raw = text.slice(start, end);
    out.push({ kind, text: raw, value: value ?? raw, start, end });
  };
  /** Index just past the closing `quote` of a quoted token opening at `start`. */
  const closeQuote = (start: number, quote: string, what: string): number => {
    for (let j = start + 1; j < n; j++) {
      const ch = text[j];
      if (ch === "\\") j++;
      else if (ch === quote) return j + 1;
    }
    return fail(start, `unterminated ${what}: expected a closing ${quote}, found end of file`);
  };

  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    const next = i + 1 < n ? text.charCodeAt(i + 1) : -1;
    if (isSpace(c)) {
      i++;
      continue;
    }
    // Comments.
    if (c === 47 /* / */ && next === 47) {
      const nl = text.indexOf("\n", i);
      i = nl === -1 ? n : nl + 1;
      continue;
    }
    if (c === 47 && next === 42 /* * */) {
      const close = text.indexOf("*/", i + 2);
      if (close === -1) fail(i, "unterminated /* comment: expected */, found end of file");
      i = close + 2;
      continue;
    }
    // %{ code }%
    if (c === 37 /* % */ && next === 123 /* { */) {
      const close = text.indexOf("}%", i + 2);
      if (close === -1) {
        fail(i, "unterminated %{ code block: expected }%, found end of file");
      }
      const code = text.slice(i + 2, close).replace(/^[ \t]+|[ \t]+$/g, "");
      push("code", i, close + 2, code);
      i = close + 2;
      continue;
    }
    // "string" and `command`: contents kept raw, as packetdrill's quoted() does.
    if (c === 34 /* " */ || c === 96 /* ` */) {
      const quote = c === 34 ? '"' : "`";
      const end = closeQuote(i, quote, c === 34 ? "string" : "`command`");
      push(c === 34 ? "string" : "backquote", i, end, text.slice(i + 1, end - 1));
      i = end;
      continue;
    }
    // --option[=value]
    if (c === 45 && next === 45 && i + 2 < n && isWordChar(text.charCodeAt(i + 2))) {
      let j = i + 2;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      const name = text.slice(i + 2, j);
      let k = j;
      while (k < n && (text[k] === " " || text[k] === "\t")) k++;
      let value: string | undefined;
      let end = j;
      if (text[k] === "=") {
        k++;
        while (k < n && (text[k] === " " || text[k] === "\t")) k++;
        const vStart = k;
        if (text[k] === '"' || text[k] === "`") {
          k = closeQuote(k, text[k]!, "option value");
          value = text.slice(vStart + 1, k - 1);
        } else {
          while (k < n && !isSpace(text.charCodeAt(k))) {
            if (text[k] === '"' || text[k] === "`") k = closeQuote(k, text[k]!, "option value");
            else k++;
          }
          value = text.slice(vStart, k);
        }
        if (k === vStart) fail(vStart, `expected a value after --${name}=, found end of line`);
        end = k;
      }
      out.push({
        kind: "option",
        text: text.slice(i, end),
        value: name,
        optionValue: value,
        start: i,
        end,
      });
      i = end;
      continue;
    }
    if (c === 46 /* . */ && next === 46 && text.charCodeAt(i + 2) === 46) {
      push("ellipsis", i, i + 3);
      i += 3;
      continue;
    }
    // Numbers, addresses and digit-led words: longest match, ties to the earlier flex rule.
    const numberish =
      isDigit(c) ||
      (c === 46 && isDigit(next)) ||
      (c === 45 && (isDigit(next) || (next === 46 && isDigit(text.charCodeAt(i + 2)))));
    if (numberish) {
      let kind: TokenKind = "int";
      let len = 0;
      const tryRule = (k: TokenKind, re: RegExp): void => {
        const l = matchAt(re, text, i);
        if (l > len) {
          len = l;
          kind = k;
        }
      };
      tryRule("float", RE_FLOAT);
      tryRule("int", RE_INT);
      if (c !== 45) {
        tryRule("hex", RE_HEX);
        tryRule("word", RE_WORD);
        tryRule("ipv4", RE_IPV4);
      }
      push(kind, i, i + len);
      i += len;
      continue;
    }
    if (isWordStart(c)) {
      let j = i + 1;
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
      push("word", i, j);
      i = j;
      continue;
    }
    // Any other character is a token of its own (a surrogate pair stays whole).
    const width = c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff ? 2 : 1;
    push("punct", i, i + width);
    i += width;
  }
  out.push({ kind: "eof", text: "", value: "", start: n, end: n });
  return out;
}

/** How a token reads in an error message: `'ack'`, `'<'`, `end of file`, … */
export function describeToken(tok: Token): string {
  switch (tok.kind) {
    case "eof":
      return "end of file";
    case "string":
      return `string ${clip(tok.text)}`;
    case "backquote":
      return `command ${clip(tok.text)}`;
    case "code":
      return "a %{ code }% block";
    case "option":
      return `option --${tok.value}`;
    default:
      return `'${clip(tok.text)}'`;
  }
}

function clip(s: string): string {
  const one = s.replace(/\s+/g, " ");
  return one.length > 40 ? `${one.slice(0, 37)}...` : one;
}
