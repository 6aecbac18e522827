import { describe, expect, it, vi } from "vitest";
import { Sysctl, SysctlError } from "../src/index.js";

/** A table with one sysctl of each type, shaped like Linux's. */
function table(): Sysctl {
  const s = new Sysctl();
  s.register({ name: "net.ipv4.ip_default_ttl", type: "int", default: 64, min: 1, max: 255 });
  s.register({ name: "net.ipv4.ip_forward", type: "bool", default: 0 });
  s.register({
    name: "net.ipv4.tcp_rmem",
    type: "intvec",
    length: 3,
    min: 1,
    default: [4096, 131072, 6291456],
  });
  s.register({
    name: "net.ipv4.tcp_congestion_control",
    type: "string",
    default: "cubic",
    choices: ["cubic", "reno"],
  });
  return s;
}

describe("int sysctls", () => {
  it("start at their default", () => {
    expect(table().get("net.ipv4.ip_default_ttl")).toBe(64);
  });

  it("take numbers and their text form", () => {
    const s = table();
    s.set("net.ipv4.ip_default_ttl", 128);
    expect(s.get("net.ipv4.ip_default_ttl")).toBe(128);
    s.set("net.ipv4.ip_default_ttl", " 32 ");
    expect(s.get("net.ipv4.ip_default_ttl")).toBe(32);
  });

  it("refuse values out of range and keep the old value", () => {
    const s = table();
    expect(() => s.set("net.ipv4.ip_default_ttl", 256)).toThrow(SysctlError);
    expect(() => s.set("net.ipv4.ip_default_ttl", 0)).toThrow(/0 is out of range \(1\.\.255\)/);
    expect(s.get("net.ipv4.ip_default_ttl")).toBe(64);
  });

  it("refuse what is not an integer", () => {
    const s = table();
    expect(() => s.set("net.ipv4.ip_default_ttl", 1.5)).toThrow(/expected an integer/);
    expect(() => s.set("net.ipv4.ip_default_ttl", "sixty")).toThrow(/expected an integer/);
    expect(() => s.set("net.ipv4.ip_default_ttl", [64])).toThrow(/expected an integer/);
  });
});

describe("bool sysctls", () => {
  it("take 0 and 1, true and false, and their text form", () => {
    const s = table();
    s.set("net.ipv4.ip_forward", true);
    expect(s.get("net.ipv4.ip_forward")).toBe(1);
    s.set("net.ipv4.ip_forward", "0");
    expect(s.get("net.ipv4.ip_forward")).toBe(0);
  });

  it("refuse anything but 0 and 1", () => {
    expect(() => table().set("net.ipv4.ip_forward", 2)).toThrow(/out of range \(0\.\.1\)/);
  });
});

describe("intvec sysctls", () => {
  it("take the text form sysctl -w takes", () => {
    const s = table();
    s.set("net.ipv4.tcp_rmem", "4096 87380   6291456");
    expect(s.get("net.ipv4.tcp_rmem")).toEqual([4096, 87380, 6291456]);
  });

  it("take a list of numbers", () => {
    const s = table();
    s.set("net.ipv4.tcp_rmem", [1, 2, 3]);
    expect(s.get("net.ipv4.tcp_rmem")).toEqual([1, 2, 3]);
  });

  it("refuse the wrong number of elements", () => {
    expect(() => table().set("net.ipv4.tcp_rmem", "4096 131072")).toThrow(
      /expected 3 integers, got 2/,
    );
  });

  it("check every element against the range", () => {
    expect(() => table().set("net.ipv4.tcp_rmem", [4096, 0, 1])).toThrow(/0 is out of range/);
  });

  it("hand out a value that cannot be changed behind set()'s back", () => {
    const s = table();
    const v = s.get<readonly number[]>("net.ipv4.tcp_rmem");
    expect(() => {
      (v as number[])[0] = 1;
    }).toThrow(TypeError);
    expect(s.get("net.ipv4.tcp_rmem")).toEqual([4096, 131072, 6291456]);
  });

  it("do not keep the array they were given", () => {
    const s = table();
    const given = [1, 2, 3];
    s.set("net.ipv4.tcp_rmem", given);
    given[0] = 99;
    expect(s.get("net.ipv4.tcp_rmem")).toEqual([1, 2, 3]);
  });
});

describe("string sysctls", () => {
  it("take one of their choices", () => {
    const s = table();
    s.set("net.ipv4.tcp_congestion_control", "reno");
    expect(s.get("net.ipv4.tcp_congestion_control")).toBe("reno");
  });

  it("refuse a value that is not a choice, listing the choices", () => {
    expect(() => table().set("net.ipv4.tcp_congestion_control", "bbr")).toThrow(
      /one of cubic, reno, got bbr/,
    );
  });

  it("read choices given as a function when the value is set", () => {
    const s = new Sysctl();
    const available = ["cubic"];
    s.register({
      name: "net.ipv4.tcp_congestion_control",
      type: "string",
      default: "cubic",
      choices: () => available,
    });
    available.push("bbr");
    s.set("net.ipv4.tcp_congestion_control", "bbr");
    expect(s.get("net.ipv4.tcp_congestion_control")).toBe("bbr");
  });

  it("refuse a number", () => {
    expect(() => table().set("net.ipv4.tcp_congestion_control", 1)).toThrow(/expected a string/);
  });
});

describe("the sysctl table", () => {
  it("refuses an unknown name with a SysctlError naming it", () => {
    const s = table();
    expect(() => s.get("net.ipv4.nope")).toThrow(SysctlError);
    expect(() => s.set("net.ipv4.nope", 1)).toThrow(/net\.ipv4\.nope: no such sysctl/);
    expect(s.has("net.ipv4.nope")).toBe(false);
  });

  it("refuses to register a name twice", () => {
    const s = table();
    expect(() => s.register({ name: "net.ipv4.ip_forward", type: "bool", default: 0 })).toThrow(
      /registered twice/,
    );
  });

  it("refuses a default that breaks the sysctl's own rules", () => {
    expect(() => new Sysctl().register({ name: "x.y", type: "int", default: 5, max: 4 })).toThrow(
      SysctlError,
    );
  });

  it("lists every sysctl and its value, sorted by name, like sysctl -a", () => {
    const s = table();
    s.set("net.ipv4.ip_forward", 1);
    expect(s.all()).toEqual({
      "net.ipv4.ip_default_ttl": 64,
      "net.ipv4.ip_forward": 1,
      "net.ipv4.tcp_congestion_control": "cubic",
      "net.ipv4.tcp_rmem": [4096, 131072, 6291456],
    });
    expect(Object.keys(s.all())).toEqual([...Object.keys(s.all())].sort());
  });

  it("gives the registering plugin a live entry that follows set()", () => {
    const s = new Sysctl();
    const entry = s.register({ name: "net.core.x", type: "int", default: 1 });
    s.set("net.core.x", 2);
    expect(entry.value).toBe(2);
  });

  it("calls onChange with the new, normalised value", () => {
    const s = new Sysctl();
    const onChange = vi.fn();
    s.register({ name: "net.core.x", type: "int", default: 1, onChange });
    s.set("net.core.x", "7");
    expect(onChange).toHaveBeenCalledExactlyOnceWith(7);
  });
});
