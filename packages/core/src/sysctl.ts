/**
 * Sysctls, per stack, with Linux's names, types and ranges (`net.ipv4.ip_forward`,
 * `net.ipv4.tcp_rmem`, `net.core.netdev_max_backlog`, …). Plugins register the ones they own;
 * a plugin keeps the returned {@link SysctlEntry} and reads `entry.value` on the hot path.
 * @packageDocumentation
 */
import { SysctlError } from "./errors.js";
import type { SysctlValue } from "./options.js";

/** How a sysctl's value is typed, as in Linux's `proc_dointvec*` handlers. */
export type SysctlType = "int" | "bool" | "intvec" | "string";

/** The definition of one sysctl. */
export interface SysctlDef<T extends SysctlValue = SysctlValue> {
  /** Dotted Linux name, `net.ipv4.ip_forward`. */
  readonly name: string;
  readonly type: SysctlType;
  readonly default: T;
  /** Inclusive bounds for `int`, and for every element of `intvec` (proc_dointvec_minmax). */
  readonly min?: number;
  readonly max?: number;
  /** Number of elements of an `intvec`. */
  readonly length?: number;
  /** Allowed values of a `string` sysctl (checked when given). */
  readonly choices?: readonly string[] | (() => readonly string[]);
  /** One line of documentation. */
  readonly doc?: string;
  /** Called after a new value is stored. */
  readonly onChange?: (value: T) => void;
}

/** A registered sysctl; `value` is always the validated, normalised value. */
export interface SysctlEntry<T extends SysctlValue = SysctlValue> {
  readonly def: SysctlDef<T>;
  value: T;
}

/** The sysctls of one stack. */
export class Sysctl {
  private readonly entries = new Map<string, SysctlEntry>();

  /** Registers a sysctl and returns its live entry. Registering a name twice is an error. */
  register<T extends SysctlValue>(def: SysctlDef<T>): SysctlEntry<T> {
    if (this.entries.has(def.name)) {
      throw new SysctlError(def.name, "is registered twice");
    }
    const entry: SysctlEntry<T> = {
      def,
      value: normalise(def as unknown as SysctlDef, def.default) as T,
    };
    this.entries.set(def.name, entry as unknown as SysctlEntry);
    return entry;
  }

  /** Whether a sysctl of this name exists. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The live entry of a registered sysctl (throws {@link SysctlError} when unknown). */
  entry<T extends SysctlValue = SysctlValue>(name: string): SysctlEntry<T> {
    const e = this.entries.get(name);
    if (!e) throw new SysctlError(name, "no such sysctl (is the plugin that owns it registered?)");
    return e as unknown as SysctlEntry<T>;
  }

  /** The current value. */
  get<T extends SysctlValue = SysctlValue>(name: string): T {
    return this.entry<T>(name).value;
  }

  /**
   * Sets a value, checked against the sysctl's type and range. Accepts the text form
   * `sysctl -w` takes too (`"4096 131072 6291456"`, `"1"`).
   */
  set(name: string, value: SysctlValue): void {
    const e = this.entry(name);
    e.value = normalise(e.def, value);
    e.def.onChange?.(e.value);
  }

  /** Every sysctl and its value, sorted by name (like `sysctl -a`). */
  all(): Record<string, SysctlValue> {
    const out: Record<string, SysctlValue> = {};
    for (const name of [...this.entries.keys()].sort()) out[name] = this.entries.get(name)!.value;
    return out;
  }
}

function normalise(def: SysctlDef, raw: SysctlValue): SysctlValue {
  const { name } = def;
  switch (def.type) {
    case "int":
    case "bool": {
      const n = toInt(name, raw);
      const min = def.type === "bool" ? 0 : def.min;
      const max = def.type === "bool" ? 1 : def.max;
      checkRange(name, n, min, max);
      return n;
    }
    case "intvec": {
      let parts: readonly unknown[];
      if (typeof raw === "string") parts = raw.trim().split(/\s+/);
      else if (Array.isArray(raw)) parts = raw;
      else if (typeof raw === "number") parts = [raw];
      else
        throw new SysctlError(
          name,
          `expected ${def.length ?? "some"} integers, got ${String(raw)}`,
        );
      if (def.length !== undefined && parts.length !== def.length) {
        throw new SysctlError(name, `expected ${def.length} integers, got ${parts.length}`);
      }
      // Frozen: `get()` hands out the live value, which only `set()` may change.
      return Object.freeze(
        parts.map((p) => {
          const n = toInt(name, p);
          checkRange(name, n, def.min, def.max);
          return n;
        }),
      );
    }
    case "string": {
      if (typeof raw !== "string") {
        throw new SysctlError(name, `expected a string, got ${String(raw)}`);
      }
      const choices = typeof def.choices === "function" ? def.choices() : def.choices;
      if (choices && !choices.includes(raw)) {
        throw new SysctlError(name, `expected one of ${choices.join(", ")}, got ${raw}`);
      }
      return raw;
    }
  }
}

function toInt(name: string, raw: unknown): number {
  if (typeof raw === "boolean") return raw ? 1 : 0;
  const n = typeof raw === "string" && /^\s*-?(0x[0-9a-f]+|\d+)\s*$/i.test(raw) ? Number(raw) : raw;
  if (typeof n !== "number" || !Number.isInteger(n)) {
    throw new SysctlError(name, `expected an integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function checkRange(name: string, n: number, min?: number, max?: number): void {
  if ((min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new SysctlError(name, `${n} is out of range (${min ?? "-inf"}..${max ?? "+inf"})`);
  }
}
