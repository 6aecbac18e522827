/**
 * Backtick commands, read for what a runner without a shell can do with them: run
 * `defaults.sh` as the table in `defaults.ts`, apply sysctl writes, report the rest.
 *
 * Recognised (one step per line, or per `;` / `&&`; `\` joins lines):
 * - `…/defaults.sh` (any directory)
 * - `sysctl [-q] [-w] name=value …` (names dotted or slashed; values may be quoted)
 * - `…/set_sysctls.py /proc/sys/net/ipv4/x=1 …`
 * - `echo value > /proc/sys/net/ipv4/x`
 * @packageDocumentation
 */
import type { ShellStep, SysctlAssignment } from "./ast.js";

/** Splits a backtick command into steps. Never throws: what is not recognised is `other`. */
export function parseShellCommand(text: string): ShellStep[] {
  const joined = text.replace(/\\\r?\n/g, " ");
  const steps: ShellStep[] = [];
  for (const line of joined.split("\n")) {
    for (const part of splitCommands(line)) {
      const step = part.trim();
      if (step !== "") steps.push(recognise(step));
    }
  }
  return steps;
}

/** Splits at `;` and `&&` outside quotes. */
function splitCommands(line: string): string[] {
  const out: string[] = [];
  let quote = "";
  let start = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === "\\" && quote === '"') i++;
      else if (c === quote) quote = "";
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === ";" || (c === "&" && line[i + 1] === "&")) {
      out.push(line.slice(start, i));
      if (c === "&") i++;
      start = i + 1;
    } else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      out.push(line.slice(start, i));
      return out;
    }
  }
  out.push(line.slice(start));
  return out;
}

/** Shell words with quotes removed, or `undefined` when the line uses syntax we do not read. */
function words(step: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  for (let i = 0; i < step.length; i++) {
    const c = step[i]!;
    if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = step.indexOf("'", i + 1);
      if (end === -1) return undefined;
      cur += step.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < step.length && step[j] !== '"'; j++) {
        if (step[j] === "\\" && j + 1 < step.length) j++;
        if (step[j] === "$" || step[j] === "`") return undefined;
        cur += step[j];
      }
      if (j >= step.length) return undefined;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < step.length) cur += step[++i];
    } else if ("$`|<(){}*?[]".includes(c)) {
      return undefined;
    } else {
      cur += c;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

function basename(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? path : path.slice(slash + 1);
}

/** `net/ipv4/tcp_x` or `/proc/sys/net/ipv4/tcp_x` → `net.ipv4.tcp_x`. */
function sysctlName(raw: string): string | undefined {
  const path = raw.startsWith("/proc/sys/") ? raw.slice("/proc/sys/".length) : raw;
  if (!/^[A-Za-z0-9_.\-/]+$/.test(path) || path.startsWith("/")) return undefined;
  return path.includes("/") ? path.split("/").join(".") : path;
}

function assignment(arg: string, procOnly: boolean): SysctlAssignment | undefined {
  const eq = arg.indexOf("=");
  if (eq <= 0) return undefined;
  const key = arg.slice(0, eq);
  if (procOnly && !key.startsWith("/proc/sys/")) return undefined;
  const name = sysctlName(key);
  return name === undefined ? undefined : { name, value: arg.slice(eq + 1).trim() };
}

function recognise(text: string): ShellStep {
  // `echo v > /proc/sys/…` has a redirection, which words() refuses: read it first.
  const echo = /^echo\s+(?:-n\s+)?(.+?)\s*>\s*(\/proc\/sys\/\S+)$/.exec(text);
  if (echo) {
    const value = words(echo[1]!);
    const name = sysctlName(echo[2]!);
    if (value !== undefined && name !== undefined) {
      return {
        kind: "sysctl",
        tool: "echo",
        assignments: [{ name, value: value.join(" ") }],
        text,
      };
    }
    return { kind: "other", text };
  }
  const argv = words(text);
  if (argv === undefined || argv.length === 0) return { kind: "other", text };
  const cmd = argv[0]!;
  if (basename(cmd) === "defaults.sh" && argv.length === 1) {
    return { kind: "defaults", path: cmd, text };
  }
  if (cmd === "sysctl") {
    const assignments: SysctlAssignment[] = [];
    for (const arg of argv.slice(1)) {
      if (/^-[qwe]+$/.test(arg)) continue;
      const a = assignment(arg, false);
      if (a === undefined) return { kind: "other", text };
      assignments.push(a);
    }
    if (assignments.length === 0) return { kind: "other", text };
    return { kind: "sysctl", tool: "sysctl", assignments, text };
  }
  if (basename(cmd) === "set_sysctls.py") {
    const assignments: SysctlAssignment[] = [];
    for (const arg of argv.slice(1)) {
      const a = assignment(arg, true);
      if (a === undefined) return { kind: "other", text };
      assignments.push(a);
    }
    if (assignments.length === 0) return { kind: "other", text };
    return { kind: "sysctl", tool: "set_sysctls", assignments, text };
  }
  return { kind: "other", text };
}
