import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { runStack } from "../src/run.js";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

describe("skb run", () => {
  it("builds the stack from the config file, lists its devices and prints READY", async () => {
    const lines: string[] = [];
    let stop!: () => void;
    const until = new Promise<void>((r) => {
      stop = r;
    });
    const running = runStack(fixture("stack.yaml"), { out: (l) => lines.push(l), until });
    await vi_waitFor(() => lines.includes("READY"));
    expect(lines[0]).toMatch(
      /^host-a: 1: lo: <UP,LOOPBACK,RUNNING> mtu 65536 inet 127\.0\.0\.1\/8$/,
    );
    stop();
    await running;
  });

  it("fails before anything starts when the config is bad", async () => {
    await expect(runStack(fixture("bad.yaml"), { out: () => {} })).rejects.toThrow(
      /devices\[0\]\.mtu/,
    );
  });
});

async function vi_waitFor(pred: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 5));
  }
}
