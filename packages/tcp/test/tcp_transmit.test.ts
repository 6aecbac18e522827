/**
 * The transmit path (`tcp_transmit_skb`): segments go out as clones of the queued skb with the
 * header written in place, options byte-identical to {@link tcpEmit}'s layout, and a private
 * copy when an earlier clone of the same skb is still held.
 */
import {
  ERRNO,
  getU32,
  NF_ACCEPT,
  NF_INET_POST_ROUTING,
  NF_IP_PRI_FILTER,
  NF_STOLEN,
  NFPROTO_IPV4,
  type SkBuff,
} from "@skbuff/core";
import {
  ackNum,
  expectIpv4,
  flags,
  type Harness,
  tcp as tcpCheck,
  tcpSegment,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { TCP_ESTABLISHED, TCP_SKB_CB, type TcpSock, type TcpSocketHandle } from "../src/index.js";
import {
  tcpEmit,
  tcpEmitFixed,
  tcpEmitSackBlock,
  tcpEmitSackHead,
  tcpEmitTsAligned,
  tcpVerifyChecksum,
} from "../src/wire/tcphdr.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";

const PEER_ISN = 5000;
let h: Harness;
afterEach(async () => {
  if (h) expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
});

function skOf(s: TcpSocketHandle): TcpSock {
  return (s as unknown as { sk: TcpSock }).sk;
}

/** The stack connects to the peer's port 80 (SACK, timestamps, wscale 7); the test answers. */
function activeOpen(): { s: TcpSocketHandle; iss: number; sport: number } {
  const s = api(h).socket();
  expect(s.connect("192.0.2.2", 80)).toBe(-ERRNO.EINPROGRESS);
  const syn = tcpOf(h.nextPacket());
  h.inject(
    tcpSegment({
      sport: 80,
      dport: syn.srcPort,
      seq: PEER_ISN,
      ack: syn.seq + 1,
      flags: "SA",
      win: 65535,
      options: [
        { kind: "mss", value: 1460 },
        "sackOK",
        { kind: "ts", val: 700, ecr: 1 },
        "nop",
        { kind: "wscale", value: 7 },
      ],
    }),
  );
  expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(PEER_ISN + 1)));
  expect(s.state).toBe(TCP_ESTABLISHED);
  return { s, iss: syn.seq, sport: syn.srcPort };
}

/** The TCP header and payload of an IPv4 packet. */
function tcpBytes(pkt: Uint8Array): Uint8Array {
  return pkt.subarray((pkt[0]! & 0x0f) * 4);
}

const u32 = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
const u16 = (v: number): number[] => [v >>> 8, v & 0xff];

describe("the in-place option writers", () => {
  it("write nop,nop,TS and nop,nop,SACK with the bytes tcpEmit gives for the same options", () => {
    const blocks: [number, number][] = [
      [0x01020304, 0x05060708],
      [0xfffffff0, 0x00000010],
    ];
    const viaRepr = new Uint8Array(60);
    tcpEmit(
      {
        srcPort: 1234,
        dstPort: 80,
        seq: 0xdeadbeef,
        ack: 0x0badf00d,
        flags: 0x18,
        window: 512,
        urgent: 0,
        options: [
          { kind: "nop" },
          { kind: "nop" },
          { kind: "ts", val: 0x11223344, ecr: 0x55667788 },
          { kind: "nop" },
          { kind: "nop" },
          { kind: "sack", blocks },
        ],
        payload: new Uint8Array(0),
      },
      viaRepr,
      0,
    );
    const inPlace = new Uint8Array(60).fill(0xee);
    tcpEmitFixed(inPlace, 0, 1234, 80, 0xdeadbeef, 0x0badf00d, 52, 0x18, 512);
    let o = tcpEmitTsAligned(inPlace, 20, 0x11223344, 0x55667788);
    o = tcpEmitSackHead(inPlace, o, 2);
    for (const [l, r] of blocks) o = tcpEmitSackBlock(inPlace, o, l, r);
    expect(o).toBe(52);
    expect(inPlace.subarray(0, 52)).toEqual(viaRepr.subarray(0, 52));
  });

  it("lay out the golden bytes of an ACK with TS and one SACK block", () => {
    const b = new Uint8Array(44);
    tcpEmitFixed(b, 0, 0x1234, 80, 1, 2, 44, 0x10, 0x0200);
    let o = tcpEmitTsAligned(b, 20, 7, 9);
    o = tcpEmitSackHead(b, o, 1);
    tcpEmitSackBlock(b, o, 0x100, 0x200);
    // biome-ignore format: one header field per line
    expect([...b]).toEqual([
      0x12, 0x34, 0x00, 0x50, // ports
      0, 0, 0, 1, // seq
      0, 0, 0, 2, // ack
      0xb0, 0x10, 0x02, 0x00, // doff 11, ACK, window
      0, 0, 0, 0, // checksum, urgent pointer
      1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9, // nop,nop,TS val 7 ecr 9
      1, 1, 5, 10, 0, 0, 1, 0, 0, 0, 2, 0, // nop,nop,SACK 256:512
    ]);
  });
});

describe("tcp_transmit_skb", () => {
  it("sends an established segment with the header laid out as before: nop,nop,TS then nop,nop,SACK", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const sk = skOf(c.s);
    // Out-of-order data: the stack answers at once with a SACK of it.
    const left = PEER_ISN + 1 + 1000;
    h.inject(
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: left,
        ack: c.iss + 1,
        flags: "A",
        payload: new Uint8Array(500),
        options: ["nop", "nop", { kind: "ts", val: 900, ecr: 1 }],
      }),
    );
    const t = tcpBytes(h.nextPacket(0));
    const tsval = getU32(t, 24);
    const tsecr = getU32(t, 28);
    expect(tsecr).toBe(sk.rxOpt.tsRecent);
    // biome-ignore format: one header field per line
    const golden = [
      ...u16(c.sport), 0, 80,
      ...u32(c.iss + 1),
      ...u32(PEER_ISN + 1),
      0xb0, 0x10, ...u16(sk.rcvWnd >> 7),
      t[16]!, t[17]!, 0, 0,
      1, 1, 8, 10, ...u32(tsval), ...u32(tsecr),
      1, 1, 5, 10, ...u32(left), ...u32(left + 500),
    ];
    expect([...t]).toEqual(golden);
    expect(tcpVerifyChecksum(t, 0, t.length, 0xc0000201, 0xc0000202)).toBe(true);
  });

  it("sends nop,nop,SACK alone without timestamps, the most recent block first", async () => {
    h = await tcpHarness({ "net.ipv4.tcp_timestamps": 0 });
    const c = activeOpen();
    const seg = (off: number) =>
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: PEER_ISN + 1 + off,
        ack: c.iss + 1,
        flags: "A",
        payload: new Uint8Array(100),
      });
    h.inject(seg(1000));
    h.nextPacket(0);
    h.inject(seg(3000));
    const t = tcpBytes(h.nextPacket(0));
    const b1 = PEER_ISN + 1 + 3000;
    const b2 = PEER_ISN + 1 + 1000;
    expect(t[12]).toBe(((20 + 4 + 16) / 4) << 4);
    // biome-ignore format: the option bytes
    expect([...t.subarray(20)]).toEqual([
      1, 1, 5, 18, ...u32(b1), ...u32(b1 + 100), ...u32(b2), ...u32(b2 + 100),
    ]);
  });

  it("sends data from the queued skb's headroom without copying it: the clone shares the bytes", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const sk = skOf(c.s);
    const held: SkBuff[] = [];
    h.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_POST_ROUTING,
      priority: NF_IP_PRI_FILTER,
      hook: (skb) => {
        if (tcpOf(skb.head.slice(skb.data, skb.tail)).payload.length === 0) return NF_ACCEPT;
        held.push(skb);
        return NF_STOLEN;
      },
    });
    const data = new Uint8Array(1000).map((_, i) => i & 0xff);
    expect(c.s.write(data)).toBe(1000);
    expect(held).toHaveLength(1);
    const queued = sk.rtxQueue.peek()!;
    expect(held[0]!.head).toBe(queued.head);
    expect(queued.isShared()).toBe(true);
    // The clone's TCP and IP headers went into the headroom: the queued payload is untouched.
    expect(queued.head.subarray(queued.data, queued.tail)).toEqual(data);
    expect(held[0]!.data + 20 + 32).toBe(queued.data);
  });

  it("retransmits a segment whose first transmission is still held as a private copy with the right bytes, leaving the held one intact", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const sk = skOf(c.s);
    const held: SkBuff[] = [];
    let steal = true;
    h.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_POST_ROUTING,
      priority: NF_IP_PRI_FILTER,
      hook: (skb) => {
        if (!steal) return NF_ACCEPT;
        steal = false;
        held.push(skb);
        return NF_STOLEN;
      },
    });
    const data = new Uint8Array(1000).map((_, i) => (i * 13) & 0xff);
    expect(c.s.write(data)).toBe(1000);
    expect(held).toHaveLength(1);
    const first = held[0]!;
    const firstBytes = first.head.slice(first.data, first.tail);
    expect(tcpOf(firstBytes).payload).toEqual(data);
    // The first transmission never reaches the wire: the retransmission timer sends it again
    // while the stolen clone still holds the queued skb's bytes.
    const re = tcpOf(h.nextPacket(2000));
    expect(re.seq).toBe((c.iss + 1) >>> 0);
    expect(re.payload).toEqual(data);
    expect(TCP_SKB_CB(sk.rtxQueue.peek()!).txCount).toBe(2);
    // The retransmission wrote its headers elsewhere: the held clone's bytes are unchanged.
    expect(first.head.slice(first.data, first.tail)).toEqual(firstBytes);
    expect(first.head).toBe(sk.rtxQueue.peek()!.head);
  });

  it("clones again once the earlier clone was freed", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const sk = skOf(c.s);
    const heads: Uint8Array[] = [];
    h.stack.nf.register({
      pf: NFPROTO_IPV4,
      hooknum: NF_INET_POST_ROUTING,
      priority: NF_IP_PRI_FILTER,
      hook: (skb) => {
        heads.push(skb.head);
        return NF_ACCEPT;
      },
    });
    expect(c.s.write(new Uint8Array(100).fill(7))).toBe(100);
    h.nextPacket(0);
    const re = tcpOf(h.nextPacket(2000));
    expect(re.payload).toEqual(new Uint8Array(100).fill(7));
    const queued = sk.rtxQueue.peek()!;
    expect(heads).toHaveLength(2);
    expect(heads[0]).toBe(queued.head);
    expect(heads[1]).toBe(queued.head);
  });
});
