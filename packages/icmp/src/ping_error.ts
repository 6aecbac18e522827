/**
 * How ping sockets report trouble: Linux's errno values, `icmp_err_convert` (the errno of each
 * destination-unreachable code), ping(8)'s wording of ICMP errors, and {@link PingError}, the
 * error an ICMP message about an echo request becomes.
 * @see net/ipv4/icmp.c icmp_err_convert, iputils ping/ping.c pr_icmph()
 * @packageDocumentation
 */
import { ErrnoError } from "@skbuff/core";
import { ICMP_EXC, ICMP_REDIR, ICMP_TYPE, ICMP_UNREACH } from "./wire/icmphdr.js";

/** Errno values (Linux, x86), by name. */
export const ERRNO = {
  EACCES: 13,
  EINVAL: 22,
  ENONET: 64,
  EPROTO: 71,
  EMSGSIZE: 90,
  ENOPROTOOPT: 92,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETUNREACH: 101,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EREMOTEIO: 121,
  EPERM: 1,
  ENOBUFS: 105,
  EAGAIN: 11,
  EBADF: 9,
} as const;
/** The name of one of {@link ERRNO}. */
export type ErrnoName = keyof typeof ERRNO;

const ERRNO_NAME = new Map<number, ErrnoName>(
  Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoName]),
);

/** strerror() of the errnos a ping socket reports. */
const STRERROR: Partial<Record<string, string>> = {
  ENETUNREACH: "Network is unreachable",
  EHOSTUNREACH: "No route to host",
  EMSGSIZE: "Message too long",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EADDRINUSE: "Address already in use",
  EACCES: "Permission denied",
  EINVAL: "Invalid argument",
  EPERM: "Operation not permitted",
  EBADF: "Bad file descriptor",
};

/** Makes an {@link ErrnoError} from a positive errno. */
export function errnoError(errno: number, message?: string, syscall?: string): ErrnoError {
  const name = ERRNO_NAME.get(errno) ?? "EIO";
  return new ErrnoError(name, errno, message ?? STRERROR[name] ?? `errno ${errno}`, syscall);
}

/**
 * `icmp_err_convert`: the errno of each destination-unreachable code, and whether it is "fatal"
 * (a hard error, reported even without IP_RECVERR).
 * @see net/ipv4/icmp.c icmp_err_convert
 */
export const ICMP_ERR_CONVERT: readonly { readonly errno: number; readonly fatal: boolean }[] = [
  { errno: ERRNO.ENETUNREACH, fatal: false }, // ICMP_NET_UNREACH
  { errno: ERRNO.EHOSTUNREACH, fatal: false }, // ICMP_HOST_UNREACH
  { errno: ERRNO.ENOPROTOOPT, fatal: true }, // ICMP_PROT_UNREACH
  { errno: ERRNO.ECONNREFUSED, fatal: true }, // ICMP_PORT_UNREACH
  { errno: ERRNO.EMSGSIZE, fatal: false }, // ICMP_FRAG_NEEDED
  { errno: ERRNO.EOPNOTSUPP, fatal: false }, // ICMP_SR_FAILED
  { errno: ERRNO.ENETUNREACH, fatal: true }, // ICMP_NET_UNKNOWN
  { errno: ERRNO.EHOSTDOWN, fatal: true }, // ICMP_HOST_UNKNOWN
  { errno: ERRNO.ENONET, fatal: true }, // ICMP_HOST_ISOLATED
  { errno: ERRNO.ENETUNREACH, fatal: true }, // ICMP_NET_ANO
  { errno: ERRNO.EHOSTUNREACH, fatal: true }, // ICMP_HOST_ANO
  { errno: ERRNO.ENETUNREACH, fatal: false }, // ICMP_NET_UNR_TOS
  { errno: ERRNO.EHOSTUNREACH, fatal: false }, // ICMP_HOST_UNR_TOS
  { errno: ERRNO.EHOSTUNREACH, fatal: true }, // ICMP_PKT_FILTERED
  { errno: ERRNO.EHOSTUNREACH, fatal: true }, // ICMP_PREC_VIOLATION
  { errno: ERRNO.EACCES, fatal: true }, // ICMP_PREC_CUTOFF
];

const UNREACH_TEXT = [
  "Destination Net Unreachable",
  "Destination Host Unreachable",
  "Destination Protocol Unreachable",
  "Destination Port Unreachable",
  "Frag needed and DF set",
  "Source Route Failed",
  "Destination Net Unknown",
  "Destination Host Unknown",
  "Source Host Isolated",
  "Destination Net Prohibited",
  "Destination Host Prohibited",
  "Destination Net Unreachable for Type of Service",
  "Destination Host Unreachable for Type of Service",
  "Packet filtered",
  "Precedence Violation",
  "Precedence Cutoff",
];

/** How ping(8) describes an ICMP error (`pr_icmph`). */
export function describeIcmpError(type: number, code: number, info: number): string {
  switch (type) {
    case ICMP_TYPE.DEST_UNREACH:
      if (code === ICMP_UNREACH.FRAG_NEEDED) return `Frag needed and DF set (mtu = ${info})`;
      return UNREACH_TEXT[code] ?? `Dest Unreachable, Bad Code: ${code}`;
    case ICMP_TYPE.SOURCE_QUENCH:
      return "Source Quench";
    case ICMP_TYPE.REDIRECT:
      switch (code) {
        case ICMP_REDIR.NET:
          return "Redirect Network";
        case ICMP_REDIR.HOST:
          return "Redirect Host";
        case ICMP_REDIR.NETTOS:
          return "Redirect Type of Service and Network";
        case ICMP_REDIR.HOSTTOS:
          return "Redirect Type of Service and Host";
      }
      return `Redirect, Bad Code: ${code}`;
    case ICMP_TYPE.TIME_EXCEEDED:
      if (code === ICMP_EXC.TTL) return "Time to live exceeded";
      if (code === ICMP_EXC.FRAGTIME) return "Frag reassembly time exceeded";
      return `Time exceeded, Bad Code: ${code}`;
    case ICMP_TYPE.PARAMETERPROB:
      return `Parameter problem: pointer = ${info}`;
  }
  return `Bad ICMP type: ${type}`;
}

/**
 * An ICMP error about an echo request, as a ping socket reports it (IP_RECVERR's
 * `sock_extended_err`): the errno, and the ICMP type, code and `info` (next-hop MTU, pointer), and
 * who sent it (`from`, the router or host that reported the problem).
 */
export class PingError extends ErrnoError {
  /** The ICMP type of the error (3, 4, 5, 11 or 12). */
  readonly icmpType: number;
  readonly icmpCode: number;
  /** The sender of the ICMP error (dotted quad). */
  readonly from: string;
  /** The next-hop MTU for "fragmentation needed", the pointer for parameter problem, else 0. */
  readonly info: number;
  /** Identifier and sequence number of the echo request the error quotes. */
  readonly id: number;
  readonly seq: number;
  /** Whether Linux takes it as a hard error (reported even without IP_RECVERR). */
  readonly fatal: boolean;

  constructor(init: {
    errno: number;
    icmpType: number;
    icmpCode: number;
    from: string;
    info: number;
    id: number;
    seq: number;
    fatal: boolean;
  }) {
    const name = ERRNO_NAME.get(init.errno) ?? "EIO";
    super(
      name,
      init.errno,
      `${describeIcmpError(init.icmpType, init.icmpCode, init.info)} from ${init.from}`,
    );
    this.icmpType = init.icmpType;
    this.icmpCode = init.icmpCode;
    this.from = init.from;
    this.info = init.info;
    this.id = init.id;
    this.seq = init.seq;
    this.fatal = init.fatal;
  }
}
