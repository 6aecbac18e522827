import { describe, expect, it } from "vitest";
import { MibRegistry, SoftnetMib } from "../src/index.js";

class IpMib {
  IpInReceives = 0;
  IpInHdrErrors = 0;
}

describe("MibRegistry", () => {
  it("snapshots every counter of every group by name", () => {
    const reg = new MibRegistry();
    const ip = reg.register(new IpMib());
    reg.register(new SoftnetMib());
    ip.IpInReceives += 12;
    expect(reg.snapshot()).toEqual({
      IpInReceives: 12,
      IpInHdrErrors: 0,
      SoftnetProcessed: 0,
      SoftnetDropped: 0,
      SoftnetTimeSqueeze: 0,
      NfHookErrors: 0,
      NfQueued: 0,
    });
  });

  it("keeps only the counters that moved with nonZero, like nstat", () => {
    const reg = new MibRegistry();
    const ip = reg.register(new IpMib());
    ip.IpInHdrErrors = 2;
    expect(reg.snapshot(true)).toEqual({ IpInHdrErrors: 2 });
  });

  it("reads live values: a snapshot after more traffic shows more", () => {
    const reg = new MibRegistry();
    const ip = reg.register(new IpMib());
    ip.IpInReceives++;
    const before = reg.snapshot();
    ip.IpInReceives++;
    expect(before.IpInReceives).toBe(1);
    expect(reg.snapshot().IpInReceives).toBe(2);
  });

  it("counts a group registered twice once", () => {
    const reg = new MibRegistry();
    const ip = new IpMib();
    reg.register(ip);
    reg.register(ip);
    ip.IpInReceives = 1;
    expect(reg.snapshot().IpInReceives).toBe(1);
  });

  it("adds up counters of one name from several groups", () => {
    const reg = new MibRegistry();
    reg.register(new IpMib()).IpInReceives = 2;
    reg.register(new IpMib()).IpInReceives = 3;
    expect(reg.snapshot().IpInReceives).toBe(5);
  });

  it("ignores fields that are not numbers", () => {
    const reg = new MibRegistry();
    reg.register({ TcpInSegs: 1, label: "tcp", nested: { x: 1 } });
    expect(reg.snapshot()).toEqual({ TcpInSegs: 1 });
  });
});
