import diagnostics_channel from "node:diagnostics_channel";
import { fc, test } from "@fast-check/vitest";
import {
  CHECKSUM_UNNECESSARY,
  type Network,
  type SkBuff,
  SkbDropReason,
  TRACEPOINTS,
} from "@skbuff/core";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { ICMP_TYPE, icmpFillChecksum } from "../src/index.js";
import { addr, inject, ipPacket, settle, strictClock, twoHosts } from "./helpers.js";

const A = addr("192.0.2.1");
const B = addr("192.0.2.2");

/** What became of each packet: "consume" or the drop reason, in order. */
const fates = new Map<SkBuff, string[]>();
const errors: unknown[] = [];
const onFree = (m: unknown) => {
  const { skb, reason } = m as { skb: SkBuff; reason: string };
  fates.get(skb)?.push(reason);
};
const onConsume = (m: unknown) => {
  fates.get((m as { skb: SkBuff }).skb)?.push("consume");
};
const onError = (m: unknown) => errors.push((m as { error: unknown }).error);

let net: Network;

beforeAll(async () => {
  net = await twoHosts({ clock: strictClock(false) });
  diagnostics_channel.subscribe(TRACEPOINTS.kfreeSkb, onFree);
  diagnostics_channel.subscribe(TRACEPOINTS.consumeSkb, onConsume);
  diagnostics_channel.subscribe(TRACEPOINTS.handlerError, onError);
});

afterAll(async () => {
  diagnostics_channel.unsubscribe(TRACEPOINTS.kfreeSkb, onFree);
  diagnostics_channel.unsubscribe(TRACEPOINTS.consumeSkb, onConsume);
  diagnostics_channel.unsubscribe(TRACEPOINTS.handlerError, onError);
  await net.close();
});

/** The body of an ICMP message: random bytes, or a (possibly cut) quoted IP datagram. */
const body = fc.oneof(
  fc.uint8Array({ maxLength: 120 }),
  fc
    .record({
      proto: fc.constantFrom(1, 6, 17, 253, 0, 255),
      payload: fc.uint8Array({ maxLength: 40 }),
      cut: fc.nat(80),
      swapped: fc.boolean(),
    })
    .map(({ proto, payload, cut, swapped }) => {
      const q = swapped ? ipPacket(B, A, proto, payload) : ipPacket(A, B, proto, payload);
      return q.subarray(0, Math.min(q.length, cut));
    }),
);

const message = fc.record({
  type: fc.oneof(fc.constantFrom(...Object.values(ICMP_TYPE)), fc.integer({ min: 0, max: 255 })),
  code: fc.oneof(fc.constantFrom(0, 1, 2, 3, 4), fc.integer({ min: 0, max: 255 })),
  rest: fc.integer({ min: 0, max: 0xffffffff }),
  body,
  csum: fc.oneof(
    fc.constant("fix" as const),
    fc.constant("trust" as const),
    fc.integer({ min: 0, max: 0xffff }),
  ),
  keep: fc.option(fc.nat(200), { nil: undefined }),
});

describe("icmp_rcv on arbitrary input", () => {
  test.prop([fc.array(message, { minLength: 1, maxLength: 4 })], { numRuns: 300 })(
    "never throws, and every packet is either consumed or dropped with a reason",
    async (msgs) => {
      const injected: SkBuff[] = [];
      for (const m of msgs) {
        const icmp = new Uint8Array(8 + m.body.length);
        icmp[0] = m.type;
        icmp[1] = m.code;
        new DataView(icmp.buffer).setUint32(4, m.rest);
        icmp.set(m.body, 8);
        if (m.csum === "fix" || m.csum === "trust") icmpFillChecksum(icmp, 0, icmp.length);
        else new DataView(icmp.buffer).setUint16(2, m.csum);
        const bytes = icmp.subarray(
          0,
          m.keep === undefined ? icmp.length : Math.min(icmp.length, m.keep),
        );
        const skb = inject(net.hosts.b!, "eth0", ipPacket(A, B, 1, bytes));
        if (m.csum === "trust") skb.ipSummed = CHECKSUM_UNNECESSARY;
        fates.set(skb, []);
        injected.push(skb);
      }
      await settle(net);
      for (const skb of injected) {
        const f = fates.get(skb)!;
        fates.delete(skb);
        expect(f).toHaveLength(1);
        expect(
          f[0] === "consume" || Object.values(SkbDropReason).includes(f[0] as SkbDropReason),
        ).toBe(true);
        expect(f[0]).not.toBe(SkbDropReason.HANDLER_EXCEPTION);
        expect(f[0]).not.toBe(SkbDropReason.NOT_SPECIFIED);
      }
      expect(errors).toEqual([]);
    },
  );
});
