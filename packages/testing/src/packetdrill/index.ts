/**
 * The packetdrill runner's front half: script text → typed AST ({@link parseScript}), flags
 * ({@link resolveFlags}), event times → windows on the virtual clock ({@link TimeTracker}), what
 * `defaults.sh` means ({@link PACKETDRILL_DEFAULT_SYSCTLS}), and AST → script text
 * ({@link formatEvent}) for "expected … got …" messages.
 *
 * Layers, in the order a script flows through them:
 * - `lexer.ts` → tokens; `parser.ts` (+ `packet_parser.ts`, `syscall_parser.ts`, `python.ts`,
 *   `shell.ts`) → {@link Script}; errors are {@link PacketdrillParseError}
 * - `flags.ts` → {@link PacketdrillFlags}; `defaults.ts` → sysctl writes
 * - `time.ts` → {@link ScheduledTime} per event
 * - `format.ts` → text again
 * - `runner/` → {@link runScript}: the script against a stack on the virtual clock; `skb packetdrill`
 * @packageDocumentation
 */

export type {
  CallExpr,
  CodeBlock,
  CodeEvent,
  CommandEvent,
  IcmpPacket,
  IpEcn,
  IpInfo,
  Packet,
  PacketDirection,
  PacketEvent,
  PortInfo,
  PyAssert,
  PyBinaryOp,
  PyCompareOp,
  PyExpr,
  SackBlock,
  Script,
  ScriptEvent,
  ScriptOption,
  ShellCommand,
  ShellStep,
  SourceLocation,
  Syscall,
  SyscallEvent,
  SyscallExpr,
  SysctlAssignment,
  TcpOptionSpec,
  TcpPacket,
  TimeSpec,
  UdpPacket,
  WordExpr,
} from "./ast.js";
export { EXPR_FUNCTIONS, KNOWN_SYSCALLS, TCP_FLAG_LETTERS } from "./ast.js";
export {
  type CommandEffects,
  commandEffects,
  type DefaultSysctlName,
  PACKETDRILL_DEFAULT_QDISC,
  PACKETDRILL_DEFAULT_SYSCTLS,
} from "./defaults.js";
export {
  applyScriptOptions,
  type CommandLine,
  DEFAULT_FLAGS,
  FLAG_NAMES,
  type IpVersion,
  PacketdrillFlagError,
  type PacketdrillFlags,
  parseCommandLine,
  parseFlags,
  resolveFlags,
} from "./flags.js";
export {
  formatAssert,
  formatCode,
  formatCommand,
  formatEvent,
  formatExpr,
  formatIpInfo,
  formatPacket,
  formatPyExpr,
  formatScript,
  formatSeconds,
  formatSyscall,
  formatTcpFlags,
  formatTcpOptionSpec,
  formatTcpOptionSpecs,
  formatTime,
} from "./format.js";
export { type ParseOptions, parseScript } from "./parser.js";
export {
  type CliIo,
  DEFAULT_LOCAL_IP,
  DEFAULT_REMOTE_IP,
  evalPy,
  formatResult,
  KNOWN_FAILING,
  LINUX_TOLERANCE_USECS,
  PASSES_AT_LINUX_TOLERANCE,
  PyNameError,
  type PyValue,
  packetdrillMain,
  REMOTE_ISN,
  REMOTE_PORT,
  runAsserts,
  runScript,
  runScriptFile,
  type ScriptFailure,
  type ScriptResult,
} from "./runner/index.js";
export { parseShellCommand } from "./shell.js";
export { describeAt, PacketdrillParseError } from "./source.js";
export {
  DEFAULT_TOLERANCE,
  inWindow,
  type ScheduledTime,
  type TimedEvent,
  TimeTracker,
  type TimeWindow,
  type ToleranceOptions,
  timingError,
  toleranceFor,
} from "./time.js";
