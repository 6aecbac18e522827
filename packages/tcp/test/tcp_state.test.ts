import { ERRNO, type Stack, VirtualClock } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  ackNum,
  expectIpv4,
  flags,
  type Harness,
  icmpError,
  seqNum,
  tcp as tcpCheck,
  tcpSegment,
  twoStacks,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import {
  SO,
  SOL_SOCKET,
  TCP_CLOSE,
  TCP_ESTABLISHED,
  TCP_SOCKET_API,
  TCP_SYN_RECV,
  type TcpSocketApi,
  type TcpSocketHandle,
  TcpTimewaitSock,
  tcp,
  tcpNet,
} from "../src/index.js";
import { api, tcpHarness, tcpOf } from "./helpers.js";
import { bytes, drain, pump, sha256 } from "./pump.js";

let h: Harness | undefined;
const closers: (() => Promise<void>)[] = [];
/** Stacks of the current test: none may have had a handler throw. */
const stacksSeen: Stack[] = [];
afterEach(async () => {
  for (const st of stacksSeen.splice(0)) expect(st.dropReasons().HANDLER_EXCEPTION ?? 0).toBe(0);
  await h?.close();
  h = undefined;
  for (const c of closers.splice(0)) await c();
});

/** The stack connects to 192.0.2.2:80 and the test answers; returns the socket and its ISN. */
function openTo(hh: Harness, mss = 1460): { s: TcpSocketHandle; iss: number; sport: number } {
  const s = api(hh).socket();
  s.connect("192.0.2.2", 80);
  const syn = tcpOf(hh.nextPacket());
  hh.inject(
    tcpSegment({
      sport: 80,
      dport: syn.srcPort,
      seq: 9000,
      ack: syn.seq + 1,
      flags: "SA",
      options: [
        { kind: "mss", value: mss },
        "sackOK",
        "nop",
        "nop",
        "nop",
        { kind: "wscale", value: 7 },
      ],
    }),
  );
  hh.nextPacket(0);
  return { s, iss: syn.seq, sport: syn.srcPort };
}

describe("ICMP errors", () => {
  it("abort a connection attempt on port unreachable with ECONNREFUSED", async () => {
    h = await tcpHarness();
    const s = api(h).socket();
    s.connect("192.0.2.2", 80);
    const syn = h.nextPacket();
    h.inject({ inner: icmpError({ type: 3, code: 3, quote: syn.subarray(0, 48) }) });
    expect(s.state).toBe(TCP_CLOSE);
    expect(s.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.ECONNREFUSED);
  });

  it("are soft errors on an established connection (RFC 1122 4.2.3.9), kept for SO_ERROR", async () => {
    h = await tcpHarness();
    const c = openTo(h);
    c.s.write(new Uint8Array(100));
    const data = h.nextPacket(0);
    h.inject({ inner: icmpError({ type: 3, code: 1, quote: data.subarray(0, 48) }) });
    expect(c.s.state).toBe(TCP_ESTABLISHED);
    expect(c.s.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.EHOSTUNREACH);
  });

  it("lower the MSS on fragmentation needed and resend smaller segments (RFC 1191)", async () => {
    h = await tcpHarness();
    const c = openTo(h, 1460);
    c.s.write(new Uint8Array(1000));
    const data = h.nextPacket(0);
    expect(tcpOf(data).payload.length).toBe(1000);
    h.inject({ inner: icmpError({ type: 3, code: 4, mtu: 576, quote: data.subarray(0, 48) }) });
    const again = tcpOf(h.nextPacket(0));
    expect(again.seq).toBe(c.iss + 1);
    expect(again.payload.length).toBe(536);
    expect(c.s.tcpInfo().tcpi_pmtu).toBe(576);
  });
});

describe("state machine", () => {
  it("goes SYN_SENT → SYN_RECV → ESTABLISHED in a simultaneous open", async () => {
    h = await tcpHarness();
    const s = api(h).socket();
    s.connect("192.0.2.2", 80);
    const syn = tcpOf(h.nextPacket());
    h.inject(
      tcpSegment({
        sport: 80,
        dport: syn.srcPort,
        seq: 7000,
        flags: "S",
        options: [{ kind: "mss", value: 1460 }],
      }),
    );
    expect(s.state).toBe(TCP_SYN_RECV);
    expectIpv4(h.nextPacket(0), tcpCheck(flags("SA"), seqNum(syn.seq), ackNum(7001)));
    h.inject(
      tcpSegment({ sport: 80, dport: syn.srcPort, seq: 7001, ack: syn.seq + 1, flags: "A" }),
    );
    expect(s.state).toBe(TCP_ESTABLISHED);
  });

  it("ends both sides of a simultaneous close in TIME_WAIT (CLOSING)", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const t = await twoStacks({ plugins: [ipv4(), icmp(), tcp()], clock });
    closers.push(() => t.close());
    stacksSeen.push(t.a, t.b);
    const A: TcpSocketApi = t.a.container.resolve(TCP_SOCKET_API);
    const B: TcpSocketApi = t.b.container.resolve(TCP_SOCKET_API);
    const l = B.socket();
    l.bind("0.0.0.0", 5000);
    l.listen(4);
    const c = A.socket();
    c.connect("192.0.2.2", 5000);
    let s: TcpSocketHandle | number = -1;
    pump(
      clock,
      () => typeof s === "object",
      () => {
        if (typeof s === "number") s = l.accept();
      },
    );
    c.close();
    (s as unknown as TcpSocketHandle).close();
    const tw = (st: Stack) =>
      [...tcpNet(st).hashinfo.ehash.values()].filter((x) => x instanceof TcpTimewaitSock);
    pump(clock, () => tw(t.a).length === 1 && tw(t.b).length === 1);
  });

  it("kills TIME_WAIT on a RST, unless tcp_rfc1337 is set", async () => {
    for (const rfc1337 of [0, 1]) {
      h = await tcpHarness({ "net.ipv4.tcp_rfc1337": rfc1337 });
      const c = openTo(h);
      c.s.close();
      h.nextPacket(0);
      h.inject(tcpSegment({ sport: 80, dport: c.sport, seq: 9001, ack: c.iss + 2, flags: "FA" }));
      h.nextPacket(0);
      const tws = () =>
        [...tcpNet(h!.stack).hashinfo.ehash.values()].filter((x) => x instanceof TcpTimewaitSock);
      expect(tws().length).toBe(1);
      h.inject(tcpSegment({ sport: 80, dport: c.sport, seq: 9002, flags: "R" }));
      expect(tws().length).toBe(rfc1337);
      await h.close();
      h = undefined;
    }
  });

  it("lets SO_REUSEADDR sockets share a port unless one listens", async () => {
    h = await tcpHarness();
    const a = api(h).socket();
    const b = api(h).socket();
    const c = api(h).socket();
    for (const s of [a, b, c]) s.setsockopt(SOL_SOCKET, SO.REUSEADDR, 1);
    expect(a.bind("0.0.0.0", 6000)).toBe(0);
    expect(b.bind("0.0.0.0", 6000)).toBe(0);
    expect(a.listen(1)).toBe(0);
    expect(c.bind("0.0.0.0", 6000)).toBe(-ERRNO.EADDRINUSE);
  });

  it("picks ephemeral ports from net.ipv4.ip_local_port_range", async () => {
    h = await tcpHarness({ "net.ipv4.ip_local_port_range": "40000 40001" });
    const ports = [0, 1].map(() => {
      const s = api(h!).socket();
      expect(s.bind("0.0.0.0", 0)).toBe(0);
      return s.localPort;
    });
    expect(ports.sort()).toEqual([40000, 40001]);
    expect(api(h).socket().bind("0.0.0.0", 0)).toBe(-ERRNO.EADDRINUSE);
  });
});

describe("flow control", () => {
  it("stalls on a zero window, probes it, and finishes once the reader drains", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const t = await twoStacks({ plugins: [ipv4(), icmp(), tcp()], clock });
    closers.push(() => t.close());
    stacksSeen.push(t.a, t.b);
    const A: TcpSocketApi = t.a.container.resolve(TCP_SOCKET_API);
    const B: TcpSocketApi = t.b.container.resolve(TCP_SOCKET_API);
    const l = B.socket();
    l.bind("0.0.0.0", 5000);
    l.listen(4);
    const c = A.socket();
    c.setsockopt(SOL_SOCKET, SO.SNDBUF, 200_000);
    c.connect("192.0.2.2", 5000);
    let s: TcpSocketHandle | number = -1;
    pump(
      clock,
      () => typeof s === "object",
      () => {
        if (typeof s === "number") s = l.accept();
      },
    );
    const server = s as unknown as TcpSocketHandle;
    const data = bytes(300_000, 9);
    let off = 0;
    const write = () => {
      const before = off;
      while (off < data.length) {
        const n = c.write(data.subarray(off));
        if (n <= 0) break;
        off += n;
      }
      return off !== before;
    };
    // Nobody reads: the receiver's window closes and the sender probes it.
    pump(clock, () => t.a.counters().TcpExtTCPWinProbe >= 2, write, 120_000);
    expect(server.inq).toBeGreaterThan(0);
    const got: Uint8Array[] = [];
    pump(
      clock,
      () => got.reduce((n, p) => n + p.length, 0) === data.length,
      () => {
        const w = write();
        const before = got.length;
        drain(server, got);
        return w || got.length !== before;
      },
    );
    expect(sha256(got)).toBe(sha256([data]));
  });
});

describe("orphans", () => {
  it("forgets an orphan in FIN_WAIT2 after tcp_fin_timeout, acknowledging a late FIN before that", async () => {
    h = await tcpHarness();
    const c = openTo(h);
    c.s.close();
    expectIpv4(h.nextPacket(0), tcpCheck(flags("FA")));
    // The peer acknowledges our FIN but keeps its side open.
    h.inject(tcpSegment({ sport: 80, dport: c.sport, seq: 9001, ack: c.iss + 2, flags: "A" }));
    const mini = () =>
      [...tcpNet(h!.stack).hashinfo.ehash.values()].filter((x) => x instanceof TcpTimewaitSock);
    expect(mini().length).toBe(1);
    h.advance(59_000);
    h.inject(tcpSegment({ sport: 80, dport: c.sport, seq: 9001, ack: c.iss + 2, flags: "FA" }));
    expectIpv4(h.nextPacket(0), tcpCheck(flags("A"), ackNum(9002)));
    h.advance(60_000);
    expect(mini().length).toBe(0);
  });

  it("resets the peer when data arrives for a socket the application closed (RFC 1122 4.2.2.13)", async () => {
    h = await tcpHarness();
    const c = openTo(h);
    c.s.close();
    h.nextPacket(0);
    h.inject(
      tcpSegment({
        sport: 80,
        dport: c.sport,
        seq: 9001,
        ack: c.iss + 2,
        flags: "PA",
        payload: "late",
      }),
    );
    expectIpv4(h.nextPacket(0), tcpCheck(flags("R")));
  });

  it("aborts with a RST on close when SO_LINGER is on with a zero timeout", async () => {
    h = await tcpHarness();
    const c = openTo(h);
    c.s.setsockopt(SOL_SOCKET, SO.LINGER, 0);
    c.s.close();
    expectIpv4(h.nextPacket(0), tcpCheck(flags("RA"), seqNum(c.iss + 1)));
    expect(h.counters().TcpExtTCPAbortOnLinger).toBe(1);
  });
});
