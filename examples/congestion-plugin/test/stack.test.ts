import { createStack, type Stack } from "@skbuff/core";
import { ipv4 } from "@skbuff/ipv4";
import { tcp, tcpNet } from "@skbuff/tcp";
import { afterEach, describe, expect, it } from "vitest";
import { scalableCc, tcpScalable } from "../src/index.js";

describe("scalableCc() in a stack with tcp()", () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it("accepts scalable as net.ipv4.tcp_congestion_control", async () => {
    stack = await createStack({
      clock: "virtual",
      plugins: [ipv4(), tcp(), scalableCc()],
      sysctl: { "net.ipv4.tcp_congestion_control": "scalable" },
    });
    expect(stack.sysctl.get("net.ipv4.tcp_congestion_control")).toBe("scalable");
  });

  it("gives new sockets the scalable table once the sysctl chooses it", async () => {
    stack = await createStack({
      clock: "virtual",
      plugins: [ipv4(), tcp(), scalableCc()],
      sysctl: { "net.ipv4.tcp_congestion_control": "scalable" },
    });
    expect(tcpNet(stack).defaultCongestion()).toBe(tcpScalable);
  });

  it("refuses the value scalable in a stack without the plugin", async () => {
    await expect(
      createStack({
        clock: "virtual",
        plugins: [ipv4(), tcp()],
        sysctl: { "net.ipv4.tcp_congestion_control": "scalable" },
      }),
    ).rejects.toThrow(/scalable/);
  });

  it("refuses to be registered without tcp()", async () => {
    await expect(
      createStack({ clock: "virtual", plugins: [ipv4(), scalableCc()] }),
    ).rejects.toThrow(/skbuff:tcp/);
  });
});
