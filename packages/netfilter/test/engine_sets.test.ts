import { fc, test } from "@fast-check/vitest";
import { inetNtoa, SkbuffError } from "@skbuff/core";
import { udpDatagram } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { ElemSet } from "../src/engine/sets.js";
import { type Fw, firewall } from "./engine_helpers.js";

let fw: Fw;
afterEach(async () => {
  await fw?.h.close();
});

const udp = (dport: number) => udpDatagram({ sport: 5000, dport, payload: "x" });

const ruleset = (flags: string, elements: string) => `table ip filter {
	set blocked {
		type ipv4_addr
		${flags}
		elements = { ${elements} }
	}
	set ports {
		type inet_service
		flags interval
		elements = { 22 }
	}
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr @blocked drop
		tcp dport @ports drop
		udp dport @ports drop
	}
}`;

describe("named sets", () => {
  it("drops packets from an address added at run time, and no longer after it is deleted", async () => {
    fw = await firewall(ruleset("", "192.0.2.50"));
    expect(fw.send({ src: "192.0.2.7", inner: udp(1) })).toBe("accept");
    fw.rs.addElement("filter", "blocked", ["192.0.2.7"]);
    expect(fw.send({ src: "192.0.2.7", inner: udp(1) })).toBe("drop");
    fw.rs.deleteElement("ip filter", "blocked", ["192.0.2.7"]);
    expect(fw.send({ src: "192.0.2.7", inner: udp(1) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.50", inner: udp(1) })).toBe("drop");
  });

  it("takes prefixes and ranges in an interval set", async () => {
    fw = await firewall(ruleset("flags interval", "10.0.0.0/8"));
    fw.rs.addElement("filter", "blocked", ["192.0.2.64/26"]);
    fw.rs.addElement("filter", "ports", ["1000-2000", 53]);
    expect(fw.send({ src: "192.0.2.100", inner: udp(1) })).toBe("drop");
    expect(fw.send({ src: "192.0.2.63", inner: udp(1) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.63", inner: udp(1500) })).toBe("drop");
    expect(fw.send({ src: "192.0.2.63", inner: udp(53) })).toBe("drop");
  });

  it("lists the elements added at run time", async () => {
    fw = await firewall(ruleset("flags interval", "10.0.0.0/8"));
    fw.rs.addElement("filter", "blocked", ["192.0.2.64/26", "1.2.3.4"]);
    expect(fw.rs.list()).toContain("elements = { 1.2.3.4, 10.0.0.0/8, 192.0.2.64/26 }");
  });

  it("refuses a prefix in a set without the interval flag", async () => {
    fw = await firewall(ruleset("", "192.0.2.50"));
    expect(() => fw.rs.addElement("filter", "blocked", ["10.0.0.0/8"])).toThrow(
      /needs "flags interval"/,
    );
  });

  it("refuses unknown tables and sets, bad elements and deleting what is not there", async () => {
    fw = await firewall(ruleset("", "192.0.2.50"));
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as SkbuffError).code;
      }
      return "none";
    };
    expect(code(() => fw.rs.addElement("nope", "blocked", ["1.2.3.4"]))).toBe("ENOENT");
    expect(code(() => fw.rs.addElement("filter", "nope", ["1.2.3.4"]))).toBe("ENOENT");
    expect(code(() => fw.rs.addElement("filter", "blocked", ["1.2.3"]))).toBe("EINVAL");
    expect(code(() => fw.rs.deleteElement("filter", "blocked", ["1.2.3.4"]))).toBe("ENOENT");
  });

  it("looks up a set of 10 000 addresses and prefixes correctly", async () => {
    fw = await firewall(ruleset("flags interval", "10.0.0.0/8"));
    const addrs: string[] = [];
    for (let i = 0; i < 9_000; i++) addrs.push(inetNtoa((0xc6120000 + i * 7) >>> 0)); // 198.18.x.x
    for (let i = 0; i < 1_000; i++) addrs.push(`100.${64 + (i >> 8)}.${i & 255}.0/24`);
    fw.rs.addElement("filter", "blocked", addrs);
    expect(fw.send({ src: "198.18.0.7", inner: udp(1) })).toBe("drop");
    expect(fw.send({ src: "198.18.0.8", inner: udp(1) })).toBe("accept");
    expect(fw.send({ src: "100.66.3.77", inner: udp(1) })).toBe("drop");
    expect(fw.send({ src: "100.68.0.1", inner: udp(1) })).toBe("accept");
  });
});

describe("ElemSet", () => {
  const brute = (elems: { lo: number; hi: number }[], v: number) =>
    elems.some((e) => v >= e.lo && v <= e.hi);
  const elem = fc
    .tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 1 << 20 }), fc.boolean())
    .map(([lo, span, single]) => ({ lo, hi: single ? lo : Math.min(0xffffffff, lo + span) }));

  test.prop([
    fc.array(elem, { maxLength: 200 }),
    fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 50 }),
  ])("answers like a linear scan of its elements", (elems, probes) => {
    const s = new ElemSet("s", "ipv4_addr", true, elems);
    for (const v of [...probes, ...elems.flatMap((e) => [e.lo, e.hi, e.hi + 1, e.lo - 1])]) {
      expect(s.has(v)).toBe(brute(elems, v));
    }
  });

  it("answers 10 000-element lookups fast", () => {
    const elems = Array.from({ length: 10_000 }, (_, i) => ({
      lo: i * 1000,
      hi: i * 1000 + (i % 2) * 500,
    }));
    const s = new ElemSet("s", "ipv4_addr", true, elems);
    const start = performance.now();
    let hits = 0;
    for (let v = 0; v < 1_000_000; v++) if (s.has(v * 10)) hits++;
    expect(hits).toBeGreaterThan(0);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});
