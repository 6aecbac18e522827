/**
 * System calls of a script against the Linux-semantics socket API of `@skbuff/tcp`: file
 * descriptors from 3 up (lowest free, as Linux), blocking emulated over the non-blocking API
 * (a call that would sleep is retried as the virtual clock moves until it completes), and the
 * out-parameters the scripts check (`getsockopt(…, [1100], [4])`, `ioctl(…, SIOCINQ, [0])`).
 * @see packetdrill gtests/net/packetdrill/run_system_call.c
 * @packageDocumentation
 */
import { ERRNO, errnoName } from "@skbuff/core";
import { POLL, type TcpSocketApi, type TcpSocketHandle } from "@skbuff/tcp";
import type { Syscall, SyscallExpr } from "../ast.js";
import type { PacketdrillFlags } from "../flags.js";
import { formatExpr } from "../format.js";
import { exprInt, SYMBOLS, SyscallExprError, structFields } from "./symbols.js";
import type { FlowState } from "./tcp_match.js";

/** What a call did: its return value (−errno for errors), and an out-parameter mismatch. */
export interface SyscallDone {
  readonly kind: "done";
  /** ≥ 0, or −errno. */
  readonly ret: number;
  /** An out-parameter that differs from the script's: `TCP_MAXSEG is 1460, expected 1100`. */
  readonly mismatch?: string;
}

/** A call that would sleep: `retry()` after each step of the clock until it is done. */
export interface SyscallBlocked {
  readonly kind: "blocked";
  readonly retry: () => SyscallDone | undefined;
}

/** The outcome of starting a call. */
export type SyscallOutcome = SyscallDone | SyscallBlocked;

/** A call the runner does not implement, or arguments it cannot use. */
export class UnsupportedSyscallError extends Error {}

interface Fd {
  readonly handle: TcpSocketHandle;
  nonblock: boolean;
}

const done = (ret: number, mismatch?: string): SyscallDone =>
  mismatch === undefined ? { kind: "done", ret } : { kind: "done", ret, mismatch };

/** The socket-level options that take a `[value]` and map straight to the API. */
const INT_OPTIONS = new Set([
  "SO_REUSEADDR",
  "SO_REUSEPORT",
  "SO_KEEPALIVE",
  "SO_SNDBUF",
  "SO_RCVBUF",
  "SO_RCVLOWAT",
  "SO_SNDLOWAT",
  "TCP_NODELAY",
  "TCP_MAXSEG",
  "TCP_CORK",
  "TCP_KEEPIDLE",
  "TCP_KEEPINTVL",
  "TCP_KEEPCNT",
  "TCP_SYNCNT",
  "TCP_LINGER2",
  "TCP_DEFER_ACCEPT",
  "TCP_WINDOW_CLAMP",
  "TCP_QUICKACK",
  "TCP_USER_TIMEOUT",
  "TCP_NOTSENT_LOWAT",
  "IP_TOS",
  "IP_TTL",
  "SO_ERROR",
]);

/** A script's processes: the fd table and the system calls over it. */
export class SyscallRunner {
  private readonly fds = new Map<number, Fd>();

  constructor(
    private readonly api: TcpSocketApi,
    private readonly flags: PacketdrillFlags,
    private readonly flow: FlowState,
    private readonly addresses: { readonly local: string; readonly remote: string },
  ) {}

  /** Every open socket, for `%{ }%` blocks (the last one opened is the one asserted over). */
  handles(): TcpSocketHandle[] {
    return [...this.fds.values()].map((f) => f.handle);
  }

  private allocFd(handle: TcpSocketHandle): number {
    let fd = 3;
    while (this.fds.has(fd)) fd++;
    this.fds.set(fd, { handle, nonblock: false });
    return fd;
  }

  private fd(args: readonly SyscallExpr[]): Fd | undefined {
    const a = args[0];
    if (a === undefined) throw new UnsupportedSyscallError("expected an fd argument");
    return this.fds.get(exprInt(a));
  }

  /** Starts `call`; may throw {@link UnsupportedSyscallError} or {@link SyscallExprError}. */
  start(call: Syscall): SyscallOutcome {
    const { name, args } = call;
    if (name === "socket") return done(this.allocFd(this.api.socket()));
    const f = this.fd(args);
    if (f === undefined) return done(-ERRNO.EBADF);
    const h = f.handle;
    const block = (attempt: () => SyscallDone | undefined): SyscallOutcome => {
      const first = attempt();
      if (first !== undefined) return first;
      if (f.nonblock) return done(-ERRNO.EAGAIN);
      return { kind: "blocked", retry: attempt };
    };
    switch (name) {
      case "bind": {
        const sa = sockaddr(args[1]);
        return done(h.bind(sa?.addr ?? "0.0.0.0", sa?.port ?? this.flags.bindPort));
      }
      case "listen":
        return done(h.listen(args[1] === undefined ? 1 : exprInt(args[1])));
      case "accept":
        return block(() => {
          const r = h.accept();
          if (r === -ERRNO.EAGAIN) return undefined;
          if (typeof r === "number") return done(r);
          this.flow.remotePort = r.remotePort;
          return done(this.allocFd(r));
        });
      case "connect": {
        const sa = sockaddr(args[1]);
        const port = sa?.port ?? this.flags.connectPort;
        this.flow.remotePort = port;
        const r = h.connect(sa?.addr ?? this.addresses.remote, port);
        if (r !== -ERRNO.EINPROGRESS || f.nonblock) return done(r);
        return {
          kind: "blocked",
          retry: () => {
            const ev = h.poll();
            if (ev & POLL.ERR) {
              const err = h.getsockopt(SYMBOLS.SOL_SOCKET!, SYMBOLS.SO_ERROR!);
              return done(typeof err === "number" && err > 0 ? -err : -ERRNO.ECONNREFUSED);
            }
            if (ev & (POLL.OUT | POLL.HUP)) return done(0);
            return undefined;
          },
        };
      }
      case "read":
      case "recv":
      case "recvfrom":
      case "recvmsg": {
        const n = name === "recvmsg" ? iovLength(args[1]) : exprInt(need(args[2], "a length"));
        return block(() => {
          const r = h.read(n);
          if (r === -ERRNO.EAGAIN) return undefined;
          return done(typeof r === "number" ? r : r.length);
        });
      }
      case "write":
      case "send":
      case "sendto":
      case "sendmsg": {
        const n = name === "sendmsg" ? iovLength(args[1]) : exprInt(need(args[2], "a length"));
        // send()/sendto() flags go to the socket as they are (MSG_MORE: no PSH, held back).
        const msgFlags = name === "send" || name === "sendto" ? optInt(args[3]) : 0;
        let sent = 0;
        let asleep = false;
        return block(() => {
          // A writer that found the buffer full sleeps in sk_stream_wait_memory() until
          // sk_stream_write_space() wakes it: when poll() would report POLLOUT (or an error).
          if (asleep && !(h.poll() & (POLL.OUT | POLL.ERR | POLL.HUP))) return undefined;
          for (;;) {
            if (sent >= n && n > 0) return done(sent);
            const r = h.write(new Uint8Array(n - sent), msgFlags);
            asleep = r === -ERRNO.EAGAIN;
            if (r === -ERRNO.EAGAIN) return f.nonblock && sent > 0 ? done(sent) : undefined;
            if (r < 0) return done(sent > 0 ? sent : r);
            sent += r;
            if (n === 0) return done(0);
            if (f.nonblock && sent < n) return done(sent);
          }
        });
      }
      case "close":
        h.close();
        this.fds.delete(exprInt(args[0]!));
        return done(0);
      case "shutdown":
        return done(h.shutdown(exprInt(need(args[1], "how"))));
      case "fcntl": {
        const cmd = exprInt(need(args[1], "a command"));
        if (cmd === SYMBOLS.F_GETFL)
          return done(SYMBOLS.O_RDWR! | (f.nonblock ? SYMBOLS.O_NONBLOCK! : 0));
        if (cmd === SYMBOLS.F_SETFL) {
          f.nonblock = (exprInt(need(args[2], "flags")) & SYMBOLS.O_NONBLOCK!) !== 0;
          return done(0);
        }
        throw new UnsupportedSyscallError(`fcntl command ${formatExpr(args[1]!)}`);
      }
      case "ioctl": {
        const req = exprInt(need(args[1], "a request"));
        const value =
          req === SYMBOLS.SIOCINQ ? h.inq : req === SYMBOLS.SIOCOUTQ ? h.outq : undefined;
        if (value === undefined)
          throw new UnsupportedSyscallError(`ioctl request ${formatExpr(args[1]!)}`);
        return done(0, checkOut(args[2], value, "ioctl value"));
      }
      case "setsockopt":
        return done(this.setsockopt(h, args));
      case "getsockopt":
        return this.getsockopt(h, args);
      case "poll":
        throw new UnsupportedSyscallError("poll() on an fd; use the first argument's array form");
      default:
        throw new UnsupportedSyscallError(`${name}() is not supported by the runner`);
    }
  }

  /** `poll([{fd=…, events=…, revents=…}], n, timeout)`: called when the first arg is an array. */
  pollCall(call: Syscall): SyscallOutcome {
    const arr = call.args[0];
    if (arr?.kind !== "array") throw new UnsupportedSyscallError("poll expects [{fd=…, events=…}]");
    const entries = arr.elements.map((e) => {
      const s = structFields(e);
      return {
        fd: exprInt(need(s.get("fd"), "fd")),
        events: exprInt(need(s.get("events"), "events")),
        revents: s.get("revents"),
      };
    });
    const timeout = optInt(call.args[2]);
    const attempt = (final: boolean): SyscallDone | undefined => {
      let ready = 0;
      const mismatches: string[] = [];
      for (const e of entries) {
        const fd = this.fds.get(e.fd);
        const rev =
          fd === undefined
            ? SYMBOLS.POLLNVAL!
            : fd.handle.poll() & (e.events | POLL.ERR | POLL.HUP);
        if (rev) ready++;
        if (e.revents !== undefined && (rev !== 0 || final)) {
          const want = exprInt(e.revents);
          if (want !== rev)
            mismatches.push(
              `fd ${e.fd} revents 0x${rev.toString(16)}, expected 0x${want.toString(16)}`,
            );
        }
      }
      if (ready === 0 && !final) return undefined;
      return done(ready, mismatches.length > 0 ? mismatches.join("; ") : undefined);
    };
    const first = attempt(timeout === 0);
    if (first !== undefined) return first;
    return { kind: "blocked", retry: () => attempt(false) };
  }

  private setsockopt(h: TcpSocketHandle, args: readonly SyscallExpr[]): number {
    const level = exprInt(need(args[1], "a level"));
    const nameExpr = need(args[2], "an option name");
    const optName = nameExpr.kind === "word" ? nameExpr.name : String(exprInt(nameExpr));
    const v = need(args[3], "a value");
    if (optName === "IP_MTU_DISCOVER") return 0;
    if (optName === "SO_LINGER") {
      const s = structFields(v);
      const on = exprInt(need(s.get("onoff"), "onoff"));
      return h.setsockopt(
        level,
        SYMBOLS.SO_LINGER!,
        on ? exprInt(need(s.get("linger"), "linger")) : -1,
      );
    }
    if (optName === "TCP_CONGESTION") {
      if (v.kind !== "string") throw new UnsupportedSyscallError("TCP_CONGESTION takes a string");
      return h.setsockopt(level, SYMBOLS.TCP_CONGESTION!, v.value);
    }
    if (!INT_OPTIONS.has(optName) && nameExpr.kind === "word") {
      throw new UnsupportedSyscallError(`setsockopt ${optName} is not supported by the runner`);
    }
    return h.setsockopt(level, exprInt(nameExpr), exprInt(v));
  }

  private getsockopt(h: TcpSocketHandle, args: readonly SyscallExpr[]): SyscallDone {
    const level = exprInt(need(args[1], "a level"));
    const nameExpr = need(args[2], "an option name");
    const optName = nameExpr.kind === "word" ? nameExpr.name : String(exprInt(nameExpr));
    if (optName === "TCP_INFO") return done(0);
    if (optName === "SO_LINGER") {
      const r = h.getsockopt(level, SYMBOLS.SO_LINGER!);
      if (typeof r !== "number") return done(-ERRNO.EINVAL);
      const s = structFields(need(args[3], "a value"));
      const want = s.get("onoff") === undefined ? undefined : exprInt(s.get("onoff")!);
      return done(
        0,
        want === undefined || (want !== 0) === r >= 0
          ? undefined
          : `SO_LINGER onoff is ${r >= 0 ? 1 : 0}, expected ${want}`,
      );
    }
    const r = h.getsockopt(level, exprInt(nameExpr));
    if (typeof r === "string") {
      const w = args[3];
      const want = w?.kind === "string" ? w.value : undefined;
      return done(
        0,
        want === undefined || want === r ? undefined : `${optName} is "${r}", expected "${want}"`,
      );
    }
    if (r < 0 && optName !== "SO_LINGER") return done(r);
    return done(0, checkOut(args[3], r, optName));
  }
}

function need<T>(x: T | undefined, what: string): T {
  if (x === undefined) throw new UnsupportedSyscallError(`expected ${what} argument`);
  return x;
}

function optInt(e: SyscallExpr | undefined): number {
  return e === undefined || e.kind === "ellipsis" ? 0 : exprInt(e);
}

/** Compares an out-parameter `[N]` with the value the stack produced. */
function checkOut(e: SyscallExpr | undefined, value: number, what: string): string | undefined {
  if (e === undefined || e.kind === "ellipsis") return undefined;
  const want = exprInt(e);
  return want === value ? undefined : `${what} is ${value}, expected ${want}`;
}

/** `{sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("192.0.2.1")}`, or none. */
function sockaddr(e: SyscallExpr | undefined): { addr?: string; port?: number } | undefined {
  if (e === undefined || e.kind !== "struct") return undefined;
  const s = structFields(e);
  const out: { addr?: string; port?: number } = {};
  const port = s.get("sin_port");
  if (port !== undefined) out.port = exprInt(port);
  const addr = s.get("sin_addr");
  if (addr?.kind === "call" && addr.args[0]?.kind === "string") out.addr = addr.args[0].value;
  return out;
}

/** The total `iov_len` of a msghdr's `msg_iov(1)=[{..., N}]`. */
function iovLength(e: SyscallExpr | undefined): number {
  let total = 0;
  const walk = (x: SyscallExpr, inIov: boolean): void => {
    if (x.kind === "assign")
      walk(x.value, inIov || (x.target.kind === "call" && x.target.name === "msg_iov"));
    else if (x.kind === "array" || x.kind === "struct") {
      for (const el of x.elements) walk(el, inIov);
      if (inIov && x.kind === "struct") {
        const last = x.elements[x.elements.length - 1];
        if (last?.kind === "int") total += last.value;
      }
    }
  };
  if (e !== undefined) walk(e, false);
  if (total === 0) throw new SyscallExprError("expected msg_iov(1)=[{..., N}] in the msghdr");
  return total;
}

/** `4`, `-1 EAGAIN`: a return value as the report shows it. */
export function describeReturn(ret: number): string {
  return ret >= 0 ? String(ret) : `-1 ${errnoName(ret)}`;
}
