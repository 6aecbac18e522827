/**
 * Prints AST nodes back as script text, for "expected … got …" messages and for round trips:
 * `parseScript(formatScript(s))` yields `s` again (locations and source text aside). Output is
 * canonical: times in seconds without trailing zeros (`+0.1`), TCP flags in packetdrill's order
 * with `.` last (`FP.`), one space between fields.
 * @see packetdrill gtests/net/packetdrill/packet_to_string.c, tcp_options_to_string.c
 * @packageDocumentation
 */
import {
  type CodeBlock,
  type IpInfo,
  type Packet,
  type PyAssert,
  type PyExpr,
  type Script,
  type ScriptEvent,
  type ShellCommand,
  type Syscall,
  type SyscallExpr,
  TCP_FLAG_LETTERS,
  type TcpOptionSpec,
  type TimeSpec,
} from "./ast.js";

/** Microseconds as script seconds: `0`, `0.1`, `0.011`, `2.5`. */
export function formatSeconds(us: number): string {
  const sign = us < 0 ? "-" : "";
  const abs = Math.round(Math.abs(us));
  const whole = Math.floor(abs / 1_000_000);
  const frac = abs % 1_000_000;
  if (frac === 0) return `${sign}${whole}`;
  return `${sign}${whole}.${String(frac).padStart(6, "0").replace(/0+$/, "")}`;
}

/** `0.1`, `+0.1`, `0.1~0.2`, `+0.3~+0.31`, `*`. */
export function formatTime(time: TimeSpec): string {
  switch (time.kind) {
    case "absolute":
      return formatSeconds(time.us);
    case "relative":
      return `+${formatSeconds(time.us)}`;
    case "range": {
      const p = time.relative ? "+" : "";
      return `${p}${formatSeconds(time.startUs)}~${p}${formatSeconds(time.endUs)}`;
    }
    case "any":
      return "*";
  }
}

/** `S.`, `FP.`, `R`, `.`; `-` for no flags. */
export function formatTcpFlags(bits: number): string {
  let out = "";
  for (const [letter, bit] of TCP_FLAG_LETTERS) if (bits & bit) out += letter;
  return out === "" ? "-" : out;
}

/** One option as a script writes it: `mss 1460`, `sack 1:2 3:4`, `TS val 1 ecr 0`. */
export function formatTcpOptionSpec(o: TcpOptionSpec): string {
  switch (o.kind) {
    case "nop":
    case "eol":
    case "sackOK":
      return o.kind;
    case "mss":
    case "wscale":
      return `${o.kind} ${o.value}`;
    case "sack":
      return `sack ${o.blocks.map((b) => `${b.left}:${b.right}`).join(" ")}`;
    case "timestamp":
      return `TS val ${o.val} ecr ${o.ecr}`;
    case "md5":
      return `md5 ${o.hex}`;
    case "fastopen": {
      const name = o.experimental ? "FOEXP" : "FO";
      return o.cookie === "" ? name : `${name} ${o.cookie}`;
    }
  }
}

/** `<mss 1460,nop,wscale 7>`, `<...>`, or `""` for no options. */
export function formatTcpOptionSpecs(options: readonly TcpOptionSpec[] | "any"): string {
  if (options === "any") return "<...>";
  if (options.length === 0) return "";
  return `<${options.map(formatTcpOptionSpec).join(",")}>`;
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** `[ect0]`, `[tos 0x10, flowlabel 0x1]`, `[ttl 64]`. */
export function formatIpInfo(ip: IpInfo): string {
  const parts: string[] = [];
  if (ip.tos !== undefined) {
    const t = ip.tos;
    parts.push(t.kind === "ecn" ? t.ecn : t.kind === "ect01" ? "ect01" : `tos ${hex(t.value)}`);
  }
  if (ip.flowLabel !== undefined) parts.push(`flowlabel ${hex(ip.flowLabel)}`);
  if (ip.ttl !== undefined) parts.push(`ttl ${ip.ttl}`);
  return `[${parts.join(", ")}]`;
}

/** A packet line without its time: `< S 0:0(0) win 32792 <mss 1000,nop,wscale 7>`. */
export function formatPacket(packet: Packet): string {
  const parts: string[] = [packet.direction === "inbound" ? "<" : ">"];
  if (packet.ip !== undefined) parts.push(formatIpInfo(packet.ip));
  switch (packet.protocol) {
    case "tcp": {
      if (packet.ports) parts.push(`${packet.ports.src}>${packet.ports.dst}`);
      const { start, end, len } = packet.seq;
      parts.push(formatTcpFlags(packet.flags), `${start}:${end}(${len})`);
      if (packet.ack !== undefined) parts.push(`ack ${packet.ack}`);
      if (packet.win !== undefined) parts.push(`win ${packet.win}`);
      if (packet.urg !== undefined) parts.push(`urg ${packet.urg}`);
      const opts = formatTcpOptionSpecs(packet.options);
      if (opts !== "") parts.push(opts);
      break;
    }
    case "udp":
      parts.push("udp");
      if (packet.ports) parts.push(`${packet.ports.src}>${packet.ports.dst}`);
      parts.push(`(${packet.length})`);
      break;
    case "icmp": {
      parts.push("icmp", packet.type);
      if (packet.code !== undefined) parts.push(packet.code);
      if (packet.mtu !== undefined) parts.push(`mtu ${packet.mtu}`);
      if (packet.echoId !== undefined) parts.push(`id ${packet.echoId}`);
      const e = packet.echoed;
      if (e !== undefined) {
        parts.push(
          e.protocol === "tcp"
            ? `[${e.start}:${e.end}(${e.len})]`
            : `[${e.protocol} (${e.length})]`,
        );
      }
      break;
    }
  }
  return parts.join(" ");
}

/** A system call argument or result: `[1]`, `O_RDWR|O_NONBLOCK`, `{fd=3, events=POLLIN}`. */
export function formatExpr(e: SyscallExpr): string {
  switch (e.kind) {
    case "ellipsis":
      return "...";
    case "int":
      return e.hex && e.value >= 0 ? hex(e.value) : String(e.value);
    case "word":
      return e.name;
    case "string":
      return `"${e.value}"${e.ellipsis ? "..." : ""}`;
    case "binary":
      return `${formatExpr(e.left)}${e.op}${formatExpr(e.right)}`;
    case "assign":
      return `${formatExpr(e.target)}=${formatExpr(e.value)}`;
    case "call":
      return `${e.name}(${e.args.map(formatExpr).join(", ")})`;
    case "array":
      return `[${e.elements.map(formatExpr).join(", ")}]`;
    case "struct":
      return `{${e.elements.map(formatExpr).join(", ")}}`;
  }
}

/** `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)` (no time). */
export function formatSyscall(s: Syscall): string {
  let out = `${s.name}(${s.args.map(formatExpr).join(", ")}) = ${formatExpr(s.result)}`;
  if (s.errno !== undefined) {
    out += ` ${s.errno.name}`;
    if (s.errno.strerror !== undefined) out += ` (${s.errno.strerror})`;
  }
  if (s.note !== undefined) out += ` (${s.note})`;
  return out;
}

// Python precedence, lowest first (the Python reference's table).
const PREC_BINARY: Record<string, number> = {
  "|": 5,
  "^": 6,
  "&": 7,
  "<<": 8,
  ">>": 8,
  "+": 9,
  "-": 9,
  "*": 10,
  "/": 10,
  "//": 10,
  "%": 10,
  "**": 12,
};

function pyPrec(e: PyExpr): number {
  switch (e.kind) {
    case "bool":
      return e.op === "or" ? 1 : 2;
    case "unary":
      return e.op === "not" ? 3 : 11;
    case "compare":
      return 4;
    case "binary":
      return PREC_BINARY[e.op]!;
    default:
      return 13;
  }
}

function pyQuote(s: string): string {
  let out = "'";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\" || ch === "'") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}'`;
}

function py(e: PyExpr, min: number): string {
  const s = pyRaw(e);
  return pyPrec(e) < min ? `(${s})` : s;
}

function pyRaw(e: PyExpr): string {
  switch (e.kind) {
    case "num":
      return String(e.value);
    case "str":
      return pyQuote(e.value);
    case "const":
      return e.value === null ? "None" : e.value ? "True" : "False";
    case "name":
      return e.id;
    case "attr":
      return `${e.object.kind === "num" ? `(${pyRaw(e.object)})` : py(e.object, 13)}.${e.name}`;
    case "unary":
      return e.op === "not" ? `not ${py(e.operand, 3)}` : `${e.op}${py(e.operand, 11)}`;
    case "binary": {
      const p = PREC_BINARY[e.op]!;
      if (e.op === "**") return `${py(e.left, 13)} ** ${py(e.right, 11)}`;
      return `${py(e.left, p)} ${e.op} ${py(e.right, p + 1)}`;
    }
    case "bool": {
      const p = pyPrec(e);
      return e.values.map((v) => py(v, p + 1)).join(` ${e.op} `);
    }
    case "compare":
      return [py(e.left, 5), ...e.ops.map((op, i) => `${op} ${py(e.comparators[i]!, 5)}`)].join(
        " ",
      );
  }
}

/** A Python expression with only the parentheses precedence needs. */
export function formatPyExpr(e: PyExpr): string {
  return py(e, 0);
}

/** `assert tcpi_snd_cwnd == 10, tcpi_snd_cwnd`. */
export function formatAssert(a: PyAssert): string {
  const msg = a.message === undefined ? "" : `, ${formatPyExpr(a.message)}`;
  return `assert ${formatPyExpr(a.test)}${msg}`;
}

/** `%{ assert a == 1; assert b }%` on one line. */
export function formatCode(code: CodeBlock): string {
  return `%{ ${code.statements.map(formatAssert).join("; ")} }%`;
}

/** `` `sysctl -q net.ipv4.tcp_x=1` ``. */
export function formatCommand(command: ShellCommand): string {
  return `\`${command.text}\``;
}

/** One event as a script line: `+0.1 < . 1:1(0) ack 1 win 257`, `+0...0.2 accept(3, ..., ...) = 4`. */
export function formatEvent(event: ScriptEvent): string {
  const time = formatTime(event.time);
  switch (event.kind) {
    case "packet":
      return `${time} ${formatPacket(event.packet)}`;
    case "syscall": {
      const end =
        event.syscall.endUs === undefined ? "" : `...${formatSeconds(event.syscall.endUs)}`;
      return `${time}${end} ${formatSyscall(event.syscall)}`;
    }
    case "command":
      return `${time} ${formatCommand(event.command)}`;
    case "code":
      return `${time} ${formatCode(event.code)}`;
  }
}

/** A whole script, one line per option and event. */
export function formatScript(script: Script): string {
  const lines: string[] = [];
  for (const o of script.options) {
    if (o.value === undefined) lines.push(`--${o.name}`);
    else
      lines.push(
        `--${o.name}=${/[\s"`]/.test(o.value) && !/^\w+=/.test(o.value) ? `"${o.value}"` : o.value}`,
      );
  }
  if (script.init) lines.push(formatCommand(script.init));
  for (const e of script.events) lines.push(formatEvent(e));
  if (script.cleanup) lines.push(formatCommand(script.cleanup));
  return `${lines.join("\n")}\n`;
}
