import { fileURLToPath } from "node:url";
import { loadStack, type Stack } from "@skbuff/core";
import { afterEach, describe, expect, it } from "vitest";
import { rateLimiterOf } from "../src/index.js";

const config = fileURLToPath(new URL("../stack.yaml", import.meta.url));
const env = { ...process.env, RATE_LIMIT_PLUGIN: "./src/index.ts" };

describe("example:rate-limit, used from a config file", () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it("loads with the options of stack.yaml and limits ICMP per source", async () => {
    stack = await loadStack(config, { env });
    // One ping takes two tokens on input: the request and the reply, both from 127.0.0.1.
    const reply = await stack.ping("127.0.0.1", { timeoutMs: 100 });
    expect(reply.from).toBe("127.0.0.1");
    await expect(stack.ping("127.0.0.1", { timeoutMs: 100 })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    expect(stack.counters()).toMatchObject({ RateLimitPassed: 2, RateLimitDropped: 1 });
    expect(rateLimiterOf(stack).topTalkers()).toEqual([
      { source: "127.0.0.1", passed: 2, dropped: 1 },
    ]);
  });
});
