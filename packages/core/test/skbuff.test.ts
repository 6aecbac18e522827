import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocSkb,
  CHECKSUM_COMPLETE,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  CHECKSUM_UNNECESSARY,
  devAllocSkb,
  IP_SUMMED,
  NET_SKB_PAD,
  PACKET_BROADCAST,
  PACKET_HOST,
  PACKET_LOOPBACK,
  PACKET_MULTICAST,
  PACKET_OTHERHOST,
  PACKET_OUTGOING,
  PKT_TYPE,
  SkBuff,
  skbFromBytes,
} from "../src/skbuff.js";

const bytesOf = (skb: SkBuff): number[] => [...skb.head.subarray(skb.data, skb.tail)];

/** A 20-byte skb with distinct metadata in every field, headers set, and a cb. */
function decorated(): SkBuff {
  const skb = skbFromBytes(
    Uint8Array.from({ length: 20 }, (_, i) => i + 1),
    32,
  );
  skb.setMacHeader(0);
  skb.pull(6);
  skb.resetNetworkHeader();
  skb.setTransportHeader(4);
  skb.resetMacLen();
  skb.protocol = 0x0800;
  skb.pktType = PACKET_MULTICAST;
  skb.dev = { name: "eth0", ifindex: 2 };
  skb.sk = { socket: true };
  skb.dst = { route: true };
  skb.mark = 7;
  skb.priority = 3;
  skb.tstamp = 1234;
  skb.ipSummed = CHECKSUM_COMPLETE;
  skb.csum = 0xbeef;
  skb.csumStart = 40;
  skb.csumOffset = 16;
  skb.csumValid = true;
  skb.dropReason = "NOT_SPECIFIED";
  skb.cb = { seq: 1, endSeq: 2 };
  skb.skbIif = 2;
  return skb;
}

function metadataOf(skb: SkBuff): Record<string, unknown> {
  const { next, prev, head, cloned, cb, ...rest } = skb as unknown as Record<string, unknown>;
  return { ...rest, cb };
}

describe("constants", () => {
  it("numbers packet types like include/uapi/linux/if_packet.h", () => {
    expect([
      PACKET_HOST,
      PACKET_BROADCAST,
      PACKET_MULTICAST,
      PACKET_OTHERHOST,
      PACKET_OUTGOING,
      PACKET_LOOPBACK,
    ]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(PKT_TYPE.PACKET_OTHERHOST).toBe(PACKET_OTHERHOST);
  });

  it("numbers checksum states like include/linux/skbuff.h", () => {
    expect([CHECKSUM_NONE, CHECKSUM_UNNECESSARY, CHECKSUM_COMPLETE, CHECKSUM_PARTIAL]).toEqual([
      0, 1, 2, 3,
    ]);
    expect(IP_SUMMED.CHECKSUM_PARTIAL).toBe(CHECKSUM_PARTIAL);
    expect(NET_SKB_PAD).toBe(64);
  });
});

describe("allocation", () => {
  it("allocSkb gives an empty skb over a zeroed head of the requested size", () => {
    const skb = allocSkb(100);
    expect(skb.head.length).toBe(100);
    expect([skb.data, skb.tail, skb.end, skb.len]).toEqual([0, 0, 100, 0]);
    expect([skb.headroom, skb.tailroom]).toEqual([0, 100]);
    expect(skb.head.every((b) => b === 0)).toBe(true);
  });

  it("allocSkb initialises every field to its unset value", () => {
    const skb = allocSkb(8);
    expect(skb).toMatchObject({
      next: null,
      prev: null,
      macHeader: -1,
      networkHeader: -1,
      transportHeader: -1,
      macLen: 0,
      protocol: 0,
      pktType: PACKET_HOST,
      dev: null,
      sk: null,
      dst: null,
      mark: 0,
      priority: 0,
      tstamp: 0,
      ipSummed: CHECKSUM_NONE,
      csum: 0,
      csumStart: 0,
      csumOffset: 0,
      csumValid: false,
      dropReason: null,
      cb: null,
      skbIif: 0,
      cloned: false,
    });
    expect(skb.dataref).toBe(1);
    expect(skb.isShared()).toBe(false);
  });

  it("every skb, however made, has its fields in the same order (one hidden class)", () => {
    const keys = Object.keys(allocSkb(8));
    const original = decorated();
    for (const skb of [devAllocSkb(8), skbFromBytes(new Uint8Array(3)), original.clone()]) {
      expect(Object.keys(skb)).toEqual(keys);
    }
    original.cow(200);
    expect(Object.keys(original)).toEqual(keys);
    expect(Object.keys(original.copy())).toEqual(keys);
  });

  it("devAllocSkb reserves NET_SKB_PAD bytes of headroom before length bytes of room", () => {
    const skb = devAllocSkb(1500);
    expect(skb.head.length).toBe(1500 + NET_SKB_PAD);
    expect([skb.headroom, skb.len, skb.tailroom]).toEqual([NET_SKB_PAD, 0, 1500]);
  });

  it("skbFromBytes copies the bytes after NET_SKB_PAD of headroom, with no tailroom", () => {
    const bytes = Uint8Array.of(1, 2, 3);
    const skb = skbFromBytes(bytes);
    expect([skb.headroom, skb.len, skb.tailroom]).toEqual([NET_SKB_PAD, 3, 0]);
    expect(bytesOf(skb)).toEqual([1, 2, 3]);
    bytes[0] = 9;
    expect(bytesOf(skb)).toEqual([1, 2, 3]);
  });

  it("skbFromBytes honours a custom headroom, including none", () => {
    expect(skbFromBytes(Uint8Array.of(1), 14).headroom).toBe(14);
    const skb = skbFromBytes(Uint8Array.of(5, 6), 0);
    expect([skb.data, skb.tail, skb.end]).toEqual([0, 2, 2]);
  });
});

describe("reserve, put, push, pull, trim", () => {
  it("builds a packet the Linux way: reserve, put the payload, push headers, pull them", () => {
    const skb = allocSkb(64);
    skb.reserve(32);
    expect([skb.data, skb.tail]).toEqual([32, 32]);

    const payload = skb.put(4);
    expect(payload).toBe(32);
    skb.head.set([0xde, 0xad, 0xbe, 0xef], payload);

    const th = skb.push(8);
    expect(th).toBe(24);
    skb.head.fill(0xaa, th, th + 8);
    skb.resetTransportHeader();

    const nh = skb.push(20);
    expect(nh).toBe(4);
    skb.head.fill(0x45, nh, nh + 20);
    skb.resetNetworkHeader();

    expect([skb.len, skb.headroom, skb.tailroom]).toEqual([32, 4, 28]);
    expect([skb.networkHeader, skb.transportHeader]).toEqual([4, 24]);

    expect(skb.pull(20)).toBe(24);
    expect(skb.pull(8)).toBe(32);
    expect(bytesOf(skb)).toEqual([0xde, 0xad, 0xbe, 0xef]);
  });

  it("push and put write exactly where the offsets say (golden bytes)", () => {
    const skb = allocSkb(10);
    skb.reserve(4);
    skb.head.set([0x11, 0x22], skb.put(2));
    skb.head.set([0x33], skb.put(1));
    skb.head.set([0x01, 0x02], skb.push(2));
    expect([...skb.head]).toEqual([0, 0, 0x01, 0x02, 0x11, 0x22, 0x33, 0, 0, 0]);
    expect(bytesOf(skb)).toEqual([0x01, 0x02, 0x11, 0x22, 0x33]);
  });

  it("reserve refuses a non-empty skb", () => {
    const skb = allocSkb(10);
    skb.put(1);
    expect(() => skb.reserve(2)).toThrow(RangeError);
  });

  it("reserve refuses more than the tailroom", () => {
    const skb = allocSkb(10);
    expect(() => skb.reserve(11)).toThrow(RangeError);
    expect([skb.data, skb.tail]).toEqual([0, 0]);
  });

  it("push beyond the headroom throws RangeError (skb_under_panic) and changes nothing", () => {
    const skb = devAllocSkb(10);
    expect(() => skb.push(NET_SKB_PAD + 1)).toThrow(RangeError);
    expect(skb.data).toBe(NET_SKB_PAD);
    expect(skb.push(NET_SKB_PAD)).toBe(0);
  });

  it("put beyond the tailroom throws RangeError (skb_over_panic) and changes nothing", () => {
    const skb = devAllocSkb(10);
    expect(() => skb.put(11)).toThrow(RangeError);
    expect(skb.tail).toBe(NET_SKB_PAD);
    expect(skb.put(10)).toBe(NET_SKB_PAD);
    expect(skb.tailroom).toBe(0);
  });

  it("push, put and pull refuse negative and fractional lengths", () => {
    const skb = skbFromBytes(new Uint8Array(10));
    for (const n of [-1, 1.5, Number.NaN]) {
      expect(() => skb.push(n)).toThrow(RangeError);
      expect(() => skb.put(n)).toThrow(RangeError);
      expect(() => skb.pull(n)).toThrow(RangeError);
      expect(() => skb.trim(n)).toThrow(RangeError);
    }
    expect([skb.data, skb.tail]).toEqual([NET_SKB_PAD, NET_SKB_PAD + 10]);
  });

  it("pull beyond len returns -1 and leaves the skb untouched", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3));
    expect(skb.pull(4)).toBe(-1);
    expect([skb.data, skb.len]).toEqual([NET_SKB_PAD, 3]);
  });

  it("pull of exactly len empties the packet", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3));
    expect(skb.pull(3)).toBe(NET_SKB_PAD + 3);
    expect(skb.len).toBe(0);
  });

  it("trim shortens a longer packet and leaves a shorter one alone", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3, 4));
    skb.trim(10);
    expect(skb.len).toBe(4);
    skb.trim(2);
    expect(bytesOf(skb)).toEqual([1, 2]);
    expect(skb.tailroom).toBe(2);
  });

  it("mayPull says whether len covers n bytes", () => {
    const skb = skbFromBytes(new Uint8Array(20));
    expect(skb.mayPull(0)).toBe(true);
    expect(skb.mayPull(20)).toBe(true);
    expect(skb.mayPull(21)).toBe(false);
  });

  it("random valid operations keep 0 <= data <= tail <= end and len = tail - data", () => {
    const op = fc.record({
      op: fc.constantFrom(
        "reserve",
        "put",
        "push",
        "pull",
        "trim",
        "pullOver",
        "pushOver",
        "putOver",
      ),
      n: fc.nat({ max: 300 }),
    });
    fc.assert(
      fc.property(fc.nat({ max: 512 }), fc.array(op, { maxLength: 60 }), (size, ops) => {
        const skb = allocSkb(size);
        let len = 0;
        for (const { op: name, n } of ops) {
          const { data, tail } = skb;
          switch (name) {
            case "reserve":
              if (len === 0 && n <= skb.tailroom) skb.reserve(n);
              break;
            case "put":
              if (n <= skb.tailroom) {
                expect(skb.put(n)).toBe(tail);
                len += n;
              }
              break;
            case "push":
              if (n <= skb.headroom) {
                expect(skb.push(n)).toBe(data - n);
                len += n;
              }
              break;
            case "pull":
              if (n <= len) {
                expect(skb.pull(n)).toBe(data + n);
                len -= n;
              }
              break;
            case "pullOver":
              expect(skb.pull(len + 1 + n)).toBe(-1);
              expect([skb.data, skb.tail]).toEqual([data, tail]);
              break;
            case "pushOver":
              expect(() => skb.push(skb.headroom + 1 + n)).toThrow(RangeError);
              break;
            case "putOver":
              expect(() => skb.put(skb.tailroom + 1 + n)).toThrow(RangeError);
              break;
            case "trim":
              skb.trim(n);
              len = Math.min(len, n);
              break;
          }
          expect(0 <= skb.data && skb.data <= skb.tail && skb.tail <= skb.end).toBe(true);
          expect(skb.end).toBe(size);
          expect(skb.len).toBe(len);
          expect(skb.len).toBe(skb.tail - skb.data);
          expect(skb.headroom + skb.len + skb.tailroom).toBe(size);
        }
      }),
    );
  });
});

describe("header offsets", () => {
  it("set*Header places a header relative to data; reset*Header places it at data", () => {
    const skb = skbFromBytes(new Uint8Array(60), 16);
    skb.setMacHeader();
    skb.setNetworkHeader(14);
    skb.setTransportHeader(34);
    expect([skb.macHeader, skb.networkHeader, skb.transportHeader]).toEqual([16, 30, 50]);
    skb.pull(14);
    skb.resetNetworkHeader();
    skb.pull(20);
    skb.resetTransportHeader();
    skb.resetMacHeader();
    expect([skb.macHeader, skb.networkHeader, skb.transportHeader]).toEqual([50, 30, 50]);
  });

  it("header offsets are into head, so they survive push and pull", () => {
    const skb = skbFromBytes(new Uint8Array(40), 20);
    skb.resetNetworkHeader();
    skb.push(14);
    skb.pull(30);
    expect(skb.networkHeader).toBe(20);
  });

  it("resetMacLen measures the link-layer header, or 0 when it was never set", () => {
    const skb = skbFromBytes(new Uint8Array(40));
    skb.resetNetworkHeader();
    expect(skb.macHeaderWasSet()).toBe(false);
    skb.resetMacLen();
    expect(skb.macLen).toBe(0);
    skb.setMacHeader(-14);
    skb.resetMacLen();
    expect(skb.macHeaderWasSet()).toBe(true);
    expect(skb.macLen).toBe(14);
  });

  it("transportHeaderWasSet tells a set transport header from the -1 default", () => {
    const skb = skbFromBytes(new Uint8Array(8));
    expect(skb.transportHeaderWasSet()).toBe(false);
    skb.resetTransportHeader();
    expect(skb.transportHeaderWasSet()).toBe(true);
  });
});

describe("clone", () => {
  it("shares head: a write through one is seen through the other", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3));
    const c = skb.clone();
    expect(c.head).toBe(skb.head);
    skb.head[skb.data] = 9;
    expect(bytesOf(c)).toEqual([9, 2, 3]);
  });

  it("marks both cloned, counts the reference and reports the data as shared", () => {
    const skb = skbFromBytes(Uint8Array.of(1));
    const c = skb.clone();
    expect([skb.cloned, c.cloned]).toEqual([true, true]);
    expect([skb.dataref, c.dataref]).toEqual([2, 2]);
    expect([skb.isShared(), c.isShared()]).toEqual([true, true]);
    const c2 = c.clone();
    expect(skb.dataref).toBe(3);
    expect(c2.head).toBe(skb.head);
  });

  it("copies offsets and metadata, copies cb shallowly and does not copy queue links", () => {
    const skb = decorated();
    skb.next = skb;
    skb.prev = skb;
    const c = skb.clone();
    expect(metadataOf(c)).toEqual(metadataOf(skb));
    expect(c.dev).toBe(skb.dev);
    expect(c.sk).toBe(skb.sk);
    expect(c.dst).toBe(skb.dst);
    expect(c.cb).not.toBe(skb.cb);
    expect([c.next, c.prev]).toEqual([null, null]);
  });

  it("keeps a null cb null", () => {
    expect(skbFromBytes(new Uint8Array(1)).clone().cb).toBeNull();
  });

  it("has offsets of its own: pulling the clone does not move the original", () => {
    const skb = skbFromBytes(new Uint8Array(30));
    const c = skb.clone();
    c.pull(10);
    c.trim(5);
    expect([skb.data, skb.len]).toEqual([NET_SKB_PAD, 30]);
    expect([c.data, c.len]).toEqual([NET_SKB_PAD + 10, 5]);
  });
});

describe("copy", () => {
  it("gives a private head of the same size with the same bytes, offsets and metadata", () => {
    const skb = decorated();
    const c = skb.copy();
    expect(c.head).not.toBe(skb.head);
    expect(c.head.length).toBe(skb.head.length);
    expect([...c.head]).toEqual([...skb.head]);
    expect([c.data, c.tail, c.end]).toEqual([skb.data, skb.tail, skb.end]);
    expect(metadataOf(c)).toEqual(metadataOf(skb));
    expect(c.cb).not.toBe(skb.cb);
  });

  it("is neither cloned nor shared, and leaves the original's sharing alone", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2));
    const c = skb.copy();
    expect([c.cloned, c.isShared(), c.dataref]).toEqual([false, false, 1]);
    expect([skb.cloned, skb.dataref]).toEqual([false, 1]);
    c.head[c.data] = 7;
    expect(bytesOf(skb)).toEqual([1, 2]);
  });
});

describe("cow and expandHead", () => {
  it("unshares a clone: after cow, writes no longer show through", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3));
    const c = skb.clone();
    const shared = skb.head;
    expect(c.cow(0)).toBe(true);
    expect(c.head).not.toBe(shared);
    expect(bytesOf(c)).toEqual([1, 2, 3]);
    c.head[c.data] = 9;
    expect(bytesOf(skb)).toEqual([1, 2, 3]);
    expect([c.cloned, c.dataref, c.isShared()]).toEqual([false, 1, false]);
  });

  it("leaves the other sharer alone and no longer shared", () => {
    const skb = skbFromBytes(Uint8Array.of(1, 2, 3));
    const shared = skb.head;
    const c = skb.clone();
    c.cow();
    expect(skb.head).toBe(shared);
    expect([skb.dataref, skb.isShared()]).toEqual([1, false]);
    expect(skb.cow()).toBe(false);
    expect(skb.head).toBe(shared);
  });

  it("is a no-op, returning false, on a private skb with enough headroom", () => {
    const skb = skbFromBytes(Uint8Array.of(1));
    const head = skb.head;
    expect(skb.cow(NET_SKB_PAD)).toBe(false);
    expect(skb.head).toBe(head);
  });

  it("grows short headroom in steps of NET_SKB_PAD, keeping the headers on the same bytes", () => {
    const skb = skbFromBytes(Uint8Array.of(0x45, 0, 0, 0, 0x11, 0x22), 4);
    skb.resetNetworkHeader();
    skb.setTransportHeader(4);
    expect(skb.cow(20)).toBe(true);
    expect(skb.headroom).toBe(4 + NET_SKB_PAD);
    expect([skb.len, skb.tailroom]).toEqual([6, 0]);
    expect(skb.head[skb.networkHeader]).toBe(0x45);
    expect(skb.head[skb.transportHeader]).toBe(0x11);
    expect(skb.macHeader).toBe(-1);
    expect(skb.push(20)).toBe(4 + NET_SKB_PAD - 20);
  });

  it("moves csumStart with the data only when CHECKSUM_PARTIAL", () => {
    const partial = skbFromBytes(new Uint8Array(10), 0);
    partial.ipSummed = CHECKSUM_PARTIAL;
    partial.csumStart = 2;
    partial.expandHead(8, 0);
    expect(partial.csumStart).toBe(10);
    const complete = skbFromBytes(new Uint8Array(10), 0);
    complete.ipSummed = CHECKSUM_COMPLETE;
    complete.csum = 2;
    complete.csumStart = 2;
    complete.expandHead(8, 0);
    expect([complete.csumStart, complete.csum]).toEqual([2, 2]);
  });

  it("expandHead adds nhead bytes in front and ntail behind, moving every head offset", () => {
    const skb = allocSkb(16);
    skb.reserve(2);
    skb.head.set([1, 2, 3], skb.put(3));
    skb.setMacHeader(0);
    skb.setNetworkHeader(1);
    skb.setTransportHeader(2);
    skb.expandHead(5, 7);
    expect(skb.end).toBe(28);
    expect(skb.head.length).toBe(28);
    expect([skb.data, skb.tail, skb.headroom, skb.tailroom]).toEqual([7, 10, 7, 18]);
    expect([skb.macHeader, skb.networkHeader, skb.transportHeader]).toEqual([7, 8, 9]);
    expect(bytesOf(skb)).toEqual([1, 2, 3]);
  });

  it("expandHead refuses negative and fractional sizes", () => {
    const skb = allocSkb(4);
    expect(() => skb.expandHead(-1, 0)).toThrow(RangeError);
    expect(() => skb.expandHead(0, 0.5)).toThrow(RangeError);
  });
});

describe("release", () => {
  it("drops one reference to the shared head", () => {
    const skb = skbFromBytes(Uint8Array.of(1));
    const c = skb.clone();
    c.release();
    expect([skb.dataref, skb.isShared()]).toEqual([1, false]);
    expect(skb.cow()).toBe(false);
  });

  it("never counts below zero", () => {
    const skb = allocSkb(1);
    skb.release();
    skb.release();
    expect(skb.dataref).toBe(0);
  });
});

describe("NetDeviceLike", () => {
  it("accepts any object with a name and an ifindex", () => {
    const skb = new SkBuff(new Uint8Array(4));
    const dev = { name: "lo", ifindex: 1, mtu: 65536 };
    skb.dev = dev;
    expect(skb.dev.name).toBe("lo");
  });
});
