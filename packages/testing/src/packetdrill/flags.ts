/**
 * packetdrill's flags: the same `--name[=value]` options on the command line and at the top of
 * a script. Script options are applied first and the command line overrides them, as
 * packetdrill's `parse_and_finalize_config()` does.
 * @see packetdrill gtests/net/packetdrill/config.c process_option()
 * @packageDocumentation
 */
import { SkbuffError } from "@skbuff/core";
import type { Script, ScriptOption } from "./ast.js";

/** The address family the script's packets and sockets use. */
export type IpVersion = "ipv4" | "ipv4-mapped-ipv6" | "ipv6";

/** Every setting a packetdrill run takes from flags. */
export interface PacketdrillFlags {
  /** `--ip_version` (packetdrill guesses from the host; we default to ipv4). */
  readonly ipVersion: IpVersion;
  /** `--bind_port`, `--connect_port`: what `bind(..., ...)`/`connect(..., ...)` use. */
  readonly bindPort: number;
  readonly connectPort: number;
  /** `--local_ip`, `--remote_ip` (may carry `/prefix`), `--gateway_ip`, `--netmask_ip`. */
  readonly localIp: string | undefined;
  readonly remoteIp: string | undefined;
  readonly gatewayIp: string | undefined;
  readonly netmaskIp: string | undefined;
  /** `--mss`, `--mtu`, `--speed` (Mbit/s) of the test device, when given. */
  readonly mss: number | undefined;
  readonly mtu: number | undefined;
  readonly speed: number | undefined;
  /**
   * `--tolerance_usecs`: the timing tolerance floor, default 4000 µs. The tolerance for an event
   * is the larger of this and {@link tolerancePercent} of the gap since the previous event.
   */
  readonly toleranceUsecs: number;
  /** `--tolerance_percent`: default 12.5 (the worst-case slack of Linux's timer wheel). */
  readonly tolerancePercent: number;
  /** `--tcp_ts_tick_usecs`: µs per outbound TSval tick; 0 (default) skips TSval checks. */
  readonly tcpTsTickUsecs: number;
  /** `--tcp_ts_ecr_scaled`: inbound ecr values are scaled like TSvals. */
  readonly tcpTsEcrScaled: boolean;
  /** `--strict_segments`: do not merge consecutive outbound segments into a scripted one. */
  readonly strictSegments: boolean;
  /** `--non_fatal=packet,syscall`: mismatches of these kinds warn instead of failing. */
  readonly nonFatal: { readonly packet: boolean; readonly syscall: boolean };
  /** `--define=SYM=value` / `-D SYM=value`. */
  readonly defines: Readonly<Record<string, string>>;
  /** `--code_command`, `--code_format`, `--code_sockopt` for `%{ }%` blocks. */
  readonly codeCommand: string;
  readonly codeFormat: string;
  readonly codeSockopt: string;
  /** `--init_scripts`. */
  readonly initScripts: string | undefined;
  readonly dryRun: boolean;
  readonly verbose: boolean;
  readonly debug: boolean;
  /**
   * Flags packetdrill knows that a simulated run has no use for (`--wire_client`, `--so_filename`,
   * `--is_anyip`, …), with their values: a runner may warn about them.
   */
  readonly ignored: Readonly<Record<string, string | true>>;
}

/** packetdrill's defaults (`set_default_config()`). */
export const DEFAULT_FLAGS: PacketdrillFlags = Object.freeze({
  ipVersion: "ipv4",
  bindPort: 8080,
  connectPort: 8080,
  localIp: undefined,
  remoteIp: undefined,
  gatewayIp: undefined,
  netmaskIp: undefined,
  mss: undefined,
  mtu: undefined,
  speed: undefined,
  toleranceUsecs: 4000,
  tolerancePercent: 12.5,
  tcpTsTickUsecs: 0,
  tcpTsEcrScaled: false,
  strictSegments: false,
  nonFatal: Object.freeze({ packet: false, syscall: false }),
  defines: Object.freeze({}),
  codeCommand: "python3",
  codeFormat: "python",
  codeSockopt: "",
  initScripts: undefined,
  dryRun: false,
  verbose: false,
  debug: false,
  ignored: Object.freeze({}),
});

/** A bad flag on the command line. */
export class PacketdrillFlagError extends SkbuffError {
  constructor(message: string) {
    super("ERR_PACKETDRILL_FLAG", message);
  }
}

type Draft = { -readonly [K in keyof PacketdrillFlags]: PacketdrillFlags[K] };

/** Applies a value; returns what was expected (`"a port from 1 to 65535"`) when refused. */
type Apply = (f: Draft, value: string) => string | undefined;

interface FlagDef {
  readonly hasArg: boolean;
  readonly apply: Apply;
}

function int(min: number, max: number, what: string, set: (f: Draft, n: number) => void): Apply {
  return (f, v) => {
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < min || n > max) return what;
    set(f, n);
    return undefined;
  };
}

function str(set: (f: Draft, v: string) => void): Apply {
  return (f, v) => {
    set(f, v);
    return undefined;
  };
}

function bool(set: (f: Draft) => void): Apply {
  return (f) => {
    set(f);
    return undefined;
  };
}

function ignored(name: string, hasArg: boolean): FlagDef {
  return {
    hasArg,
    apply: (f, v) => {
      f.ignored = { ...f.ignored, [name]: hasArg ? v : true };
      return undefined;
    },
  };
}

const FLAGS: Readonly<Record<string, FlagDef>> = {
  ip_version: {
    hasArg: true,
    apply: (f, v) => {
      if (v !== "ipv4" && v !== "ipv4-mapped-ipv6" && v !== "ipv6") {
        return "ipv4, ipv4-mapped-ipv6 or ipv6";
      }
      f.ipVersion = v;
      return undefined;
    },
  },
  bind_port: {
    hasArg: true,
    apply: int(1, 0xffff, "a port from 1 to 65535", (f, n) => {
      f.bindPort = n;
    }),
  },
  connect_port: {
    hasArg: true,
    apply: int(1, 0xffff, "a port from 1 to 65535", (f, n) => {
      f.connectPort = n;
    }),
  },
  local_ip: {
    hasArg: true,
    apply: str((f, v) => {
      f.localIp = v;
    }),
  },
  remote_ip: {
    hasArg: true,
    apply: str((f, v) => {
      f.remoteIp = v;
    }),
  },
  gateway_ip: {
    hasArg: true,
    apply: str((f, v) => {
      f.gatewayIp = v;
    }),
  },
  netmask_ip: {
    hasArg: true,
    apply: str((f, v) => {
      f.netmaskIp = v;
    }),
  },
  mss: {
    hasArg: true,
    apply: int(1, 0xffff, "an MSS from 1 to 65535 bytes", (f, n) => {
      f.mss = n;
    }),
  },
  mtu: {
    hasArg: true,
    apply: int(0, 0x7fffffff, "an MTU in bytes", (f, n) => {
      f.mtu = n;
    }),
  },
  speed: {
    hasArg: true,
    apply: int(0, 0xffffffff, "a speed in Mbit/s", (f, n) => {
      f.speed = n;
    }),
  },
  tolerance_usecs: {
    hasArg: true,
    apply: int(1, Number.MAX_SAFE_INTEGER, "a positive number of microseconds", (f, n) => {
      f.toleranceUsecs = n;
    }),
  },
  tolerance_percent: {
    hasArg: true,
    apply: (f, v) => {
      const n = Number(v);
      if (!/^\d*\.?\d+$|^\d+\.$/.test(v) || !(n >= 0 && n <= 100)) {
        return "a percentage from 0 to 100";
      }
      f.tolerancePercent = n;
      return undefined;
    },
  },
  tcp_ts_tick_usecs: {
    hasArg: true,
    apply: int(0, 1_000_000, "microseconds per TSval tick, 0 to 1000000", (f, n) => {
      f.tcpTsTickUsecs = n;
    }),
  },
  tcp_ts_ecr_scaled: {
    hasArg: false,
    apply: bool((f) => {
      f.tcpTsEcrScaled = true;
    }),
  },
  strict_segments: {
    hasArg: false,
    apply: bool((f) => {
      f.strictSegments = true;
    }),
  },
  non_fatal: {
    hasArg: true,
    apply: (f, v) => {
      const kinds = v.split(/[, ]+/).filter((k) => k !== "");
      if (kinds.some((k) => k !== "packet" && k !== "syscall")) {
        return "a comma-separated list of packet, syscall";
      }
      f.nonFatal = {
        packet: f.nonFatal.packet || kinds.includes("packet"),
        syscall: f.nonFatal.syscall || kinds.includes("syscall"),
      };
      return undefined;
    },
  },
  define: {
    hasArg: true,
    apply: (f, v) => {
      const eq = v.indexOf("=");
      if (eq <= 0) return "SYMBOL=value";
      f.defines = { ...f.defines, [v.slice(0, eq)]: v.slice(eq + 1) };
      return undefined;
    },
  },
  code_command: {
    hasArg: true,
    apply: str((f, v) => {
      f.codeCommand = v;
    }),
  },
  code_format: {
    hasArg: true,
    apply: str((f, v) => {
      f.codeFormat = v;
    }),
  },
  code_sockopt: {
    hasArg: true,
    apply: str((f, v) => {
      f.codeSockopt = v;
    }),
  },
  init_scripts: {
    hasArg: true,
    apply: str((f, v) => {
      f.initScripts = v;
    }),
  },
  dry_run: {
    hasArg: false,
    apply: bool((f) => {
      f.dryRun = true;
    }),
  },
  verbose: {
    hasArg: false,
    apply: bool((f) => {
      f.verbose = true;
    }),
  },
  debug: {
    hasArg: false,
    apply: bool((f) => {
      f.debug = true;
    }),
  },
  wire_client: ignored("wire_client", false),
  wire_server: ignored("wire_server", false),
  wire_server_ip: ignored("wire_server_ip", true),
  wire_server_at: ignored("wire_server_at", true),
  wire_server_port: ignored("wire_server_port", true),
  wire_client_dev: ignored("wire_client_dev", true),
  wire_server_dev: ignored("wire_server_dev", true),
  so_filename: ignored("so_filename", true),
  so_flags: ignored("so_flags", true),
  is_anyip: ignored("is_anyip", false),
  send_omit_free: ignored("send_omit_free", false),
};

/** The names of every flag packetdrill accepts, without the leading `--`. */
export const FLAG_NAMES: readonly string[] = Object.keys(FLAGS);

/**
 * Applies one flag to `draft`. Returns `undefined` on success, or a sentence saying what was
 * expected and what was found.
 */
function applyFlag(draft: Draft, name: string, value: string | undefined): string | undefined {
  const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
  if (def === undefined) {
    return `expected a packetdrill option (like --tolerance_usecs), found unknown option --${name}`;
  }
  if (def.hasArg && value === undefined) {
    return `expected a value (--${name}=...), found --${name} alone`;
  }
  if (!def.hasArg && value !== undefined) {
    return `expected --${name} without a value, found --${name}=${value}`;
  }
  const what = def.apply(draft, value ?? "");
  return what === undefined ? undefined : `expected ${what} for --${name}, found '${value}'`;
}

/**
 * Checks one script option; returns why it is refused, or `undefined`. The parser uses this so
 * that a bad `--flag` line fails with its location.
 */
export function checkScriptOption(
  option: Pick<ScriptOption, "name" | "value">,
): string | undefined {
  return applyFlag({ ...DEFAULT_FLAGS }, option.name, option.value);
}

/** Applies script options (already checked by the parser) on top of `base`. */
export function applyScriptOptions(
  options: readonly Pick<ScriptOption, "name" | "value">[],
  base: PacketdrillFlags = DEFAULT_FLAGS,
): PacketdrillFlags {
  const draft: Draft = { ...base };
  for (const o of options) {
    const why = applyFlag(draft, o.name, o.value);
    if (why !== undefined) throw new PacketdrillFlagError(`script option: ${why}`);
  }
  return Object.freeze(draft);
}

/** Command-line arguments split into flags and the script paths after them. */
export interface CommandLine {
  readonly flags: PacketdrillFlags;
  readonly scripts: readonly string[];
}

/**
 * Parses packetdrill's command line: `--name=value`, `--name value`, `--flag`, `-v`,
 * `-D SYM=value` / `-DSYM=value`, `--` to end options; other arguments are script paths.
 * @throws PacketdrillFlagError naming the flag and what was expected.
 */
export function parseCommandLine(
  args: readonly string[],
  base: PacketdrillFlags = DEFAULT_FLAGS,
): CommandLine {
  const draft: Draft = { ...base };
  const scripts: string[] = [];
  const fail = (why: string): never => {
    throw new PacketdrillFlagError(`Command Line: ${why}`);
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      scripts.push(...args.slice(i + 1));
      break;
    }
    if (arg === "-v") {
      draft.verbose = true;
      continue;
    }
    if (arg.startsWith("-D")) {
      const v = arg.length > 2 ? arg.slice(2) : args[++i];
      if (v === undefined) fail("expected SYMBOL=value after -D, found nothing");
      const why = applyFlag(draft, "define", v);
      if (why !== undefined) fail(why);
      continue;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      let value = eq === -1 ? undefined : arg.slice(eq + 1);
      const def = Object.hasOwn(FLAGS, name) ? FLAGS[name] : undefined;
      if (def?.hasArg && value === undefined && i + 1 < args.length) value = args[++i];
      const why = applyFlag(draft, name, value);
      if (why !== undefined) fail(why);
      continue;
    }
    if (arg.startsWith("-") && arg !== "-")
      fail(`expected a --flag, -v or -D, found unknown option ${arg}`);
    scripts.push(arg);
  }
  return { flags: Object.freeze(draft), scripts };
}

/**
 * Parses flags only (no script paths allowed), e.g. `parseFlags(["--tolerance_usecs=20000"])`.
 * @throws PacketdrillFlagError for a bad flag or a stray argument.
 */
export function parseFlags(
  args: readonly string[],
  base: PacketdrillFlags = DEFAULT_FLAGS,
): PacketdrillFlags {
  const { flags, scripts } = parseCommandLine(args, base);
  if (scripts.length > 0) {
    throw new PacketdrillFlagError(`Command Line: expected a --flag, found "${scripts[0]}"`);
  }
  return flags;
}

/**
 * The flags a run of `script` uses: defaults, then the script's own `--options`, then the
 * command line (which wins).
 */
export function resolveFlags(
  script: Pick<Script, "options">,
  args: readonly string[] = [],
  base: PacketdrillFlags = DEFAULT_FLAGS,
): PacketdrillFlags {
  return parseFlags(args, applyScriptOptions(script.options, base));
}
