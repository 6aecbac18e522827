import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { afterEach, describe, expect, it } from "vitest";
import {
  code,
  createHarness,
  dstAddr,
  dstPort,
  echoId,
  echoSeq,
  expectIpv4,
  type Harness,
  type HarnessOptions,
  icmp,
  icmpEcho,
  ipv4Packet,
  PacketCheckError,
  parsePacket,
  payload,
  protocol,
  quote,
  srcAddr,
  ttl,
  type,
  udp,
  udpDatagram,
} from "../src/index.js";

const open: Harness[] = [];

/** A harness with ipv4() and icmp(), closed after the test. */
async function harness(opts: Partial<HarnessOptions> = {}): Promise<Harness> {
  const h = await createHarness({ plugins: [ipv4(), icmpPlugin()], ...opts });
  open.push(h);
  return h;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

describe("createHarness", () => {
  it("builds a stack with a test device tst0 at 192.0.2.1/24 and MTU 1500", async () => {
    const h = await harness();
    expect(h.dev.name).toBe("tst0");
    expect(h.dev.mtu).toBe(1500);
    expect(h.dev.addresses).toEqual([{ family: "inet", address: "192.0.2.1", prefixLen: 24 }]);
    expect(h.stack.plugins.map((p) => p.name)).toContain("skbuff:test-device");
  });

  it("starts a virtual clock at 0 that does not move by itself", async () => {
    const h = await harness();
    expect(h.clock.autoAdvance).toBe(false);
    expect(h.clock.now()).toBe(0);
  });

  it("takes another address, peer and MTU", async () => {
    const h = await harness({ address: "198.51.100.7/24", peer: "198.51.100.1", mtu: 1280 });
    expect(h.dev.mtu).toBe(1280);
    h.inject(icmpEcho({ id: 1, seq: 1 }));
    expectIpv4(h.nextPacket(), srcAddr("198.51.100.7"), dstAddr("198.51.100.1"));
  });

  it("applies sysctls", async () => {
    const h = await harness({ sysctl: { "net.ipv4.ip_default_ttl": 32 } });
    h.inject(icmpEcho({ id: 1, seq: 1 }));
    expectIpv4(h.nextPacket(), ttl(32));
  });

  it("answers sources beyond the peer's subnet through its default route", async () => {
    const h = await harness();
    h.inject({ src: "203.0.113.5", inner: icmpEcho({ id: 1, seq: 1 }) });
    expectIpv4(h.nextPacket(), dstAddr("203.0.113.5"));
  });

  it("refuses an address without a prefix length", async () => {
    await expect(createHarness({ plugins: [], address: "192.0.2.1" })).rejects.toThrow(
      'createHarness address: "192.0.2.1" is not like 192.0.2.1/24',
    );
  });
});

describe("inject and nextPacket", () => {
  it("gets an echo reply to an injected echo request", async () => {
    const h = await harness();
    h.inject(
      ipv4Packet({ src: "192.0.2.2", dst: "192.0.2.1", inner: icmpEcho({ id: 7, seq: 1 }) }),
    );
    expectIpv4(h.nextPacket(), dstAddr("192.0.2.2"), icmp(type(0), echoId(7)));
  });

  it("builds a packet description from the peer to the stack", async () => {
    const h = await harness();
    h.inject({ ttl: 5, inner: icmpEcho({ id: 7, seq: 2, payload: "abc" }) });
    expectIpv4(
      h.nextPacket(),
      srcAddr("192.0.2.1"),
      dstAddr("192.0.2.2"),
      icmp(type(0), echoId(7), echoSeq(2), payload("abc")),
    );
  });

  it("runs the receive softirq at once, without moving time", async () => {
    const h = await harness();
    h.inject(icmpEcho({ id: 7, seq: 1 }));
    expect(h.transmitted).toHaveLength(1);
    expect(h.transmitted[0]!.t).toBe(0);
    expect(h.clock.now()).toBe(0);
  });

  it("records the virtual time of each transmission", async () => {
    const h = await harness();
    h.advance(250);
    h.inject(icmpEcho({ id: 7, seq: 1 }));
    expect(h.transmitted.map((p) => p.t)).toEqual([250]);
  });

  it("returns packets in the order they were sent, each once", async () => {
    const h = await harness();
    h.inject(icmpEcho({ id: 1, seq: 1 }));
    h.inject(icmpEcho({ id: 1, seq: 2 }));
    expectIpv4(h.nextPacket(), icmp(echoSeq(1)));
    expectIpv4(h.nextPacket(), icmp(echoSeq(2)));
    expect(h.pending).toBe(0);
  });

  it("drops a packet with a bad IP checksum and sends nothing", async () => {
    const h = await harness();
    h.inject({ checksum: 0xdead, inner: icmpEcho({ id: 7, seq: 1 }) });
    h.expectNoPacket(1000);
    expect(h.drops().IP_CSUM).toBe(1);
    expect(h.counters()).toMatchObject({ IpInHdrErrors: 1, IpExtInCsumErrors: 1 });
  });

  it("fails with a readable message when the stack sends nothing in time", async () => {
    const h = await harness();
    expect(() => h.nextPacket()).toThrow(
      new PacketCheckError("expected a packet within 1000 ms, the stack sent none"),
    );
    expect(h.clock.now()).toBe(1000);
  });

  it("names its own timeout in the message", async () => {
    const h = await harness();
    expect(() => h.nextPacket(50)).toThrow("expected a packet within 50 ms, the stack sent none");
  });

  it("advances the clock to the timer that sends, and stops there", async () => {
    // A lone first fragment: reassembly gives up after ipfrag_time and says so (RFC 792 time
    // exceeded, code 1), the only packet this stack sends from a timer.
    const h = await harness({ sysctl: { "net.ipv4.ipfrag_time": 2 } });
    h.inject({ id: 9, mf: true, protocol: 17, payload: new Uint8Array(64) });
    const p = h.nextPacket(5000);
    expectIpv4(p, icmp(type(11), code(1), quote(protocol(17))));
    expect(h.transmitted[0]!.t).toBe(2000);
    expect(h.clock.now()).toBe(2000);
  });

  it("answers a UDP datagram with protocol unreachable when the stack has no UDP", async () => {
    const h = await harness();
    h.inject({ inner: udpDatagram({ sport: 40000, dport: 53, payload: "query" }) });
    expectIpv4(
      h.nextPacket(),
      srcAddr("192.0.2.1"),
      dstAddr("192.0.2.2"),
      icmp(type(3), code(2), quote(srcAddr("192.0.2.2"), udp(dstPort(53)))),
    );
    expect(h.drops().IP_NOPROTO).toBe(1);
  });
});

describe("expectNoPacket", () => {
  it("passes when the stack stays quiet, and moves time", async () => {
    const h = await harness();
    h.expectNoPacket(300);
    expect(h.clock.now()).toBe(300);
  });

  it("fails naming the packet the stack sent and when", async () => {
    const h = await harness();
    h.advance(20);
    h.inject(icmpEcho({ id: 7, seq: 1, payload: "x" }));
    expect(() => h.expectNoPacket(100)).toThrow(
      "expected no packet for 100 ms, the stack sent one at 20 ms\n" +
        "  packet: IPv4 192.0.2.1 > 192.0.2.2 ttl 64 id 1 len 29: ICMP echo reply id 7 seq 1 length 1",
    );
  });
});

describe("offload", () => {
  it("turns on the test device's checksum offload", async () => {
    const h = await harness({ offload: true });
    expect(h.dev.features).toMatchObject({ hwCsum: true, rxCsum: true });
  });

  it("hands injected packets to the stack as verified, bad ICMP checksum and all", async () => {
    const h = await harness({ offload: true });
    h.inject(icmpEcho({ id: 7, seq: 1, checksum: 0 }));
    expectIpv4(h.nextPacket(), icmp(type(0), echoId(7)));
  });

  it("verifies checksums in software without it", async () => {
    const h = await harness();
    h.inject(icmpEcho({ id: 7, seq: 1, checksum: 0 }));
    h.expectNoPacket(10);
  });
});

describe("applications on the harness's stack", () => {
  it("lets a ping from the stack be answered by the test", async () => {
    const h = await harness();
    const reply = h.stack.ping("192.0.2.2", { size: 8 });
    const request = await h.nextPacketAsync();
    const echo = parsePacket(request)!.transport;
    expectIpv4(request, dstAddr("192.0.2.2"), icmp(type(8)));
    if (echo.layer !== "icmp") throw new Error("not ICMP");
    await h.advanceAsync(7);
    h.inject(icmpEcho({ id: echo.id, seq: echo.seq, payload: echo.payload, reply: true }));
    await h.settle();
    await expect(reply).resolves.toMatchObject({ seq: echo.seq, rttMs: 7, from: "192.0.2.2" });
  });

  it("reports the stack's counters", async () => {
    const h = await harness();
    h.inject(icmpEcho({ id: 7, seq: 1 }));
    expect(h.counters()).toMatchObject({ IcmpInEchos: 1, IcmpOutEchoReps: 1 });
  });
});
