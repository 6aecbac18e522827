import { consumeSkb, tp } from "@skbuff/core";
import { tcpSegment } from "@skbuff/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { api, tcpHarness } from "./helpers.js";

describe("untrusted segments", () => {
  it("never throw, and every one ends in consume or kfree with a reason", async () => {
    const h = await tcpHarness();
    const l = api(h).socket();
    l.bind("0.0.0.0", 80);
    l.listen(16);
    const ends: { reason: string | null }[] = [];
    const onFree = (m: unknown) => ends.push({ reason: (m as { reason: string }).reason });
    const onConsume = () => ends.push({ reason: null });
    tp.kfreeSkb.subscribe(onFree);
    tp.consumeSkb.subscribe(onConsume);
    try {
      await fc.assert(
        fc.property(
          fc.oneof(
            fc.uint8Array({ minLength: 0, maxLength: 80 }),
            // Well-formed headers to port 80 with random flags, numbers and option bytes.
            fc
              .record({
                flags: fc.integer({ min: 0, max: 255 }),
                seq: fc.nat(),
                ack: fc.nat(),
                opt: fc.uint8Array({ maxLength: 40 }),
                payload: fc.uint8Array({ maxLength: 40 }),
              })
              .map((r) => ({ ...r, kind: "seg" as const })),
          ),
          (input) => {
            const before = ends.length;
            if (input instanceof Uint8Array) {
              h.inject({ protocol: 6, payload: input });
            } else {
              const opts = [{ kind: "raw" as const, type: 30, data: input.opt.subarray(0, 36) }];
              h.inject(
                tcpSegment({
                  sport: 4242,
                  dport: 80,
                  seq: input.seq,
                  ack: input.ack,
                  flags: input.flags,
                  payload: input.payload,
                  ...(input.opt.length ? { options: opts } : {}),
                }),
              );
            }
            h.advance(1);
            const mine = ends.slice(before);
            expect(mine.length).toBeGreaterThan(0);
            for (const e of mine) if (e.reason !== null) expect(typeof e.reason).toBe("string");
            while (h.pending) h.nextPacket(0);
            expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
          },
        ),
        { numRuns: 300 },
      );
    } finally {
      tp.kfreeSkb.unsubscribe(onFree);
      tp.consumeSkb.unsubscribe(onConsume);
      await h.close();
    }
    void consumeSkb;
  });

  it("never throw at an established connection with data in flight, whatever flags, numbers and SACK blocks they carry", async () => {
    const h = await tcpHarness();
    const l = api(h).socket();
    l.bind("0.0.0.0", 80);
    l.listen(16);
    h.inject(
      tcpSegment({
        sport: 40000,
        dport: 80,
        seq: 100,
        flags: "S",
        options: [
          { kind: "mss", value: 1460 },
          "sackOK",
          { kind: "ts", val: 1, ecr: 0 },
          "nop",
          { kind: "wscale", value: 7 },
        ],
      }),
    );
    const synack = h.nextPacket();
    const iss = new DataView(synack.buffer, synack.byteOffset).getUint32(24);
    h.inject(
      tcpSegment({
        sport: 40000,
        dport: 80,
        seq: 101,
        ack: iss + 1,
        flags: "A",
        options: ["nop", "nop", { kind: "ts", val: 2, ecr: 0 }],
      }),
    );
    const c = l.accept();
    expect(typeof c).toBe("object");
    const s = c as Exclude<typeof c, number>;
    s.write(new Uint8Array(20_000));
    const near = (base: number) =>
      fc.integer({ min: -70_000, max: 70_000 }).map((d) => (base + d) >>> 0);
    try {
      fc.assert(
        fc.property(
          fc.record({
            flags: fc.integer({ min: 0, max: 255 }),
            seq: near(101),
            ack: near(iss + 1),
            win: fc.integer({ min: 0, max: 65535 }),
            tsval: fc.nat(),
            sack: fc.array(fc.tuple(near(iss + 1), near(iss + 1)), { maxLength: 3 }),
            payload: fc.uint8Array({ maxLength: 100 }),
            advance: fc.integer({ min: 0, max: 2000 }),
          }),
          (r) => {
            h.inject(
              tcpSegment({
                sport: 40000,
                dport: 80,
                seq: r.seq,
                ack: r.ack,
                flags: r.flags,
                win: r.win,
                payload: r.payload,
                options: [
                  "nop",
                  "nop",
                  { kind: "ts", val: r.tsval, ecr: 0 },
                  ...(r.sack.length
                    ? (["nop", "nop", { kind: "sack", blocks: r.sack }] as const)
                    : []),
                ],
              }),
            );
            h.advance(r.advance);
            s.read(1 << 20);
            if (s.poll() & 0x4) s.write(new Uint8Array(3000));
            while (h.pending) h.nextPacket(0);
            expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
          },
        ),
        { numRuns: 400 },
      );
    } finally {
      await h.close();
    }
  });
});
