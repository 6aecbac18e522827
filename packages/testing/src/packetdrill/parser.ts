/**
 * A hand-written recursive-descent parser for packetdrill scripts, following the grammar in
 * packetdrill's `parser.y` (see `syntax.md`) and the checks its actions make (sequence numbers
 * agree with payload lengths, values fit their fields, `*` and time ranges only for outbound
 * packets, `<...>` only for outbound packets, time never goes backwards, the first event is at 0).
 *
 * This file holds the script's structure (options, init command, events, cleanup command) and
 * event times; `packet_parser.ts` and `syscall_parser.ts` parse what follows a time.
 *
 * Every failure is a {@link PacketdrillParseError} pointing at the offending token. When a line
 * ends early (`+0 close(3)` with no `= 0`) the caret goes just past the line's last token and
 * the message says "found end of line".
 * @see packetdrill gtests/net/packetdrill/parser.y
 * @packageDocumentation
 */
import type {
  CodeBlock,
  Script,
  ScriptEvent,
  ScriptOption,
  ShellCommand,
  TimeSpec,
} from "./ast.js";
import { TokenCursor } from "./cursor.js";
import { applyScriptOptions, checkScriptOption } from "./flags.js";
import { formatSeconds } from "./format.js";
import { describeToken, type Token, tokenize } from "./lexer.js";
import { parsePacketLine } from "./packet_parser.js";
import { parsePython } from "./python.js";
import { parseShellCommand } from "./shell.js";
import { SourceText } from "./source.js";
import { parseSyscall } from "./syscall_parser.js";

export { PacketdrillParseError } from "./source.js";

/** What a caller may add to a script. */
export interface ParseOptions {
  /**
   * Symbols from the command line (`-D SYM=value`); they override the script's own
   * `--define=SYM=value` lines, as in packetdrill.
   */
  readonly defines?: Readonly<Record<string, string>>;
}

/**
 * Parses a packetdrill script.
 * @param text the script
 * @param file the name used in locations and error messages
 * @throws PacketdrillParseError `file:line:column: expected …, found …` plus the line and a caret
 */
export function parseScript(text: string, file = "<script>", options: ParseOptions = {}): Script {
  const src = new SourceText(text, file);
  return new Parser(new TokenCursor(src, tokenize(src)), options).script();
}

class Parser {
  constructor(
    private readonly c: TokenCursor,
    private readonly options: ParseOptions,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Script structure

  script(): Script {
    const options: ScriptOption[] = [];
    while (this.c.peek().kind === "option") {
      const t = this.c.next();
      const option: ScriptOption = { name: t.value, value: t.optionValue, loc: this.c.loc(t) };
      const why = checkScriptOption(option);
      if (why !== undefined) this.c.failAt(t, why);
      options.push(option);
    }
    this.c.applyDefines({ ...applyScriptOptions(options).defines, ...this.options.defines });
    const init = this.c.peek().kind === "backquote" ? this.command(this.c.next()) : undefined;
    const events: ScriptEvent[] = [];
    let cleanup: ShellCommand | undefined;
    while (this.c.peek().kind !== "eof") {
      const t = this.c.peek();
      if (t.kind === "backquote" && events.length > 0) {
        this.c.pos++;
        if (this.c.peek().kind !== "eof") {
          this.c.failAt(
            t,
            `expected an event time before ${describeToken(t)} (only the first and the last command of a script may be untimed)`,
          );
        }
        cleanup = this.command(t);
        break;
      }
      if (t.kind === "option") {
        this.c.failAt(t, `expected an event, found ${describeToken(t)} (options must come first)`);
      }
      events.push(this.event(events[events.length - 1]));
    }
    if (events.length === 0) this.c.fail("expected at least one event");
    return { file: this.c.src.file, text: this.c.src.text, options, init, events, cleanup };
  }

  private event(prev: ScriptEvent | undefined): ScriptEvent {
    const first = this.c.peek();
    const time = this.eventTime();
    this.c.inEvent = true;
    const t = this.c.peek();
    let event: ScriptEvent;
    const base = { time, loc: this.c.loc(first), source: "" };
    if (this.c.isPunct("<") || this.c.isPunct(">")) {
      event = { ...base, kind: "packet", packet: parsePacketLine(this.c) };
    } else if (t.kind === "backquote") {
      event = { ...base, kind: "command", command: this.command(this.c.next()) };
    } else if (t.kind === "code") {
      event = { ...base, kind: "code", code: this.code(this.c.next()) };
    } else if (t.kind === "ellipsis" || t.kind === "word") {
      event = { ...base, kind: "syscall", syscall: parseSyscall(this.c, time) };
    } else {
      return this.c.fail(
        "expected a packet ('<' or '>'), a system call, a `command` or a %{ code }% block after the event time",
      );
    }
    this.endOfEvent(event);
    this.c.inEvent = false;
    this.checkEventTime(event, first, prev);
    const source = this.c.src.text.slice(first.start, this.c.prev().end);
    return { ...event, source };
  }

  /** The next token must start another event (or be the cleanup command, or the end). */
  private endOfEvent(event: ScriptEvent): void {
    const t = this.c.peek();
    const prevEnd = this.c.prev().end;
    if (this.c.lineOf(t.start) !== this.c.lineOf(prevEnd) || t.kind === "eof") return;
    if (t.kind === "backquote" || this.isEventStart(t)) return;
    const what =
      event.kind === "packet"
        ? event.packet.protocol === "tcp"
          ? "the end of the packet (ack N, win N, urg N and <options> come in that order)"
          : "the end of the packet"
        : event.kind === "syscall"
          ? "the end of the system call (after '= result', only an errno and a (note) may follow)"
          : `the end of the ${event.kind === "code" ? "code block" : "command"} event`;
    this.c.fail(`expected ${what}`);
  }

  private isEventStart(t: Token): boolean {
    return (
      t.kind === "int" ||
      t.kind === "float" ||
      (t.kind === "punct" && (t.value === "+" || t.value === "*"))
    );
  }

  private checkEventTime(event: ScriptEvent, first: Token, prev: ScriptEvent | undefined): void {
    const { time } = event;
    const outbound = event.kind === "packet" && event.packet.direction === "outbound";
    if ((time.kind === "any" || time.kind === "range") && !outbound) {
      const what = time.kind === "any" ? "'*'" : "a time range";
      this.c.failAt(
        first,
        `expected an outbound packet ('>') after ${what}: ${what} may only time outbound packets`,
      );
    }
    const start = time.kind === "range" ? time.startUs : time.kind === "any" ? 0 : time.us;
    if (prev === undefined) {
      if (start !== 0) {
        this.c.failAt(first, `expected the first event at time 0, found ${formatSeconds(start)}`);
      }
      return;
    }
    const absolute = (t: TimeSpec) => t.kind === "absolute" || (t.kind === "range" && !t.relative);
    if (absolute(time) && absolute(prev.time)) {
      const p = prev.time;
      const prevStart = p.kind === "range" ? p.startUs : p.kind === "absolute" ? p.us : 0;
      if (start < prevStart) {
        this.c.failAt(
          first,
          `expected a time at or after the previous event's ${formatSeconds(prevStart)}, found ${formatSeconds(start)} (time goes backwards)`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Times

  private eventTime(): TimeSpec {
    const first = this.c.peek();
    if (this.c.isPunct("*")) {
      this.c.pos++;
      return { kind: "any" };
    }
    if (this.c.isPunct("+")) {
      this.c.pos++;
      const start = this.c.seconds();
      if (!this.c.isPunct("~")) return { kind: "relative", us: start };
      this.c.pos++;
      if (!this.c.isPunct("+")) {
        this.c.fail("expected '+' after '~' (both ends of a relative time range are relative)");
      }
      this.c.pos++;
      const end = this.c.seconds();
      this.checkRange(first, start, end, "+");
      return { kind: "range", relative: true, startUs: start, endUs: end };
    }
    const t = this.c.peek();
    if (t.kind === "int" || t.kind === "float") {
      const start = this.c.seconds();
      if (!this.c.isPunct("~")) return { kind: "absolute", us: start };
      this.c.pos++;
      if (this.c.isPunct("+")) {
        this.c.fail("expected an absolute time after '~' (both ends of a time range are alike)");
      }
      const end = this.c.seconds();
      this.checkRange(first, start, end, "");
      return { kind: "range", relative: false, startUs: start, endUs: end };
    }
    return this.c.fail("expected an event time (like 0, 0.100, +.1, +.3~+.310 or *)");
  }

  private checkRange(first: Token, start: number, end: number, sign: string): void {
    if (end < start) {
      this.c.failAt(
        first,
        `expected a time range that ends at or after its start, found ${sign}${formatSeconds(start)}~${sign}${formatSeconds(end)}`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // Commands and code

  private command(t: Token): ShellCommand {
    return { text: t.value, steps: parseShellCommand(t.value), loc: this.c.loc(t) };
  }

  private code(t: Token): CodeBlock {
    return { text: t.value, statements: parsePython(this.c.src, t.start + 2, t.end - 2) };
  }
}
