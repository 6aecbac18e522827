import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseScript } from "../src/packetdrill/parser.js";
import { formatResult, packetdrillMain } from "../src/packetdrill/runner/cli.js";
import { evalPy, runAsserts } from "../src/packetdrill/runner/python_eval.js";
import { runScriptFile } from "../src/packetdrill/runner/run.js";

const FIXTURES = fileURLToPath(new URL("./fixtures/packetdrill/", import.meta.url));
const fixture = (name: string): string => `${FIXTURES}${name}`;

async function failure(name: string, args: readonly string[] = []) {
  const r = await runScriptFile(fixture(name), args);
  expect(r.passed, `${name} should fail`).toBe(false);
  return r.failure!;
}

describe("packetdrill runner: scripts that must pass", () => {
  const passing = readdirSync(FIXTURES).filter(
    (n) => n.endsWith(".pkt") && (n.startsWith("pass-") || n.startsWith("behaviour-")),
  );

  it("has the tiny scripts of the runner's own and the behaviour scripts", () => {
    expect(passing).toEqual(
      expect.arrayContaining([
        "pass-passive-open-data-close.pkt",
        "pass-active-open.pkt",
        "pass-rst-closed-port.pkt",
        "pass-setsockopt.pkt",
        "pass-assert-cwnd.pkt",
        "behaviour-syn-cookies.pkt",
        "behaviour-time-wait.pkt",
        "behaviour-keepalive.pkt",
        "behaviour-zero-window.pkt",
      ]),
    );
  });

  for (const name of passing) {
    it(`${name} passes`, async () => {
      const r = await runScriptFile(fixture(name));
      expect(formatResult(r, false)).toEqual([`ok  ${fixture(name)}`]);
    });
  }
});

describe("packetdrill runner: scripts that must fail, with the right message", () => {
  it("a wrong flag letter fails at its line, naming both flag sets", async () => {
    const f = await failure("fail-wrong-flags.pkt");
    expect(f.line).toBe(10);
    expect(f.reason).toBe("wrong flags: expected S, got S.");
    expect(f.expected).toBe("+0 > S 0:0(0) ack 1 <mss 1460,nop,wscale 8>");
    expect(f.actual).toBe("0.1 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 8>");
  });

  it("a wrong sequence number fails with the relative numbers of both", async () => {
    const f = await failure("fail-wrong-seq.pkt");
    expect(f.line).toBe(14);
    expect(f.reason).toBe("wrong seq: expected 2, got 1");
    expect(f.actual).toMatch(/^0\.2 > P\. 1:101\(100\) ack 1/);
  });

  it("a packet the stack never sends is reported missing", async () => {
    const f = await failure("fail-missing-packet.pkt");
    expect(f.line).toBe(13);
    expect(f.reason).toMatch(
      /^missing packet: expected it by 0\.3125 sec, the stack sent nothing$/,
    );
  });

  it("a packet sent before its window is too early", async () => {
    const f = await failure("fail-too-early.pkt");
    expect(f.line).toBe(10);
    expect(f.reason).toBe(
      "packet too early: timing error: expected outbound packet at 0.15 sec but happened at 0.1 sec; tolerance 0.00625 sec",
    );
  });

  it("a packet sent after its window is too late, with when it came", async () => {
    const f = await failure("fail-too-late.pkt");
    expect(f.line).toBe(11);
    expect(f.reason).toBe(
      "packet too late: timing error: expected outbound packet at 0.6 sec but happened at 1.1 sec; tolerance 0.0625 sec",
    );
    expect(f.actual).toMatch(/^1\.1 > S\. 0:0\(0\) ack 1/);
  });

  it("a wrong errno names the expected and the actual one", async () => {
    const f = await failure("fail-wrong-errno.pkt");
    expect(f.line).toBe(5);
    expect(f.reason).toBe("wrong errno: expected -1 ETIMEDOUT, got -1 ECONNREFUSED");
  });

  it("options out of order fail, listing both orders", async () => {
    const f = await failure("fail-wrong-options.pkt");
    expect(f.line).toBe(10);
    expect(f.reason).toBe("wrong TCP options: expected <mss,wscale,nop>, got <mss,nop,wscale>");
  });

  it("a failed %{ }% assert fails with Python's message", async () => {
    const f = await failure("fail-assert.pkt");
    expect(f.line).toBe(13);
    expect(f.reason).toBe("assert tcpi_snd_cwnd == 4 failed: 10");
  });

  it("--tolerance_usecs from the command line widens the window", async () => {
    const r = await runScriptFile(fixture("fail-too-early.pkt"), ["--tolerance_usecs=60000"]);
    expect(r.passed).toBe(true);
  });
});

describe("packetdrill runner: %{ }% asserts", () => {
  const block = (src: string) => {
    const s = parseScript(`0 %{ ${src} }%\n`);
    const e = s.events[0]!;
    if (e.kind !== "code") throw new Error("not a code event");
    return e.code;
  };

  it("evaluates chained comparisons and constants", () => {
    const c = block("assert 990 <= tcpi_x <= 1010 and tcpi_ca_state == TCP_CA_Recovery");
    expect(runAsserts(c, { tcpi_x: 1000, tcpi_ca_state: 3 })).toBeUndefined();
    expect(runAsserts(c, { tcpi_x: 1011, tcpi_ca_state: 3 })).toMatch(/failed$/);
  });

  it("reports the assert's message, %-formatted", () => {
    const c = block("assert tcpi_snd_cwnd == 10, 'cwnd=%d' % tcpi_snd_cwnd");
    expect(runAsserts(c, { tcpi_snd_cwnd: 12 })).toBe("assert tcpi_snd_cwnd == 10 failed: cwnd=12");
  });

  it("names a field tcp_info does not have", () => {
    const c = block("assert tcpi_nope == 1");
    expect(runAsserts(c, {})).toMatch(/name 'tcpi_nope' is not defined/);
  });

  it("does integer arithmetic like Python", () => {
    const c = block("assert 7 // 2 == 3 and -7 % 3 == 2 and 2 ** 3 == 8");
    expect(runAsserts(c, {})).toBeUndefined();
    const e = c.statements[0]!.test;
    expect(evalPy(e, {})).toBe(true);
  });
});

describe("skb packetdrill", () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  it("prints one line per script and a summary, exiting 0 when all pass", async () => {
    const c = io();
    const code = await packetdrillMain([fixture("pass-rst-closed-port.pkt")], c.io);
    expect(code).toBe(0);
    expect(c.out).toEqual([`ok  ${fixture("pass-rst-closed-port.pkt")}`, "1 passed, 0 failed"]);
  });

  it("prints the first mismatch with its line and exits 1 when one fails", async () => {
    const c = io();
    const code = await packetdrillMain(
      [fixture("pass-rst-closed-port.pkt"), fixture("fail-wrong-flags.pkt")],
      c.io,
    );
    expect(code).toBe(1);
    expect(c.out[1]).toBe(
      `FAIL ${fixture("fail-wrong-flags.pkt")}:10: wrong flags: expected S, got S.: expected +0 > S 0:0(0) ack 1 <mss 1460,nop,wscale 8>, got 0.1 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 8>`,
    );
    expect(c.out[2]).toBe("1 passed, 1 failed");
  });

  it("takes header flags on the command line", async () => {
    const c = io();
    const code = await packetdrillMain(
      ["--tolerance_usecs=60000", fixture("fail-too-early.pkt")],
      c.io,
    );
    expect(code).toBe(0);
  });

  it("refuses an unknown flag with exit code 2", async () => {
    const c = io();
    expect(await packetdrillMain(["--bogus", "x.pkt"], c.io)).toBe(2);
    expect(c.err[0]).toMatch(/unknown option --bogus/);
  });

  it("fails a script that does not parse at its line", async () => {
    const r = await runScriptFile(fixture("does-not-exist.pkt"));
    expect(r.passed).toBe(false);
  });
});

describe("packetdrill runner: results", () => {
  it("reports virtual time and the sysctls defaults.sh sets that the stack lacks", async () => {
    const r = await runScriptFile(fixture("pass-rst-closed-port.pkt"));
    expect(r.virtualUs).toBe(0);
    expect(r.notes).toContain("sysctl net.ipv4.tcp_fastopen=0x70403 not supported");
    const lines = formatResult(r, true);
    expect(lines[1]).toMatch(/^ {4}time: 0 s virtual, \d+ ms wall$/);
  });
});

describe("packetdrill runner: --non_fatal", () => {
  it("fails at the first packet mismatch by default", async () => {
    const f = await failure("fail-non-fatal.pkt");
    expect(f.line).toBe(14);
    expect(f.reason).toBe("wrong seq: expected 2, got 1");
  });

  it("with --non_fatal=packet warns about packet mismatches and runs on", async () => {
    const r = await runScriptFile(fixture("fail-non-fatal.pkt"), ["--non_fatal=packet"]);
    expect(r.passed).toBe(true);
    expect(r.notes).toContain("non-fatal: line 14: wrong seq: expected 2, got 1");
  });
});

describe("packetdrill runner: segment aggregation", () => {
  it("merges consecutive segments into one scripted segment by default", async () => {
    const r = await runScriptFile(fixture("behaviour-handshake-no-options.pkt"));
    expect(r.passed).toBe(true);
  });

  it("with --strict_segments compares each segment on its own", async () => {
    const f = await failure("behaviour-handshake-no-options.pkt", ["--strict_segments"]);
    expect(f.reason).toBe("wrong flags: expected P., got .");
    expect(f.actual).toMatch(/> \. 1:537\(536\) ack 1 win 65535$/);
  });
});
