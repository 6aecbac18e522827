/**
 * A cursor over the token list with the helpers every part of the parser uses, and the rule for
 * where an error points: at the offending token, or, inside an event whose line ended early,
 * just past the line's last token ("found end of line").
 * @packageDocumentation
 */
import type { SourceLocation } from "./ast.js";
import { describeToken, type Token } from "./lexer.js";
import { PacketdrillParseError, type SourceText } from "./source.js";

const MAX_DEPTH = 100;

/** Token position plus error reporting; shared by the script, packet and syscall parsers. */
export class TokenCursor {
  pos = 0;
  /** True while inside an event: a token on a later line then reads as "end of line". */
  inEvent = false;
  private depth = 0;

  constructor(
    readonly src: SourceText,
    private toks: readonly Token[],
  ) {}

  /**
   * Replaces every later word that names a `--define`d symbol by its value, as packetdrill's
   * lexer does: `"x"` becomes a string, `` `x` `` a command, anything else a word. The
   * replacement keeps the word's position, so errors still point at the script.
   */
  applyDefines(defines: Readonly<Record<string, string>>): void {
    if (Object.keys(defines).length === 0) return;
    this.toks = this.toks.map((t, i) => {
      if (i < this.pos || t.kind !== "word" || !Object.hasOwn(defines, t.value)) return t;
      const v = defines[t.value]!;
      const quoted = v.length >= 2 && (v[0] === '"' || v[0] === "`") && v.at(-1) === v[0];
      if (!quoted) return { ...t, value: v };
      return { ...t, kind: v[0] === '"' ? "string" : "backquote", value: v.slice(1, -1) };
    });
  }

  /** The token before the current one. */
  prev(): Token {
    return this.toks[this.pos - 1]!;
  }

  /** A time in seconds (`1`, `0.100`, `.1`), as exact microseconds. */
  seconds(): number {
    const t = this.peek();
    if (t.kind !== "int" && t.kind !== "float") {
      return this.fail("expected a time in seconds (like 0.100 or .1)");
    }
    if (t.text.startsWith("-")) this.fail("expected a non-negative time");
    const m = /^(\d*)(?:\.(\d+))?$/.exec(t.text)!;
    const us = Number(m[1] || "0") * 1_000_000 + Number(`${m[2] ?? ""}000000`.slice(0, 6));
    if (!Number.isSafeInteger(us)) this.fail("expected a time that fits in 2^53 microseconds");
    this.pos++;
    return us;
  }

  /** Runs `f` one nesting level deeper, failing past a sane depth (no stack overflows). */
  nested<T>(f: () => T): T {
    if (++this.depth > MAX_DEPTH) this.fail("expected a simpler expression: nested too deeply");
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  /**
   * Whether the current token is on the line where the previous one ends. Optional trailing
   * parts of a line (`ack N`, `<options>`, an errno) are only read from the same line, so a
   * line that lost its time reads as a missing time, not as a stray option list.
   */
  sameLine(): boolean {
    const t = this.peek();
    return t.kind !== "eof" && this.lineOf(t.start) === this.lineOf(this.prev().end);
  }

  /** The current token. */
  peek(): Token {
    return this.toks[this.pos]!;
  }

  /** The current token; moves past it. */
  next(): Token {
    return this.toks[this.pos++]!;
  }

  /** Whether the current token is the punctuation `value`. */
  isPunct(value: string): boolean {
    const t = this.peek();
    return t.kind === "punct" && t.value === value;
  }

  /** Whether the current token is the word `value`. */
  isWord(value: string): boolean {
    const t = this.peek();
    return t.kind === "word" && t.value === value;
  }

  /** Moves past the punctuation `value`, or fails with `expected`. */
  expectPunct(value: string, expected: string): void {
    if (!this.isPunct(value)) this.fail(expected);
    this.pos++;
  }

  /** A non-negative decimal integer no larger than `max`. */
  uint(max: number, what: string): number {
    const t = this.peek();
    if (t.kind !== "int") return this.fail(`expected ${what}`);
    const n = Number(t.text);
    if (!(n >= 0 && n <= max)) this.fail(`expected ${what}`);
    this.pos++;
    return n;
  }

  /** A `0x…` integer no larger than `max`. */
  hexValue(max: number, what: string): number {
    const t = this.peek();
    if (t.kind !== "hex") return this.fail(`expected ${what}`);
    const n = Number.parseInt(t.text.slice(2), 16);
    if (!(n <= max)) this.fail(`expected ${what}`);
    this.pos++;
    return n;
  }

  /** Where `t` starts. */
  loc(t: Token): SourceLocation {
    return this.src.locAt(t.start);
  }

  /** The 1-based line of an offset. */
  lineOf(offset: number): number {
    return this.src.locAt(offset).line;
  }

  /** Fails at the current token; `expected` may already say what was found. */
  fail(expected: string): never {
    const t = this.peek();
    const prev = this.pos > 0 ? this.toks[this.pos - 1] : undefined;
    if (this.inEvent && prev !== undefined && this.lineOf(t.start) !== this.lineOf(prev.end)) {
      const found = t.kind === "eof" ? "end of file" : "end of line";
      throw new PacketdrillParseError(
        this.src.locAt(prev.end),
        withFound(expected, found),
        this.src.text,
      );
    }
    return this.failAt(t, withFound(expected, describeToken(t)));
  }

  /** Fails at `t` with exactly `reason`. */
  failAt(t: Token, reason: string): never {
    throw new PacketdrillParseError(this.loc(t), reason, this.src.text);
  }
}

function withFound(expected: string, found: string): string {
  return /, found /.test(expected) ? expected : `${expected}, found ${found}`;
}
