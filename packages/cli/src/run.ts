/**
 * `skb run CONFIG`: builds a stack (or a network) from a config file and keeps it running until
 * SIGINT/SIGTERM. Prints `READY` once every device is up.
 * @packageDocumentation
 */
import { loadNetwork, loadStack } from "@skbuff/core";

/** Options of {@link runStack}. */
export interface RunOptions {
  readonly network?: boolean;
  readonly out?: (line: string) => void;
  /** Resolves to stop (for tests); default: SIGINT/SIGTERM. */
  readonly until?: Promise<void>;
}

/** Runs a config until a signal (or `until`) and then closes it. */
export async function runStack(file: string, options: RunOptions = {}): Promise<void> {
  const out = options.out ?? ((l: string) => console.log(l));
  const target = options.network ? await loadNetwork(file) : await loadStack(file);
  const stacks = "hosts" in target ? Object.values(target.hosts) : [target];
  for (const s of stacks) {
    for (const d of s.devices) {
      const addrs = d.addresses.map((a) => `${a.address}/${a.prefixLen}`).join(" ");
      out(`${s.name}: ${d.toString()}${addrs ? ` inet ${addrs}` : ""}`);
    }
  }
  out("READY");
  const stop =
    options.until ??
    new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
  // Keep the event loop alive while running.
  const keepAlive = setInterval(() => {}, 1 << 30);
  await stop;
  clearInterval(keepAlive);
  await target.close();
}
