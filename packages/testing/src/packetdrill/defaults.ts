/**
 * What `../common/defaults.sh` means. On Linux that script sets production defaults; a runner
 * maps it to the stack's sysctls (values in the text form `sysctl -w` takes, which
 * `Sysctl.set()` accepts). The table is the one in the conformance folder's README.
 * @packageDocumentation
 */
import type { ShellCommand, ShellStep, SysctlAssignment } from "./ast.js";

/** The sysctls `defaults.sh` sets, by dotted name. */
export const PACKETDRILL_DEFAULT_SYSCTLS = Object.freeze({
  /** This is what gives window scale 8 in SYN-ACKs. */
  "net.ipv4.tcp_rmem": "4096 540000 15728640",
  "net.ipv4.tcp_wmem": "4096 262144 4194304",
  "net.ipv4.tcp_timestamps": "1",
  "net.ipv4.tcp_syn_retries": "5",
  "net.ipv4.tcp_synack_retries": "5",
  "net.ipv4.tcp_frto": "2",
  "net.ipv4.tcp_sack": "1",
  "net.ipv4.tcp_dsack": "1",
  "net.ipv4.tcp_fack": "0",
  "net.ipv4.tcp_reordering": "3",
  "net.ipv4.tcp_congestion_control": "cubic",
  "net.ipv4.tcp_slow_start_after_idle": "0",
  /** RACK and TLP on. */
  "net.ipv4.tcp_early_retrans": "4",
  "net.ipv4.tcp_recovery": "1",
  "net.ipv4.tcp_tso_win_divisor": "3",
  "net.ipv4.tcp_ecn": "0",
  "net.ipv4.tcp_pacing_ss_ratio": "200",
  "net.ipv4.tcp_pacing_ca_ratio": "120",
  "net.ipv4.tcp_notsent_lowat": "4294967295",
  "net.ipv4.tcp_fastopen": "0x70403",
  "net.ipv4.tcp_syncookies": "1",
} as const);

/** A sysctl name `defaults.sh` sets. */
export type DefaultSysctlName = keyof typeof PACKETDRILL_DEFAULT_SYSCTLS;

/** The queueing discipline `defaults.sh` puts on the test device: pfifo, so no pacing. */
export const PACKETDRILL_DEFAULT_QDISC = "pfifo";

/** What a backtick command asks of the stack, flattened in order. */
export interface CommandEffects {
  /** Sysctl writes in order (defaults first where `defaults.sh` comes first); later wins. */
  readonly sysctls: readonly SysctlAssignment[];
  /** The qdisc to use on the test device, when `defaults.sh` ran. */
  readonly qdisc: string | undefined;
  /** Steps the runner cannot perform (`tc …`, restore scripts): report them as unsupported. */
  readonly unsupported: readonly ShellStep[];
}

/** Flattens a command's steps into sysctl writes, expanding `defaults.sh` to its table. */
export function commandEffects(command: Pick<ShellCommand, "steps">): CommandEffects {
  const sysctls: SysctlAssignment[] = [];
  const unsupported: ShellStep[] = [];
  let qdisc: string | undefined;
  for (const step of command.steps) {
    if (step.kind === "defaults") {
      for (const [name, value] of Object.entries(PACKETDRILL_DEFAULT_SYSCTLS)) {
        sysctls.push({ name, value });
      }
      qdisc = PACKETDRILL_DEFAULT_QDISC;
    } else if (step.kind === "sysctl") {
      sysctls.push(...step.assignments);
    } else {
      unsupported.push(step);
    }
  }
  return { sysctls, qdisc, unsupported };
}
