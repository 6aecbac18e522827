import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";
import { runPacketdrill } from "../src/packetdrill.js";

const FIXTURES = fileURLToPath(
  new URL("../../testing/test/fixtures/packetdrill/", import.meta.url),
);

describe("skb packetdrill", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("exits 0 and prints ok and the summary when every script passes", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const code = await runPacketdrill([`${FIXTURES}pass-rst-closed-port.pkt`]);
    expect(code).toBe(0);
    expect(log.mock.calls.map((c) => c[0])).toEqual([
      `ok  ${FIXTURES}pass-rst-closed-port.pkt`,
      "1 passed, 0 failed",
    ]);
  });

  it("exits 1 and names the failing line when a script fails", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const code = await runPacketdrill([`${FIXTURES}fail-wrong-errno.pkt`]);
    expect(code).toBe(1);
    expect(log.mock.calls[0]![0]).toMatch(
      /fail-wrong-errno\.pkt:5: wrong errno: expected -1 ETIMEDOUT, got -1 ECONNREFUSED/,
    );
    expect(log.mock.calls[1]![0]).toBe("0 passed, 1 failed");
  });

  it("exits 2 without scripts, printing the usage", async () => {
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    expect(await runPacketdrill([])).toBe(2);
    expect(err.mock.calls[0]![0]).toMatch(/^usage: skb packetdrill/);
  });
});
