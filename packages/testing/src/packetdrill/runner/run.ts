/**
 * Runs a packetdrill script against a stack on the virtual clock: script time is virtual time,
 * `<` packets go in through the test device, `>` packets are taken from what the stack
 * transmitted and matched with packetdrill's rules, system calls drive `@skbuff/tcp`'s
 * Linux-semantics socket API, backtick commands set sysctls, and `%{ }%` blocks assert over
 * `tcp_info`. The first mismatch ends the run.
 * @see packetdrill gtests/net/packetdrill/run.c run_script(), run_packet.c, run_system_call.c
 * @packageDocumentation
 */
import { readFileSync } from "node:fs";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { TCP_SOCKET_API, tcp } from "@skbuff/tcp";
import { createHarness } from "../../harness.js";
import type { Script } from "../ast.js";
import { type PacketdrillFlags, resolveFlags } from "../flags.js";
import { parseScript } from "../parser.js";
import { PacketdrillParseError } from "../source.js";
import { EventLoop, RunFailure, type ScriptFailure } from "./event_loop.js";
import { SyscallRunner } from "./syscalls.js";
import type { FlowState } from "./tcp_match.js";

export type { ScriptFailure } from "./event_loop.js";

/** packetdrill's IPv4 defaults (`set_default_config()`). */
export const DEFAULT_LOCAL_IP = "192.168.0.1";
export const DEFAULT_REMOTE_IP = "192.0.2.1";
/** The remote's ISN: what a scripted inbound `0` is on the wire. */
export const REMOTE_ISN = 0x1000_0000;
/** The remote's port for a passive open (packetdrill picks an ephemeral one). */
export const REMOTE_PORT = 47_001;

/** The outcome of one script. */
export interface ScriptResult {
  readonly file: string;
  readonly passed: boolean;
  readonly failure: ScriptFailure | undefined;
  /** Commands and sysctls that were not applied (`tc …`, unknown sysctls), in order. */
  readonly notes: readonly string[];
  /** Virtual time at the end of the run, µs since the first event. */
  readonly virtualUs: number;
  /** Wall-clock time the run took, ms. */
  readonly wallMs: number;
}

function stripPrefix(ip: string): string {
  return ip.split("/")[0]!;
}

/**
 * Runs `script` with `flags` (see {@link resolveFlags}) on a fresh stack: IPv4, ICMP and TCP on
 * the test device `tst0` (MTU `--mtu` or 1500), the stack at `--local_ip` (192.168.0.1), the
 * script playing `--remote_ip` (192.0.2.1). Never throws for a script that fails: the result
 * says where and why.
 */
export async function runScript(script: Script, flags: PacketdrillFlags): Promise<ScriptResult> {
  const started = performance.now();
  const local = stripPrefix(flags.localIp ?? DEFAULT_LOCAL_IP);
  const remote = stripPrefix(flags.remoteIp ?? DEFAULT_REMOTE_IP);
  if (flags.ipVersion !== "ipv4") {
    return {
      file: script.file,
      passed: false,
      failure: {
        line: 0,
        expected: "",
        reason: `--ip_version=${flags.ipVersion} is not supported (ipv4 only)`,
        actual: undefined,
      },
      notes: [],
      virtualUs: 0,
      wallMs: performance.now() - started,
    };
  }
  const h = await createHarness({
    plugins: [ipv4(), icmp(), tcp()],
    address: `${local}/24`,
    peer: remote,
    mtu: flags.mtu ?? 1500,
    name: "packetdrill",
  });
  const flow: FlowState = {
    localIsn: undefined,
    remoteIsn: REMOTE_ISN,
    localPort: flags.bindPort,
    remotePort: REMOTE_PORT,
    tsOffset: undefined,
  };
  const api = h.stack.service(TCP_SOCKET_API, "tcp()");
  const run = new EventLoop(h, flags, flow, new SyscallRunner(api, flags, flow, { local, remote }));
  let failure: ScriptFailure | undefined;
  try {
    if (script.init !== undefined) run.applyCommand(script.init);
    run.events(script);
  } catch (error) {
    if (!(error instanceof RunFailure)) throw error;
    failure = error.failure;
  }
  if (script.cleanup !== undefined) run.applyCommand(script.cleanup);
  const virtualUs = run.nowUs();
  await h.close();
  return {
    file: script.file,
    passed: failure === undefined,
    failure,
    notes: run.notes,
    virtualUs,
    wallMs: performance.now() - started,
  };
}

/**
 * Reads, parses and runs a script file. `args` are command-line flags that override the
 * script's own (`--tolerance_usecs=20000`). A script that does not parse fails at its line.
 */
export async function runScriptFile(
  path: string,
  args: readonly string[] = [],
): Promise<ScriptResult> {
  const started = performance.now();
  let script: Script;
  let flags: PacketdrillFlags;
  try {
    script = parseScript(readFileSync(path, "utf8"), path);
    flags = resolveFlags(script, args);
  } catch (error) {
    const line = error instanceof PacketdrillParseError ? error.line : 0;
    const reason = error instanceof PacketdrillParseError ? error.reason : (error as Error).message;
    return {
      file: path,
      passed: false,
      failure: { line, expected: "", reason: `does not parse: ${reason}`, actual: undefined },
      notes: [],
      virtualUs: 0,
      wallMs: performance.now() - started,
    };
  }
  return runScript(script, flags);
}
