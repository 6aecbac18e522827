/**
 * The event loop of a run: walks a script's events on the virtual clock. Inbound packets are
 * injected when due; outbound ones are taken from what the stack transmitted (the clock moving
 * timer by timer up to the end of their window) and matched; system calls that would block are
 * retried after every step until they return; `%{ }%` blocks assert over `tcp_info`.
 * @see packetdrill gtests/net/packetdrill/run.c run_script(), run_packet.c, run_system_call.c
 * @packageDocumentation
 */
import { errnoName } from "@skbuff/core";
import { TCP_LISTEN, type TcpSocketHandle } from "@skbuff/tcp";
import { ipv4Packet } from "../../builders.js";
import type { Harness } from "../../harness.js";
import { parsePacket, summarizePacket } from "../../parse.js";
import type {
  CodeEvent,
  CommandEvent,
  PacketEvent,
  Script,
  ScriptEvent,
  ShellCommand,
  SyscallEvent,
  TcpPacket,
} from "../ast.js";
import { commandEffects } from "../defaults.js";
import type { PacketdrillFlags } from "../flags.js";
import { formatEvent, formatSeconds, formatSyscall } from "../format.js";
import { type ScheduledTime, TimeTracker, timingError } from "../time.js";
import { type PyValue, runAsserts } from "./python_eval.js";
import { exprInt } from "./symbols.js";
import {
  describeReturn,
  type SyscallBlocked,
  type SyscallDone,
  type SyscallRunner,
} from "./syscalls.js";
import {
  buildInbound,
  compareOutbound,
  describeSent,
  type FlowState,
  learnFromOutbound,
  mergeSegments,
  type SentSegment,
  sentSegment,
} from "./tcp_match.js";

/** How long a `*` outbound packet is waited for, µs of virtual time. */
const ANY_TIME_WAIT_US = 600_000_000;
/** How far past a window a missing packet is looked for, to call it late rather than missing. */
const LATE_LOOKAHEAD_US = 5_000_000;

/** Why a run failed: the first mismatch, at a script line. */
export interface ScriptFailure {
  /** 1-based line of the event that did not hold (0 for a script that did not parse). */
  readonly line: number;
  /** The scripted event as text (`+0 > S. 0:0(0) ack 1 <mss 1460,nop,wscale 8>`). */
  readonly expected: string;
  /** What went wrong: `wrong flags: expected S., got R.`, a timing error, a failed assert. */
  readonly reason: string;
  /** What the stack did, as a script line with relative numbers, when there is one. */
  readonly actual: string | undefined;
}

/** Thrown inside a run at the first mismatch. */
export class RunFailure extends Error {
  constructor(
    readonly failure: ScriptFailure,
    /** The kind of event that failed, for `--non_fatal=packet,syscall`. */
    readonly kind: ScriptEvent["kind"],
  ) {
    super(failure.reason);
  }
}

interface PendingCall {
  readonly event: SyscallEvent;
  readonly call: SyscallBlocked;
  readonly scheduled: ScheduledTime;
}

const TCP_FLAG_SYN = 0x02;

/** One run of one script: the events in order, on the harness's clock. */
export class EventLoop {
  private readonly tracker: TimeTracker;
  private readonly t0: number;
  private read = 0;
  private pending: PendingCall | undefined;
  readonly notes: string[] = [];

  constructor(
    private readonly h: Harness,
    private readonly flags: PacketdrillFlags,
    private readonly flow: FlowState,
    private readonly sys: SyscallRunner,
  ) {
    this.tracker = new TimeTracker({
      toleranceUsecs: flags.toleranceUsecs,
      tolerancePercent: flags.tolerancePercent,
    });
    this.t0 = h.clock.now();
  }

  nowUs(): number {
    return Math.round((this.h.clock.now() - this.t0) * 1000);
  }

  private fail(event: ScriptEvent, reason: string, actual?: string): never {
    throw new RunFailure(
      { line: event.loc.line, expected: formatEvent(event), reason, actual },
      event.kind,
    );
  }

  /** Applies a command's sysctls; what cannot be applied becomes a note. */
  applyCommand(command: ShellCommand): void {
    const effects = commandEffects(command);
    for (const { name, value } of effects.sysctls) {
      if (!this.h.stack.sysctl.has(name)) {
        this.notes.push(`sysctl ${name}=${value} not supported`);
        continue;
      }
      try {
        this.h.stack.sysctl.set(name, value);
      } catch (error) {
        this.notes.push(`sysctl ${name}=${value}: ${(error as Error).message}`);
      }
    }
    for (const step of effects.unsupported) this.notes.push(`command not supported: ${step.text}`);
  }

  /** Moves the clock to `toUs` timer by timer, completing blocked calls as they can. */
  private advanceTo(toUs: number, stopOnPacket = false): void {
    for (;;) {
      this.checkPending();
      if (stopOnPacket && this.read < this.h.transmitted.length) return;
      const now = this.nowUs();
      if (now >= toUs) return;
      const next = this.h.clock.nextTimerAt();
      const targetMs = this.t0 + toUs / 1000;
      const stepTo = next !== undefined && next < targetMs ? next : targetMs;
      this.h.clock.advanceSync(Math.max(0, stepTo - this.h.clock.now()));
      if (this.nowUs() === now && stepTo >= targetMs) {
        this.h.clock.advanceSync(0.001);
      }
    }
  }

  /** Retries a blocked call; checks its result and return time when it completes. */
  private checkPending(): void {
    const p = this.pending;
    if (p === undefined) return;
    const r = p.call.retry();
    const window = p.scheduled.blockingEnd?.window ?? p.scheduled.window;
    if (r === undefined) {
      if (this.nowUs() > window[1]) {
        this.pending = undefined;
        this.fail(
          p.event,
          `blocking call did not return by ${formatSeconds(window[1])} sec`,
          `still blocked at ${formatSeconds(this.nowUs())} sec`,
        );
      }
      return;
    }
    this.pending = undefined;
    this.checkReturn(p.event, r);
    const end = p.scheduled.blockingEnd;
    const sched: ScheduledTime =
      end === undefined
        ? p.scheduled
        : {
            ...p.scheduled,
            dueUs: end.dueUs,
            dueEndUs: end.dueUs,
            toleranceUs: end.toleranceUs,
            window: end.window,
            spec: { kind: "absolute", us: end.dueUs },
          };
    const err = timingError(sched, this.nowUs(), "system call return");
    if (err !== undefined) {
      this.fail(p.event, err, `returned at ${formatSeconds(this.nowUs())} sec`);
    }
  }

  private checkReturn(event: SyscallEvent, r: SyscallDone): void {
    const s = event.syscall;
    const got = `${s.name}(…) = ${describeReturn(r.ret)}`;
    if (s.result.kind !== "ellipsis") {
      const want = exprInt(s.result);
      if (s.errno !== undefined) {
        if (r.ret >= 0 || errnoName(r.ret) !== s.errno.name) {
          this.fail(
            event,
            `wrong errno: expected ${want} ${s.errno.name}, got ${describeReturn(r.ret)}`,
            got,
          );
        }
      } else if (r.ret !== want) {
        this.fail(event, `wrong return value: expected ${want}, got ${describeReturn(r.ret)}`, got);
      }
    }
    if (r.mismatch !== undefined) this.fail(event, `wrong out-parameter: ${r.mismatch}`, got);
  }

  /** Runs every event in order; throws {@link RunFailure} at the first mismatch. */
  events(script: Script): void {
    for (const event of script.events) {
      try {
        try {
          this.event(event);
        } catch (error) {
          if (error instanceof RunFailure) throw error;
          this.fail(event, `runner error: ${(error as Error).message}`);
        }
      } catch (error) {
        const f = error as RunFailure;
        const nonFatal = this.flags.nonFatal;
        if (
          !((f.kind === "packet" && nonFatal.packet) || (f.kind === "syscall" && nonFatal.syscall))
        ) {
          throw f;
        }
        // --non_fatal: packetdrill warns and goes on.
        this.notes.push(`non-fatal: line ${f.failure.line}: ${f.failure.reason}`);
      }
    }
    this.checkPending();
    const p = this.pending;
    if (p !== undefined) {
      this.fail(p.event, "blocking call never returned (the script ended)");
    }
  }

  private event(event: ScriptEvent): void {
    switch (event.kind) {
      case "packet":
        if (event.packet.direction === "inbound") this.inbound(event);
        else this.outbound(event);
        return;
      case "syscall":
        this.syscall(event);
        return;
      case "code":
        this.code(event);
        return;
      case "command":
        this.command(event);
        return;
    }
  }

  private tcpPacket(event: PacketEvent): TcpPacket {
    const p = event.packet;
    if (p.protocol !== "tcp")
      this.fail(event, `${p.protocol} packets are not supported by the runner`);
    return p;
  }

  private inbound(event: PacketEvent): void {
    const p = this.tcpPacket(event);
    const sched = this.tracker.schedule(event, this.nowUs());
    this.advanceTo(sched.dueUs);
    const tos = p.ip?.tos;
    const tosByte =
      tos === undefined
        ? 0
        : tos.kind === "tos"
          ? tos.value
          : tos.kind === "ecn"
            ? { noecn: 0, ect1: 1, ect0: 2, ce: 3 }[tos.ecn]
            : 2;
    this.h.inject(
      ipv4Packet({
        src: this.h.peer,
        dst: this.h.address,
        tos: tosByte,
        ...(p.ip?.ttl !== undefined ? { ttl: p.ip.ttl } : {}),
        inner: buildInbound(p, this.flow),
      }),
    );
    this.checkPending();
  }

  private nextSent(
    untilUs: number,
  ): { seg: SentSegment | undefined; tUs: number; bytes: Uint8Array } | undefined {
    if (this.read >= this.h.transmitted.length) this.advanceTo(untilUs, true);
    const tx = this.h.transmitted[this.read];
    if (tx === undefined) return undefined;
    this.read++;
    const tUs = Math.round((tx.t - this.t0) * 1000);
    const view = parsePacket(tx.bytes);
    const seg = view?.transport.layer === "tcp" ? sentSegment(view.transport) : undefined;
    return { seg, tUs, bytes: tx.bytes };
  }

  private outbound(event: PacketEvent): void {
    const p = this.tcpPacket(event);
    const sched = this.tracker.schedule(event, this.nowUs());
    const until = Number.isFinite(sched.window[1])
      ? sched.window[1]
      : this.nowUs() + ANY_TIME_WAIT_US;
    const first = this.nextSent(until);
    if (first === undefined) this.missing(event, p, sched, until);
    if (first.seg === undefined) {
      this.fail(
        event,
        "expected a TCP packet",
        `${formatSeconds(first.tUs)} ${summarizePacket(first.bytes)}`,
      );
    }
    let seg = first.seg;
    while (!this.flags.strictSegments && seg.len < p.seq.len && !(p.flags & TCP_FLAG_SYN)) {
      const tx = this.h.transmitted[this.read];
      let next: SentSegment | undefined;
      if (tx !== undefined) {
        const view = parsePacket(tx.bytes);
        if (view?.transport.layer === "tcp") next = sentSegment(view.transport);
      }
      const merged = next === undefined ? undefined : mergeSegments(seg, next);
      if (merged === undefined) break;
      this.read++;
      seg = merged;
    }
    learnFromOutbound(p, seg, this.flow);
    const mismatch = compareOutbound(p, seg, this.flow, {
      tsTickUsecs: this.flags.tcpTsTickUsecs,
      tsSlackTicks: Math.max(
        1,
        Math.ceil(sched.toleranceUs / Math.max(1, this.flags.tcpTsTickUsecs)),
      ),
    });
    const actual = `${formatSeconds(first.tUs)} ${describeSent(seg, this.flow)}`;
    if (mismatch !== undefined) this.fail(event, mismatch, actual);
    const late = timingError(sched, first.tUs, "outbound packet");
    if (late !== undefined) {
      const early = first.tUs < sched.window[0];
      this.fail(event, `packet too ${early ? "early" : "late"}: ${late}`, actual);
    }
    this.checkPending();
  }

  /**
   * Nothing came in the window: looks ahead (up to {@link LATE_LOOKAHEAD_US}) to tell a late
   * packet from a missing one, and fails saying which.
   */
  private missing(event: PacketEvent, p: TcpPacket, sched: ScheduledTime, until: number): never {
    const later = this.nextSent(until + LATE_LOOKAHEAD_US);
    const none = `missing packet: expected it by ${formatSeconds(until)} sec, the stack sent nothing`;
    if (later === undefined) {
      this.fail(event, none, `no packet by ${formatSeconds(this.nowUs())} sec`);
    }
    if (later.seg === undefined) {
      this.fail(event, none, `${formatSeconds(later.tUs)} ${summarizePacket(later.bytes)}`);
    }
    learnFromOutbound(p, later.seg, this.flow);
    const actual = `${formatSeconds(later.tUs)} ${describeSent(later.seg, this.flow)}`;
    const differs = compareOutbound(p, later.seg, this.flow, { tsTickUsecs: 0, tsSlackTicks: 0 });
    if (differs !== undefined && later.seg.len >= p.seq.len) {
      this.fail(event, `${none} in time; the next packet differs (${differs})`, actual);
    }
    this.fail(
      event,
      `packet too late: ${timingError(sched, later.tUs, "outbound packet")}`,
      actual,
    );
  }

  private syscall(event: SyscallEvent): void {
    const sched = this.tracker.schedule(event, this.nowUs());
    this.advanceTo(sched.dueUs);
    const s = event.syscall;
    const outcome = s.name === "poll" ? this.sys.pollCall(s) : this.sys.start(s);
    if (outcome.kind === "done") {
      this.checkReturn(event, outcome);
      return;
    }
    if (this.pending !== undefined) {
      this.fail(
        event,
        `a second blocking call while ${formatSyscall(this.pending.event.syscall)} blocks`,
      );
    }
    this.pending = { event, call: outcome, scheduled: sched };
    this.checkPending();
  }

  private code(event: CodeEvent): void {
    const sched = this.tracker.schedule(event, this.nowUs());
    this.advanceTo(sched.dueUs);
    const h = this.socketUnderTest();
    if (h === undefined) this.fail(event, "no socket to read tcp_info from");
    const names: Record<string, PyValue> = { ...h.tcpInfo() };
    const why = runAsserts(event.code, names);
    if (why !== undefined) this.fail(event, why);
  }

  private command(event: CommandEvent): void {
    const sched = this.tracker.schedule(event, this.nowUs());
    this.advanceTo(sched.dueUs);
    this.applyCommand(event.command);
  }

  /** The connection a `%{ }%` block is about: the newest socket that is not listening. */
  private socketUnderTest(): TcpSocketHandle | undefined {
    const all = this.sys.handles();
    return all.filter((h) => h.state !== TCP_LISTEN).at(-1) ?? all.at(-1);
  }
}
