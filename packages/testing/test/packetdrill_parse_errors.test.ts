import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PacketdrillParseError, parseScript } from "../src/packetdrill/parser.js";

const SOCKET = "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n";

function parseError(text: string): PacketdrillParseError {
  try {
    parseScript(text, "bad.pkt");
  } catch (e) {
    if (e instanceof PacketdrillParseError) return e;
    throw e;
  }
  throw new Error(`expected a parse error for ${JSON.stringify(text)}`);
}

/** [what is wrong, script, line, column, the reason (start of it)] */
const BAD: ReadonlyArray<readonly [string, string, number, number, string]> = [
  [
    "an unknown TCP flag letter",
    `${SOCKET}+0 < SX 0:0(0) win 1000\n`,
    2,
    7,
    "expected a TCP flag (F, S, R, P, U, E, W, A or .), found 'X' in 'SX'",
  ],
  [
    "an unterminated TCP option list",
    `${SOCKET}+0 < S 0:0(0) win 1000 <mss 1460,nop\n+0 > S. 0:0(0) ack 1\n`,
    2,
    37,
    "expected ',' or '>' in the TCP option list, found end of line",
  ],
  [
    "an unknown TCP option",
    `${SOCKET}+0 < S 0:0(0) win 1000 <mss 1460,foo 3>\n`,
    2,
    34,
    "expected a TCP option (nop, eol, mss, wscale, sackOK, sack, TS, md5, FO or FOEXP), found 'foo'",
  ],
  [
    "a TS option without ecr",
    `${SOCKET}+0 > S. 0:0(0) ack 1 <mss 1460,TS val 1>\n`,
    2,
    40,
    "expected 'ecr' after the TS val (TS val N ecr N), found '>'",
  ],
  [
    "a bad relative time",
    `${SOCKET}+x close(3) = 0\n`,
    2,
    2,
    "expected a time in seconds (like 0.100 or .1), found 'x'",
  ],
  [
    "a negative time",
    `${SOCKET}-1 close(3) = 0\n`,
    2,
    1,
    "expected a non-negative time, found '-1'",
  ],
  [
    "a hex time",
    `${SOCKET}0x10 close(3) = 0\n`,
    2,
    1,
    "expected an event time (like 0, 0.100, +.1, +.3~+.310 or *), found '0x10'",
  ],
  [
    "a missing time",
    `${SOCKET}bind(3, ..., ...) = 0\n`,
    2,
    1,
    "expected an event time (like 0, 0.100, +.1, +.3~+.310 or *), found 'bind'",
  ],
  [
    "a packet line that lost its time",
    `${SOCKET}+0 < S 0:0(0)\n< . 1:1(0) ack 1 win 257\n`,
    3,
    1,
    "expected an event time (like 0, 0.100, +.1, +.3~+.310 or *), found '<'",
  ],
  [
    "a system call without '= result'",
    `${SOCKET}+0 close(3)\n+0 close(4) = 0\n`,
    2,
    12,
    "expected '=' and the expected result after close(...), found end of line",
  ],
  [
    "an unterminated %{ block",
    `${SOCKET}+0 %{ assert tcpi_snd_cwnd == 10\n+0 close(3) = 0\n`,
    2,
    4,
    "unterminated %{ code block: expected }%, found end of file",
  ],
  [
    "an unknown script option",
    `--tolerance_usec=5\n${SOCKET}`,
    1,
    1,
    "expected a packetdrill option (like --tolerance_usecs), found unknown option --tolerance_usec",
  ],
  [
    "a bad script option value",
    `--tolerance_usecs=abc\n${SOCKET}`,
    1,
    1,
    "expected a positive number of microseconds for --tolerance_usecs, found 'abc'",
  ],
  [
    "an option after the first event",
    `${SOCKET}--strict_segments\n`,
    2,
    1,
    "expected an event, found option --strict_segments (options must come first)",
  ],
  [
    "a sequence range that disagrees with its length",
    `${SOCKET}+0 < P. 1:10(5) ack 1 win 100\n`,
    2,
    9,
    "expected the end sequence number to be start + length = 6, found 1:10(5)",
  ],
  [
    "<...> on an inbound packet",
    `${SOCKET}+0 < S 0:0(0) win 100 <...>\n`,
    2,
    24,
    "expected TCP options: <...> (skip the check) is only allowed for outbound packets, found '...'",
  ],
  [
    "[ect01] on an inbound packet",
    `${SOCKET}+0 < [ect01] S 0:0(0)\n`,
    2,
    7,
    "expected an outbound packet for [ect01] (it matches either ECT codepoint), found 'ect01'",
  ],
  [
    "'*' on a system call",
    `${SOCKET}* close(3) = 0\n`,
    2,
    1,
    "expected an outbound packet ('>') after '*': '*' may only time outbound packets",
  ],
  [
    "a backwards time range",
    `${SOCKET}+.4~+.3 > . 1:1(0) ack 1\n`,
    2,
    1,
    "expected a time range that ends at or after its start, found +0.4~+0.3",
  ],
  [
    "a range mixing relative and absolute times",
    `${SOCKET}+.3~.4 > . 1:1(0) ack 1\n`,
    2,
    5,
    "expected '+' after '~' (both ends of a relative time range are relative), found '.4'",
  ],
  [
    "a blocking call that ends before it starts",
    `${SOCKET}+.2...0.1 accept(3, ..., ...) = 4\n`,
    2,
    4,
    "expected a blocking call's end time at or after its start 0.2, found 0.1",
  ],
  [
    "an end time on a packet",
    `${SOCKET}+0...0.1 > . 1:1(0) ack 1\n`,
    2,
    10,
    "expected a system call after the end time (only system calls block), found '>'",
  ],
  [
    "a misspelt system call",
    `${SOCKET}+0 acept(3, ..., ...) = 4\n`,
    2,
    4,
    "expected a system call (socket, bind, listen, accept, connect, read, …), found 'acept'",
  ],
  [
    "a window that does not fit 16 bits",
    `${SOCKET}+0 < . 1:1(0) ack 1 win 70000\n`,
    2,
    25,
    "expected a window from 0 to 65535, found '70000'",
  ],
  [
    "fields out of order",
    `${SOCKET}+0 < . 1:1(0) win 257 ack 1\n`,
    2,
    23,
    "expected the end of the packet (ack N, win N, urg N and <options> come in that order), found 'ack'",
  ],
  [
    "an unterminated string",
    `${SOCKET}+0 write(3, "abc, 3) = 3\n`,
    2,
    13,
    'unterminated string: expected a closing ", found end of file',
  ],
  [
    "an unterminated command",
    `${SOCKET}+0 \`sysctl -q x=1\n`,
    2,
    4,
    "unterminated `command`: expected a closing `, found end of file",
  ],
  [
    "an unterminated comment",
    `${SOCKET}/* never closed\n`,
    2,
    1,
    "unterminated /* comment: expected */, found end of file",
  ],
  [
    "a first event that is not at 0",
    "+.1 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3\n",
    1,
    1,
    "expected the first event at time 0, found 0.1",
  ],
  [
    "time going backwards",
    `${SOCKET}0.2 close(3) = 0\n0.1 close(4) = 0\n`,
    3,
    1,
    "expected a time at or after the previous event's 0.2, found 0.1 (time goes backwards)",
  ],
  [
    "an unterminated note",
    `${SOCKET}+0 write(3, ..., 1) = -1 EPIPE (Broken pipe\n+0 close(3) = 0\n`,
    2,
    44,
    "expected a word or ')' in the (note), found end of line",
  ],
  [
    "punctuation in a note",
    `${SOCKET}+0 fcntl(3, F_GETFL) = 0x802 (flags O_RDWR|O_NONBLOCK)\n`,
    2,
    43,
    "expected a word or ')' in the (note), found '|'",
  ],
  [
    "trailing junk after a system call",
    `${SOCKET}+0 close(3) = 0 garbage\n`,
    2,
    17,
    "expected an errno name (like EAGAIN), a (note) or the end of the system call, found 'garbage'",
  ],
  [
    "an unknown function in an argument",
    `${SOCKET}+0 setsockopt(3, SOL_SOCKET, foo(1), [1], 4) = 0\n`,
    2,
    30,
    "expected a symbol or one of htons(), inet_addr(), inet6_addr(), msg_name(), msg_iov(), found 'foo('",
  ],
  [
    "a float argument",
    `${SOCKET}+0 write(3, ..., 1.5) = 1\n`,
    2,
    18,
    "expected an integer (system call values are integers), found '1.5'",
  ],
  [
    "an unsupported encapsulation prefix",
    `${SOCKET}+0 < ipv4 192.0.2.1 > 192.168.0.1: S 0:0(0)\n`,
    2,
    6,
    "expected a TCP, UDP or ICMP packet (encapsulation prefixes are not supported), found 'ipv4'",
  ],
  [
    "an MD5 option with a short digest",
    `${SOCKET}+0 > S 0:0(0) <md5 abc>\n`,
    2,
    20,
    "expected an MD5 digest of 32 hex digits, found 'abc'",
  ],
  [
    "a script without events",
    "// nothing here\n",
    2,
    1,
    "expected at least one event, found end of file",
  ],
  [
    "an assignment in a code block",
    `${SOCKET}+0 %{ assert x = 1 }%\n`,
    2,
    16,
    "expected an expression, found '=' (assignment is not supported)",
  ],
  [
    "a statement other than assert in a code block",
    `${SOCKET}+0 %{\nassert x == 1\nprint(x)\n}%\n`,
    4,
    1,
    "expected an assert statement (%{ }% blocks may only hold 'assert test, message'), found 'print'",
  ],
  [
    "a function call in a code block",
    `${SOCKET}+0 %{ assert len(x) == 1 }%\n`,
    2,
    17,
    "expected an operator, found '(' (function calls are not supported)",
  ],
  [
    "'in' in a code block",
    `${SOCKET}+0 %{ assert x in y }%\n`,
    2,
    16,
    "expected a comparison operator (<, <=, >, >=, ==, !=), found 'in' (not supported)",
  ],
  [
    "an unterminated Python string",
    `${SOCKET}+0 %{ assert x, 'oops }%\n`,
    2,
    17,
    "unterminated string: expected a closing ', found end of code block",
  ],
  [
    "a dangling operator in a code block",
    `${SOCKET}+0 %{ assert x == }%\n`,
    2,
    19,
    "expected an expression (a number, a name, a string or '('), found end of code block",
  ],
];

describe("a bad script", () => {
  it.each(BAD)("with %s fails at the right place", (_what, text, line, column, reason) => {
    const e = parseError(text);
    expect(e).toBeInstanceOf(PacketdrillParseError);
    expect(e.code).toBe("ERR_PACKETDRILL_PARSE");
    expect({ line: e.line, column: e.column, file: e.file }).toEqual({
      line,
      column,
      file: "bad.pkt",
    });
    expect(e.reason).toBe(reason);
  });

  it.each(BAD)(
    "with %s quotes the line and puts a caret under the column",
    (_what, text, line, column) => {
      const e = parseError(text);
      const [head, source, caret] = e.message.split("\n");
      expect(head).toBe(`bad.pkt:${line}:${column}: ${e.reason}`);
      expect(source).toBe(text.split("\n")[line - 1]);
      expect(e.sourceLine).toBe(source);
      expect(caret).toBe(`${" ".repeat(column - 1)}^`);
    },
  );

  it("keeps tabs in the caret line so the caret lines up", () => {
    const e = parseError(`${SOCKET}\t+0\t<\tSX 0:0(0)\n`);
    expect(e.column).toBe(8);
    expect(e.message.split("\n").slice(1)).toEqual(["\t+0\t<\tSX 0:0(0)", "\t  \t \t ^"]);
  });

  it("stays a parse error, not a stack overflow, for deeply nested input", () => {
    const deep = 5000;
    expect(parseError(`0 close(${"[".repeat(deep)}) = 0\n`).reason).toMatch(/nested too deeply/);
    expect(parseError(`0 %{ assert ${"(".repeat(deep)}x }%\n`).reason).toMatch(/nested too deeply/);
    expect(parseError(`0 %{ assert ${"-".repeat(deep)}x }%\n`).reason).toMatch(/nested too deeply/);
    expect(parseError(`0 %{ assert ${"not ".repeat(deep)}x }%\n`).reason).toMatch(
      /nested too deeply/,
    );
  });

  it("refuses numbers too large to hold exactly", () => {
    expect(parseError("0 close(99999999999999999999) = 0\n").reason).toMatch(/fits in 2\^53/);
    expect(parseError("99999999999999 close(3) = 0\n").reason).toMatch(/fits in 2\^53/);
  });
});

/** Fragments of real scripts, to build junk that gets deep into the parser. */
const FRAGMENTS = [
  "0",
  "+0",
  "+.1",
  "0.100",
  "~",
  "*",
  "...",
  "<",
  ">",
  "S",
  "S.",
  ".",
  "P.",
  "-",
  "1:1(0)",
  "0:0(0)",
  "1:1001(1000)",
  "ack",
  "1",
  "win",
  "257",
  "<mss 1460,nop,wscale 7>",
  "<...>",
  "<sack 1:2 3:4,nop>",
  "TS val 1 ecr 0",
  "socket(..., SOCK_STREAM, IPPROTO_TCP)",
  "accept(3, ..., ...)",
  "=",
  "-1",
  "EAGAIN",
  "(Resource temporarily unavailable)",
  "[1]",
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  ",",
  "|",
  '"str"',
  "`sysctl -q net.ipv4.tcp_sack=0`",
  "%{ assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd }%",
  "%{",
  "}%",
  "assert",
  "--tolerance_usecs=1000",
  "--strict_segments",
  "//",
  "/*",
  "*/",
  "\n",
  "\t",
  "0x2",
  "[ect0]",
  "udp",
  "icmp",
  "(10)",
  "htons(8080)",
  "inet_addr(",
];

describe("the parser on junk input", () => {
  const onlyParseErrors = (text: string): void => {
    try {
      parseScript(text, "junk.pkt");
    } catch (e) {
      if (!(e instanceof PacketdrillParseError)) throw e;
      expect(e.line).toBeGreaterThanOrEqual(1);
      expect(e.column).toBeGreaterThanOrEqual(1);
    }
  };

  it("throws nothing but PacketdrillParseError for random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 200 }), onlyParseErrors), { numRuns: 2000 });
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 100 }), onlyParseErrors), {
      numRuns: 500,
    });
  });

  it("throws nothing but PacketdrillParseError for shuffled script fragments", () => {
    const soup = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 40 }).chain((parts) =>
      fc
        .array(fc.constantFrom(" ", "", "\n"), {
          minLength: parts.length,
          maxLength: parts.length,
        })
        .map((seps) => parts.map((p, i) => p + seps[i]).join("")),
    );
    fc.assert(fc.property(soup, onlyParseErrors), { numRuns: 3000 });
  });

  it("throws nothing but PacketdrillParseError for mutated real lines", () => {
    const base =
      `${SOCKET}+0 < S 0:0(0) win 32792 <mss 1000,sackOK,nop,nop,nop,wscale 7>\n` +
      "+0 > S. 0:0(0) ack 1 <mss 1460,nop,nop,sackOK,nop,wscale 8>\n" +
      "+.1...0.2 accept(3, ..., ...) = 4\n" +
      "+0 %{ assert 990 <= tcpi_last_data_recv <= 1010, 'v=%d' % v }%\n";
    const mutated = fc
      .tuple(fc.nat({ max: base.length }), fc.nat({ max: 5 }), fc.string({ maxLength: 4 }))
      .map(([at, del, ins]) => base.slice(0, at) + ins + base.slice(at + del));
    fc.assert(fc.property(mutated, onlyParseErrors), { numRuns: 3000 });
  });
});
