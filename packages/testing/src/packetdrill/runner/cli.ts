/**
 * `skb packetdrill [--tolerance_usecs=N] [--strict_segments] [--verbose] [flags…] FILE…`: runs
 * each script, prints one line per script (`ok  path` or `FAIL path:line: reason: expected …,
 * got …`) and `N passed, N failed`; the exit code is 0 only when every script passed.
 * @packageDocumentation
 */
import { PacketdrillFlagError, parseCommandLine } from "../flags.js";
import { formatSeconds } from "../format.js";
import { runScriptFile, type ScriptResult } from "./run.js";

/** Where the command writes, and nothing else (so tests can capture it). */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

const USAGE =
  "usage: skb packetdrill [--tolerance_usecs=N] [--strict_segments] [--verbose] [packetdrill flags] FILE...";

/** `--verbose` lines: timing and what was not applied. */
function details(r: ScriptResult): string[] {
  const time = `    time: ${formatSeconds(r.virtualUs)} s virtual, ${Math.round(r.wallMs)} ms wall`;
  return [time, ...r.notes.map((n) => `    note: ${n}`)];
}

/** One line (or, with `--verbose`, a few) for a script's result. */
export function formatResult(r: ScriptResult, verbose: boolean): string[] {
  if (r.passed) {
    return [`ok  ${r.file}`, ...(verbose ? details(r) : [])];
  }
  const f = r.failure!;
  const got = f.actual === undefined ? "" : `, got ${f.actual}`;
  const expected = f.expected === "" ? "" : `: expected ${f.expected}${got}`;
  return [`FAIL ${r.file}:${f.line}: ${f.reason}${expected}`, ...(verbose ? details(r) : [])];
}

/**
 * Runs the command with `args` (after `packetdrill`). Returns the exit code: 0 when every
 * script passed, 1 when one failed, 2 for a bad command line.
 */
export async function packetdrillMain(args: readonly string[], io: CliIo): Promise<number> {
  let files: readonly string[];
  let verbose: boolean;
  try {
    const cl = parseCommandLine(args);
    files = cl.scripts;
    verbose = cl.flags.verbose;
  } catch (error) {
    if (!(error instanceof PacketdrillFlagError)) throw error;
    io.err(`skb packetdrill: ${error.message}`);
    io.err(USAGE);
    return 2;
  }
  if (files.length === 0) {
    io.err(USAGE);
    return 2;
  }
  const flagArgs = args.filter((a) => !files.includes(a));
  let passed = 0;
  let failed = 0;
  for (const file of files) {
    const r = await runScriptFile(file, flagArgs);
    if (r.passed) passed++;
    else failed++;
    for (const line of formatResult(r, verbose)) io.out(line);
  }
  io.out(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}
