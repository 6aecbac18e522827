/**
 * `skb packetdrill [--tolerance_usecs=N] [--strict_segments] [--verbose] FILE…`: runs packetdrill
 * scripts against a stack on the virtual clock (see `@skbuff/testing`'s runner), one line per
 * script, then `N passed, N failed`; exit code 0 only when every script passed.
 * @packageDocumentation
 */
import { packetdrillMain } from "@skbuff/testing";

/** Runs the command with its arguments (after `packetdrill`); returns the exit code. */
export function runPacketdrill(args: readonly string[]): Promise<number> {
  return packetdrillMain(args, {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}
