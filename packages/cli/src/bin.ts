#!/usr/bin/env node
/**
 * The `skb` command.
 * @packageDocumentation
 */
import { Command } from "commander";
import { runDemo } from "./demo.js";
import { runPacketdrill } from "./packetdrill.js";
import { runStack } from "./run.js";

const program = new Command();
program.name("skb").description("skbuff: a TCP/IP stack and netfilter framework for TypeScript");
program
  .command("demo", { isDefault: true })
  .description(
    "three stacks over veth: pings, a firewall hook, TTL expiry, fragmentation, drops and counters",
  )
  .option("--json", "print a JSON summary for programs")
  .action(async (opts: { json?: boolean }) => {
    await runDemo({ json: opts.json ?? false });
  });
program
  .command("run <config>")
  .description(
    "run a stack (or a network) from a config file until SIGINT/SIGTERM; prints READY when up",
  )
  .option("--network", "the file describes a network (hosts + links)")
  .action(async (config: string, opts: { network?: boolean }) => {
    await runStack(config, { network: opts.network ?? false });
  });
program
  .command("packetdrill")
  .description(
    "run packetdrill scripts against a stack on the virtual clock; exit 0 only when all pass",
  )
  .usage("[--tolerance_usecs=N] [--strict_segments] [--verbose] [packetdrill flags] FILE...")
  .allowUnknownOption(true)
  .helpOption(false)
  .argument(
    "[args...]",
    "packetdrill flags (--tolerance_usecs=N, --strict_segments, …) and scripts",
  )
  .action(async (args: string[]) => {
    process.exitCode = await runPacketdrill(args);
  });
program.parseAsync(process.argv).catch((error: unknown) => {
  const e = error as Error & { code?: string };
  console.error(`skb: ${e.message}`);
  process.exitCode = 1;
});
