import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type {
  IcmpPacket,
  Packet,
  PyExpr,
  ScriptEvent,
  SyscallEvent,
  SyscallExpr,
  TcpOptionSpec,
  TcpPacket,
  UdpPacket,
} from "../src/packetdrill/ast.js";
import { TcpFlag } from "../src/packetdrill/ast.js";
import {
  formatEvent,
  formatExpr,
  formatPacket,
  formatPyExpr,
  formatScript,
  formatTcpFlags,
} from "../src/packetdrill/format.js";
import { parseScript } from "../src/packetdrill/parser.js";

// Each test names the syntax.md rule it exercises.

/** The last event of a script (earlier lines set the stage). */
function last(text: string): ScriptEvent {
  return parseScript(text, "t.pkt").events.at(-1)!;
}

/** A single event at time 0. */
function one(action: string): ScriptEvent {
  return last(`0 ${action}`);
}

function packet(action: string): Packet {
  const e = one(action);
  if (e.kind !== "packet") throw new Error(`not a packet: ${e.kind}`);
  return e.packet;
}

function tcpPacket(action: string): TcpPacket {
  const p = packet(action);
  if (p.protocol !== "tcp") throw new Error("not TCP");
  return p;
}

function syscall(action: string): SyscallEvent["syscall"] {
  const e = one(action);
  if (e.kind !== "syscall") throw new Error(`not a syscall: ${e.kind}`);
  return e.syscall;
}

/** The first argument of `write(<expr>, ..., 1) = 1`, without locations. */
function arg(expr: string): unknown {
  return noLoc(syscall(`setsockopt(${expr}) = 0`).args[0]);
}

function code(body: string): PyExpr {
  const e = one(`%{ assert ${body} }%`);
  if (e.kind !== "code") throw new Error("not code");
  return e.code.statements[0]!.test;
}

function noLoc(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(noLoc);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k]) => k !== "loc")
        .map(([k, x]) => [k, noLoc(x)]),
    );
  }
  return v;
}

describe("script: opt_options opt_init_command events opt_cleanup_command", () => {
  it("reads option: option_flag '=' INTEGER", () => {
    const s = parseScript("--tolerance_usecs=10000\n0 close(3) = 0\n", "t.pkt");
    expect(s.options).toMatchObject([{ name: "tolerance_usecs", value: "10000" }]);
  });

  it("reads option: option_flag without a value", () => {
    const s = parseScript("--strict_segments\n0 close(3) = 0\n", "t.pkt");
    expect(s.options).toMatchObject([{ name: "strict_segments", value: undefined }]);
  });

  it("reads option values that are WORD, IPV4, IPV6_ADDR, IPV4_ADDR and STRING", () => {
    const s = parseScript(
      [
        "--ip_version=ipv4",
        "--local_ip=192.168.0.1",
        "--remote_ip=2001:db8::1/32",
        '--code_command="python3 -u"',
        "0 close(3) = 0",
      ].join("\n"),
      "t.pkt",
    );
    expect(s.options.map((o) => o.value)).toEqual([
      "ipv4",
      "192.168.0.1",
      "2001:db8::1/32",
      "python3 -u",
    ]);
  });

  it("reads option values WORD '=' WORD, WORD '=' STRING and WORD '=' BACK_QUOTED", () => {
    const s = parseScript(
      '--define=PROTO=IPPROTO_TCP\n--define=CC="reno"\n--define=CMD=`echo hi`\n0 close(3) = 0\n',
      "t.pkt",
    );
    expect(s.options.map((o) => o.value)).toEqual([
      "PROTO=IPPROTO_TCP",
      'CC="reno"',
      "CMD=`echo hi`",
    ]);
  });

  it("takes an untimed command before the first event as the init command", () => {
    const s = parseScript("`../common/defaults.sh`\n0 close(3) = 0\n", "t.pkt");
    expect(s.init).toMatchObject({ text: "../common/defaults.sh", loc: { line: 1, column: 1 } });
    expect(s.events).toHaveLength(1);
    expect(s.cleanup).toBeUndefined();
  });

  it("takes an untimed command after the last event as the cleanup command", () => {
    const s = parseScript("0 close(3) = 0\n`/tmp/restore.sh`\n", "t.pkt");
    expect(s.init).toBeUndefined();
    expect(s.cleanup).toMatchObject({ text: "/tmp/restore.sh", steps: [{ kind: "other" }] });
  });

  it("ignores // and /* */ comments anywhere", () => {
    const s = parseScript(
      "// header\n/* block\n comment */ 0 close(3) /* inline */ = 0 // trailing\n",
      "t.pkt",
    );
    expect(s.events).toHaveLength(1);
    expect(s.events[0]!.source).toBe("0 close(3) /* inline */ = 0");
  });
});

describe("event_time", () => {
  it("reads time: INTEGER and FLOAT as exact microseconds", () => {
    const s = parseScript("0 close(3) = 0\n1 close(3) = 0\n1.000001 close(3) = 0\n", "t.pkt");
    expect(s.events.map((e) => e.time)).toEqual([
      { kind: "absolute", us: 0 },
      { kind: "absolute", us: 1_000_000 },
      { kind: "absolute", us: 1_000_001 },
    ]);
  });

  it("reads '+' time, with or without a leading zero", () => {
    const s = parseScript("0 close(3) = 0\n+.1 close(3) = 0\n+0.011 close(3) = 0\n", "t.pkt");
    expect(s.events.slice(1).map((e) => e.time)).toEqual([
      { kind: "relative", us: 100_000 },
      { kind: "relative", us: 11_000 },
    ]);
  });

  it("truncates below a microsecond like packetdrill", () => {
    expect(last("0 close(3) = 0\n+.0000019 close(3) = 0").time).toEqual({
      kind: "relative",
      us: 1,
    });
  });

  it("reads '*' for an outbound packet", () => {
    expect(last("* > . 1:1(0) ack 1").time).toEqual({ kind: "any" });
  });

  it("reads time '~' time for an outbound packet", () => {
    expect(last("0 close(3) = 0\n0.1~0.2 > . 1:1(0) ack 1").time).toEqual({
      kind: "range",
      relative: false,
      startUs: 100_000,
      endUs: 200_000,
    });
  });

  it("reads '+' time '~' '+' time for an outbound packet", () => {
    expect(last("0 close(3) = 0\n+.3~+.400 > F. 1:1(0) ack 1").time).toEqual({
      kind: "range",
      relative: true,
      startUs: 300_000,
      endUs: 400_000,
    });
  });
});

describe("tcp_packet_spec", () => {
  it("reads direction '<' as inbound and '>' as outbound", () => {
    expect(packet("< . 1:1(0) ack 1").direction).toBe("inbound");
    expect(packet("> . 1:1(0) ack 1").direction).toBe("outbound");
  });

  it("reads flags: WORD, '.', WORD '.', and '-'", () => {
    expect(tcpPacket("< S 0:0(0)").flags).toBe(TcpFlag.SYN);
    expect(tcpPacket("< . 1:1(0)").flags).toBe(TcpFlag.ACK);
    expect(tcpPacket("< S. 0:0(0)").flags).toBe(TcpFlag.SYN | TcpFlag.ACK);
    expect(tcpPacket("< - 1:1(0)").flags).toBe(0);
  });

  it("reads every flag letter", () => {
    expect(tcpPacket("< FSRPUEWA. 0:0(0)").flags).toBe(0x1ff);
    expect(tcpPacket("< SEW 0:0(0)").flags).toBe(TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR);
  });

  it("reads seq: INTEGER ':' INTEGER '(' INTEGER ')'", () => {
    expect(tcpPacket("< P. 1:1001(1000)").seq).toEqual({ start: 1, end: 1001, len: 1000 });
    expect(tcpPacket("< . 4294967295:4294967295(0)").seq.start).toBe(4294967295);
  });

  it("reads opt_ack, opt_window and opt_urg_ptr", () => {
    expect(tcpPacket("< UP. 1:2(1) ack 7 win 257 urg 1")).toMatchObject({
      ack: 7,
      win: 257,
      urg: 1,
    });
    expect(tcpPacket("< . 1:1(0)")).toMatchObject({
      ack: undefined,
      win: undefined,
      urg: undefined,
    });
  });

  it("reads opt_port_info: INTEGER '>' INTEGER", () => {
    expect(tcpPacket("< 8080>80 S 0:0(0)").ports).toEqual({ src: 8080, dst: 80 });
  });

  it("reads opt_ip_info in brackets or parentheses", () => {
    expect(tcpPacket("< [ect0] S 0:0(0)").ip).toEqual({
      tos: { kind: "ecn", ecn: "ect0" },
      flowLabel: undefined,
      ttl: undefined,
    });
    expect(tcpPacket("< (ce) . 1:1(0)").ip?.tos).toEqual({ kind: "ecn", ecn: "ce" });
  });

  it("reads ip_ecn: noecn, ect0, ect1, ce, and ect01 on outbound packets", () => {
    for (const ecn of ["noecn", "ect0", "ect1", "ce"] as const) {
      expect(tcpPacket(`< [${ecn}] . 1:1(0)`).ip?.tos).toEqual({ kind: "ecn", ecn });
    }
    expect(tcpPacket("> [ect01] . 1:1(0)").ip?.tos).toEqual({ kind: "ect01" });
  });

  it("reads tos_spec TOS HEX_INTEGER, flow_label, TTL and tos ',' flow_label", () => {
    expect(tcpPacket("< [tos 0x10] . 1:1(0)").ip?.tos).toEqual({ kind: "tos", value: 0x10 });
    expect(tcpPacket("< [flowlabel 0x12345] . 1:1(0)").ip?.flowLabel).toBe(0x12345);
    expect(tcpPacket("< [ttl 64] . 1:1(0)").ip?.ttl).toBe(64);
    expect(tcpPacket("< [ect1, flowlabel 0x1] . 1:1(0)").ip).toEqual({
      tos: { kind: "ecn", ecn: "ect1" },
      flowLabel: 1,
      ttl: undefined,
    });
  });

  it("reads no options as an empty list and '<' ELLIPSIS '>' as no check", () => {
    expect(tcpPacket("> . 1:1(0)").options).toEqual([]);
    expect(tcpPacket("> S 0:0(0) <...>").options).toBe("any");
  });

  const options: ReadonlyArray<readonly [string, TcpOptionSpec]> = [
    ["nop", { kind: "nop" }],
    ["eol", { kind: "eol" }],
    ["mss 1460", { kind: "mss", value: 1460 }],
    ["wscale 14", { kind: "wscale", value: 14 }],
    ["sackOK", { kind: "sackOK" }],
    ["sack 1:2", { kind: "sack", blocks: [{ left: 1, right: 2 }] }],
    [
      "sack 1:2 3:4 5:6",
      {
        kind: "sack",
        blocks: [
          { left: 1, right: 2 },
          { left: 3, right: 4 },
          { left: 5, right: 6 },
        ],
      },
    ],
    ["TS val 100 ecr 0", { kind: "timestamp", val: 100, ecr: 0 }],
    [
      "md5 000102030405060708090a0b0c0d0e0f",
      { kind: "md5", hex: "000102030405060708090a0b0c0d0e0f" },
    ],
    ["FO", { kind: "fastopen", experimental: false, cookie: "" }],
    ["FO abcd1234", { kind: "fastopen", experimental: false, cookie: "abcd1234" }],
    ["FO 12345678", { kind: "fastopen", experimental: false, cookie: "12345678" }],
    ["FOEXP aabb", { kind: "fastopen", experimental: true, cookie: "aabb" }],
  ];
  it.each(options)("reads tcp_option %s", (text, expected) => {
    expect(tcpPacket(`< S 0:0(0) <${text}>`).options).toEqual([expected]);
    expect(tcpPacket(`< S 0:0(0) <nop,${text},nop>`).options).toEqual([
      { kind: "nop" },
      expected,
      { kind: "nop" },
    ]);
  });
});

describe("udp_packet_spec and icmp_packet_spec", () => {
  it("reads UDP opt_port_info '(' INTEGER ')'", () => {
    const p = packet("< udp (1000)") as UdpPacket;
    expect(p).toMatchObject({ protocol: "udp", direction: "inbound", length: 1000 });
    expect((packet("> udp 53>5000 (40)") as UdpPacket).ports).toEqual({ src: 53, dst: 5000 });
  });

  it("reads ICMP icmp_type opt_icmp_code opt_icmp_mtu with an echoed TCP segment", () => {
    const p = packet("< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]") as IcmpPacket;
    expect(p).toMatchObject({
      protocol: "icmp",
      type: "unreachable",
      code: "frag_needed",
      mtu: 1200,
      echoId: undefined,
      echoed: { protocol: "tcp", start: 1, end: 1461, len: 1460 },
    });
  });

  it("reads ICMP opt_icmp_echo_id and echoed UDP or raw payloads", () => {
    expect(packet("< icmp echo_reply id 7")).toMatchObject({ type: "echo_reply", echoId: 7 });
    expect(packet("< icmp unreachable port_unreachable [udp (100)]")).toMatchObject({
      echoed: { protocol: "udp", length: 100 },
    });
    expect(packet("< icmp time_exceeded [raw (64)]")).toMatchObject({
      code: undefined,
      echoed: { protocol: "raw", length: 64 },
    });
  });
});

describe("syscall_spec", () => {
  it("reads function_name function_arguments '=' expression", () => {
    expect(noLoc(syscall("listen(3, 1) = 0"))).toEqual({
      name: "listen",
      args: [
        { kind: "int", value: 3, hex: false },
        { kind: "int", value: 1, hex: false },
      ],
      endUs: undefined,
      result: { kind: "int", value: 0, hex: false },
      errno: undefined,
      note: undefined,
    });
  });

  it("reads '(' ')' as no arguments", () => {
    expect(syscall("pipe() = 0").args).toEqual([]);
  });

  it("reads opt_end_time: ELLIPSIS time", () => {
    const e = last("0 close(3) = 0\n+0...0.200 accept(3, ..., ...) = 4") as SyscallEvent;
    expect(e.time).toEqual({ kind: "relative", us: 0 });
    expect(e.syscall.endUs).toBe(200_000);
    expect((last("0...1 accept(3, ..., ...) = 4") as SyscallEvent).syscall.endUs).toBe(1_000_000);
  });

  it("reads opt_errno: WORD note", () => {
    expect(syscall("connect(3, ..., ...) = -1 ECONNREFUSED (Connection refused)")).toMatchObject({
      result: { kind: "int", value: -1 },
      errno: { name: "ECONNREFUSED", strerror: "Connection refused" },
      note: undefined,
    });
  });

  it("reads an errno without a note", () => {
    expect(syscall("read(3, ..., 1) = -1 EAGAIN").errno).toEqual({
      name: "EAGAIN",
      strerror: undefined,
    });
  });

  it("reads opt_note alone, including the word 'flags'", () => {
    expect(syscall("fcntl(3, F_GETFL) = 0x2 (flags O_RDWR)")).toMatchObject({
      result: { kind: "int", value: 2, hex: true },
      errno: undefined,
      note: "flags O_RDWR",
    });
  });
});

describe("expression", () => {
  it("reads ELLIPSIS", () => {
    expect(arg("...")).toEqual({ kind: "ellipsis" });
  });

  it("reads decimal_integer (negative too) and hex_integer", () => {
    expect(arg("1000")).toEqual({ kind: "int", value: 1000, hex: false });
    expect(arg("-1")).toEqual({ kind: "int", value: -1, hex: false });
    expect(arg("0x70403")).toEqual({ kind: "int", value: 0x70403, hex: true });
  });

  it("reads WORD as a symbol", () => {
    expect(arg("SO_REUSEADDR")).toEqual({ kind: "word", name: "SO_REUSEADDR" });
  });

  it("reads STRING, STRING ELLIPSIS, and concatenates adjacent strings", () => {
    expect(arg('"abc"')).toEqual({ kind: "string", value: "abc", ellipsis: false });
    expect(arg('"abc"...')).toEqual({ kind: "string", value: "abc", ellipsis: true });
    expect(arg('"ab" "cd"')).toEqual({ kind: "string", value: "abcd", ellipsis: false });
  });

  it("reads binary_expression: expression '|' expression, left to right", () => {
    expect(formatExpr(syscall("fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK|O_CLOEXEC) = 0").args[2]!)).toBe(
      "O_RDWR|O_NONBLOCK|O_CLOEXEC",
    );
    expect(arg("A|B|C")).toMatchObject({
      kind: "binary",
      left: { kind: "binary", left: { name: "A" }, right: { name: "B" } },
      right: { name: "C" },
    });
  });

  it("reads binary_expression: WORD '=' expression", () => {
    expect(arg("events=POLLIN|POLLOUT")).toMatchObject({
      kind: "assign",
      target: { kind: "word", name: "events" },
      value: { kind: "binary", op: "|" },
    });
  });

  it("reads array: '[' ']' and '[' expression_list ']'", () => {
    expect(arg("[]")).toEqual({ kind: "array", elements: [] });
    expect(arg("[1, 2]")).toMatchObject({ kind: "array", elements: [{ value: 1 }, { value: 2 }] });
  });

  it("reads inaddr and in6addr", () => {
    expect(arg('inet_addr("192.0.2.1")')).toEqual({
      kind: "call",
      name: "inet_addr",
      args: [{ kind: "string", value: "192.0.2.1", ellipsis: false }],
    });
    expect(arg('inet6_addr("2001:db8::1")')).toMatchObject({ kind: "call", name: "inet6_addr" });
  });

  it("reads sockaddr", () => {
    const e = arg('{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}');
    expect(e).toMatchObject({
      kind: "struct",
      elements: [
        { kind: "assign", target: { name: "sa_family" }, value: { name: "AF_INET" } },
        {
          kind: "assign",
          target: { name: "sin_port" },
          value: { kind: "call", name: "htons", args: [{ value: 8080 }] },
        },
        {
          kind: "assign",
          target: { name: "sin_addr" },
          value: { kind: "call", name: "inet_addr" },
        },
      ],
    });
  });

  it("reads msghdr with iovec and msg_control", () => {
    const e = syscall(
      "sendmsg(4, {msg_name(...)=..., msg_iov(1)=[{..., 1000}], msg_flags=0, msg_control=[]}, 0) = 1000",
    ).args[1]!;
    expect(noLoc(e)).toMatchObject({
      kind: "struct",
      elements: [
        {
          kind: "assign",
          target: { kind: "call", name: "msg_name", args: [{ kind: "ellipsis" }] },
          value: { kind: "ellipsis" },
        },
        {
          kind: "assign",
          target: { kind: "call", name: "msg_iov", args: [{ value: 1 }] },
          value: {
            kind: "array",
            elements: [{ kind: "struct", elements: [{ kind: "ellipsis" }, { value: 1000 }] }],
          },
        },
        { kind: "assign", target: { name: "msg_flags" } },
        { kind: "assign", target: { name: "msg_control" }, value: { kind: "array" } },
      ],
    });
  });

  it("reads pollfd, epollev, linger, cmsg, scm_timestamping, sock_extended_err and sub_expr_list", () => {
    const shapes = [
      "{fd=3, events=POLLIN, revents=POLLOUT}",
      "{events=EPOLLIN, fd=3}",
      "{onoff=1, linger=0}",
      "{cmsg_level=SOL_SOCKET, cmsg_type=SCM_TIMESTAMPING, cmsg_data={scm_sec=0, scm_nsec=0}}",
      "{ee_errno=ENOMSG, ee_origin=SO_EE_ORIGIN_TIMESTAMPING, ee_type=0, ee_code=0, ee_info=SCM_TSTAMP_SND, ee_data=0}",
      "{1, 2, 3}",
    ];
    for (const text of shapes) {
      const e = syscall(`setsockopt(${text}) = 0`).args[0]!;
      expect(e.kind).toBe("struct");
      expect(formatExpr(e)).toBe(text);
    }
  });
});

describe("command_spec", () => {
  it("reads a timed BACK_QUOTED command and recognises sysctl writes", () => {
    const e = last("0 close(3) = 0\n+0 `sysctl -q net.ipv4.tcp_sack=0`");
    expect(e.kind === "command" && e.command.steps).toEqual([
      {
        kind: "sysctl",
        tool: "sysctl",
        assignments: [{ name: "net.ipv4.tcp_sack", value: "0" }],
        text: "sysctl -q net.ipv4.tcp_sack=0",
      },
    ]);
  });

  it("recognises sysctl -w with several and quoted values, echo > /proc/sys, and set_sysctls.py", () => {
    const s = parseScript(
      [
        "`../common/defaults.sh",
        'sysctl -w net.ipv4.tcp_rmem="4096 87380 6291456" net/ipv4/tcp_ecn=1',
        "echo 0 > /proc/sys/net/ipv4/tcp_timestamps",
        "../common/set_sysctls.py /proc/sys/net/ipv4/tcp_frto=0 \\",
        "  /proc/sys/net/ipv4/tcp_recovery=0",
        "tc qdisc add dev tun0 root fq`",
        "0 close(3) = 0",
      ].join("\n"),
      "t.pkt",
    );
    expect(s.init?.steps.map((x) => (x.kind === "sysctl" ? x.assignments : x.kind))).toEqual([
      "defaults",
      [
        { name: "net.ipv4.tcp_rmem", value: "4096 87380 6291456" },
        { name: "net.ipv4.tcp_ecn", value: "1" },
      ],
      [{ name: "net.ipv4.tcp_timestamps", value: "0" }],
      [
        { name: "net.ipv4.tcp_frto", value: "0" },
        { name: "net.ipv4.tcp_recovery", value: "0" },
      ],
      "other",
    ]);
  });

  it("leaves sysctl reads and shell syntax it does not read as 'other'", () => {
    const s = parseScript("`sysctl net.ipv4.tcp_sack; sysctl -q x=$(cat f)`\n0 close(3) = 0", "t");
    expect(s.init?.steps.map((x) => x.kind)).toEqual(["other", "other"]);
  });
});

describe("code_spec: %{ … }% as Python asserts", () => {
  it("keeps the code text without surrounding spaces and tabs", () => {
    const e = one("%{ \t assert x == 1 \t}%");
    expect(e.kind === "code" && e.code.text).toBe("assert x == 1");
  });

  it("reads comparisons, chains, and/or/not with Python precedence", () => {
    expect(formatPyExpr(code("not a == 1 or b < 2 and c"))).toBe("not a == 1 or b < 2 and c");
    expect(code("not a == 1 or b < 2 and c")).toMatchObject({
      kind: "bool",
      op: "or",
      values: [
        { kind: "unary", op: "not", operand: { kind: "compare" } },
        { kind: "bool", op: "and" },
      ],
    });
    expect(code("1 < x <= 3 != y")).toMatchObject({ ops: ["<", "<=", "!="] });
  });

  it("reads arithmetic with precedence, unary minus and power", () => {
    expect(code("a + b * c - d // 2 % 3 == -x ** 2")).toMatchObject({
      kind: "compare",
      left: {
        kind: "binary",
        op: "-",
        left: { op: "+", right: { op: "*" } },
        right: { op: "%", left: { op: "//" } },
      },
      comparators: [{ kind: "unary", op: "-", operand: { kind: "binary", op: "**" } }],
    });
  });

  it("reads bitwise operators, attribute access, constants and numbers", () => {
    expect(code("info.tcpi_options & 0x4 | 1 << 2 ^ 0b1 == True")).toMatchObject({
      kind: "compare",
      left: { op: "|", left: { op: "&", left: { kind: "attr", name: "tcpi_options" } } },
    });
    expect(code("1.5e3 == 1_500.0")).toMatchObject({
      left: { kind: "num", value: 1500 },
      comparators: [{ kind: "num", value: 1500 }],
    });
    expect(code("False != None")).toMatchObject({
      left: { kind: "const", value: false },
      comparators: [{ kind: "const", value: null }],
    });
  });

  it("reads several statements separated by ';' or lines, with comments and continuations", () => {
    const e = one(
      "%{\nassert a == 1, a  # one\nassert (b ==\n   2); assert c \\\n  == 3, 'c=%d' % c\n}%",
    );
    expect(e.kind === "code" && e.code.statements.map((a) => formatPyExpr(a.test))).toEqual([
      "a == 1",
      "b == 2",
      "c == 3",
    ]);
  });

  it("records each assert's location in the script", () => {
    const s = parseScript("0 close(3) = 0\n+0 %{\n  assert x\n}%\n", "t.pkt");
    const e = s.events[1]!;
    expect(e.kind === "code" && e.code.statements[0]!.loc).toMatchObject({ line: 3, column: 3 });
  });
});

describe("formatting", () => {
  it("prints flags in packetdrill's order with '.' last, '-' for none", () => {
    expect(formatTcpFlags(TcpFlag.FIN | TcpFlag.PSH | TcpFlag.ACK)).toBe("FP.");
    expect(formatTcpFlags(TcpFlag.SYN | TcpFlag.ECE | TcpFlag.CWR)).toBe("SEW");
    expect(formatTcpFlags(0)).toBe("-");
  });

  it("prints packets and events the way scripts write them", () => {
    expect(formatPacket(packet("< S  0:0(0)   win 32792 <mss 1000,nop,wscale 7>"))).toBe(
      "< S 0:0(0) win 32792 <mss 1000,nop,wscale 7>",
    );
    expect(formatEvent(last("0 close(3) = 0\n+0...0.200 accept(3, ..., ...) = 4"))).toBe(
      "+0...0.2 accept(3, ..., ...) = 4",
    );
    expect(formatEvent(last("0 close(3) = 0\n+.3~+.400 > F. 1:1(0) ack 1"))).toBe(
      "+0.3~+0.4 > F. 1:1(0) ack 1",
    );
    expect(
      formatEvent(one("connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)")),
    ).toBe("0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)");
    expect(formatEvent(one("%{ assert a<(b<c), 'x\\'y' }%"))).toBe(
      "0 %{ assert a < (b < c), 'x\\'y' }%",
    );
  });

  it("round-trips every construct above through format and parse", () => {
    const text = [
      "--tolerance_usecs=7000",
      "--strict_segments",
      "`../common/defaults.sh`",
      "0 socket(..., SOCK_STREAM, IPPROTO_TCP) = 3",
      "+0 fcntl(3, F_SETFL, O_RDWR|O_NONBLOCK) = 0",
      "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
      "+0 > [ect01] S 0:0(0) <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 8,FO,md5 000102030405060708090a0b0c0d0e0f>",
      "+.1 < [tos 0x2, flowlabel 0x1] 80>8080 SEW. 0:0(0) ack 1 win 65535 urg 0 <sack 1:2 3:4,eol>",
      "* > . 1:1(0) ack 1",
      "0.2~0.3 > udp (10)",
      "+0 < icmp unreachable frag_needed mtu 1200 id 1 [1:1461(1460)]",
      "+0 sendmsg(3, {msg_name(...)=..., msg_iov(1)=[{..., 10}], msg_flags=0}, 0) = 10",
      '+0 bind(3, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}, 16) = 0',
      '+0 write(3, "abc"..., 3) = 3',
      "+0 `sysctl -q net.ipv4.tcp_sack=1`",
      "+0 %{ assert -(a - b) ** 2 == (a and not b) % 3, 'v=%d' % v }%",
      "`/tmp/cleanup.sh`",
    ].join("\n");
    const s = parseScript(text, "t.pkt");
    const printed = formatScript(s);
    expect(formatScript(parseScript(printed, "again.pkt"))).toBe(printed);
    expect(noLoc(strip(parseScript(printed, "again.pkt")))).toEqual(noLoc(strip(s)));
  });

  it("round-trips any TCP packet (property)", () => {
    const option = fc.oneof(
      fc.constant<TcpOptionSpec>({ kind: "nop" }),
      fc.constant<TcpOptionSpec>({ kind: "eol" }),
      fc.constant<TcpOptionSpec>({ kind: "sackOK" }),
      fc.integer({ min: 0, max: 0xffff }).map<TcpOptionSpec>((value) => ({ kind: "mss", value })),
      fc.integer({ min: 0, max: 0xff }).map<TcpOptionSpec>((value) => ({ kind: "wscale", value })),
      fc
        .array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 })
        .map<TcpOptionSpec>((b) => ({
          kind: "sack",
          blocks: b.map(([left, right]) => ({ left, right })),
        })),
      fc
        .tuple(fc.nat(), fc.nat())
        .map<TcpOptionSpec>(([val, ecr]) => ({ kind: "timestamp", val, ecr })),
    );
    const arb = fc.record({
      direction: fc.constantFrom("inbound" as const, "outbound" as const),
      flags: fc.integer({ min: 0, max: 0x1ff }),
      start: fc.nat(),
      len: fc.integer({ min: 0, max: 0xffff }),
      ack: fc.option(fc.nat(), { nil: undefined }),
      win: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
      urg: fc.option(fc.integer({ min: 0, max: 0xffff }), { nil: undefined }),
      options: fc.oneof(fc.array(option, { maxLength: 6 }), fc.constant("any" as const)),
    });
    fc.assert(
      fc.property(arb, (r) => {
        const p: TcpPacket = {
          protocol: "tcp",
          direction: r.direction,
          ip: undefined,
          ports: undefined,
          flags: r.flags,
          seq: { start: r.start, end: r.start + r.len, len: r.len },
          ack: r.ack,
          win: r.win,
          urg: r.urg,
          options: r.direction === "inbound" && r.options === "any" ? [] : r.options,
        };
        if (p.seq.end > 0xffffffff) return;
        expect(tcpPacket(formatPacket(p))).toEqual(p);
      }),
    );
  });
});

function strip(s: ReturnType<typeof parseScript>): unknown {
  const events = s.events.map((e) => {
    const { source: _source, ...rest } = e;
    return rest.kind === "code" ? { ...rest, code: { statements: rest.code.statements } } : rest;
  });
  return { options: s.options, init: s.init, events, cleanup: s.cleanup };
}

// Keep the SyscallExpr import used for readers of the helpers above.
export type { SyscallExpr };

describe("--define symbols", () => {
  it("replace later words, as words, strings or commands by how the value is quoted", () => {
    const s = parseScript(
      '--define=PROTO=IPPROTO_TCP\n--define=MSG="hello"\n--define=CMD=`sysctl -q a.b=1`\n' +
        "0 socket(..., SOCK_STREAM, PROTO) = 3\n+0 write(3, MSG, 5) = 5\n+0 CMD\n",
      "t.pkt",
    );
    const [socket, write, cmd] = s.events;
    expect(socket?.kind === "syscall" && socket.syscall.args[2]).toMatchObject({
      kind: "word",
      name: "IPPROTO_TCP",
      loc: { line: 4, column: 28 },
    });
    expect(write?.kind === "syscall" && write.syscall.args[1]).toMatchObject({
      kind: "string",
      value: "hello",
    });
    expect(cmd?.kind === "command" && cmd.command.steps).toMatchObject([
      { kind: "sysctl", assignments: [{ name: "a.b", value: "1" }] },
    ]);
  });

  it("take command-line values over the script's", () => {
    const s = parseScript("--define=FD=3\n0 close(X) = 0\n", "t.pkt", { defines: { X: "FD_CLI" } });
    expect(s.events[0]?.kind === "syscall" && s.events[0].syscall.args[0]).toMatchObject({
      kind: "word",
      name: "FD_CLI",
    });
  });
});
