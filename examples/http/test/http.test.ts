import { describe, expect, it } from "vitest";
import { runHttpExample } from "../src/index.js";

describe("Node's http over a skbuff stack", () => {
  it("answers a GET made with http.request over the stack's loopback", async () => {
    await expect(runHttpExample()).resolves.toBe("GET /hello from 127.0.0.1");
  });

  it("carries a request body to the server and the answer back", async () => {
    const body = "x".repeat(100_000);
    await expect(runHttpExample({ body })).resolves.toBe(
      `POST /hello from 127.0.0.1, 100000 bytes: ${body}`,
    );
  });
});
