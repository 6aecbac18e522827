/**
 * The shared test context: a stack on a manual virtual clock with one recording device, `r0`,
 * whose driver notes when each packet left and what it held; helpers to send numbered packets
 * and to compute the statistical bounds the tests check against.
 */
import {
  consumeSkb,
  createStack,
  definePlugin,
  devQueueXmit,
  ETH_P_IP,
  NETDEV_TX_OK,
  type NetDevice,
  type Plugin,
  type Stack,
  skbFromBytes,
  VirtualClock,
} from "@skbuff/core";
import { type NetemOptions, type NetemQdisc, netem, netemAttach } from "../src/index.js";

/** One packet as the device sent it. */
export interface Sent {
  /** Clock time it left. */
  readonly t: number;
  readonly bytes: Uint8Array;
}

/** A stack with the recording device `r0` and netem registered. */
export interface RecContext {
  readonly stack: Stack;
  readonly clock: VirtualClock;
  readonly dev: NetDevice;
  readonly sent: Sent[];
}

/** How many standard deviations a measured value may stray before a test fails. */
export const Z = 4.5;

/**
 * Makes a {@link RecContext}; close its stack when done. `netemPlugin` replaces the stack's
 * `netem()` plugin (false: none).
 */
export async function recStack(
  name = "rec",
  netemPlugin: Plugin | false = netem(),
): Promise<RecContext> {
  const clock = new VirtualClock({
    autoAdvance: false,
    onError: (e) => {
      throw e;
    },
  });
  const sent: Sent[] = [];
  const rec = definePlugin({
    name: "test:rec",
    register(ctx) {
      ctx.registerDriver({
        name: "rec",
        create(stack, spec) {
          return stack.registerNetdev({
            name: spec.name ?? "r0",
            kind: "rec",
            mtu: 1500,
            noQueue: true,
            ops: {
              ndoStartXmit(skb) {
                sent.push({ t: clock.now(), bytes: skb.head.slice(skb.data, skb.tail) });
                consumeSkb(skb);
                return NETDEV_TX_OK;
              },
            },
          });
        },
      });
    },
  });
  const stack = await createStack({
    name,
    clock,
    plugins: [rec, netemPlugin],
    devices: [{ driver: "rec", name: "r0" }],
  });
  return { stack, clock, dev: stack.getDevice("r0")!, sent };
}

/** A packet of `size` bytes (at least 4) numbered `i` in its first four bytes. */
export function packet(i: number, size = 100): Uint8Array {
  const b = new Uint8Array(Math.max(4, size));
  new DataView(b.buffer).setUint32(0, i);
  for (let j = 4; j < b.length; j++) b[j] = (i + j) & 0xff;
  return b;
}

/** The number a {@link packet} carries. */
export function numberOf(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getUint32(0);
}

/** Sends packet `i` out of `dev` through its qdisc; returns `devQueueXmit`'s result. */
export function send(dev: NetDevice, i: number, size = 100): number {
  const skb = skbFromBytes(packet(i, size));
  skb.dev = dev;
  skb.protocol = ETH_P_IP;
  return devQueueXmit(skb);
}

/**
 * Attaches netem with `options` to `r0`, sends `n` numbered packets `every` ms apart (all at
 * once with 0), then lets the clock run until every packet has left.
 */
export function run(
  ctx: RecContext,
  options: NetemOptions | string,
  n: number,
  every = 0,
  size = 100,
): NetemQdisc {
  const q = netemAttach(ctx.stack, ctx.dev, options);
  for (let i = 0; i < n; i++) {
    send(ctx.dev, i, size);
    if (every > 0) ctx.clock.advanceSync(every);
  }
  ctx.clock.runUntilIdleSync();
  return q;
}

/** The half-width of a Z-sigma interval around the count of a binomial(n, p). */
export function binomialBound(n: number, p: number): number {
  return Z * Math.sqrt(n * p * (1 - p));
}

export function mean(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** The sample standard deviation. */
export function sd(xs: readonly number[]): number {
  const m = mean(xs);
  let s = 0;
  for (const x of xs) s += (x - m) ** 2;
  return Math.sqrt(s / (xs.length - 1));
}

/** The lag-1 autocorrelation of a series. */
export function lag1(xs: readonly number[]): number {
  const m = mean(xs);
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    den += (xs[i]! - m) ** 2;
    if (i > 0) num += (xs[i]! - m) * (xs[i - 1]! - m);
  }
  return num / den;
}

/** Each packet's delay by its number: time it left minus the time it was sent (`i * every`). */
export function delays(sent: readonly Sent[], every: number): number[] {
  const out: number[] = [];
  for (const s of sent) out[numberOf(s.bytes)] = s.t - numberOf(s.bytes) * every;
  return out;
}
