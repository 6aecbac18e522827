/**
 * Scripted TCP packets ↔ bytes on the wire. Inbound (`<`) lines become segments with absolute
 * numbers; outbound (`>`) lines are compared with what the stack sent, packetdrill's way:
 * sequence numbers relative to each side's ISN, options in order (nops included) unless
 * `<...>`, TSval mapped through the offset of the first one the stack sent, payload by length.
 * @see packetdrill gtests/net/packetdrill/run_packet.c verify_outbound_live_tcp_options(),
 *   find_tcp_timestamp(), map_inbound_packet()
 * @packageDocumentation
 */
import type { TcpOption } from "@skbuff/tcp";
import { type TcpOptionInput, type TransportBuilder, tcpSegment } from "../../builders.js";
import type { TcpView } from "../../parse.js";
import type { TcpOptionSpec, TcpPacket } from "../ast.js";
import { formatPacket, formatTcpFlags } from "../format.js";

/** What the runner knows about the one connection a script plays. */
export interface FlowState {
  /** The stack's ISN, learned from its first SYN; absolute numbers until then. */
  localIsn: number | undefined;
  /** The ISN the script's remote end uses (scripted `0` is this). */
  readonly remoteIsn: number;
  /** The stack's port: `--bind_port` for a listener, learned from the SYN for connect(). */
  localPort: number;
  /** The remote's port: chosen by the runner for a passive open, `--connect_port` for connect(). */
  remotePort: number;
  /** actual TSval − scripted TSval, from the first outbound timestamp. */
  tsOffset: number | undefined;
}

const u32 = (n: number): number => n >>> 0;

/** An inbound TCP line as a segment builder, numbers made absolute. */
export function buildInbound(p: TcpPacket, flow: FlowState): TransportBuilder {
  const local = flow.localIsn ?? 0;
  const options: TcpOptionInput[] = [];
  for (const o of p.options === "any" ? [] : p.options) {
    switch (o.kind) {
      case "nop":
      case "eol":
      case "sackOK":
        options.push(o.kind);
        break;
      case "mss":
      case "wscale":
        options.push({ kind: o.kind, value: o.value });
        break;
      case "sack":
        options.push({
          kind: "sack",
          blocks: o.blocks.map((b) => [u32(b.left + local), u32(b.right + local)] as const),
        });
        break;
      case "timestamp":
        options.push({
          kind: "ts",
          val: u32(o.val),
          ecr: o.ecr === 0 || flow.tsOffset === undefined ? u32(o.ecr) : u32(o.ecr + flow.tsOffset),
        });
        break;
      case "md5":
      case "fastopen":
        options.push({ kind: "raw", type: o.kind === "md5" ? 19 : o.experimental ? 254 : 34 });
        break;
    }
  }
  return tcpSegment({
    sport: p.ports?.src ?? flow.remotePort,
    dport: p.ports?.dst ?? flow.localPort,
    seq: u32(p.seq.start + flow.remoteIsn),
    ack: p.ack === undefined ? 0 : u32(p.ack + local),
    flags: p.flags & 0xff,
    win: p.win ?? (p.flags & 0x04 ? 0 : 65535),
    urg: p.urg ?? 0,
    options,
    payload: new Uint8Array(p.seq.len),
  });
}

/** An outbound segment (possibly several merged) as the runner compares it. */
export interface SentSegment {
  readonly flags: number;
  readonly seq: number;
  readonly ack: number;
  readonly window: number;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly options: readonly TcpOption[] | null;
  /** Payload bytes (the sum over merged segments). */
  readonly len: number;
  /** How many segments were merged into this one. */
  readonly count: number;
}

/** A single parsed segment as a {@link SentSegment}. */
export function sentSegment(v: TcpView): SentSegment {
  return {
    flags: v.flags,
    seq: v.seq,
    ack: v.ack,
    window: v.window,
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    options: v.options,
    len: v.payload.length,
    count: 1,
  };
}

/**
 * Appends `next` to `s` when it continues it (same ports, contiguous sequence, no SYN/FIN/RST
 * before it): the TSO-style aggregation packetdrill does unless `--strict_segments`. Flags OR.
 */
export function mergeSegments(s: SentSegment, next: SentSegment): SentSegment | undefined {
  if (next.srcPort !== s.srcPort || next.dstPort !== s.dstPort) return undefined;
  if (s.flags & 0x07 || next.flags & 0x06) return undefined;
  if (u32(s.seq + s.len) !== next.seq) return undefined;
  return {
    ...next,
    flags: s.flags | next.flags,
    seq: s.seq,
    len: s.len + next.len,
    count: s.count + next.count,
    options: s.options,
  };
}

function relSeq(n: number, isn: number | undefined): number {
  return u32(n - (isn ?? 0));
}

/** A sent segment as a script line with numbers relative to `flow`'s ISNs. */
export function describeSent(s: SentSegment, flow: FlowState): string {
  const seq = relSeq(s.seq, flow.localIsn);
  const options: TcpOptionSpec[] =
    s.options?.map((o): TcpOptionSpec => {
      switch (o.kind) {
        case "ts":
          return {
            kind: "timestamp",
            val: flow.tsOffset === undefined ? o.val : u32(o.val - flow.tsOffset),
            ecr: o.ecr,
          };
        case "sack":
          return {
            kind: "sack",
            blocks: o.blocks.map(([l, r]) => ({
              left: relSeq(l, flow.remoteIsn),
              right: relSeq(r, flow.remoteIsn),
            })),
          };
        case "unknown":
          return { kind: "md5", hex: `opt${o.type}` };
        default:
          return o;
      }
    }) ?? [];
  const text = formatPacket({
    protocol: "tcp",
    direction: "outbound",
    ip: undefined,
    ports: undefined,
    flags: s.flags,
    seq: { start: seq, end: u32(seq + s.len), len: s.len },
    ack: s.flags & 0x10 ? relSeq(s.ack, flow.remoteIsn) : undefined,
    win: s.window,
    urg: undefined,
    options,
  });
  return s.count > 1 ? `${text} (${s.count} segments merged)` : text;
}

/** Options for {@link compareOutbound}. */
export interface CompareOptions {
  /** µs per TSval tick (`--tcp_ts_tick_usecs`); 0 skips the TSval check. */
  readonly tsTickUsecs: number;
  /** Allowed TSval drift, in ticks. */
  readonly tsSlackTicks: number;
}

/**
 * Learns from `s` what the first outbound packets teach (the stack's ISN and port, the TSval
 * offset); call before {@link compareOutbound}.
 */
export function learnFromOutbound(p: TcpPacket, s: SentSegment, flow: FlowState): void {
  if (s.flags & 0x02 && flow.localIsn === undefined) {
    flow.localIsn = u32(s.seq - p.seq.start);
    flow.localPort = s.srcPort;
  }
  if (flow.tsOffset === undefined && p.options !== "any") {
    const want = p.options.find((o) => o.kind === "timestamp");
    const got = s.options?.find((o) => o.kind === "ts");
    if (want?.kind === "timestamp" && got?.kind === "ts") flow.tsOffset = u32(got.val - want.val);
  }
}

/**
 * Compares a scripted outbound line with what was sent. Returns the first difference as
 * `wrong flags: expected S., got R.`, or `undefined` when they match.
 */
export function compareOutbound(
  p: TcpPacket,
  s: SentSegment,
  flow: FlowState,
  o: CompareOptions,
): string | undefined {
  if ((p.flags & 0xff) !== s.flags) {
    return `wrong flags: expected ${formatTcpFlags(p.flags)}, got ${formatTcpFlags(s.flags)}`;
  }
  if (p.ports !== undefined && (p.ports.src !== s.srcPort || p.ports.dst !== s.dstPort)) {
    return `wrong ports: expected ${p.ports.src}>${p.ports.dst}, got ${s.srcPort}>${s.dstPort}`;
  }
  const seq = relSeq(s.seq, flow.localIsn);
  if (seq !== u32(p.seq.start)) return `wrong seq: expected ${p.seq.start}, got ${seq}`;
  if (s.len !== p.seq.len) {
    return `wrong payload length: expected ${p.seq.len} bytes (${p.seq.start}:${p.seq.end}), got ${s.len} (${seq}:${u32(seq + s.len)})`;
  }
  if (p.ack !== undefined) {
    const ack = s.flags & 0x10 ? relSeq(s.ack, flow.remoteIsn) : undefined;
    if (ack !== u32(p.ack)) return `wrong ack: expected ${p.ack}, got ${ack ?? "none"}`;
  }
  if (p.win !== undefined && p.win !== s.window) {
    return `wrong window: expected ${p.win}, got ${s.window}`;
  }
  if (p.options === "any") return undefined;
  return compareOptions(p.options, s.options ?? [], flow, o);
}

function compareOptions(
  want: readonly TcpOptionSpec[],
  got: readonly TcpOption[],
  flow: FlowState,
  o: CompareOptions,
): string | undefined {
  const names = (l: readonly { kind: string }[]) =>
    l.map((x) => (x.kind === "ts" ? "TS" : x.kind === "timestamp" ? "TS" : x.kind)).join(",");
  const kinds = want.map((w) =>
    w.kind === "timestamp" ? "ts" : w.kind === "md5" || w.kind === "fastopen" ? "unknown" : w.kind,
  );
  if (kinds.length !== got.length || kinds.some((k, i) => k !== got[i]!.kind)) {
    return `wrong TCP options: expected <${names(want)}>, got <${names(got)}>`;
  }
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    const g = got[i]!;
    if ((w.kind === "mss" || w.kind === "wscale") && g.kind === w.kind && w.value !== g.value) {
      return `wrong ${w.kind} option: expected ${w.value}, got ${g.value}`;
    }
    if (w.kind === "sack" && g.kind === "sack") {
      const gb = g.blocks
        .map(([l, r]) => `${relSeq(l, flow.remoteIsn)}:${relSeq(r, flow.remoteIsn)}`)
        .join(" ");
      const wb = w.blocks.map((b) => `${b.left}:${b.right}`).join(" ");
      if (gb !== wb) return `wrong sack blocks: expected ${wb}, got ${gb}`;
    }
    if (w.kind === "timestamp" && g.kind === "ts") {
      if (u32(w.ecr) !== g.ecr) return `wrong TS ecr: expected ${w.ecr}, got ${g.ecr}`;
      if (o.tsTickUsecs > 0 && flow.tsOffset !== undefined) {
        const val = u32(g.val - flow.tsOffset);
        const drift = Math.abs(((val - w.val + 0x80000000) >>> 0) - 0x80000000);
        if (drift > o.tsSlackTicks) {
          return `wrong TS val: expected ${w.val} (±${o.tsSlackTicks}), got ${val}`;
        }
      }
    }
  }
  return undefined;
}
