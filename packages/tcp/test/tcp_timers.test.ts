import { definePlugin, ERRNO, tp } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  ackNum,
  createHarness,
  expectIpv4,
  flags,
  type Harness,
  option,
  optionsOrder,
  seqNum,
  type TcpOptionInput,
  tcp as tcpCheck,
  tcpSegment,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  IPPROTO_TCP_LEVEL,
  SO,
  SOL_SOCKET,
  TCP_CLOSE,
  TCP_CONGESTION_OPS,
  TCP_ESTABLISHED,
  TCP_OPT,
  type TcpCongestionOps,
  type TcpSocketHandle,
  tcp,
  tcpCongAvoidAi,
  tcpSlowStart,
} from "../src/index.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";

const PEER_ISN = 5000;
let h: Harness;
afterEach(async () => {
  // A throwing handler is swallowed by the core and counted: none may have.
  if (h) expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
});

interface Conn {
  s: TcpSocketHandle;
  iss: number;
  sport: number;
}

/** The stack connects to the peer's port 80; the test answers the SYN. */
function activeOpen(opts: { sack?: boolean; win?: number } = {}): Conn {
  const s = api(h).socket();
  expect(s.connect("192.0.2.2", 80)).toBe(-ERRNO.EINPROGRESS);
  const synv = tcpOf(h.nextPacket());
  const options: TcpOptionInput[] = [{ kind: "mss", value: 1460 }];
  if (opts.sack !== false) options.push("sackOK");
  else options.push("nop", "nop");
  options.push({ kind: "ts", val: 700, ecr: tsvalOf(synv) }, "nop", { kind: "wscale", value: 7 });
  h.inject(
    tcpSegment({
      sport: 80,
      dport: synv.srcPort,
      seq: PEER_ISN,
      ack: synv.seq + 1,
      flags: "SA",
      win: opts.win ?? 65535,
      options,
    }),
  );
  expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(PEER_ISN + 1)));
  expect(s.state).toBe(TCP_ESTABLISHED);
  return { s, iss: synv.seq, sport: synv.srcPort };
}

/** Checks a segment's sequence number and payload length. */
function expectSeg(pkt: Uint8Array, seq: number, len: number): void {
  const v = tcpOf(pkt);
  expect({ seq: v.seq, len: v.payload.length }).toEqual({ seq: seq >>> 0, len });
}

function tsvalOf(v: ReturnType<typeof tcpOf>): number {
  const ts = v.options?.find((o) => o.kind === "ts");
  return ts && ts.kind === "ts" ? ts.val : 0;
}

/** An ACK from the peer. */
function peerAck(c: Conn, ack: number, extra: { sack?: [number, number][]; win?: number } = {}) {
  const options: TcpOptionInput[] = ["nop", "nop", { kind: "ts", val: 800, ecr: 0 }];
  if (extra.sack) options.push("nop", "nop", { kind: "sack", blocks: extra.sack });
  return tcpSegment({
    sport: 80,
    dport: c.sport,
    seq: PEER_ISN + 1,
    ack,
    flags: "A",
    win: extra.win ?? 512,
    options,
  });
}

describe("active open", () => {
  it("sends a SYN with <mss 1460,sackOK,TS,nop,wscale 7>", async () => {
    h = await tcpHarness();
    api(h).socket().connect("192.0.2.2", 80);
    expectIpv4(
      h.nextPacket(),
      tcpCheck(
        flags("S"),
        optionsOrder(["mss", "sackOK", "ts", "nop", "wscale"]),
        option.mss(1460),
        option.wscale(7),
      ),
    );
    expect(h.counters().TcpActiveOpens).toBe(1);
  });

  it("retransmits an unanswered SYN after 1 s, then 2 s, then 4 s", async () => {
    h = await tcpHarness();
    api(h).socket().connect("192.0.2.2", 80);
    h.nextPacket();
    const times = [0, 1, 2].map(() => {
      h.nextPacket(10_000);
      return h.clock.now();
    });
    expect(times).toEqual([1000, 3000, 7000]);
  });

  it("gives up after tcp_syn_retries and reports ETIMEDOUT", async () => {
    h = await tcpHarness({ "net.ipv4.tcp_syn_retries": 2 });
    const s = api(h).socket();
    s.connect("192.0.2.2", 80);
    h.nextPacket();
    h.nextPacket(2000);
    h.nextPacket(3000);
    h.expectNoPacket(5000);
    expect(s.state).toBe(TCP_CLOSE);
    expect(s.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.ETIMEDOUT);
  });

  it("is refused by a RST|ACK to its SYN with ECONNREFUSED", async () => {
    h = await tcpHarness();
    const s = api(h).socket();
    s.connect("192.0.2.2", 80);
    const synv = tcpOf(h.nextPacket());
    h.inject(
      tcpSegment({ sport: 80, dport: synv.srcPort, seq: 0, ack: synv.seq + 1, flags: "RA" }),
    );
    expect(s.state).toBe(TCP_CLOSE);
    expect(s.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.ECONNREFUSED);
  });
});

describe("retransmission", () => {
  it("retransmits unacknowledged data after an RTO of at least 200 ms, then backs off to twice that", async () => {
    // Without tail loss probes (tcp_early_retrans=0) only the RTO acts.
    h = await tcpHarness({ "net.ipv4.tcp_early_retrans": 0 });
    const c = activeOpen();
    const seen: unknown[] = [];
    const sub = (m: unknown) => seen.push(m);
    tp.tcpRetransmitSkb.subscribe(sub);
    try {
      c.s.write(new Uint8Array(100));
      expectSeg(h.nextPacket(0), c.iss + 1, 100);
      const t0 = h.clock.now();
      expectSeg(h.nextPacket(1000), c.iss + 1, 100);
      const rto = h.clock.now() - t0;
      expect(rto).toBeGreaterThanOrEqual(200);
      expect(rto).toBeLessThan(300);
      const t1 = h.clock.now();
      h.nextPacket(1000);
      expect(h.clock.now() - t1).toBe(2 * rto);
      expect(h.counters().TcpRetransSegs).toBe(2);
      expect(h.counters().TcpExtTCPTimeouts).toBe(2);
      expect(seen.length).toBe(2);
    } finally {
      tp.tcpRetransmitSkb.unsubscribe(sub);
    }
  });

  it("sends a tail loss probe after 2·SRTT + 200 ms for a lone segment, before the RTO (RFC 8985 7)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.write(new Uint8Array(100));
    h.nextPacket(0);
    const t0 = h.clock.now();
    expectSeg(h.nextPacket(1000), c.iss + 1, 100);
    // SRTT is a microsecond here: 2·SRTT rounds up to 1 ms, as jiffies do.
    expect(h.clock.now() - t0).toBe(201);
    expect(h.counters().TcpExtTCPLossProbes).toBe(1);
    expect(h.counters().TcpExtTCPTimeouts).toBe(0);
    // Unanswered, the RTO follows and backs off.
    const t1 = h.clock.now();
    h.nextPacket(1000);
    const rto = h.clock.now() - t1;
    expect(rto).toBeGreaterThanOrEqual(200);
    expect(h.counters().TcpExtTCPTimeouts).toBe(1);
    const t2 = h.clock.now();
    h.nextPacket(2000);
    expect(h.clock.now() - t2).toBe(2 * rto);
  });

  it("fast-retransmits after three duplicate ACKs carrying SACK blocks", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    c.s.write(new Uint8Array(1448 * 10));
    for (let i = 0; i < 10; i++) h.nextPacket(0);
    const s1 = c.iss + 1;
    for (let k = 1; k <= 3; k++)
      h.inject(peerAck(c, s1, { sack: [[s1 + 1448, s1 + 1448 * (k + 1)]] }));
    expectSeg(h.nextPacket(0), s1, 1448);
    expect(h.counters().TcpExtTCPSackRecovery).toBe(1);
    expect(h.counters().TcpExtTCPFastRetrans).toBe(1);
    expect(h.counters().TcpExtTCPTimeouts).toBe(0);
  });

  it("leaves SACK recovery with cwnd at ssthresh once the recovery point is acknowledged (PRR, RFC 6937)", async () => {
    h = await tcpHarness({ "net.ipv4.tcp_congestion_control": "reno" });
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    c.s.write(new Uint8Array(1448 * 10));
    for (let i = 0; i < 10; i++) h.nextPacket(0);
    const s1 = c.iss + 1;
    for (let k = 1; k <= 3; k++)
      h.inject(peerAck(c, s1, { sack: [[s1 + 1448, s1 + 1448 * (k + 1)]] }));
    h.nextPacket(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(3);
    const ssthresh = c.s.tcpInfo().tcpi_snd_ssthresh;
    expect(ssthresh).toBe(5);
    h.inject(peerAck(c, s1 + 1448 * 10));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(0);
    expect(c.s.tcpInfo().tcpi_snd_cwnd).toBe(ssthresh);
  });

  it("sets ssthresh to 0.7 cwnd under CUBIC, the default (RFC 9438 4.6)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    c.s.write(new Uint8Array(1448 * 10));
    for (let i = 0; i < 10; i++) h.nextPacket(0);
    const s1 = c.iss + 1;
    for (let k = 1; k <= 3; k++)
      h.inject(peerAck(c, s1, { sack: [[s1 + 1448, s1 + 1448 * (k + 1)]] }));
    h.nextPacket(0);
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(3);
    const ssthresh = c.s.tcpInfo().tcpi_snd_ssthresh;
    expect(ssthresh).toBe(7); // max(10 * 717 / 1024, 2)
    h.inject(peerAck(c, s1 + 1448 * 10));
    expect(c.s.tcpInfo().tcpi_ca_state).toBe(0);
    expect(c.s.tcpInfo().tcpi_snd_cwnd).toBe(ssthresh);
  });

  it("fast-retransmits after three plain duplicate ACKs when SACK is off (RFC 5681 3.2)", async () => {
    h = await tcpHarness();
    const c = activeOpen({ sack: false });
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    c.s.write(new Uint8Array(1448 * 10));
    for (let i = 0; i < 10; i++) h.nextPacket(0);
    const s1 = c.iss + 1;
    // The first ACK changes the window: a window update, not a duplicate.
    h.inject(peerAck(c, s1));
    h.inject(peerAck(c, s1));
    h.inject(peerAck(c, s1));
    expect(h.pending).toBe(0);
    h.inject(peerAck(c, s1));
    expectSeg(h.nextPacket(0), s1, 1448);
    expect(h.counters().TcpExtTCPRenoRecovery).toBe(1);
  });

  it("aborts with ETIMEDOUT once TCP_USER_TIMEOUT has passed without an ACK", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    expect(c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.USER_TIMEOUT, 1000)).toBe(0);
    c.s.write(new Uint8Array(10));
    for (let i = 0; i < 30 && c.s.state !== TCP_CLOSE; i++) h.advance(100);
    expect(c.s.state).toBe(TCP_CLOSE);
    expect(h.clock.now()).toBeLessThanOrEqual(3000);
    expect(c.s.read(10)).toBe(-ERRNO.ETIMEDOUT);
    expect(h.counters().TcpExtTCPAbortOnTimeout).toBe(1);
  });
});

describe("receiving", () => {
  it("drops a segment with an old timestamp (PAWS, RFC 7323) and answers with an ACK", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    h.inject(
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: PEER_ISN + 1,
        ack: c.iss + 1,
        flags: "PA",
        payload: "x",
        options: ["nop", "nop", { kind: "ts", val: 10, ecr: 0 }],
      }),
    );
    expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(PEER_ISN + 1)));
    expect(h.drops().TCP_RFC7323_PAWS).toBe(1);
    expect(h.counters().TcpExtPAWSEstab).toBe(1);
  });

  it("reports a duplicate segment with a D-SACK block (RFC 2883)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const seg = () =>
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: PEER_ISN + 1,
        ack: c.iss + 1,
        flags: "PA",
        payload: "abcd",
        options: ["nop", "nop", { kind: "ts", val: 900, ecr: 0 }],
      });
    h.inject(seg());
    h.nextPacket(500);
    h.inject(seg());
    expectIpv4(
      h.nextPacket(0),
      tcpCheck(ackNum(PEER_ISN + 5), option.sack([[PEER_ISN + 1, PEER_ISN + 5]])),
    );
    expect(h.drops().TCP_OLD_DATA).toBe(1);
  });

  it("acknowledges every second full-sized segment at once", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    const data = (n: number) =>
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: PEER_ISN + 1 + n * 1448,
        ack: c.iss + 1,
        flags: "A",
        payload: new Uint8Array(1448),
        options: ["nop", "nop", { kind: "ts", val: 900, ecr: 0 }],
      });
    // Leave quickack mode first.
    for (let i = 0; i < 20; i++) {
      h.inject(data(i));
      c.s.read(1 << 20);
    }
    h.advance(500);
    while (h.pending) h.nextPacket(0);
    h.inject(data(20));
    expect(h.pending).toBe(0);
    h.inject(data(21));
    expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(PEER_ISN + 1 + 22 * 1448)));
  });
});

describe("sending", () => {
  it("holds a small segment back while data is unacknowledged (Nagle, RFC 896)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.write(new Uint8Array(10));
    h.nextPacket(0);
    c.s.write(new Uint8Array(10));
    expect(h.pending).toBe(0);
    h.inject(peerAck(c, c.iss + 11));
    expectSeg(h.nextPacket(0), c.iss + 11, 10);
  });

  it("holds small writes while TCP_CORK is set and sends them as one segment when it is cleared", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CORK, 1);
    c.s.write(new Uint8Array(10));
    c.s.write(new Uint8Array(20));
    expect(h.pending).toBe(0);
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CORK, 0);
    expectSeg(h.nextPacket(0), c.iss + 1, 30);
  });

  it("coalesces 1 000 corked 7-byte writes into full-sized segments (the tail segment grows to the MSS)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CORK, 1);
    const data = new Uint8Array(7);
    for (let i = 0; i < 1000; i++) {
      data.fill(i & 0xff);
      expect(c.s.write(data)).toBe(7);
    }
    // Full-sized segments leave while corked (as in Linux); the 1 208-byte rest waits.
    expect(h.pending).toBe(4);
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CORK, 0);
    // 7 000 bytes at MSS 1448: four full segments and a 1 208-byte tail, bytes in order.
    const mss = c.s.tcpInfo().tcpi_snd_mss;
    expect(mss).toBe(1448);
    const got: number[] = [];
    for (let k = 0; k < 5; k++) {
      const v = tcpOf(h.nextPacket(0));
      expect(v.payload.length).toBe(k < 4 ? mss : 7000 - 4 * mss);
      got.push(...v.payload);
    }
    expect(got.every((b, i) => b === (Math.floor(i / 7) & 0xff))).toBe(true);
  });

  it("grows the send buffer to two initial windows of true-sized segments once connected", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    expect(c.s.getsockopt(SOL_SOCKET, SO.SNDBUF)).toBe(2 * 10 * 4096);
  });

  it("restarts from the initial window after an idle RTO (RFC 5681 4.1)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    let next = c.iss + 1;
    for (let round = 0; round < 3; round++) {
      c.s.write(new Uint8Array(1448 * 10));
      while (h.pending) {
        h.nextPacket(0);
        next += 1448;
        h.inject(peerAck(c, next));
      }
    }
    expect(c.s.tcpInfo().tcpi_snd_cwnd).toBeGreaterThan(10);
    h.advance(5000);
    c.s.write(new Uint8Array(1448 * 30));
    expect(h.pending).toBe(10);
  });

  it("sends small segments at once with TCP_NODELAY", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.NODELAY, 1);
    c.s.write(new Uint8Array(10));
    c.s.write(new Uint8Array(10));
    expect(h.pending).toBe(2);
  });

  it("sends at most 10 segments before the first ACK (initial window, RFC 6928)", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(SOL_SOCKET, SO.SNDBUF, 100_000);
    c.s.write(new Uint8Array(1448 * 20));
    expect(h.pending).toBe(10);
  });

  it("probes a zero window, backing off between probes", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    h.inject(peerAck(c, c.iss + 1, { win: 0 }));
    c.s.write(new Uint8Array(100));
    expect(h.pending).toBe(0);
    const t0 = h.clock.now();
    expectSeg(h.nextPacket(2000), c.iss, 0);
    const first = h.clock.now() - t0;
    const t1 = h.clock.now();
    h.nextPacket(5000);
    expect(h.clock.now() - t1).toBe(2 * first);
    expect(h.counters().TcpExtTCPWinProbe).toBe(2);
    h.inject(peerAck(c, c.iss + 1, { win: 512 }));
    expectSeg(h.nextPacket(0), c.iss + 1, 100);
  });

  it("sends keepalive probes after TCP_KEEPIDLE and resets after TCP_KEEPCNT unanswered", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPIDLE, 10);
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPINTVL, 2);
    c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.KEEPCNT, 3);
    c.s.setsockopt(SOL_SOCKET, SO.KEEPALIVE, 1);
    const t0 = h.clock.now();
    const at: number[] = [];
    for (let i = 0; i < 3; i++) {
      expectIpv4(h.nextPacket(20_000), tcpCheck(flags("A"), seqNum(c.iss)));
      at.push(h.clock.now() - t0);
    }
    expect(at).toEqual([10_000, 12_000, 14_000]);
    expectIpv4(h.nextPacket(20_000), tcpCheck(flags("RA")));
    expect(h.clock.now() - t0).toBe(16_000);
    expect(c.s.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.ETIMEDOUT);
  });
});

describe("congestion control", () => {
  it("uses CUBIC by default, as Linux does", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    expect(c.s.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CONGESTION)).toBe("cubic");
  });

  it("switches a socket to Reno with TCP_CONGESTION", async () => {
    h = await tcpHarness();
    const c = activeOpen();
    expect(c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CONGESTION, "reno")).toBe(0);
    expect(c.s.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CONGESTION)).toBe("reno");
  });

  it("uses an algorithm registered under TCP_CONGESTION_OPS and named by the sysctl", async () => {
    let inits = 0;
    const mine: TcpCongestionOps = {
      name: "testreno",
      init: () => {
        inits++;
      },
      ssthresh: (sk) => Math.max(sk.sndCwnd >> 1, 2),
      congAvoid(sk, _ack, acked) {
        const left = tcpSlowStart(sk, acked);
        if (left) tcpCongAvoidAi(sk, sk.sndCwnd, left);
      },
      undoCwnd: (sk) => sk.priorCwnd,
    };
    const cc = definePlugin({
      name: "test:testreno",
      register(ctx) {
        ctx.container.register(TCP_CONGESTION_OPS, { useValue: mine });
      },
    });
    h = await createHarness({
      plugins: [ipv4(), icmp(), tcp({ congestion: "testreno" }), cc],
    });
    const c = activeOpen();
    expect(c.s.getsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CONGESTION)).toBe("testreno");
    expect(inits).toBe(1);
    expect(c.s.setsockopt(IPPROTO_TCP_LEVEL, TCP_OPT.CONGESTION, "nosuch")).toBe(-ERRNO.ENOENT);
  });
});
