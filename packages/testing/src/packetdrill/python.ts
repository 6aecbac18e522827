/**
 * The Python subset of `%{ … }%` blocks. packetdrill hands these blocks to python with a
 * `tcp_info` snapshot in scope; the scripts only ever assert over it, so this parses `assert`
 * statements over Python expressions (`and`/`or`/`not`, chained comparisons, arithmetic,
 * bitwise operators, `%` formatting, attribute access, numbers, strings, `True`/`False`/`None`),
 * with Python's precedence. Statements end at a line break or `;`; `\` joins lines, line breaks
 * inside parentheses are ignored and `#` starts a comment. Anything else is a parse error at its
 * position in the script.
 * @see packetdrill gtests/net/packetdrill/code.c
 * @packageDocumentation
 */
import type { PyAssert, PyBinaryOp, PyCompareOp, PyExpr, SourceLocation } from "./ast.js";
import { PacketdrillParseError, type SourceText } from "./source.js";

type PyTokenKind = "name" | "num" | "str" | "op" | "newline" | "eof";

interface PyToken {
  readonly kind: PyTokenKind;
  readonly text: string;
  readonly start: number;
  readonly end: number;
  readonly num?: number;
  readonly str?: string;
}

const KEYWORDS = new Set([
  "and",
  "as",
  "assert",
  "async",
  "await",
  "break",
  "class",
  "continue",
  "def",
  "del",
  "elif",
  "else",
  "except",
  "finally",
  "for",
  "from",
  "global",
  "if",
  "import",
  "in",
  "is",
  "lambda",
  "nonlocal",
  "not",
  "or",
  "pass",
  "raise",
  "return",
  "try",
  "while",
  "with",
  "yield",
]);

const OPS2 = new Set(["**", "//", "<<", ">>", "<=", ">=", "==", "!=", "->", ":="]);
const OPS1 = "+-*/%|&^~<>(),.;=[]{}:@!";

const RE_HEX = /0[xX](?:_?[0-9a-fA-F])+/y;
const RE_OCT = /0[oO](?:_?[0-7])+/y;
const RE_BIN = /0[bB](?:_?[01])+/y;
const RE_DEC = /(?:\d(?:_?\d)*(?:\.(?:\d(?:_?\d)*)?)?|\.\d(?:_?\d)*)(?:[eE][+-]?\d(?:_?\d)*)?/y;

const MAX_DEPTH = 100;

/**
 * Parses the code between `%{` and `}%` (`start`/`end` are offsets into the script text, so
 * errors point into the script).
 */
export function parsePython(src: SourceText, start: number, end: number): PyAssert[] {
  return new PyParser(src, tokenizePython(src, start, end)).statements();
}

function tokenizePython(src: SourceText, start: number, end: number): PyToken[] {
  const text = src.text;
  const out: PyToken[] = [];
  const fail = (at: number, reason: string): never => {
    throw new PacketdrillParseError(src.locAt(at), reason, text);
  };
  let depth = 0;
  let i = start;
  while (i < end) {
    const ch = text[i]!;
    if (ch === " " || ch === "\t" || ch === "\r" || ch === "\f") {
      i++;
      continue;
    }
    if (ch === "\\") {
      let j = i + 1;
      if (text[j] === "\r") j++;
      if (j < end && text[j] === "\n") {
        i = j + 1;
        continue;
      }
      fail(i, "expected a line break after '\\', found another character");
    }
    if (ch === "\n") {
      if (depth === 0 && out.length > 0 && out[out.length - 1]!.kind !== "newline") {
        out.push({ kind: "newline", text: "\n", start: i, end: i + 1 });
      }
      i++;
      continue;
    }
    if (ch === "#") {
      const nl = text.indexOf("\n", i);
      i = nl === -1 || nl > end ? end : nl;
      continue;
    }
    const code = text.charCodeAt(i);
    const isDigit = code >= 48 && code <= 57;
    if (isDigit || (ch === "." && /\d/.test(text[i + 1] ?? ""))) {
      let len = 0;
      let value = Number.NaN;
      for (const re of [RE_HEX, RE_OCT, RE_BIN, RE_DEC]) {
        re.lastIndex = i;
        if (re.test(text) && re.lastIndex <= end) {
          len = re.lastIndex - i;
          const lit = text.slice(i, i + len).replace(/_/g, "");
          value =
            re === RE_DEC
              ? Number(lit)
              : Number.parseInt(lit.slice(2), re === RE_HEX ? 16 : re === RE_OCT ? 8 : 2);
          break;
        }
      }
      if (len === 0 || !Number.isFinite(value) || /[A-Za-z0-9_]/.test(text[i + len] ?? "")) {
        let j = i;
        while (j < end && /[A-Za-z0-9_.]/.test(text[j]!)) j++;
        fail(i, `expected a number, found '${text.slice(i, j)}'`);
      }
      out.push({ kind: "num", text: text.slice(i, i + len), start: i, end: i + len, num: value });
      i += len;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      let j = i + 1;
      while (j < end && /[A-Za-z0-9_]/.test(text[j]!)) j++;
      out.push({ kind: "name", text: text.slice(i, j), start: i, end: j });
      i = j;
      continue;
    }
    if (ch === "'" || ch === '"') {
      if (text.startsWith(ch.repeat(3), i)) {
        fail(i, "expected a one-line string, found a triple-quoted string (not supported)");
      }
      let j = i + 1;
      let value = "";
      for (;;) {
        if (j >= end || text[j] === "\n") {
          const found = j >= end ? "end of code block" : "end of line";
          fail(i, `unterminated string: expected a closing ${ch}, found ${found}`);
        }
        const c = text[j]!;
        if (c === ch) break;
        if (c === "\\") {
          const e = text[j + 1] ?? "";
          const simple: Record<string, string> = {
            n: "\n",
            t: "\t",
            r: "\r",
            "0": "\0",
            "\\": "\\",
            "'": "'",
            '"': '"',
          };
          if (e in simple) {
            value += simple[e];
            j += 2;
            continue;
          }
          if (e === "x" && /^[0-9a-fA-F]{2}$/.test(text.slice(j + 2, j + 4))) {
            value += String.fromCharCode(Number.parseInt(text.slice(j + 2, j + 4), 16));
            j += 4;
            continue;
          }
          value += "\\";
          j++;
          continue;
        }
        value += c;
        j++;
      }
      out.push({ kind: "str", text: text.slice(i, j + 1), start: i, end: j + 1, str: value });
      i = j + 1;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (i + 2 <= end && OPS2.has(two)) {
      out.push({ kind: "op", text: two, start: i, end: i + 2 });
      i += 2;
      continue;
    }
    if (OPS1.includes(ch)) {
      if (ch === "(" || ch === "[" || ch === "{") depth++;
      else if ((ch === ")" || ch === "]" || ch === "}") && depth > 0) depth--;
      out.push({ kind: "op", text: ch, start: i, end: i + 1 });
      i++;
      continue;
    }
    fail(i, `expected a Python expression, found '${String.fromCodePoint(text.codePointAt(i)!)}'`);
  }
  out.push({ kind: "eof", text: "", start: end, end });
  return out;
}

const COMPARE_OPS = new Set<string>(["<", "<=", ">", ">=", "==", "!="]);

class PyParser {
  private pos = 0;
  private depth = 0;

  constructor(
    private readonly src: SourceText,
    private readonly toks: readonly PyToken[],
  ) {}

  statements(): PyAssert[] {
    const out: PyAssert[] = [];
    for (;;) {
      while (this.isOp(";") || this.peek().kind === "newline") this.pos++;
      if (this.peek().kind === "eof") return out;
      out.push(this.assertStatement());
      const t = this.peek();
      if (!(t.kind === "eof" || t.kind === "newline" || this.isOp(";"))) {
        this.fail("expected ';' or the end of the line after the assert statement");
      }
    }
  }

  private assertStatement(): PyAssert {
    const t = this.peek();
    if (!(t.kind === "name" && t.text === "assert")) {
      this.fail("expected an assert statement (%{ }% blocks may only hold 'assert test, message')");
    }
    this.pos++;
    const test = this.expr();
    let message: PyExpr | undefined;
    if (this.isOp(",")) {
      this.pos++;
      message = this.expr();
    }
    if (this.isOp("="))
      this.fail("expected an expression, found '=' (assignment is not supported)");
    return { kind: "assert", test, message, loc: this.loc(t) };
  }

  private expr(): PyExpr {
    if (++this.depth > MAX_DEPTH) this.fail("expected a simpler expression: nested too deeply");
    try {
      return this.or();
    } finally {
      this.depth--;
    }
  }

  private or(): PyExpr {
    return this.boolChain("or", () => this.and());
  }

  private and(): PyExpr {
    return this.boolChain("and", () => this.not());
  }

  private boolChain(op: "and" | "or", next: () => PyExpr): PyExpr {
    const first = next();
    if (!this.isName(op)) return first;
    const values = [first];
    while (this.isName(op)) {
      this.pos++;
      values.push(next());
    }
    return { kind: "bool", op, values, loc: first.loc };
  }

  private not(): PyExpr {
    const t = this.peek();
    if (this.isName("not")) {
      this.pos++;
      const operand = this.nested(() => this.not());
      return { kind: "unary", op: "not", operand, loc: this.loc(t) };
    }
    return this.comparison();
  }

  private comparison(): PyExpr {
    const left = this.bitOr();
    const ops: PyCompareOp[] = [];
    const comparators: PyExpr[] = [];
    for (;;) {
      const t = this.peek();
      if (t.kind === "op" && COMPARE_OPS.has(t.text)) {
        this.pos++;
        ops.push(t.text as PyCompareOp);
        comparators.push(this.bitOr());
        continue;
      }
      if (t.kind === "name" && (t.text === "in" || t.text === "is" || t.text === "not")) {
        this.fail(
          `expected a comparison operator (<, <=, >, >=, ==, !=), found '${t.text}' (not supported)`,
        );
      }
      break;
    }
    if (ops.length === 0) return left;
    return { kind: "compare", left, ops, comparators, loc: left.loc };
  }

  private bitOr(): PyExpr {
    return this.binaryLevel(["|"], () => this.bitXor());
  }

  private bitXor(): PyExpr {
    return this.binaryLevel(["^"], () => this.bitAnd());
  }

  private bitAnd(): PyExpr {
    return this.binaryLevel(["&"], () => this.shift());
  }

  private shift(): PyExpr {
    return this.binaryLevel(["<<", ">>"], () => this.arith());
  }

  private arith(): PyExpr {
    return this.binaryLevel(["+", "-"], () => this.term());
  }

  private term(): PyExpr {
    return this.binaryLevel(["*", "/", "//", "%"], () => this.factor());
  }

  private binaryLevel(ops: readonly string[], next: () => PyExpr): PyExpr {
    let left = next();
    for (;;) {
      const t = this.peek();
      if (t.kind !== "op" || !ops.includes(t.text)) return left;
      this.pos++;
      const right = next();
      left = { kind: "binary", op: t.text as PyBinaryOp, left, right, loc: left.loc };
    }
  }

  private factor(): PyExpr {
    const t = this.peek();
    if (t.kind === "op" && (t.text === "-" || t.text === "+" || t.text === "~")) {
      this.pos++;
      const operand = this.nested(() => this.factor());
      return { kind: "unary", op: t.text, operand, loc: this.loc(t) };
    }
    return this.power();
  }

  private power(): PyExpr {
    const base = this.primary();
    if (!this.isOp("**")) return base;
    this.pos++;
    const exp = this.nested(() => this.factor());
    return { kind: "binary", op: "**", left: base, right: exp, loc: base.loc };
  }

  private primary(): PyExpr {
    let e = this.atom();
    for (;;) {
      if (this.isOp(".")) {
        this.pos++;
        const name = this.peek();
        if (name.kind !== "name" || KEYWORDS.has(name.text)) {
          this.fail("expected an attribute name after '.'");
        }
        this.pos++;
        e = { kind: "attr", object: e, name: name.text, loc: e.loc };
        continue;
      }
      if (this.isOp("("))
        this.fail("expected an operator, found '(' (function calls are not supported)");
      if (this.isOp("["))
        this.fail("expected an operator, found '[' (subscripts are not supported)");
      return e;
    }
  }

  private atom(): PyExpr {
    const t = this.peek();
    const loc = this.loc(t);
    if (t.kind === "num") {
      this.pos++;
      return { kind: "num", value: t.num!, loc };
    }
    if (t.kind === "str") {
      let value = "";
      while (this.peek().kind === "str") value += this.toks[this.pos++]!.str!;
      return { kind: "str", value, loc };
    }
    if (t.kind === "name") {
      if (t.text === "True" || t.text === "False" || t.text === "None") {
        this.pos++;
        return { kind: "const", value: t.text === "None" ? null : t.text === "True", loc };
      }
      if (KEYWORDS.has(t.text)) this.fail("expected an expression");
      this.pos++;
      return { kind: "name", id: t.text, loc };
    }
    if (this.isOp("(")) {
      this.pos++;
      if (this.isOp(")")) this.fail("expected an expression, found ')' (tuples are not supported)");
      const inner = this.expr();
      if (this.isOp(",")) this.fail("expected ')', found ',' (tuples are not supported)");
      if (!this.isOp(")")) this.fail("expected ')'");
      this.pos++;
      return inner;
    }
    return this.fail("expected an expression (a number, a name, a string or '(')");
  }

  private nested(f: () => PyExpr): PyExpr {
    if (++this.depth > MAX_DEPTH) this.fail("expected a simpler expression: nested too deeply");
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private peek(): PyToken {
    return this.toks[this.pos]!;
  }

  private isOp(text: string): boolean {
    const t = this.peek();
    return t.kind === "op" && t.text === text;
  }

  private isName(text: string): boolean {
    const t = this.peek();
    return t.kind === "name" && t.text === text;
  }

  private loc(t: PyToken): SourceLocation {
    return this.src.locAt(t.start);
  }

  private fail(expected: string): never {
    const t = this.peek();
    const found =
      t.kind === "eof" ? "end of code block" : t.kind === "newline" ? "end of line" : `'${t.text}'`;
    const reason = /, found /.test(expected) ? expected : `${expected}, found ${found}`;
    throw new PacketdrillParseError(this.loc(t), reason, this.src.text);
  }
}
