/**
 * System call lines: `+0...0.200 accept(3, ..., ...) = 4`,
 * `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`, and their expressions
 * (`[1]`, `O_RDWR|O_NONBLOCK`, `{sa_family=AF_INET, sin_port=htons(8080), …}`).
 * @see packetdrill gtests/net/packetdrill/parser.y syscall_spec, expression
 * @packageDocumentation
 */
import {
  type CallExpr,
  EXPR_FUNCTIONS,
  KNOWN_SYSCALLS,
  type SourceLocation,
  type Syscall,
  type SyscallExpr,
  type TimeSpec,
} from "./ast.js";
import type { TokenCursor } from "./cursor.js";
import { formatSeconds } from "./format.js";
import type { Token } from "./lexer.js";
import { PacketdrillParseError } from "./source.js";

const SYSCALLS = new Set(KNOWN_SYSCALLS);
const FUNCTIONS = new Set(EXPR_FUNCTIONS);

/** Parses a system call after its event time (`time`); the cursor is on `...` or the name. */
export function parseSyscall(c: TokenCursor, time: TimeSpec): Syscall {
  let endUs: number | undefined;
  if (c.peek().kind === "ellipsis") {
    const dots = c.next();
    endUs = c.seconds();
    const startUs = time.kind === "absolute" || time.kind === "relative" ? time.us : 0;
    if (endUs < startUs) {
      c.failAt(
        dots,
        `expected a blocking call's end time at or after its start ${formatSeconds(startUs)}, found ${formatSeconds(endUs)}`,
      );
    }
  }
  const nameTok = c.peek();
  if (nameTok.kind !== "word") {
    return c.fail(
      endUs === undefined
        ? "expected a system call name"
        : "expected a system call after the end time (only system calls block)",
    );
  }
  if (!SYSCALLS.has(nameTok.value)) {
    c.fail(`expected a system call (${[...SYSCALLS].slice(0, 6).join(", ")}, …)`);
  }
  c.pos++;
  c.expectPunct("(", `expected '(' after ${nameTok.value}`);
  const args = exprList(c, ")", "argument list");
  if (!c.isPunct("=")) {
    c.fail(`expected '=' and the expected result after ${nameTok.value}(...)`);
  }
  c.pos++;
  const result = expr(c);
  let errno: Syscall["errno"];
  if (c.sameLine() && c.peek().kind === "word") {
    if (!/^E[A-Z0-9]+$/.test(c.peek().value)) {
      c.fail("expected an errno name (like EAGAIN), a (note) or the end of the system call");
    }
    const name = c.next().value;
    errno = { name, strerror: c.sameLine() && c.isPunct("(") ? parseNote(c) : undefined };
  }
  const note = c.sameLine() && c.isPunct("(") ? parseNote(c) : undefined;
  return { name: nameTok.value, args, endUs, result, errno, note };
}

/** `(Operation now in progress)`: one or more words. */
function parseNote(c: TokenCursor): string {
  c.pos++; // (
  const words: string[] = [];
  while (c.peek().kind === "word") words.push(c.next().value);
  if (words.length === 0) c.fail("expected a word in the (note)");
  c.expectPunct(")", "expected a word or ')' in the (note)");
  return words.join(" ");
}

/** `expression_list` up to `close`; the opener is already consumed. */
function exprList(c: TokenCursor, close: string, what: string): SyscallExpr[] {
  const out: SyscallExpr[] = [];
  if (c.isPunct(close)) {
    c.pos++;
    return out;
  }
  for (;;) {
    out.push(expr(c));
    if (c.isPunct(",")) {
      c.pos++;
      continue;
    }
    if (c.isPunct(close)) {
      c.pos++;
      return out;
    }
    c.fail(`expected ',' or '${close}' in the ${what}`);
  }
}

/** `expression` with `binary_expression: expression '|' expression`, left to right. */
function expr(c: TokenCursor): SyscallExpr {
  return c.nested(() => {
    let left = primary(c);
    while (c.isPunct("|")) {
      c.pos++;
      const right = primary(c);
      left = { kind: "binary", op: "|", left, right, loc: left.loc };
    }
    return left;
  });
}

/**
 * One expression: `...`, integers, symbols, strings, `WORD '=' expression`, `[ ]`, `{ }` and the
 * call-like forms (`htons(8080)`, `inet_addr("…")`, `msg_iov(1)=[…]`).
 */
function primary(c: TokenCursor): SyscallExpr {
  const t = c.peek();
  const loc = c.loc(t);
  switch (t.kind) {
    case "ellipsis":
      c.pos++;
      return { kind: "ellipsis", loc };
    case "int":
    case "hex": {
      const value = t.kind === "hex" ? Number.parseInt(t.text.slice(2), 16) : Number(t.text);
      if (!Number.isSafeInteger(value)) c.fail("expected an integer that fits in 2^53");
      c.pos++;
      return { kind: "int", value, hex: t.kind === "hex", loc };
    }
    case "string": {
      let value = "";
      while (c.peek().kind === "string") value += c.next().value;
      const ellipsis = c.peek().kind === "ellipsis";
      if (ellipsis) c.pos++;
      return { kind: "string", value, ellipsis, loc };
    }
    case "word": {
      c.pos++;
      let target: CallExpr | { kind: "word"; name: string; loc: SourceLocation } = {
        kind: "word",
        name: t.value,
        loc,
      };
      if (c.isPunct("(")) {
        if (!FUNCTIONS.has(t.value)) {
          c.pos--;
          c.fail(
            `expected a symbol or one of ${EXPR_FUNCTIONS.map((f) => `${f}()`).join(", ")}, found '${t.value}('`,
          );
        }
        c.pos++;
        const args = exprList(c, ")", `arguments of ${t.value}()`);
        checkCall(c, t, args);
        target = { kind: "call", name: t.value, args, loc };
      }
      if (c.isPunct("=")) {
        c.pos++;
        return { kind: "assign", target, value: expr(c), loc };
      }
      return target;
    }
    case "punct":
      if (t.value === "[") {
        c.pos++;
        return { kind: "array", elements: exprList(c, "]", "array"), loc };
      }
      if (t.value === "{") {
        c.pos++;
        return { kind: "struct", elements: exprList(c, "}", "struct"), loc };
      }
      break;
    case "float":
      return c.fail("expected an integer (system call values are integers)");
    default:
      break;
  }
  return c.fail('expected an expression (a number, a symbol, a "string", ..., [ ] or { })');
}

/** The argument shapes packetdrill's grammar gives these call forms. */
function checkCall(c: TokenCursor, t: Token, args: readonly SyscallExpr[]): void {
  const want: Record<string, [SyscallExpr["kind"], string]> = {
    htons: ["int", "a port number"],
    inet_addr: ["string", 'an IPv4 address string like "192.0.2.1"'],
    inet6_addr: ["string", 'an IPv6 address string like "2001:db8::1"'],
    msg_name: ["ellipsis", "..."],
    msg_iov: ["int", "the number of iovecs"],
  };
  const [kind, what] = want[t.value]!;
  if (args.length !== 1 || args[0]!.kind !== kind) {
    const at = args[0]?.loc ?? c.loc(t);
    throw new PacketdrillParseError(
      at,
      `expected ${t.value}() to take one argument, ${what}`,
      c.src.text,
    );
  }
}
