/**
 * The errors `stack.net` reports, shaped like Node's own `net` errors: a `code` (`ECONNREFUSED`),
 * a negative `errno` (`-111`), the `syscall` that failed and, for connect/listen, the address.
 * @see lib/internal/errors.js (Node) exceptionWithHostPort(), errnoException()
 * @packageDocumentation
 */
import { ErrnoError, errnoName } from "@skbuff/core";

/** strerror(3) of the errnos a TCP socket reports. */
const STRERROR: Partial<Record<string, string>> = {
  ECONNREFUSED: "Connection refused",
  ECONNRESET: "Connection reset by peer",
  ECONNABORTED: "Software caused connection abort",
  ETIMEDOUT: "Connection timed out",
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  EPIPE: "Broken pipe",
  EHOSTUNREACH: "No route to host",
  ENETUNREACH: "Network is unreachable",
  ENOTCONN: "Transport endpoint is not connected",
  EINVAL: "Invalid argument",
  ENOTFOUND: "Name or service not known",
};

/**
 * An error of a socket call, as Node reports it: `code` is the errno name, `errno` is negative
 * (Node's convention) and the message reads like Node's (`connect ECONNREFUSED 127.0.0.1:7`).
 */
export class NetError extends ErrnoError {
  /** The address the call was about, when there is one. */
  readonly address: string | undefined;
  /** The port the call was about, when there is one. */
  readonly port: number | undefined;

  constructor(code: string, errno: number, syscall: string, address?: string, port?: number) {
    super(code, errno, STRERROR[code] ?? code, syscall);
    this.address = address;
    this.port = port;
    const where =
      address === undefined ? "" : port === undefined ? ` ${address}` : ` ${address}:${port}`;
    this.message = `${syscall} ${code}${where}`;
  }
}

/** Makes a {@link NetError} from a kernel-style result (`-errno`, or a positive errno). */
export function netError(errno: number, syscall: string, address?: string, port?: number) {
  return new NetError(errnoName(errno), -Math.abs(errno), syscall, address, port);
}
