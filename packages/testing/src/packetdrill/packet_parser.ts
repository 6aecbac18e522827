/**
 * Packet lines: `< S 0:0(0) win 32792 <mss 1000,nop,wscale 7>`, `> udp (40)`,
 * `< icmp unreachable frag_needed mtu 1200 [1:1461(1460)]`, with packetdrill's checks (end
 * sequence = start + length, values fit their fields, `<...>` and `[ect01]` outbound only).
 * @see packetdrill gtests/net/packetdrill/parser.y tcp_packet_spec, tcp_packet.c
 * @packageDocumentation
 */
import {
  type IcmpPacket,
  type IpInfo,
  type Packet,
  type PacketDirection,
  type PortInfo,
  TCP_FLAG_LETTERS,
  type TcpOptionSpec,
  type TcpPacket,
  type UdpPacket,
} from "./ast.js";
import type { TokenCursor } from "./cursor.js";
import { PacketdrillParseError } from "./source.js";

const U8 = 0xff;
const U16 = 0xffff;
const U32 = 0xffffffff;
const FLAG_BITS = new Map(TCP_FLAG_LETTERS);
const FLAG_LIST = "F, S, R, P, U, E, W, A or .";
const ENCAPSULATIONS = new Set(["ipv4", "ipv6", "gre", "GREv0", "mpls"]);
const ECN_NAMES = new Set(["noecn", "ect0", "ect1", "ce"]);
const TCP_OPTION_NAMES = "nop, eol, mss, wscale, sackOK, sack, TS, md5, FO or FOEXP";

/** Parses a packet; the cursor is on its `<` or `>`. */
export function parsePacketLine(c: TokenCursor): Packet {
  const dir = c.next();
  const direction: PacketDirection = dir.value === "<" ? "inbound" : "outbound";
  const t = c.peek();
  if (t.kind === "word" && ENCAPSULATIONS.has(t.value)) {
    c.fail("expected a TCP, UDP or ICMP packet (encapsulation prefixes are not supported)");
  }
  const ip = optIpInfo(c, direction);
  if (c.isWord("udp")) return udp(c, direction, ip);
  if (c.isWord("icmp")) return icmp(c, direction, ip);
  return tcp(c, direction, ip);
}

/** `opt_ip_info`: `[ip_info]` or `(ip_info)` — ECN codepoint, `tos 0x..`, `flowlabel 0x..`, `ttl N`. */
function optIpInfo(c: TokenCursor, direction: PacketDirection): IpInfo | undefined {
  const open = c.peek();
  if (!c.isPunct("(") && !c.isPunct("[")) return undefined;
  c.pos++;
  const close = open.value === "(" ? ")" : "]";
  let tos: IpInfo["tos"];
  let flowLabel: number | undefined;
  let ttl: number | undefined;
  const w = c.peek();
  const expected =
    "expected an IP field (noecn, ect0, ect1, ce, ect01, tos 0x.., flowlabel 0x.. or ttl N)";
  if (w.kind !== "word") c.fail(expected);
  if (ECN_NAMES.has(w.value)) {
    c.pos++;
    tos = { kind: "ecn", ecn: w.value as "noecn" | "ect0" | "ect1" | "ce" };
  } else if (w.value === "ect01") {
    if (direction === "inbound") {
      c.fail("expected an outbound packet for [ect01] (it matches either ECT codepoint)");
    }
    c.pos++;
    tos = { kind: "ect01" };
  } else if (w.value === "tos") {
    c.pos++;
    tos = { kind: "tos", value: c.hexValue(U8, "a TOS byte in hex (like 0x10)") };
  } else if (w.value === "flowlabel") {
    c.pos++;
    flowLabel = c.hexValue(0xfffff, "a 20-bit flow label in hex");
  } else if (w.value === "ttl") {
    c.pos++;
    ttl = c.uint(U8, "a TTL from 0 to 255");
  } else {
    c.fail(expected);
  }
  if (tos !== undefined && c.isPunct(",")) {
    c.pos++;
    if (!c.isWord("flowlabel")) c.fail("expected flowlabel after ','");
    c.pos++;
    flowLabel = c.hexValue(0xfffff, "a 20-bit flow label in hex");
  }
  c.expectPunct(close, `expected '${close}' to close the IP fields`);
  return { tos, flowLabel, ttl };
}

/** `opt_port_info`: `INTEGER '>' INTEGER`. */
function optPorts(c: TokenCursor): PortInfo | undefined {
  if (c.peek().kind !== "int") return undefined;
  const src = c.uint(U16, "a source port from 0 to 65535");
  c.expectPunct(">", "expected '>' between the source and destination ports");
  const dst = c.uint(U16, "a destination port from 0 to 65535");
  return { src, dst };
}

/** `tcp_packet_spec` after the prefix: ports, flags, `seq`, `ack`, `win`, `urg`, `<options>`. */
function tcp(c: TokenCursor, direction: PacketDirection, ip: IpInfo | undefined): TcpPacket {
  const ports = optPorts(c);
  const flags = tcpFlags(c);
  const seqTok = c.peek();
  if (seqTok.kind !== "int") c.fail("expected a sequence range like 1:1001(1000)");
  const start = c.uint(U32, "a start sequence number from 0 to 4294967295");
  c.expectPunct(":", "expected ':' in the sequence range start:end(length)");
  const end = c.uint(U32, "an end sequence number from 0 to 4294967295");
  c.expectPunct("(", "expected '(' and the payload length after start:end");
  const len = c.uint(U16, "a payload length from 0 to 65535");
  c.expectPunct(")", "expected ')' after the payload length");
  if (end !== start + len) {
    c.failAt(
      seqTok,
      `expected the end sequence number to be start + length = ${start + len}, found ${start}:${end}(${len})`,
    );
  }
  let ack: number | undefined;
  let win: number | undefined;
  let urg: number | undefined;
  if (c.sameLine() && c.isWord("ack")) {
    c.pos++;
    ack = c.uint(U32, "an ack number from 0 to 4294967295");
  }
  if (c.sameLine() && c.isWord("win")) {
    c.pos++;
    win = c.uint(U16, "a window from 0 to 65535");
  }
  if (c.sameLine() && c.isWord("urg")) {
    c.pos++;
    urg = c.uint(U16, "an urgent pointer from 0 to 65535");
  }
  const options = c.sameLine() && c.isPunct("<") ? tcpOptions(c, direction) : [];
  return {
    protocol: "tcp",
    direction,
    ip,
    ports,
    flags,
    seq: { start, end, len },
    ack,
    win,
    urg,
    options,
  };
}

/** `flags`: `WORD | '.' | WORD '.' | '-'`, each letter checked (packetdrill's `parse_tcp_flags`). */
function tcpFlags(c: TokenCursor): number {
  const t = c.peek();
  if (c.isPunct(".")) {
    c.pos++;
    return FLAG_BITS.get(".")!;
  }
  if (c.isPunct("-")) {
    c.pos++;
    return 0;
  }
  if (t.kind !== "word") {
    return c.fail(`expected TCP flags (${FLAG_LIST}, or - for none)`);
  }
  let bits = 0;
  for (let i = 0; i < t.text.length; i++) {
    const bit = FLAG_BITS.get(t.text[i]!);
    if (bit === undefined || t.text[i] === ".") {
      throw new PacketdrillParseError(
        c.src.locAt(t.start + i),
        `expected a TCP flag (${FLAG_LIST}), found '${t.text[i]}' in '${t.text}'`,
        c.src.text,
      );
    }
    bits |= bit;
  }
  c.pos++;
  if (c.isPunct(".")) {
    c.pos++;
    bits |= FLAG_BITS.get(".")!;
  }
  return bits;
}

/** `opt_tcp_options`: `'<' tcp_option_list '>'` or `'<' ELLIPSIS '>'` (outbound only). */
function tcpOptions(c: TokenCursor, direction: PacketDirection): readonly TcpOptionSpec[] | "any" {
  c.pos++; // '<'
  const t = c.peek();
  if (t.kind === "ellipsis") {
    if (direction === "inbound") {
      c.fail("expected TCP options: <...> (skip the check) is only allowed for outbound packets");
    }
    c.pos++;
    c.expectPunct(">", "expected '>' after <...");
    return "any";
  }
  const out: TcpOptionSpec[] = [];
  for (;;) {
    out.push(tcpOption(c));
    if (c.isPunct(",")) {
      c.pos++;
      continue;
    }
    if (c.isPunct(">")) {
      c.pos++;
      return out;
    }
    c.fail("expected ',' or '>' in the TCP option list");
  }
}

/** `tcp_option`, with packetdrill's range checks. */
function tcpOption(c: TokenCursor): TcpOptionSpec {
  const t = c.peek();
  if (t.kind !== "word") return c.fail(`expected a TCP option (${TCP_OPTION_NAMES})`);
  c.pos++;
  switch (t.value) {
    case "nop":
      return { kind: "nop" };
    case "eol":
      return { kind: "eol" };
    case "sackOK":
      return { kind: "sackOK" };
    case "mss":
      return { kind: "mss", value: c.uint(U16, "an MSS from 0 to 65535") };
    case "wscale":
      return { kind: "wscale", value: c.uint(U8, "a window scale shift from 0 to 255") };
    case "sack": {
      const blocks: { left: number; right: number }[] = [];
      do {
        const left = c.uint(U32, "a SACK block left:right");
        c.expectPunct(":", "expected ':' in the SACK block left:right");
        const right = c.uint(U32, "a SACK block right edge from 0 to 4294967295");
        blocks.push({ left, right });
      } while (c.peek().kind === "int");
      return { kind: "sack", blocks };
    }
    case "TS": {
      if (!c.isWord("val")) c.fail("expected 'val' after TS (TS val N ecr N)");
      c.pos++;
      const val = c.uint(U32, "a TS val from 0 to 4294967295");
      if (!c.isWord("ecr")) c.fail("expected 'ecr' after the TS val (TS val N ecr N)");
      c.pos++;
      const ecr = c.uint(U32, "a TS ecr from 0 to 4294967295");
      return { kind: "timestamp", val, ecr };
    }
    case "md5":
      return { kind: "md5", hex: hexBlob(c, true) };
    case "FO":
    case "FOEXP": {
      const next = c.peek();
      const cookie = next.kind === "word" || next.kind === "int" ? hexBlob(c, false) : "";
      return { kind: "fastopen", experimental: t.value === "FOEXP", cookie };
    }
    default:
      c.pos--;
      return c.fail(`expected a TCP option (${TCP_OPTION_NAMES})`);
  }
}

/** An MD5 digest (16 bytes) or a Fast Open cookie (up to 16 bytes) written as hex digits. */
function hexBlob(c: TokenCursor, md5: boolean): string {
  const t = c.peek();
  const ok =
    (t.kind === "word" || t.kind === "int") &&
    /^[0-9a-fA-F]*$/.test(t.text) &&
    (md5 ? t.text.length === 32 : t.text.length % 2 === 0 && t.text.length <= 32);
  if (!ok) {
    c.fail(
      md5
        ? "expected an MD5 digest of 32 hex digits"
        : "expected a Fast Open cookie of an even number of hex digits (at most 32)",
    );
  }
  c.pos++;
  return t.text.toLowerCase();
}

/** `udp_packet_spec`: `UDP opt_port_info '(' INTEGER ')'`. */
function udp(c: TokenCursor, direction: PacketDirection, ip: IpInfo | undefined): UdpPacket {
  c.pos++; // udp
  if (ip?.tos?.kind === "ecn") c.fail("expected a TCP packet: ECN fields only go with TCP");
  const ports = optPorts(c);
  c.expectPunct("(", "expected '(' and the UDP payload length");
  const length = c.uint(U16, "a UDP payload length from 0 to 65535");
  c.expectPunct(")", "expected ')' after the UDP payload length");
  return { protocol: "udp", direction, ip, ports, length };
}

/** `icmp_packet_spec`: type, code, `mtu N`, `id N`, and the echoed `[seq]`, `[udp (N)]`, `[raw (N)]`. */
function icmp(c: TokenCursor, direction: PacketDirection, ip: IpInfo | undefined): IcmpPacket {
  c.pos++; // icmp
  const typeTok = c.peek();
  if (typeTok.kind !== "word") c.fail("expected an ICMP type name (like unreachable)");
  c.pos++;
  let code: string | undefined;
  const codeTok = c.peek();
  if (
    c.sameLine() &&
    codeTok.kind === "word" &&
    codeTok.value !== "mtu" &&
    codeTok.value !== "id"
  ) {
    c.pos++;
    code = codeTok.value;
  }
  let mtu: number | undefined;
  let echoId: number | undefined;
  if (c.sameLine() && c.isWord("mtu")) {
    c.pos++;
    mtu = c.uint(U16, "an MTU from 0 to 65535");
  }
  if (c.sameLine() && c.isWord("id")) {
    c.pos++;
    echoId = c.uint(U16, "an echo id from 0 to 65535");
  }
  let echoed: IcmpPacket["echoed"];
  if (c.sameLine() && c.isPunct("[")) {
    c.pos++;
    if (c.isWord("udp") || c.isWord("raw")) {
      const protocol = c.next().value as "udp" | "raw";
      c.expectPunct("(", `expected '(' and the ${protocol} payload length`);
      const length = c.uint(U16, "a payload length from 0 to 65535");
      c.expectPunct(")", "expected ')' after the payload length");
      echoed = { protocol, length };
    } else {
      const seqTok = c.peek();
      const start = c.uint(U32, "the echoed TCP sequence range start:end(length)");
      c.expectPunct(":", "expected ':' in the sequence range start:end(length)");
      const end = c.uint(U32, "an end sequence number from 0 to 4294967295");
      c.expectPunct("(", "expected '(' and the payload length after start:end");
      const len = c.uint(U16, "a payload length from 0 to 65535");
      c.expectPunct(")", "expected ')' after the payload length");
      if (end !== start + len) {
        c.failAt(
          seqTok,
          `expected the end sequence number to be start + length = ${start + len}, found ${start}:${end}(${len})`,
        );
      }
      echoed = { protocol: "tcp", start, end, len };
    }
    c.expectPunct("]", "expected ']' after the echoed packet");
  }
  return { protocol: "icmp", direction, ip, type: typeTok.value, code, mtu, echoId, echoed };
}
