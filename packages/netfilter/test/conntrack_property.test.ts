import { icmpEcho, icmpError, ipv4Packet, tcpSegment, udpDatagram } from "@skbuff/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { conntrackEntries, invertTuple, pktToTuple } from "../src/conntrack/index.js";
import { CT_STATE } from "../src/nf_api.js";
import { forwardingHarness } from "./conntrack_helpers.js";

const ADDRS = ["192.0.2.2", "198.51.100.9", "203.0.113.4"] as const;

const packet = fc.oneof(
  fc.record({
    kind: fc.constant("tcp" as const),
    flags: fc.integer({ min: 0, max: 255 }),
    sport: fc.integer({ min: 0, max: 65535 }),
    dport: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.record({
    kind: fc.constant("udp" as const),
    sport: fc.integer({ min: 0, max: 65535 }),
    dport: fc.integer({ min: 0, max: 65535 }),
  }),
  fc.record({
    kind: fc.constant("icmp" as const),
    id: fc.integer({ min: 0, max: 65535 }),
    reply: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("error" as const),
    quote: fc.uint8Array({ maxLength: 40 }),
    code: fc.integer({ min: 0, max: 15 }),
  }),
  fc.record({
    kind: fc.constant("raw" as const),
    protocol: fc.integer({ min: 0, max: 255 }),
    payload: fc.uint8Array({ maxLength: 40 }),
  }),
);

describe("the tracker under random traffic", () => {
  it("never throws, and tracks or marks INVALID every packet", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ src: fc.constantFrom(...ADDRS), dst: fc.constantFrom(...ADDRS), p: packet }),
          { maxLength: 30 },
        ),
        async (pkts) => {
          const { h, seen } = await forwardingHarness({ max: 8 });
          try {
            for (const { src, dst, p } of pkts) {
              if (src === dst) continue;
              const inner =
                p.kind === "tcp"
                  ? tcpSegment({ sport: p.sport, dport: p.dport, flags: p.flags })
                  : p.kind === "udp"
                    ? udpDatagram({ sport: p.sport, dport: p.dport })
                    : p.kind === "icmp"
                      ? icmpEcho({ id: p.id, seq: 1, reply: p.reply })
                      : p.kind === "error"
                        ? icmpError({ type: 3, code: p.code, quote: p.quote })
                        : null;
              h.inject(
                inner !== null
                  ? ipv4Packet({ src, dst, inner })
                  : ipv4Packet({
                      src,
                      dst,
                      protocol: p.kind === "raw" ? p.protocol : 0,
                      payload: p.kind === "raw" ? p.payload : new Uint8Array(0),
                    }),
              );
              h.advance(1000);
            }
            expect(h.stack.softnetMib.NfHookErrors).toBe(0);
            for (const s of seen) {
              expect([
                CT_STATE.INVALID,
                CT_STATE.NEW,
                CT_STATE.ESTABLISHED,
                CT_STATE.RELATED,
              ]).toContain(s.state);
            }
            expect(conntrackEntries(h.stack).length).toBeLessThanOrEqual(8);
          } finally {
            await h.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it("reads a tuple from any bytes without throwing, and inverts it back", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const t = pktToTuple(bytes, 0, bytes.length);
        if (t === null) return;
        const inv = invertTuple(t);
        if (inv !== null) expect(invertTuple(inv)).toEqual(t);
      }),
    );
  });
});
