import { createStack, VirtualClock } from "@skbuff/core";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { describe, expect, it } from "vitest";
import { tcp } from "../src/index.js";

describe("tcp() alone", () => {
  it("gives the stack a net module: an echo server answers a client over loopback", async () => {
    const stack = await createStack({
      plugins: [ipv4(), tcp()],
      devices: [loopback()],
      clock: new VirtualClock(),
    });
    const server = stack.net.createServer((s) => s.pipe(s)).listen(7, "127.0.0.1");
    await new Promise<void>((r) => server.once("listening", () => r()));
    const socket = stack.net.connect({ host: "127.0.0.1", port: 7 });
    const reply = await new Promise<string>((resolve, reject) => {
      socket.once("error", reject);
      socket.once("data", (d: Buffer) => resolve(d.toString()));
      socket.write("ping");
    });
    expect(reply).toBe("ping");
    socket.destroy();
    server.close();
    await stack.close();
  });
});
