import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type {
  CodeEvent,
  PacketEvent,
  PyExpr,
  Script,
  ScriptEvent,
  SyscallEvent,
  TcpPacket,
} from "../src/packetdrill/ast.js";
import { TcpFlag } from "../src/packetdrill/ast.js";
import { resolveFlags } from "../src/packetdrill/flags.js";
import { formatScript } from "../src/packetdrill/format.js";
import { parseScript } from "../src/packetdrill/parser.js";
import { packetdrillDir } from "./conformance.js";

/** The cleanup command of slow-start-after-idle.pkt: literal shell text with `${…}` in it. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: literal shell text from the script
const RESTORE = "/tmp/sysctl_restore_${PPID}.sh";

/** The conformance scripts live outside the repository; a checkout without them skips. */
const TCP_DIR =
  process.env.PACKETDRILL_TCP_DIR ??
  `${packetdrillDir() ?? "(no shared/conformance/packetdrill)"}/tcp`;
const HAVE_SCRIPTS = existsSync(TCP_DIR);
if (!HAVE_SCRIPTS) {
  console.warn(
    `packetdrill_parse: skipping the 26 conformance scripts: ${TCP_DIR} does not exist ` +
      "(set PACKETDRILL_TCP_DIR to point at packetdrill's gtests/net/tcp)",
  );
}

function load(rel: string): Script {
  return parseScript(readFileSync(join(TCP_DIR, rel), "utf8"), rel);
}

/** `s` syscall, `<` inbound packet, `>` outbound packet, `%` code block, `` ` `` command. */
function shape(script: Script): string {
  return script.events
    .map((e) =>
      e.kind === "packet"
        ? e.packet.direction === "inbound"
          ? "<"
          : ">"
        : e.kind === "syscall"
          ? "s"
          : e.kind === "code"
            ? "%"
            : "`",
    )
    .join("");
}

function packets(script: Script): PacketEvent[] {
  return script.events.filter((e): e is PacketEvent => e.kind === "packet");
}

function tcp(e: ScriptEvent | undefined): TcpPacket {
  if (e?.kind !== "packet" || e.packet.protocol !== "tcp") throw new Error("not a TCP packet");
  return e.packet;
}

function syscalls(script: Script, name?: string): SyscallEvent[] {
  return script.events.filter(
    (e): e is SyscallEvent =>
      e.kind === "syscall" && (name === undefined || e.syscall.name === name),
  );
}

function codes(script: Script): CodeEvent[] {
  return script.events.filter((e): e is CodeEvent => e.kind === "code");
}

/** `a == 10` style assert tests: [name, op, number]. */
function simpleCompare(e: PyExpr): [string, string, number] {
  if (e.kind !== "compare" || e.left.kind !== "name" || e.comparators[0]?.kind !== "num") {
    throw new Error("not a simple comparison");
  }
  return [e.left.id, e.ops[0]!, e.comparators[0].value];
}

/** Every script, its event count and shape, and spot checks written from reading it. */
const SCRIPTS: ReadonlyArray<readonly [string, number, string, (s: Script) => void]> = [
  [
    "blocking/blocking-accept.pkt",
    10,
    "sssss<><s>",
    (s) => {
      const accept = syscalls(s, "accept")[0]!;
      expect(accept.time).toEqual({ kind: "relative", us: 0 });
      expect(accept.syscall.endUs).toBe(200_000);
      expect(accept.syscall.result).toMatchObject({ kind: "int", value: 4 });
      const syn = tcp(packets(s)[0]);
      expect(syn.flags).toBe(TcpFlag.SYN);
      expect(syn.win).toBe(32792);
      expect(syn.options).toEqual([
        { kind: "mss", value: 1000 },
        { kind: "nop" },
        { kind: "wscale", value: 7 },
      ]);
      const synAck = tcp(packets(s)[1]);
      expect(synAck.flags).toBe(TcpFlag.SYN | TcpFlag.ACK);
      expect(synAck.ack).toBe(1);
      expect(synAck.win).toBeUndefined();
    },
  ],
  [
    "blocking/blocking-read.pkt",
    18,
    "ssss<><ss<>s<><>ss",
    (s) => {
      expect(s.options.map((o) => [o.name, o.value])).toEqual([["tolerance_usecs", "10000"]]);
      expect(s.options[0]!.loc).toMatchObject({ line: 2, column: 1 });
      const reads = syscalls(s, "read");
      expect(reads.map((r) => [r.time, r.syscall.endUs])).toEqual([
        [{ kind: "relative", us: 0 }, 100_000],
        [{ kind: "relative", us: 100_000 }, 200_000],
        [{ kind: "relative", us: 0 }, 0],
        [{ kind: "relative", us: 0 }, 0],
      ]);
      expect(resolveFlags(s).toleranceUsecs).toBe(10_000);
    },
  ],
  [
    "close/close-local-close-then-remote-fin.pkt",
    13,
    "ss><>s><s><<>",
    (s) => {
      const connect = syscalls(s, "connect")[0]!;
      expect(connect.time).toEqual({ kind: "relative", us: 10_000 });
      expect(connect.syscall.endUs).toBe(11_000);
      expect(tcp(packets(s)[0]).options).toBe("any");
      expect(tcp(packets(s).at(-1)).seq).toEqual({ start: 1002, end: 1002, len: 0 });
    },
  ],
  [
    "close/close-on-syn-sent.pkt",
    7,
    "sss>s<>",
    (s) => {
      const fcntl = syscalls(s, "fcntl")[0]!.syscall;
      expect(fcntl.args[2]).toMatchObject({
        kind: "binary",
        op: "|",
        left: { kind: "word", name: "O_RDWR" },
        right: { kind: "word", name: "O_NONBLOCK" },
      });
      const connect = syscalls(s, "connect")[0]!.syscall;
      expect(connect.result).toMatchObject({ kind: "int", value: -1 });
      expect(connect.errno).toEqual({ name: "EINPROGRESS", strerror: "Operation now in progress" });
      const rst = tcp(packets(s).at(-1));
      expect(rst.flags).toBe(TcpFlag.RST);
      expect(rst.ack).toBeUndefined();
    },
  ],
  [
    "fast_recovery/prr-ss-10pkt-lost-1.pkt",
    35,
    "ssss<><ss><<<>%s<><><><><><><>%<<<<",
    (s) => {
      const [enter, leave] = codes(s);
      expect(enter!.code.statements).toHaveLength(3);
      const first = enter!.code.statements[0]!;
      expect(first.test).toMatchObject({
        kind: "compare",
        left: { kind: "name", id: "tcpi_ca_state" },
        ops: ["=="],
        comparators: [{ kind: "name", id: "TCP_CA_Recovery" }],
      });
      expect(first.message).toMatchObject({ kind: "name", id: "tcpi_ca_state" });
      expect(first.loc).toMatchObject({ line: 32, column: 1 });
      expect(simpleCompare(leave!.code.statements[1]!.test)).toEqual(["tcpi_snd_cwnd", "==", 7]);
      const sackAck = tcp(packets(s)[4]);
      expect(sackAck.options).toEqual([
        { kind: "sack", blocks: [{ left: 1001, right: 2001 }] },
        { kind: "nop" },
        { kind: "nop" },
      ]);
      expect(s.events[10]!.time).toEqual({ kind: "relative", us: 110_000 });
    },
  ],
  [
    "fast_recovery/prr-ss-30pkt-lost1_4.pkt",
    26,
    "ssss<><ss><<<><><><><<<<s>",
    (s) => {
      expect(s.events[11]!.time).toEqual({ kind: "relative", us: 2000 });
      expect(tcp(s.events.at(-1)).seq).toEqual({ start: 10001, end: 17001, len: 7000 });
    },
  ],
  [
    "fast_retransmit/fr-4pkt-fack-last-mss.pkt",
    12,
    "ssss<><ss><>",
    (s) => {
      const rtx = s.events.at(-1)!;
      expect(rtx.time).toEqual({ kind: "relative", us: 40_000 });
      expect(tcp(rtx).flags).toBe(TcpFlag.ACK);
      expect(tcp(rtx).seq).toEqual({ start: 1, end: 1001, len: 1000 });
    },
  ],
  [
    "fast_retransmit/fr-4pkt.pkt",
    19,
    "ssss<><ss><<<><s><>",
    (s) => {
      expect(tcp(packets(s)[3]).flags).toBe(TcpFlag.PSH | TcpFlag.ACK);
      expect(tcp(packets(s)[3]).seq.len).toBe(5840);
      expect(tcp(packets(s)[0]).options).toEqual([
        { kind: "mss", value: 1460 },
        { kind: "nop" },
        { kind: "wscale", value: 7 },
      ]);
      expect(s.events.at(-1)!.time).toEqual({ kind: "relative", us: 1000 });
    },
  ],
  [
    "limited_transmit/limited-transmit-sack.pkt",
    27,
    "ssss<><ss><><><><><<<<<s><>",
    (s) => {
      const withSack = packets(s).filter(
        (p) =>
          p.packet.protocol === "tcp" &&
          Array.isArray(p.packet.options) &&
          p.packet.options.some((o) => o.kind === "sack"),
      );
      expect(withSack).toHaveLength(2);
      expect(syscalls(s, "write")[0]!.syscall.args.map((a) => a.kind)).toEqual([
        "int",
        "ellipsis",
        "int",
      ]);
    },
  ],
  [
    "mss/mss-getsockopt-tcp_maxseg-server.pkt",
    9,
    "ssss<><ss",
    (s) => {
      const get = syscalls(s, "getsockopt")[0]!.syscall;
      expect(get.args).toMatchObject([
        { kind: "int", value: 4 },
        { kind: "word", name: "SOL_TCP" },
        { kind: "word", name: "TCP_MAXSEG" },
        { kind: "array", elements: [{ kind: "int", value: 1100 }] },
        { kind: "array", elements: [{ kind: "int", value: 4 }] },
      ]);
      expect(tcp(packets(s)[0]).options).toContainEqual({ kind: "wscale", value: 8 });
    },
  ],
  [
    "mss/mss-setsockopt-tcp_maxseg-server.pkt",
    14,
    "ssssss<><ss%s>",
    (s) => {
      const [block] = codes(s);
      expect(block!.code.statements.map((a) => simpleCompare(a.test))).toEqual([
        ["tcpi_advmss", "==", 1100],
        ["tcpi_snd_mss", "==", 1100],
      ]);
      expect(block!.code.text).toBe(
        "assert tcpi_advmss == 1100, tcpi_advmss; assert tcpi_snd_mss == 1100, tcpi_snd_mss",
      );
      expect(tcp(packets(s)[1]).options).toContainEqual({ kind: "mss", value: 1100 });
    },
  ],
  [
    "nagle/sockopt_cork_nodelay.pkt",
    25,
    "ssss<><sssss><ssss><sss><",
    (s) => {
      const send = syscalls(s, "send")[0]!.syscall;
      expect(send.args.at(-1)).toMatchObject({ kind: "word", name: "MSG_MORE" });
      expect(send.result).toMatchObject({ kind: "int", value: 40 });
      const cork = syscalls(s, "setsockopt")[1]!.syscall;
      expect(cork.args[2]).toMatchObject({ kind: "word", name: "TCP_CORK" });
    },
  ],
  [
    "sack/sack-route-refresh-ip-tos.pkt",
    20,
    "sss><>s><s><s>ss<>><",
    (s) => {
      const mtu = syscalls(s, "setsockopt")[0]!.syscall;
      expect(mtu.args[3]).toMatchObject({
        kind: "array",
        elements: [{ kind: "word", name: "IP_PMTUDISC_DONT" }],
      });
      expect(tcp(packets(s)[0]).options).toEqual([
        { kind: "mss", value: 1460 },
        { kind: "sackOK" },
        { kind: "timestamp", val: 100, ecr: 0 },
        { kind: "nop" },
        { kind: "wscale", value: 8 },
      ]);
      const twoBlocks = tcp(packets(s)[8]);
      expect(twoBlocks.options).toContainEqual({
        kind: "sack",
        blocks: [
          { left: 16061, right: 17521 },
          { left: 20441, right: 26281 },
        ],
      });
    },
  ],
  [
    "sack/sack-shift-sacked-7-3-4-8-9-fack.pkt",
    24,
    "ssss<><ss><>%<>%<>%<<><%",
    (s) => {
      const blocks = codes(s);
      expect(blocks.map((b) => b.code.statements.length)).toEqual([3, 2, 1, 5]);
      expect(simpleCompare(blocks[0]!.code.statements[1]!.test)).toEqual(["tcpi_lost", "==", 7]);
      expect(simpleCompare(blocks[2]!.code.statements[0]!.test)).toEqual(["tcpi_lost", "==", 5]);
      expect(s.events[11]!.time).toEqual({ kind: "relative", us: 27_000 });
    },
  ],
  [
    "shutdown/shutdown-rd-close.pkt",
    18,
    "ssss<><ssss><s><<>",
    (s) => {
      expect(syscalls(s, "shutdown")[0]!.syscall.args[1]).toMatchObject({ name: "SHUT_RD" });
      expect(syscalls(s, "read")[0]!.syscall.result).toMatchObject({ kind: "int", value: 0 });
    },
  ],
  [
    "shutdown/shutdown-rdwr-send-queue-ack-close.pkt",
    22,
    "ssss<><ss>s<>>sss<><<>",
    (s) => {
      const fin = packets(s).find((p) => tcp(p).flags & TcpFlag.FIN)!;
      expect(tcp(fin).flags).toBe(TcpFlag.FIN | TcpFlag.PSH | TcpFlag.ACK);
      expect(tcp(fin).seq).toEqual({ start: 13001, end: 20001, len: 7000 });
      const write = syscalls(s, "write")[1]!.syscall;
      expect(write.errno).toEqual({ name: "EPIPE", strerror: "Broken pipe" });
      expect(syscalls(s, "shutdown")[0]!.time).toEqual({ kind: "relative", us: 0 });
    },
  ],
  [
    "shutdown/shutdown-wr-close.pkt",
    18,
    "ssss<><ss><s<>ss<>",
    (s) => {
      const data = tcp(packets(s)[5]);
      expect(data.seq).toEqual({ start: 1, end: 1001, len: 1000 });
      expect(data.ack).toBe(2);
      expect(syscalls(s, "write")[0]!.syscall.errno?.name).toBe("EPIPE");
    },
  ],
  [
    "slow_start/slow-start-ack-per-1pkt.pkt",
    33,
    "ssss<><sss>%<><><><><><><><><><>%",
    (s) => {
      expect(s.init?.steps).toEqual([
        { kind: "defaults", path: "../common/defaults.sh", text: "../common/defaults.sh" },
        {
          kind: "sysctl",
          tool: "sysctl",
          assignments: [{ name: "net.ipv4.tcp_tso_win_divisor", value: "100" }],
          text: "sysctl -q net.ipv4.tcp_tso_win_divisor=100",
        },
      ]);
      expect(s.events[12]!.time).toEqual({ kind: "relative", us: 105_000 });
      expect(simpleCompare(codes(s)[1]!.code.statements[0]!.test)).toEqual([
        "tcpi_snd_cwnd",
        "==",
        20,
      ]);
    },
  ],
  [
    "slow_start/slow-start-ack-per-2pkt-send-5pkt.pkt",
    17,
    "ssss<><ss>%<%<%<%",
    (s) => {
      const msg = codes(s)[1]!.code.statements[0]!.message;
      expect(msg).toMatchObject({
        kind: "binary",
        op: "%",
        left: { kind: "str", value: "cwnd=%d" },
        right: { kind: "name", id: "tcpi_snd_cwnd" },
      });
    },
  ],
  [
    "slow_start/slow-start-ack-per-4pkt.pkt",
    19,
    "ssss<><sss>%<><><>%",
    (s) => {
      expect(s.init?.steps.map((x) => x.kind)).toEqual(["defaults", "sysctl"]);
      expect(tcp(packets(s)[5]).seq).toEqual({ start: 10001, end: 18001, len: 8000 });
    },
  ],
  [
    "slow_start/slow-start-after-idle.pkt",
    22,
    "ssss<><sss>>%<%>><%s>%",
    (s) => {
      expect(s.init?.steps[1]).toMatchObject({
        kind: "sysctl",
        tool: "set_sysctls",
        assignments: [
          { name: "net.ipv4.tcp_slow_start_after_idle", value: "1" },
          { name: "net.ipv4.tcp_min_tso_segs", value: "10" },
        ],
      });
      expect(s.cleanup?.text).toBe(RESTORE);
      expect(s.cleanup?.steps).toEqual([{ kind: "other", text: RESTORE }]);
      expect(syscalls(s, "write")[1]!.time).toEqual({ kind: "relative", us: 2_000_000 });
      expect(tcp(packets(s)[2]).win).toBe(511);
    },
  ],
  [
    "slow_start/slow-start-app-limited.pkt",
    22,
    "ssss<><sss>%<%<%<%<%<%",
    (s) => {
      expect(codes(s).map((c) => simpleCompare(c.code.statements[0]!.test)[2])).toEqual([
        10, 12, 14, 16, 18, 20,
      ]);
    },
  ],
  [
    "tcp_info/tcp-info-last_data_recv.pkt",
    11,
    "ssss><>%<>%",
    (s) => {
      expect(s.init?.steps[0]).toMatchObject({
        kind: "defaults",
        path: "../../common/defaults.sh",
      });
      expect(s.events[0]!.time).toEqual({ kind: "relative", us: 0 });
      const getfl = syscalls(s, "fcntl")[0]!.syscall;
      expect(getfl.result).toEqual(expect.objectContaining({ kind: "int", value: 2, hex: true }));
      expect(getfl.errno).toBeUndefined();
      expect(getfl.note).toBe("flags O_RDWR");
      expect(codes(s)[0]!.time).toEqual({ kind: "relative", us: 1_000_000 });
      expect(codes(s)[0]!.code.statements[0]!.test).toMatchObject({
        kind: "compare",
        left: { kind: "num", value: 990 },
        ops: ["<=", "<="],
        comparators: [
          { kind: "name", id: "tcpi_last_data_recv" },
          { kind: "num", value: 1010 },
        ],
      });
    },
  ],
  [
    "tcp_info/tcp-info-sndbuf-limited.pkt",
    19,
    "ssss><>sssss<<<<%<%",
    (s) => {
      const write = syscalls(s, "write")[0]!;
      expect(write.time).toEqual({ kind: "relative", us: 90_000 });
      expect(write.syscall.endUs).toBe(140_000);
      const setfl = syscalls(s, "fcntl")[2]!;
      expect(setfl.source).toBe("+0 fcntl(3, F_SETFL, O_RDWR) = 0");
      const [first, second] = codes(s);
      expect(first!.code.statements).toHaveLength(3);
      expect(second!.code.statements).toHaveLength(3);
      expect(first!.code.statements[2]!.test).toMatchObject({
        kind: "compare",
        left: { kind: "num", value: 0 },
        comparators: [{ kind: "name", id: "tcpi_rwnd_limited" }],
      });
      expect(tcp(packets(s)[0]).options).toContainEqual({ kind: "timestamp", val: 100, ecr: 0 });
    },
  ],
  [
    "ts_recent/fin_tsval.pkt",
    10,
    "ssss<><ss>",
    (s) => {
      expect(s.options.map((o) => `${o.name}=${o.value}`)).toEqual([
        "tcp_ts_tick_usecs=1000",
        "tolerance_usecs=7000",
      ]);
      const flags = resolveFlags(s);
      expect([flags.tcpTsTickUsecs, flags.toleranceUsecs]).toEqual([1000, 7000]);
      expect(tcp(s.events.at(-1)).options).toEqual([
        { kind: "nop" },
        { kind: "nop" },
        { kind: "timestamp", val: 1200, ecr: 200 },
      ]);
      expect(syscalls(s, "close")[0]!.time).toEqual({ kind: "relative", us: 1_000_000 });
    },
  ],
  [
    "user_timeout/user_timeout.pkt",
    16,
    "ssss<><sss>>>><>",
    (s) => {
      const ranges = s.events.filter((e) => e.time.kind === "range");
      expect(ranges.map((e) => e.time)).toEqual([
        { kind: "range", relative: true, startUs: 300_000, endUs: 400_000 },
        { kind: "range", relative: true, startUs: 300_000, endUs: 400_000 },
        { kind: "range", relative: true, startUs: 600_000, endUs: 800_000 },
      ]);
      expect(ranges.every((e) => tcp(e).flags === (TcpFlag.FIN | TcpFlag.ACK))).toBe(true);
      expect(syscalls(s, "setsockopt")[1]!.syscall.args[3]).toMatchObject({
        kind: "array",
        elements: [{ kind: "int", value: 3000 }],
      });
    },
  ],
];

describe.skipIf(!HAVE_SCRIPTS)("the 26 conformance scripts", () => {
  it("are all listed here", () => {
    const found = (readdirSync(TCP_DIR, { recursive: true }) as string[])
      .filter((f) => f.endsWith(".pkt"))
      .map((f) => f.split("\\").join("/"))
      .sort();
    expect(found).toEqual(SCRIPTS.map(([rel]) => rel).sort());
  });

  describe.each(SCRIPTS)("%s", (rel, count, expectedShape, check) => {
    it(`parses into ${count} events of the expected kinds`, () => {
      const s = load(rel);
      expect(s.events).toHaveLength(count);
      expect(shape(s)).toBe(expectedShape);
    });

    it("starts with defaults.sh and an event at time 0", () => {
      const s = load(rel);
      expect(s.init?.steps[0]?.kind).toBe("defaults");
      expect(s.events[0]!.time).toMatchObject({ us: 0 });
      expect(s.events[0]!.kind).toBe("syscall");
      expect(syscalls(s)[0]!.syscall.name).toBe("socket");
    });

    it("matches what the script says", () => {
      check(load(rel));
    });

    it("prints and re-parses to the same script", () => {
      const s = load(rel);
      const printed = formatScript(s);
      const again = parseScript(printed, "printed.pkt");
      expect(formatScript(again)).toBe(printed);
      expect(semantic(again)).toEqual(semantic(s));
    });

    it("records each event's location and source text", () => {
      const s = load(rel);
      const lines = readFileSync(join(TCP_DIR, rel), "utf8").split("\n");
      for (const e of s.events) {
        expect(lines[e.loc.line - 1]!.slice(e.loc.column - 1)).toMatch(
          new RegExp(`^${escapeRe(e.source.split("\n")[0]!)}`),
        );
      }
    });
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A script without locations, source text and code text: what a round trip must keep. */
export function semantic(s: Script): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === "loc" || k === "source") continue;
        if (k === "text" && "statements" in v) continue;
        out[k] = strip(x);
      }
      return out;
    }
    return v;
  };
  return strip({ options: s.options, init: s.init, events: s.events, cleanup: s.cleanup });
}
