/**
 * The typed form of a packetdrill script, as {@link parseScript} produces it and the runner
 * consumes it. Mirrors packetdrill's `script.h` (`struct script`, `struct event`,
 * `struct packet`, `struct syscall_spec`, `struct expression`) but keeps what the script said
 * rather than pre-built packets: sequence numbers stay relative, times stay as written.
 *
 * Every node that a runner may want to blame carries a {@link SourceLocation}.
 * @see packetdrill gtests/net/packetdrill/script.h, parser.y
 * @packageDocumentation
 */

/** Where something starts in a script: 1-based line and column (a tab counts as one column). */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** 0-based offset into the script text. */
  readonly offset: number;
}

// ---------------------------------------------------------------------------------------------
// Times

/**
 * When an event happens. All values are microseconds; decimal seconds in the script are
 * converted exactly (packetdrill truncates below 1 µs, and so do we).
 *
 * - `absolute`: `0.100` — since the first event.
 * - `relative`: `+.1` — after the previous event (see `TimeTracker` for what "after" means).
 * - `range`: `0.1~0.2` or `+.3~+.310` — any time in the window; outbound packets only.
 * - `any`: `*` — whenever; outbound packets only.
 */
export type TimeSpec =
  | { readonly kind: "absolute"; readonly us: number }
  | { readonly kind: "relative"; readonly us: number }
  | {
      readonly kind: "range";
      readonly relative: boolean;
      readonly startUs: number;
      readonly endUs: number;
    }
  | { readonly kind: "any" };

// ---------------------------------------------------------------------------------------------
// Packets

/** `<` is a packet the runner injects into the stack; `>` one the stack must send. */
export type PacketDirection = "inbound" | "outbound";

/**
 * TCP header flag bits, in the header's layout (`tcp_flag_byte()` plus AE in bit 8): the same
 * values as `TCP_FLAG` in `@skbuff/tcp`, kept here so the AST imports nothing. A script writes
 * them as letters: `F S R P U E W A`, and `.` for ACK; `-` means none.
 */
export const TcpFlag = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
  AE: 0x100,
} as const;
/** One of `TcpFlag` (TCP header flag bits)'s names. */
export type TcpFlagName = keyof typeof TcpFlag;

/** The letter a script uses for each TCP flag, in the order packetdrill prints them. */
export const TCP_FLAG_LETTERS: ReadonlyArray<readonly [letter: string, bit: number]> = [
  ["F", TcpFlag.FIN],
  ["S", TcpFlag.SYN],
  ["R", TcpFlag.RST],
  ["P", TcpFlag.PSH],
  ["U", TcpFlag.URG],
  ["E", TcpFlag.ECE],
  ["W", TcpFlag.CWR],
  ["A", TcpFlag.AE],
  [".", TcpFlag.ACK],
];

/** The two ECN bits of the IP header as a script names them (`[ect0]`, `(ce)`, …). */
export type IpEcn = "noecn" | "ect0" | "ect1" | "ce";

/**
 * The IP-level prefix of a packet: `[ect0]`, `(tos 0x10)`, `[ect01]` (outbound only: either
 * ECT codepoint), `[flowlabel 0x1234]`, `[ttl 64]`, `[ce, flowlabel 0x1]`.
 */
export interface IpInfo {
  readonly tos:
    | { readonly kind: "ecn"; readonly ecn: IpEcn }
    | { readonly kind: "ect01" }
    | { readonly kind: "tos"; readonly value: number }
    | undefined;
  readonly flowLabel: number | undefined;
  readonly ttl: number | undefined;
}

/** `src > dst` ports written before the flags (`< 8080>80 S 0:0(0)` style scripts). */
export interface PortInfo {
  readonly src: number;
  readonly dst: number;
}

/** A SACK block as written: relative sequence numbers `left:right`. */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** One TCP option, in the order the script lists them (nops included: order is checked). */
export type TcpOptionSpec =
  | { readonly kind: "nop" }
  | { readonly kind: "eol" }
  | { readonly kind: "mss"; readonly value: number }
  | { readonly kind: "wscale"; readonly value: number }
  | { readonly kind: "sackOK" }
  | { readonly kind: "sack"; readonly blocks: readonly SackBlock[] }
  | { readonly kind: "timestamp"; readonly val: number; readonly ecr: number }
  /** `md5 <hex>`: the 16-byte digest as hex digits. */
  | { readonly kind: "md5"; readonly hex: string }
  /** `FO <cookie>` (RFC 7413) or `FOEXP <cookie>` (the experimental option 254). */
  | { readonly kind: "fastopen"; readonly experimental: boolean; readonly cookie: string };

/** Fields every packet line has. */
interface PacketBase {
  readonly direction: PacketDirection;
  readonly ip: IpInfo | undefined;
}

/**
 * `< S. 0:0(0) ack 1 win 32792 <mss 1460,nop,wscale 7>`. Sequence and ack numbers are relative
 * to each side's ISN, as written.
 */
export interface TcpPacket extends PacketBase {
  readonly protocol: "tcp";
  readonly ports: PortInfo | undefined;
  /** Bitmask of `TcpFlag` (TCP header flag bits). */
  readonly flags: number;
  /** `start:end(len)`; the parser checks `end === start + len`. */
  readonly seq: { readonly start: number; readonly end: number; readonly len: number };
  /** `ack N`, or `undefined` when not written. */
  readonly ack: number | undefined;
  /** `win N` (the raw, unscaled header field), or `undefined` when not written. */
  readonly win: number | undefined;
  /** `urg N`, or `undefined` when not written. */
  readonly urg: number | undefined;
  /**
   * The options in order; `[]` when the line has none (the packet must then carry none).
   * `"any"` for `<...>`: do not check options (outbound only).
   */
  readonly options: readonly TcpOptionSpec[] | "any";
}

/** `< udp (1000)` / `> udp 5000>53 (40)`: a UDP datagram with that many payload bytes. */
export interface UdpPacket extends PacketBase {
  readonly protocol: "udp";
  readonly ports: PortInfo | undefined;
  readonly length: number;
}

/**
 * `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`: an ICMP message, by type and code
 * name, with what it echoes of the offending packet.
 */
export interface IcmpPacket extends PacketBase {
  readonly protocol: "icmp";
  readonly type: string;
  readonly code: string | undefined;
  readonly mtu: number | undefined;
  readonly echoId: number | undefined;
  readonly echoed:
    | {
        readonly protocol: "tcp";
        readonly start: number;
        readonly end: number;
        readonly len: number;
      }
    | { readonly protocol: "udp"; readonly length: number }
    | { readonly protocol: "raw"; readonly length: number }
    | undefined;
}

/** Any packet line. */
export type Packet = TcpPacket | UdpPacket | IcmpPacket;

// ---------------------------------------------------------------------------------------------
// System calls

/**
 * A system call argument or result, as packetdrill's `struct expression`. The shapes
 * packetdrill knows (`sockaddr`, `msghdr`, `iovec`, `pollfd`, `linger`, `cmsg`, …) are all
 * written as braces holding `name=value` pairs, so they are kept generic here and interpreted by
 * the system call that receives them.
 */
export type SyscallExpr =
  /** `...`: anything (or "let the runner fill it in"). */
  | { readonly kind: "ellipsis"; readonly loc: SourceLocation }
  /** `1000`, `-1`, `0x2`; `hex` remembers how it was written. */
  | {
      readonly kind: "int";
      readonly value: number;
      readonly hex: boolean;
      readonly loc: SourceLocation;
    }
  /** A symbol: `SOCK_STREAM`, `SO_REUSEADDR`, `AF_INET`. */
  | { readonly kind: "word"; readonly name: string; readonly loc: SourceLocation }
  /** `"abc"` (adjacent strings concatenate); `"abc"...` matches any string starting so. */
  | {
      readonly kind: "string";
      readonly value: string;
      readonly ellipsis: boolean;
      readonly loc: SourceLocation;
    }
  /** `O_RDWR|O_NONBLOCK`. */
  | {
      readonly kind: "binary";
      readonly op: "|";
      readonly left: SyscallExpr;
      readonly right: SyscallExpr;
      readonly loc: SourceLocation;
    }
  /** `sa_family=AF_INET`, `msg_iov(1)=[…]`: a named field inside braces. */
  | {
      readonly kind: "assign";
      readonly target: WordExpr | CallExpr;
      readonly value: SyscallExpr;
      readonly loc: SourceLocation;
    }
  /** `htons(8080)`, `inet_addr("192.0.2.1")`, `inet6_addr("…")`, `msg_name(...)`, `msg_iov(1)`. */
  | CallExpr
  /** `[1000]`, `[]`: a pointer to a value (or an array of them). */
  | {
      readonly kind: "array";
      readonly elements: readonly SyscallExpr[];
      readonly loc: SourceLocation;
    }
  /** `{fd=3, events=POLLIN}`, `{..., 1000}`: a struct. */
  | {
      readonly kind: "struct";
      readonly elements: readonly SyscallExpr[];
      readonly loc: SourceLocation;
    };

/** A symbol expression. */
export type WordExpr = {
  readonly kind: "word";
  readonly name: string;
  readonly loc: SourceLocation;
};

/** A call-like expression; the parser only accepts the names in {@link EXPR_FUNCTIONS}. */
export type CallExpr = {
  readonly kind: "call";
  readonly name: string;
  readonly args: readonly SyscallExpr[];
  readonly loc: SourceLocation;
};

/** The call-like forms packetdrill's grammar has inside expressions. */
export const EXPR_FUNCTIONS: readonly string[] = [
  "htons",
  "inet_addr",
  "inet6_addr",
  "msg_name",
  "msg_iov",
];

/** The system calls packetdrill's dispatch table knows (`run_system_call.c`). */
export const KNOWN_SYSCALLS: readonly string[] = [
  "socket",
  "bind",
  "listen",
  "accept",
  "connect",
  "read",
  "readv",
  "recv",
  "recvfrom",
  "recvmsg",
  "write",
  "writev",
  "send",
  "sendto",
  "sendmsg",
  "fcntl",
  "ioctl",
  "close",
  "shutdown",
  "getsockopt",
  "setsockopt",
  "poll",
  "cap_set",
  "open",
  "sendfile",
  "epoll_create",
  "epoll_ctl",
  "epoll_wait",
  "pipe",
  "splice",
];

/**
 * `connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)`.
 */
export interface Syscall {
  readonly name: string;
  readonly args: readonly SyscallExpr[];
  /**
   * For a blocking call written `start...end` (`+0...0.200 accept(...)`): when it must return,
   * in µs. Absolute when the event time is absolute; when the event time is relative it is
   * measured from the same base as the start (packetdrill adds the same offset to both).
   * `undefined` for a call that must return at once.
   */
  readonly endUs: number | undefined;
  /** The expected return value. */
  readonly result: SyscallExpr;
  /** `EINPROGRESS (Operation now in progress)`: the expected errno and its strerror text. */
  readonly errno: { readonly name: string; readonly strerror: string | undefined } | undefined;
  /** A trailing `(…)` note that is not an errno's: `= 0x2 (flags O_RDWR)`. */
  readonly note: string | undefined;
}

// ---------------------------------------------------------------------------------------------
// Shell commands

/** One sysctl write a command performs. `value` is in the text form `sysctl -w` takes. */
export interface SysctlAssignment {
  /** Dotted name: `net.ipv4.tcp_tso_win_divisor`. */
  readonly name: string;
  readonly value: string;
}

/**
 * One step of a backtick command, recognised where the runner can act on it:
 * - `defaults`: `../common/defaults.sh` — see `PACKETDRILL_DEFAULT_SYSCTLS`.
 * - `sysctl`: `sysctl -q name=value`, `sysctl -w …`, `set_sysctls.py /proc/sys/…=v …`,
 *   `echo v > /proc/sys/…`.
 * - `other`: anything else (`tc …`, `ethtool …`, a restore script): the runner reports it as
 *   unsupported.
 */
export type ShellStep =
  | { readonly kind: "defaults"; readonly path: string; readonly text: string }
  | {
      readonly kind: "sysctl";
      readonly tool: "sysctl" | "set_sysctls" | "echo";
      readonly assignments: readonly SysctlAssignment[];
      readonly text: string;
    }
  | { readonly kind: "other"; readonly text: string };

/** A backtick command: its text as written and the steps recognised in it. */
export interface ShellCommand {
  readonly text: string;
  readonly steps: readonly ShellStep[];
  readonly loc: SourceLocation;
}

// ---------------------------------------------------------------------------------------------
// %{ … }% code blocks: a small Python subset

/** Comparison operators (chains like `990 <= x <= 1010` keep every link). */
export type PyCompareOp = "<" | "<=" | ">" | ">=" | "==" | "!=";
/** Arithmetic and bitwise binary operators. */
export type PyBinaryOp = "+" | "-" | "*" | "/" | "//" | "%" | "**" | "|" | "&" | "^" | "<<" | ">>";

/** An expression inside a `%{ }%` block. */
export type PyExpr =
  | { readonly kind: "num"; readonly value: number; readonly loc: SourceLocation }
  | { readonly kind: "str"; readonly value: string; readonly loc: SourceLocation }
  /** `True`, `False`, `None`. */
  | { readonly kind: "const"; readonly value: boolean | null; readonly loc: SourceLocation }
  /** `tcpi_snd_cwnd`, `TCP_CA_Recovery`. */
  | { readonly kind: "name"; readonly id: string; readonly loc: SourceLocation }
  /** `a.b`. */
  | {
      readonly kind: "attr";
      readonly object: PyExpr;
      readonly name: string;
      readonly loc: SourceLocation;
    }
  | {
      readonly kind: "unary";
      readonly op: "-" | "+" | "~" | "not";
      readonly operand: PyExpr;
      readonly loc: SourceLocation;
    }
  | {
      readonly kind: "binary";
      readonly op: PyBinaryOp;
      readonly left: PyExpr;
      readonly right: PyExpr;
      readonly loc: SourceLocation;
    }
  /** `a and b and c` / `a or b`. */
  | {
      readonly kind: "bool";
      readonly op: "and" | "or";
      readonly values: readonly PyExpr[];
      readonly loc: SourceLocation;
    }
  | {
      readonly kind: "compare";
      readonly left: PyExpr;
      readonly ops: readonly PyCompareOp[];
      readonly comparators: readonly PyExpr[];
      readonly loc: SourceLocation;
    };

/** `assert test, message`: the only statement a code block may hold. */
export interface PyAssert {
  readonly kind: "assert";
  readonly test: PyExpr;
  readonly message: PyExpr | undefined;
  readonly loc: SourceLocation;
}

/** A `%{ … }%` block: its text (stripped of spaces and tabs at both ends) and its statements. */
export interface CodeBlock {
  readonly text: string;
  readonly statements: readonly PyAssert[];
}

// ---------------------------------------------------------------------------------------------
// Events and the script

interface EventBase {
  readonly time: TimeSpec;
  /** Where the event's time starts. */
  readonly loc: SourceLocation;
  /** The event's text as written, from its time to its last token. */
  readonly source: string;
}

/** A `<` or `>` line. */
export interface PacketEvent extends EventBase {
  readonly kind: "packet";
  readonly packet: Packet;
}

/** A system call line. */
export interface SyscallEvent extends EventBase {
  readonly kind: "syscall";
  readonly syscall: Syscall;
}

/** A timed backtick command. */
export interface CommandEvent extends EventBase {
  readonly kind: "command";
  readonly command: ShellCommand;
}

/** A timed `%{ … }%` block. */
export interface CodeEvent extends EventBase {
  readonly kind: "code";
  readonly code: CodeBlock;
}

/** One timed line of a script. */
export type ScriptEvent = PacketEvent | SyscallEvent | CommandEvent | CodeEvent;

/** A `--name=value` line at the top of a script (the same flags the command line takes). */
export interface ScriptOption {
  readonly name: string;
  /** The value as written (quotes of a `WORD="x"` value kept); `undefined` for `--name`. */
  readonly value: string | undefined;
  readonly loc: SourceLocation;
}

/**
 * A whole script: `opt_options opt_init_command events opt_cleanup_command` in packetdrill's
 * grammar.
 */
export interface Script {
  readonly file: string;
  /** The script text, for error messages that quote a line. */
  readonly text: string;
  readonly options: readonly ScriptOption[];
  /** An untimed backtick command before the first event (usually `../common/defaults.sh`). */
  readonly init: ShellCommand | undefined;
  /** At least one event. */
  readonly events: readonly ScriptEvent[];
  /** An untimed backtick command after the last event, always run at the end. */
  readonly cleanup: ShellCommand | undefined;
}
