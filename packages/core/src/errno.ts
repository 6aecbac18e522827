/**
 * Linux errno numbers (include/uapi/asm-generic/errno-base.h, errno.h) and their names, which
 * are also Node's error `code`s (`ECONNREFUSED`, …). Kernel-style functions return `-errno`.
 * @packageDocumentation
 */

/** Errno numbers by name, as on Linux x86-64. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  EPIPE: 32,
  ENOSYS: 38,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ECANCELED: 125,
} as const;

/** An errno name. */
export type ErrnoName = keyof typeof ERRNO;

const NAMES: Record<number, ErrnoName> = Object.fromEntries(
  Object.entries(ERRNO).map(([k, v]) => [v, k as ErrnoName]),
);

/** The name of an errno (positive or negative): `errnoName(-111)` is `ECONNREFUSED`. */
export function errnoName(errno: number): ErrnoName | `E${number}` {
  const n = Math.abs(errno);
  return NAMES[n] ?? `E${n}`;
}
