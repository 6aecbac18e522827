/**
 * The symbols packetdrill scripts use in system calls (`SOL_TCP`, `TCP_CORK`, `O_NONBLOCK`,
 * `SIOCINQ`, …), with Linux's numbers, and how a system-call expression becomes a number.
 * @see packetdrill gtests/net/packetdrill/symbols_linux.c
 * @packageDocumentation
 */
import type { SyscallExpr } from "../ast.js";

/** Linux's values for the symbols the scripts use. */
export const SYMBOLS: Readonly<Record<string, number>> = Object.freeze({
  AF_INET: 2,
  AF_INET6: 10,
  PF_INET: 2,
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  IPPROTO_IP: 0,
  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  SOL_IP: 0,
  SOL_SOCKET: 1,
  SOL_TCP: 6,
  SO_REUSEADDR: 2,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_LINGER: 13,
  SO_REUSEPORT: 15,
  SO_RCVLOWAT: 18,
  SO_SNDLOWAT: 19,
  TCP_NODELAY: 1,
  TCP_MAXSEG: 2,
  TCP_CORK: 3,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,
  TCP_SYNCNT: 7,
  TCP_LINGER2: 8,
  TCP_DEFER_ACCEPT: 9,
  TCP_WINDOW_CLAMP: 10,
  TCP_INFO: 11,
  TCP_QUICKACK: 12,
  TCP_CONGESTION: 13,
  TCP_USER_TIMEOUT: 18,
  TCP_NOTSENT_LOWAT: 25,
  IP_TOS: 1,
  IP_TTL: 2,
  IP_MTU_DISCOVER: 10,
  IP_PMTUDISC_DONT: 0,
  IP_PMTUDISC_WANT: 1,
  IP_PMTUDISC_DO: 2,
  IP_PMTUDISC_PROBE: 3,
  O_RDONLY: 0,
  O_WRONLY: 1,
  O_RDWR: 2,
  O_NONBLOCK: 0x800,
  F_GETFL: 3,
  F_SETFL: 4,
  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,
  MSG_OOB: 0x1,
  MSG_PEEK: 0x2,
  MSG_DONTWAIT: 0x40,
  MSG_WAITALL: 0x100,
  MSG_MORE: 0x8000,
  MSG_ZEROCOPY: 0x4000000,
  POLLIN: 0x0001,
  POLLPRI: 0x0002,
  POLLOUT: 0x0004,
  POLLERR: 0x0008,
  POLLHUP: 0x0010,
  POLLNVAL: 0x0020,
  POLLRDNORM: 0x0040,
  POLLWRNORM: 0x0100,
  POLLRDHUP: 0x2000,
  SIOCINQ: 0x541b,
  FIONREAD: 0x541b,
  SIOCOUTQ: 0x5411,
  TIOCOUTQ: 0x5411,
});

/** `TCP_CA_*` and `TCP_*` state names a `%{ }%` block may compare against. */
export const PY_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  TCP_CA_Open: 0,
  TCP_CA_Disorder: 1,
  TCP_CA_CWR: 2,
  TCP_CA_Recovery: 3,
  TCP_CA_Loss: 4,
  TCP_ESTABLISHED: 1,
  TCP_SYN_SENT: 2,
  TCP_SYN_RECV: 3,
  TCP_FIN_WAIT1: 4,
  TCP_FIN_WAIT2: 5,
  TCP_TIME_WAIT: 6,
  TCP_CLOSE: 7,
  TCP_CLOSE_WAIT: 8,
  TCP_LAST_ACK: 9,
  TCP_LISTEN: 10,
  TCP_CLOSING: 11,
});

/** A system-call expression that the runner cannot turn into what it needs. */
export class SyscallExprError extends Error {}

/**
 * The integer an expression denotes: `1000`, `SO_REUSEADDR`, `O_RDWR|O_NONBLOCK`, `[1]` (the
 * pointed-to value), `htons(8080)`.
 * @throws SyscallExprError naming the symbol or form not understood
 */
export function exprInt(e: SyscallExpr): number {
  switch (e.kind) {
    case "int":
      return e.value;
    case "word": {
      const v = SYMBOLS[e.name];
      if (v === undefined) throw new SyscallExprError(`unknown symbol ${e.name}`);
      return v;
    }
    case "binary":
      return (exprInt(e.left) | exprInt(e.right)) >>> 0;
    case "array":
      if (e.elements.length === 1) return exprInt(e.elements[0]!);
      throw new SyscallExprError(`expected [value], found an array of ${e.elements.length}`);
    case "call":
      if (e.name === "htons" && e.args.length === 1) return exprInt(e.args[0]!);
      throw new SyscallExprError(`cannot use ${e.name}(…) as a number`);
    default:
      throw new SyscallExprError(`expected a number, found ${e.kind}`);
  }
}

/** The `name=value` fields of a struct expression (`{onoff=1, linger=0}`), by name. */
export function structFields(e: SyscallExpr): Map<string, SyscallExpr> {
  const out = new Map<string, SyscallExpr>();
  if (e.kind !== "struct") return out;
  for (const el of e.elements) {
    if (el.kind === "assign" && el.target.kind === "word") out.set(el.target.name, el.value);
  }
  return out;
}
