import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  commandEffects,
  PACKETDRILL_DEFAULT_QDISC,
  PACKETDRILL_DEFAULT_SYSCTLS,
} from "../src/packetdrill/defaults.js";
import {
  DEFAULT_FLAGS,
  FLAG_NAMES,
  PacketdrillFlagError,
  parseCommandLine,
  parseFlags,
  resolveFlags,
} from "../src/packetdrill/flags.js";
import { parseScript } from "../src/packetdrill/parser.js";
import { parseShellCommand } from "../src/packetdrill/shell.js";
import { packetdrillDir } from "./conformance.js";

const README = `${packetdrillDir() ?? "(no shared/conformance/packetdrill)"}/README.md`;

/** A restore script's name: literal shell text with `${…}` in it. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: literal shell text from a script
const RESTORE = "/tmp/sysctl_restore_${PPID}.sh";

function flagError(args: string[]): PacketdrillFlagError {
  try {
    parseFlags(args);
  } catch (e) {
    if (e instanceof PacketdrillFlagError) return e;
    throw e;
  }
  throw new Error("expected a flag error");
}

describe("packetdrill flags", () => {
  it("default to packetdrill's: 4 ms / 12.5 % tolerance, merged segments, ports 8080", () => {
    expect(DEFAULT_FLAGS).toMatchObject({
      toleranceUsecs: 4000,
      tolerancePercent: 12.5,
      strictSegments: false,
      ipVersion: "ipv4",
      bindPort: 8080,
      connectPort: 8080,
      tcpTsTickUsecs: 0,
    });
  });

  it("parse --name=value, --name value and bare boolean flags", () => {
    const f = parseFlags([
      "--tolerance_usecs=20000",
      "--strict_segments",
      "--ip_version",
      "ipv6",
      "--local_ip=192.168.0.1",
      "--remote_ip=192.0.2.1/24",
      "--tcp_ts_tick_usecs=1000",
      "--tolerance_percent=25",
      "--non_fatal=packet,syscall",
      "--mss=1400",
    ]);
    expect(f).toMatchObject({
      toleranceUsecs: 20_000,
      strictSegments: true,
      ipVersion: "ipv6",
      localIp: "192.168.0.1",
      remoteIp: "192.0.2.1/24",
      tcpTsTickUsecs: 1000,
      tolerancePercent: 25,
      nonFatal: { packet: true, syscall: true },
      mss: 1400,
    });
  });

  it("parse -v, -D SYM=value, -DSYM=value and --define", () => {
    const f = parseFlags(["-v", "-D", "CC=reno", "-DX=1", "--define=Y=`echo`"]);
    expect(f.verbose).toBe(true);
    expect(f.defines).toEqual({ CC: "reno", X: "1", Y: "`echo`" });
  });

  it("record flags a simulated run has no use for", () => {
    expect(parseFlags(["--wire_client", "--so_filename=x.so"]).ignored).toEqual({
      wire_client: true,
      so_filename: "x.so",
    });
  });

  it("do not change the defaults they start from", () => {
    parseFlags(["--strict_segments"]);
    expect(DEFAULT_FLAGS.strictSegments).toBe(false);
    expect(Object.isFrozen(parseFlags([]))).toBe(true);
  });

  it("split script paths from flags on a command line", () => {
    expect(parseCommandLine(["--strict_segments", "a.pkt", "--", "--b.pkt"])).toMatchObject({
      flags: { strictSegments: true },
      scripts: ["a.pkt", "--b.pkt"],
    });
  });

  it.each([
    [["--tolerance_usec=1"], "found unknown option --tolerance_usec"],
    [
      ["--tolerance_usecs=0"],
      "expected a positive number of microseconds for --tolerance_usecs, found '0'",
    ],
    [["--tolerance_usecs=1ms"], "found '1ms'"],
    [["--tolerance_percent=101"], "expected a percentage from 0 to 100"],
    [["--bind_port=0"], "expected a port from 1 to 65535"],
    [["--ip_version=ipv5"], "expected ipv4, ipv4-mapped-ipv6 or ipv6"],
    [["--strict_segments=yes"], "expected --strict_segments without a value"],
    [["--tolerance_usecs"], "expected a value (--tolerance_usecs=...)"],
    [["--non_fatal=packets"], "expected a comma-separated list of packet, syscall"],
    [["-x"], "found unknown option -x"],
    [["script.pkt"], 'expected a --flag, found "script.pkt"'],
  ])("refuse %j", (args, message) => {
    const e = flagError(args);
    expect(e.code).toBe("ERR_PACKETDRILL_FLAG");
    expect(e.message).toContain(message);
    expect(e.message.startsWith("Command Line: ")).toBe(true);
  });

  it("apply script options first and let the command line override them", () => {
    const s = parseScript(
      "--tolerance_usecs=7000\n--tcp_ts_tick_usecs=1000\n0 close(3) = 0\n",
      "t.pkt",
    );
    expect(resolveFlags(s)).toMatchObject({ toleranceUsecs: 7000, tcpTsTickUsecs: 1000 });
    expect(resolveFlags(s, ["--tolerance_usecs=20000"])).toMatchObject({
      toleranceUsecs: 20_000,
      tcpTsTickUsecs: 1000,
    });
  });

  it("know every option packetdrill's config.c lists", () => {
    expect(FLAG_NAMES).toEqual(
      expect.arrayContaining([
        "ip_version",
        "bind_port",
        "connect_port",
        "remote_ip",
        "local_ip",
        "gateway_ip",
        "netmask_ip",
        "speed",
        "mss",
        "mtu",
        "init_scripts",
        "tolerance_usecs",
        "tolerance_percent",
        "tcp_ts_ecr_scaled",
        "tcp_ts_tick_usecs",
        "strict_segments",
        "non_fatal",
        "dry_run",
        "define",
        "verbose",
      ]),
    );
  });
});

describe("what ../common/defaults.sh means", () => {
  it("sets the sysctls that give Linux's production behaviour", () => {
    expect(PACKETDRILL_DEFAULT_SYSCTLS["net.ipv4.tcp_rmem"]).toBe("4096 540000 15728640");
    expect(PACKETDRILL_DEFAULT_SYSCTLS["net.ipv4.tcp_fastopen"]).toBe("0x70403");
    expect(PACKETDRILL_DEFAULT_SYSCTLS["net.ipv4.tcp_congestion_control"]).toBe("cubic");
    expect(PACKETDRILL_DEFAULT_QDISC).toBe("pfifo");
  });

  it.skipIf(!existsSync(README))("matches the table in the conformance README", () => {
    const rows = readFileSync(README, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("| net.ipv4."))
      .map((l) => l.split("|").map((c) => c.trim()));
    const expected: Record<string, string> = {};
    for (const [, names, values] of rows) {
      const ns = names!.split(" / ");
      const vs = values!.replace(/\s*\(.*\)$/, "").split(" / ");
      expect(vs).toHaveLength(ns.length);
      const first = ns[0]!;
      ns.forEach((n, i) => {
        // "net.ipv4.tcp_pacing_ss_ratio / ca_ratio": the short name replaces the tail.
        let full = n;
        if (!n.startsWith("net.")) {
          const parts = first.slice("net.ipv4.".length).split("_");
          const short = n.split("_");
          full = n.startsWith("tcp_")
            ? `net.ipv4.${n}`
            : `net.ipv4.${[...parts.slice(0, parts.length - short.length), ...short].join("_")}`;
        }
        expect(n).toBeDefined();
        expected[full] = vs[i]!;
      });
    }
    expect(Object.keys(expected).length).toBeGreaterThan(15);
    expect({ ...PACKETDRILL_DEFAULT_SYSCTLS }).toEqual(expected);
  });

  it("expands defaults.sh and keeps later writes after it", () => {
    const s = parseScript(
      "`../common/defaults.sh\nsysctl -q net.ipv4.tcp_tso_win_divisor=100\ntc qdisc show`\n0 close(3) = 0",
      "t.pkt",
    );
    const effects = commandEffects(s.init!);
    expect(effects.qdisc).toBe("pfifo");
    expect(effects.sysctls.at(-1)).toEqual({
      name: "net.ipv4.tcp_tso_win_divisor",
      value: "100",
    });
    expect(effects.sysctls.filter((a) => a.name === "net.ipv4.tcp_tso_win_divisor")).toHaveLength(
      2,
    );
    expect(effects.unsupported).toEqual([{ kind: "other", text: "tc qdisc show" }]);
  });

  it("reads a command with no known steps as unsupported", () => {
    expect(commandEffects({ steps: parseShellCommand(RESTORE) })).toEqual({
      sysctls: [],
      qdisc: undefined,
      unsupported: [{ kind: "other", text: RESTORE }],
    });
  });
});

describe("parseShellCommand", () => {
  it("splits at newlines, ';' and '&&' but not inside quotes", () => {
    expect(
      parseShellCommand('sysctl -q a.b=1; sysctl -w "c.d=x;y" && echo 2 > /proc/sys/e/f\n\n').map(
        (s) => (s.kind === "sysctl" ? s.assignments : s.kind),
      ),
    ).toEqual([
      [{ name: "a.b", value: "1" }],
      [{ name: "c.d", value: "x;y" }],
      [{ name: "e.f", value: "2" }],
    ]);
  });

  it("recognises sysctl -qw and -wq", () => {
    expect(parseShellCommand("sysctl -qw net.core.somaxconn=128")[0]).toMatchObject({
      kind: "sysctl",
      assignments: [{ name: "net.core.somaxconn", value: "128" }],
    });
  });

  it("ignores shell comments", () => {
    expect(parseShellCommand("sysctl -q a.b=1 # set a.b")).toMatchObject([
      { kind: "sysctl", assignments: [{ name: "a.b", value: "1" }] },
    ]);
  });

  it("does not mistake a script that merely ends in defaults.sh with arguments", () => {
    expect(parseShellCommand("../common/defaults.sh --extra")[0]!.kind).toBe("other");
  });
});
