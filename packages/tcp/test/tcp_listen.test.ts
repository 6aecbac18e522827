import { ERRNO } from "@skbuff/core";
import {
  ackNum,
  dstPort,
  expectIpv4,
  flags,
  type Harness,
  option,
  optionsOrder,
  seqNum,
  tcp as tcpCheck,
  tcpSegment,
  window,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { TCP_ESTABLISHED, type TcpSocketHandle } from "../src/index.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";

const PEER_PORT = 40000;
const PEER_ISN = 1_000_000;
const SYN_OPTIONS = [
  { kind: "mss", value: 1460 },
  "sackOK",
  { kind: "ts", val: 100, ecr: 0 },
  "nop",
  { kind: "wscale", value: 7 },
] as const;

let h: Harness;
afterEach(async () => {
  // A throwing handler is swallowed by the core and counted: none may have.
  if (h) expect(h.drops().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
});

/** A listener on port 80 of a fresh harness stack. */
async function listening(
  sysctl: Record<string, number> = {},
  backlog = 128,
): Promise<TcpSocketHandle> {
  h = await tcpHarness(sysctl);
  const l = api(h).socket();
  expect(l.bind("0.0.0.0", 80)).toBe(0);
  expect(l.listen(backlog)).toBe(0);
  return l;
}

function syn(sport = PEER_PORT, seq = PEER_ISN) {
  return tcpSegment({ sport, dport: 80, seq, flags: "S", options: [...SYN_OPTIONS] });
}

/** Completes a handshake from `sport`; returns the stack's ISN. */
function handshake(sport = PEER_PORT): number {
  h.inject(syn(sport));
  const synack = tcpOf(h.nextPacket());
  h.inject(
    tcpSegment({
      sport,
      dport: 80,
      seq: PEER_ISN + 1,
      ack: synack.seq + 1,
      flags: "A",
      win: 502,
      options: ["nop", "nop", { kind: "ts", val: 101, ecr: 0 }],
    }),
  );
  return synack.seq;
}

describe("LISTEN", () => {
  it("answers a SYN with a SYN-ACK in Linux's option layout <mss 1460,sackOK,TS,nop,wscale 7>", async () => {
    await listening();
    h.inject(syn());
    expectIpv4(
      h.nextPacket(),
      tcpCheck(
        flags("SA"),
        dstPort(PEER_PORT),
        ackNum(PEER_ISN + 1),
        window(65535),
        optionsOrder(["mss", "sackOK", "ts", "nop", "wscale"]),
        option.mss(1460),
        option.timestamps({ ecr: 100 }),
        option.wscale(7),
      ),
    );
  });

  it("completes the handshake on the ACK, and accept() returns the child", async () => {
    const l = await listening();
    expect(l.accept()).toBe(-ERRNO.EAGAIN);
    handshake();
    const child = l.accept();
    expect(typeof child).toBe("object");
    const c = child as TcpSocketHandle;
    expect(c.state).toBe(TCP_ESTABLISHED);
    expect(c.remotePort).toBe(PEER_PORT);
    expect(c.remoteAddress).toBe("192.0.2.2");
    expect(h.counters().TcpPassiveOpens).toBe(1);
    expect(h.counters().TcpCurrEstab).toBe(1);
  });

  it("answers an ACK to a listener with a RST whose sequence number is the ACK's", async () => {
    await listening();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: 5, ack: 777, flags: "A" }));
    expectIpv4(h.nextPacket(), tcpCheck(flags("R"), seqNum(777)));
    expect(h.drops().TCP_FLAGS).toBe(1);
  });

  it("drops SYN+FIN to a listener with TCP_FLAGS and answers nothing", async () => {
    await listening();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: 5, flags: "SF" }));
    h.expectNoPacket(100);
    expect(h.drops().TCP_FLAGS).toBe(1);
  });

  it("ignores a RST to a listener (TCP_RESET)", async () => {
    await listening();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: 5, flags: "R" }));
    h.expectNoPacket(100);
    expect(h.drops().TCP_RESET).toBe(1);
  });

  it("retransmits an unanswered SYN-ACK after 1 s, then 2 s", async () => {
    await listening();
    h.inject(syn());
    const first = h.nextPacket();
    const t0 = h.clock.now();
    const again = h.nextPacket(1500);
    expect(h.clock.now() - t0).toBe(1000);
    expect(tcpOf(again).seq).toBe(tcpOf(first).seq);
    h.nextPacket(2500);
    expect(h.clock.now() - t0).toBe(3000);
  });

  it("resets connections not yet accepted when the listener closes", async () => {
    const l = await listening();
    const base = h.stack.timerCount;
    const iss = handshake();
    l.close();
    expectIpv4(h.nextPacket(0), tcpCheck(flags("RA"), seqNum(iss + 1)));
    expect(h.stack.timerCount).toBe(base);
  });

  it("drops a SYN when the accept queue is full, counting ListenOverflows and ListenDrops", async () => {
    const l = await listening({}, 1);
    handshake(40001);
    handshake(40002);
    h.inject(syn(40003));
    h.expectNoPacket(100);
    expect(h.counters().TcpExtListenOverflows).toBe(1);
    expect(h.counters().TcpExtListenDrops).toBe(1);
    expect(typeof l.accept()).toBe("object");
  });
});

describe("segments for no socket", () => {
  it("answers a SYN to a closed port with RST|ACK, seq 0 and ack SEG.SEQ+SEG.LEN (RFC 9293 3.10.7.1)", async () => {
    h = await tcpHarness();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 81, seq: 1000, flags: "S" }));
    expectIpv4(h.nextPacket(), tcpCheck(flags("RA"), seqNum(0), ackNum(1001), window(0)));
    expect(h.drops().NO_SOCKET).toBe(1);
    expect(h.counters().TcpOutRsts).toBe(1);
  });

  it("answers data with an ACK to a closed port with a RST at SEG.ACK", async () => {
    h = await tcpHarness();
    h.inject(
      tcpSegment({ sport: PEER_PORT, dport: 81, seq: 1000, ack: 4242, flags: "PA", payload: "hi" }),
    );
    expectIpv4(h.nextPacket(), tcpCheck(flags("R"), seqNum(4242)));
  });

  it("never answers a RST with a RST", async () => {
    h = await tcpHarness();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 81, seq: 1000, flags: "R" }));
    h.expectNoPacket(100);
    expect(h.drops().NO_SOCKET).toBe(1);
  });

  it("drops a segment with a bad checksum as TCP_CSUM, counting TcpInCsumErrors and TcpInErrs", async () => {
    h = await tcpHarness();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 81, seq: 1000, flags: "S", checksum: 0x1234 }));
    h.expectNoPacket(100);
    expect(h.drops().TCP_CSUM).toBe(1);
    expect(h.counters().TcpInCsumErrors).toBe(1);
    expect(h.counters().TcpInErrs).toBe(1);
  });

  it("drops a segment shorter than a TCP header as PKT_TOO_SMALL", async () => {
    h = await tcpHarness();
    h.inject({ protocol: 6, payload: new Uint8Array(10) });
    h.expectNoPacket(100);
    expect(h.drops().PKT_TOO_SMALL).toBe(1);
    expect(h.counters().TcpInErrs).toBe(1);
  });
});

describe("an established connection", () => {
  async function established(): Promise<{ c: TcpSocketHandle; iss: number }> {
    const l = await listening();
    const iss = handshake();
    return { c: l.accept() as TcpSocketHandle, iss };
  }

  it("answers an in-window RST that is not at RCV.NXT with a challenge ACK (RFC 5961 3.2)", async () => {
    const { c, iss } = await established();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN + 100, flags: "R" }));
    expectIpv4(h.nextPacket(), tcpCheck(flags("A"), seqNum(iss + 1), ackNum(PEER_ISN + 1)));
    expect(h.counters().TcpExtTCPChallengeACK).toBe(1);
    expect(c.state).toBe(TCP_ESTABLISHED);
  });

  it("is reset by a RST exactly at RCV.NXT, and read() then fails with ECONNRESET", async () => {
    const { c } = await established();
    h.inject(tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN + 1, flags: "R" }));
    expect(c.read(100)).toBe(-ERRNO.ECONNRESET);
    expect(h.counters().TcpEstabResets).toBe(1);
  });

  it("answers a SYN in ESTABLISHED with a challenge ACK (RFC 5961 4.2)", async () => {
    const { c } = await established();
    h.inject(syn(PEER_PORT, PEER_ISN + 5000));
    expectIpv4(h.nextPacket(), tcpCheck(flags("A"), ackNum(PEER_ISN + 1)));
    expect(c.state).toBe(TCP_ESTABLISHED);
    expect(h.counters().TcpExtTCPChallengeACK).toBe(1);
  });

  it("delivers in-order data and acknowledges it within the 40 ms delayed-ACK time", async () => {
    const { c, iss } = await established();
    h.inject(
      tcpSegment({
        sport: PEER_PORT,
        dport: 80,
        seq: PEER_ISN + 1,
        ack: iss + 1,
        flags: "PA",
        payload: "hello",
      }),
    );
    expect(new TextDecoder().decode(c.read(100) as Uint8Array)).toBe("hello");
    expectIpv4(h.nextPacket(200), tcpCheck(flags("A"), ackNum(PEER_ISN + 6)));
  });

  it("acknowledges out-of-order data at once with a SACK block (RFC 2018)", async () => {
    const { iss } = await established();
    h.inject(
      tcpSegment({
        sport: PEER_PORT,
        dport: 80,
        seq: PEER_ISN + 11,
        ack: iss + 1,
        flags: "PA",
        payload: "world",
      }),
    );
    expectIpv4(
      h.nextPacket(0),
      tcpCheck(flags("A"), ackNum(PEER_ISN + 1), option.sack([[PEER_ISN + 11, PEER_ISN + 16]])),
    );
  });

  it("stays in TIME_WAIT for 60 s after an active close, then forgets the connection", async () => {
    const { c, iss } = await established();
    const base = h.stack.timerCount;
    c.close();
    expectIpv4(h.nextPacket(), tcpCheck(flags("FA"), seqNum(iss + 1)));
    h.inject(
      tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN + 1, ack: iss + 2, flags: "FA" }),
    );
    expectIpv4(h.nextPacket(), tcpCheck(flags("A"), ackNum(PEER_ISN + 2)));
    const t0 = h.clock.now();
    h.advance(59_000);
    // A retransmitted FIN in TIME_WAIT is acknowledged again.
    h.inject(
      tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN + 1, ack: iss + 2, flags: "FA" }),
    );
    expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(PEER_ISN + 2)));
    h.advance(59_999);
    h.advance(1);
    expect(h.clock.now() - t0).toBe(119_000);
    expect(h.counters().TcpExtTW).toBe(1);
    expect(h.stack.timerCount).toBeLessThanOrEqual(base);
    h.inject(
      tcpSegment({ sport: PEER_PORT, dport: 80, seq: PEER_ISN + 2, ack: iss + 2, flags: "A" }),
    );
    expectIpv4(h.nextPacket(0), tcpCheck(flags("R")));
  });
});

describe("SYN cookies", () => {
  it("with tcp_syncookies=2 answers with a cookie and makes the connection from the returning ACK", async () => {
    const l = await listening({ "net.ipv4.tcp_syncookies": 2 });
    h.inject(syn());
    const synack = tcpOf(h.nextPacket());
    expect(h.counters().TcpExtSyncookiesSent).toBe(1);
    // No request sock is kept: nothing is retransmitted.
    h.expectNoPacket(5000);
    const ts = synack.options?.find((o) => o.kind === "ts");
    h.inject(
      tcpSegment({
        sport: PEER_PORT,
        dport: 80,
        seq: PEER_ISN + 1,
        ack: synack.seq + 1,
        flags: "A",
        options: ["nop", "nop", { kind: "ts", val: 101, ecr: ts && ts.kind === "ts" ? ts.val : 0 }],
      }),
    );
    expect(h.counters().TcpExtSyncookiesRecv).toBe(1);
    const c = l.accept() as TcpSocketHandle;
    expect(c.state).toBe(TCP_ESTABLISHED);
    expect(c.tcpInfo().tcpi_snd_wscale).toBe(7);
  });

  it("with tcp_syncookies=1 sends cookies only once the SYN queue is full", async () => {
    await listening({ "net.ipv4.tcp_syncookies": 1 }, 1);
    h.inject(syn(40001));
    h.nextPacket();
    expect(h.counters().TcpExtSyncookiesSent).toBe(0);
    h.inject(syn(40002));
    h.nextPacket();
    expect(h.counters().TcpExtSyncookiesSent).toBe(1);
    expect(h.counters().TcpExtTCPReqQFullDoCookies).toBe(1);
  });

  it("with tcp_syncookies=0 drops a SYN the full SYN queue has no room for", async () => {
    await listening({ "net.ipv4.tcp_syncookies": 0 }, 1);
    h.inject(syn(40001));
    h.nextPacket();
    h.inject(syn(40002));
    expect(h.pending).toBe(0);
    expect(h.counters().TcpExtTCPReqQFullDrop).toBe(1);
  });

  it("resets an ACK carrying a wrong cookie and counts SyncookiesFailed", async () => {
    await listening({ "net.ipv4.tcp_syncookies": 2 });
    h.inject(syn());
    const synack = tcpOf(h.nextPacket());
    h.inject(
      tcpSegment({
        sport: PEER_PORT,
        dport: 80,
        seq: PEER_ISN + 1,
        ack: synack.seq + 2,
        flags: "A",
      }),
    );
    expectIpv4(h.nextPacket(0), tcpCheck(flags("R"), seqNum(synack.seq + 2)));
    expect(h.counters().TcpExtSyncookiesFailed).toBe(1);
  });
});
