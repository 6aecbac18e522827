import { ERRNO } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import {
  POLL,
  SO,
  SOL_SOCKET,
  TCP_CLOSE,
  TCP_ESTABLISHED,
  TcpTimewaitSock,
  tcpNet,
} from "../src/index.js";
import { bytes, drain, pump, sha256, transfer } from "./pump.js";
import { apiOf, connectPair, loopStack, useStacks, vethPair } from "./stacks.js";

useStacks();

describe("over loopback", () => {
  it("connects, and the client becomes writable", async () => {
    const { stack, clock } = await loopStack();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    expect(client.poll() & POLL.OUT).toBe(POLL.OUT);
    expect(server.state).toBe(TCP_ESTABLISHED);
    expect(client.remotePort).toBe(5000);
    expect(server.remotePort).toBe(client.localPort);
  });

  it("uses the loopback MSS of 65483 (MTU 65536, timestamps on)", async () => {
    const { stack, clock } = await loopStack();
    const { client } = connectPair(clock, stack, stack, "127.0.0.1");
    expect(client.tcpInfo().tcpi_snd_mss).toBe(65483);
  });

  it("moves 1 MiB byte-exact (SHA-256 equal at both ends)", async () => {
    const { stack, clock } = await loopStack();
    const { client, server } = connectPair(clock, stack, stack, "127.0.0.1");
    const data = bytes(1 << 20);
    const got = transfer(clock, client, server, data);
    expect(sha256(got)).toBe(sha256([data]));
  });

  it("refuses a connect to a closed port: POLL.ERR and SO_ERROR ECONNREFUSED", async () => {
    const { stack, clock } = await loopStack();
    const c = apiOf(stack).socket();
    expect(c.connect("127.0.0.1", 5999)).toBe(-ERRNO.EINPROGRESS);
    pump(clock, () => c.state === TCP_CLOSE);
    expect(c.poll() & POLL.ERR).toBe(POLL.ERR);
    expect(c.getsockopt(SOL_SOCKET, SO.ERROR)).toBe(ERRNO.ECONNREFUSED);
    expect(stack.counters().TcpAttemptFails).toBe(1);
  });

  it("refuses a second bind to a port in use with EADDRINUSE", async () => {
    const { stack } = await loopStack();
    const a = apiOf(stack).socket();
    const b = apiOf(stack).socket();
    expect(a.bind("0.0.0.0", 7000)).toBe(0);
    expect(a.listen(1)).toBe(0);
    expect(b.bind("127.0.0.1", 7000)).toBe(-ERRNO.EADDRINUSE);
  });
});

describe("over veth", () => {
  it("moves 1 MiB byte-exact (SHA-256 equal at both ends)", async () => {
    const { a, b, clock } = await vethPair();
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    const data = bytes(1 << 20, 7);
    const got = transfer(clock, client, server, data);
    expect(sha256(got)).toBe(sha256([data]));
    expect(client.tcpInfo().tcpi_snd_mss).toBe(1448);
  });

  it("closes in order: FIN and ACK both ways, TIME_WAIT on the active closer", async () => {
    const { a, b, clock } = await vethPair();
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    client.close();
    const got: Uint8Array[] = [];
    pump(clock, () => drain(server, got));
    server.close();
    const tw = () =>
      [...tcpNet(a).hashinfo.ehash.values()].filter((s) => s instanceof TcpTimewaitSock);
    pump(clock, () => tw().length === 1);
    expect(tcpNet(b).hashinfo.ehash.size).toBe(0);
    expect(a.counters().TcpCurrEstab).toBe(0);
    expect(b.counters().TcpCurrEstab).toBe(0);
  });

  it("keeps no timers once both ends closed and TIME_WAIT is over", async () => {
    const { a, b, clock } = await vethPair();
    const baseA = a.timerCount;
    const baseB = b.timerCount;
    const { client, server, listener } = connectPair(clock, a, b, "192.0.2.2");
    transfer(clock, client, server, bytes(100_000));
    server.close();
    client.close();
    listener.close();
    clock.advanceSync(61_000);
    clock.advanceSync(61_000);
    expect(a.timerCount).toBe(baseA);
    expect(b.timerCount).toBe(baseB);
    expect(tcpNet(a).socks.size + tcpNet(b).socks.size).toBe(0);
  });

  it("half-closes: data still flows from the side that has not shut down", async () => {
    const { a, b, clock } = await vethPair();
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    expect(client.shutdown(1)).toBe(0);
    const atServer: Uint8Array[] = [];
    pump(clock, () => drain(server, atServer));
    expect(atServer.length).toBe(0);
    const data = bytes(50_000, 3);
    const got = transfer(clock, server, client, data);
    expect(sha256(got)).toBe(sha256([data]));
  });

  it("resets on close with unread data (TcpExtTCPAbortOnClose), and the peer reads ECONNRESET", async () => {
    const { a, b, clock } = await vethPair();
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    expect(server.write(bytes(1000))).toBe(1000);
    pump(clock, () => client.inq === 1000);
    client.close();
    expect(a.counters().TcpExtTCPAbortOnClose).toBe(1);
    pump(clock, () => server.state === TCP_CLOSE);
    expect(server.read(10)).toBe(-ERRNO.ECONNRESET);
  });

  it("moves 200 KiB byte-exact over a link with 1% loss", async () => {
    const { a, b, clock } = await vethPair("loss 1% delay 5ms");
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    const data = bytes(200 * 1024, 11);
    const got = transfer(clock, client, server, data);
    expect(sha256(got)).toBe(sha256([data]));
  });

  it("moves 500 KiB byte-exact over a link that delays with jitter, reorders, duplicates, corrupts and loses", async () => {
    const { a, b, clock } = await vethPair("delay 10ms 4ms loss 2% duplicate 2% corrupt 1%");
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    const data = bytes(500 * 1024, 13);
    const got = transfer(clock, client, server, data);
    expect(sha256(got)).toBe(sha256([data]));
    expect(b.counters().TcpInCsumErrors + a.counters().TcpInCsumErrors).toBeGreaterThan(0);
  });

  it("recovers from losses by retransmitting over a link with 5% loss", async () => {
    const { a, b, clock } = await vethPair("loss 5% delay 2ms");
    const { client, server } = connectPair(clock, a, b, "192.0.2.2");
    const data = bytes(300 * 1024, 5);
    const got = transfer(clock, client, server, data);
    expect(sha256(got)).toBe(sha256([data]));
    expect(a.counters().TcpRetransSegs).toBeGreaterThan(0);
  });
});
