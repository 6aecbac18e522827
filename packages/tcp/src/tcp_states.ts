/**
 * TCP states with Linux's numbers (`enum tcp_states`) and sequence-number arithmetic.
 * @see include/net/tcp_states.h, include/net/tcp.h before()/after()
 * @packageDocumentation
 */

/** `enum tcp_states`. */
export const TCP_STATE = {
  ESTABLISHED: 1,
  SYN_SENT: 2,
  SYN_RECV: 3,
  FIN_WAIT1: 4,
  FIN_WAIT2: 5,
  TIME_WAIT: 6,
  CLOSE: 7,
  CLOSE_WAIT: 8,
  LAST_ACK: 9,
  LISTEN: 10,
  CLOSING: 11,
  NEW_SYN_RECV: 12,
} as const;
/** One of {@link TCP_STATE}. */
export type TcpState = (typeof TCP_STATE)[keyof typeof TCP_STATE];

export const TCP_ESTABLISHED = TCP_STATE.ESTABLISHED;
export const TCP_SYN_SENT = TCP_STATE.SYN_SENT;
export const TCP_SYN_RECV = TCP_STATE.SYN_RECV;
export const TCP_FIN_WAIT1 = TCP_STATE.FIN_WAIT1;
export const TCP_FIN_WAIT2 = TCP_STATE.FIN_WAIT2;
export const TCP_TIME_WAIT = TCP_STATE.TIME_WAIT;
export const TCP_CLOSE = TCP_STATE.CLOSE;
export const TCP_CLOSE_WAIT = TCP_STATE.CLOSE_WAIT;
export const TCP_LAST_ACK = TCP_STATE.LAST_ACK;
export const TCP_LISTEN = TCP_STATE.LISTEN;
export const TCP_CLOSING = TCP_STATE.CLOSING;
export const TCP_NEW_SYN_RECV = TCP_STATE.NEW_SYN_RECV;

/** Names of the states, as `ss` prints them. */
export const TCP_STATE_NAME: Readonly<Record<number, string>> = {
  1: "ESTAB",
  2: "SYN-SENT",
  3: "SYN-RECV",
  4: "FIN-WAIT-1",
  5: "FIN-WAIT-2",
  6: "TIME-WAIT",
  7: "CLOSE",
  8: "CLOSE-WAIT",
  9: "LAST-ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW-SYN-RECV",
};

/** `before(a, b)`: `a` precedes `b` in sequence space (RFC 9293 3.4, modulo 2^32). */
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** `after(a, b)`. */
export function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** `between(seq, lo, hi)`: `lo <= seq <= hi` in sequence space. */
export function between(seq: number, lo: number, hi: number): boolean {
  return (hi - lo) >>> 0 >= (seq - lo) >>> 0;
}

/** `a + b` modulo 2^32. */
export function seqAdd(a: number, b: number): number {
  return (a + b) >>> 0;
}

/** `a - b` as a signed distance. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
