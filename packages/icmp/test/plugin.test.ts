import { ConfigError, createStack, PluginError } from "@skbuff/core";
import { ipv4, ipv4Net } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { describe, expect, it } from "vitest";
import icmpDefault, { ICMP_PLUGIN, icmp, icmpSend } from "../src/index.js";
import { loopbackStack, strictClock } from "./helpers.js";

describe("the icmp() plugin", () => {
  it("is named skbuff:icmp, requires skbuff:ipv4 and is also the default export", () => {
    const p = icmp();
    expect(p.name).toBe(ICMP_PLUGIN);
    expect(p.name).toBe("skbuff:icmp");
    expect(p.requires).toEqual(["skbuff:ipv4"]);
    expect(icmpDefault).toBe(icmp);
  });

  it("registers ICMP's sysctls under their Linux names with Linux's defaults", async () => {
    const stack = await loopbackStack();
    const all = stack.sysctl.all();
    expect(all).toMatchObject({
      "net.ipv4.icmp_echo_ignore_all": 0,
      "net.ipv4.icmp_echo_ignore_broadcasts": 1,
      "net.ipv4.icmp_ratelimit": 1000,
      "net.ipv4.icmp_ratemask": 0x1818,
      "net.ipv4.icmp_msgs_per_sec": 1000,
      "net.ipv4.icmp_msgs_burst": 50,
      "net.ipv4.icmp_ignore_bogus_error_responses": 1,
      "net.ipv4.icmp_errors_use_inbound_ifaddr": 0,
    });
    await stack.close();
  });

  it("takes its options as defaults of those sysctls", async () => {
    const stack = await loopbackStack(strictClock(), [
      ipv4(),
      icmp({
        echoIgnoreAll: true,
        echoIgnoreBroadcasts: false,
        ratelimitMs: 250,
        ratemask: 0x1819,
        msgsPerSec: 10,
        msgsBurst: 5,
      }),
    ]);
    expect(stack.sysctl.all()).toMatchObject({
      "net.ipv4.icmp_echo_ignore_all": 1,
      "net.ipv4.icmp_echo_ignore_broadcasts": 0,
      "net.ipv4.icmp_ratelimit": 250,
      "net.ipv4.icmp_ratemask": 0x1819,
      "net.ipv4.icmp_msgs_per_sec": 10,
      "net.ipv4.icmp_msgs_burst": 5,
    });
    await stack.close();
  });

  it("refuses an unknown option with a ConfigError naming it", () => {
    expect(() => icmp({ ratelimit: 5 } as never)).toThrow(ConfigError);
    expect(() => icmp({ ratelimit: 5 } as never)).toThrow(/ratelimit/);
  });

  it("refuses an option of the wrong type with a ConfigError at its path", () => {
    expect(() => icmp({ ratelimitMs: -1 })).toThrow(
      expect.objectContaining({ path: "ratelimitMs" }),
    );
  });

  it("fails, naming both plugins, in a stack without ipv4()", async () => {
    await expect(createStack({ plugins: [icmp()], devices: [loopback()] })).rejects.toThrow(
      PluginError,
    );
    await expect(createStack({ plugins: [icmp()], devices: [loopback()] })).rejects.toThrow(
      /skbuff:ipv4.*skbuff:icmp|skbuff:icmp.*skbuff:ipv4/,
    );
  });

  it("installs icmp_send as IPv4's way of sending errors", async () => {
    const stack = await loopbackStack();
    expect(ipv4Net(stack).icmpSend).toBe(icmpSend);
    await stack.close();
  });

  it("registers the handler of IP protocol 1", async () => {
    const stack = await loopbackStack();
    expect(stack.protocols.inetProtos[1]?.protocol).toBe(1);
    expect(typeof stack.protocols.inetProtos[1]?.errHandler).toBe("function");
    await stack.close();
  });

  it("provides stack.ping", async () => {
    const stack = await loopbackStack();
    await expect(stack.ping("127.0.0.1")).resolves.toMatchObject({ ttl: 64 });
    await stack.close();
  });
});
