/**
 * Typed errors raised at the edges of the stack: bad configuration, bad plugin composition and
 * bad API calls. The packet path never throws; it drops with an {@link SkbDropReason} instead.
 * @packageDocumentation
 */

/** Base class of every error skbuff throws on purpose. `code` is stable and machine-readable. */
export class SkbuffError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/**
 * A configuration value was refused. `path` is the key path inside the config (for example
 * `hosts.a.devices[0].address`), `value` what was given and `expected` what would have been
 * accepted. Raised before anything starts.
 */
export class ConfigError extends SkbuffError {
  readonly path: string;
  readonly value: unknown;
  readonly expected: string;
  readonly file: string | undefined;
  constructor(path: string, value: unknown, expected: string, file?: string) {
    const where = file ? `${file}: ` : "";
    super(
      "ERR_SKB_CONFIG",
      `${where}${path || "(root)"}: got ${describeValue(value)}, expected ${expected}`,
    );
    this.path = path;
    this.value = value;
    this.expected = expected;
    this.file = file;
  }
}

/** Plugin composition failed: a missing dependency, a duplicate name, a missing driver. */
export class PluginError extends SkbuffError {
  constructor(message: string) {
    super("ERR_SKB_PLUGIN", message);
  }
}

/** A sysctl name is unknown or its value out of range / of the wrong type. */
export class SysctlError extends SkbuffError {
  readonly sysctl: string;
  constructor(sysctl: string, message: string) {
    super("ERR_SKB_SYSCTL", `sysctl ${sysctl}: ${message}`);
    this.sysctl = sysctl;
  }
}

/**
 * An error carrying a Node-style errno code (`ECONNREFUSED`, `EHOSTUNREACH`, `ETIMEDOUT`, …),
 * as Node's own `net` and `dgram` modules report them.
 */
export class ErrnoError extends SkbuffError {
  readonly errno: number;
  readonly syscall: string | undefined;
  constructor(code: string, errno: number, message: string, syscall?: string) {
    super(code, `${code}: ${message}`);
    this.errno = errno;
    this.syscall = syscall;
  }
}

/** Short, quoted rendering of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || value === null) {
    return String(value);
  }
  try {
    const s = JSON.stringify(value);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return Object.prototype.toString.call(value);
  }
}
