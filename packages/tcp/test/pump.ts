/** Driving two socket ends on a virtual clock until a condition holds. */
import { createHash } from "node:crypto";
import type { VirtualClock } from "@skbuff/core";
import type { TcpSocketHandle } from "../src/index.js";

/**
 * Runs `step` and the clock (deferred work first, then timer by timer) until `done()` holds.
 * @throws Error when `maxMs` of virtual time pass first
 */
export function pump(
  clock: VirtualClock,
  done: () => boolean,
  step: () => unknown = () => false,
  maxMs = 600_000,
): void {
  const deadline = clock.now() + maxMs;
  for (;;) {
    clock.advanceSync(0);
    const progress = step();
    clock.advanceSync(0);
    if (done()) return;
    if (progress) continue;
    const next = clock.nextTimerAt();
    if (next === undefined || next > deadline) {
      throw new Error(`pump: condition not met by ${clock.now()} ms (next timer ${next})`);
    }
    clock.advanceSync(Math.max(0, next - clock.now()));
  }
}

/** Reads everything readable from `s` into `into`; returns whether the stream ended. */
export function drain(s: TcpSocketHandle, into: Uint8Array[]): boolean {
  for (;;) {
    const r = s.read(1 << 20);
    if (typeof r === "number") return false;
    if (r.length === 0) return true;
    into.push(r);
  }
}

/** SHA-256 of the concatenation of `parts`. */
export function sha256(parts: readonly Uint8Array[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * Sends `data` from `tx` to `rx` (writing as the send buffer allows, reading everything), then
 * closes `tx`'s sending side; returns what `rx` read up to end of stream.
 */
export function transfer(
  clock: VirtualClock,
  tx: TcpSocketHandle,
  rx: TcpSocketHandle,
  data: Uint8Array,
  maxMs = 600_000,
): Uint8Array[] {
  const got: Uint8Array[] = [];
  let off = 0;
  let shut = false;
  let eof = false;
  pump(
    clock,
    () => eof,
    () => {
      const before = off + got.length;
      while (off < data.length) {
        const n = tx.write(data.subarray(off, Math.min(off + 65536, data.length)));
        if (n <= 0) break;
        off += n;
      }
      if (off === data.length && !shut) {
        shut = true;
        tx.shutdown(1);
      }
      eof = drain(rx, got);
      return off + got.length !== before;
    },
    maxMs,
  );
  return got;
}
