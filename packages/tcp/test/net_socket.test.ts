import { once } from "node:events";
import { ErrnoError, VirtualClock } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { createNetApi, type NetApi, type Server, type Socket } from "../src/net/index.js";
import { IPPROTO_TCP_LEVEL, SO, SOL_SOCKET, TCP_OPT } from "../src/socket_api.js";
import { type FakeHandle, FakeNet, type FakeNetOptions } from "./net_fake.js";

function setup(options?: FakeNetOptions) {
  const fake = new FakeNet(options);
  const clock = new VirtualClock({ autoAdvance: false });
  const net = createNetApi({ clock }, fake);
  return { fake, clock, net };
}

async function listening(server: Server, port: number, host = "127.0.0.1"): Promise<Server> {
  server.listen(port, host);
  await once(server, "listening");
  return server;
}

/** A server on 127.0.0.1:`port` and a client connected to it, with the accepted socket. */
async function connectedPair(
  net: NetApi,
  opts: { port?: number; serverHalfOpen?: boolean; clientHalfOpen?: boolean } = {},
): Promise<{ server: Server; client: Socket; accepted: Socket }> {
  const port = opts.port ?? 7000;
  const server = await listening(
    net.createServer({ allowHalfOpen: opts.serverHalfOpen ?? false }),
    port,
  );
  const acceptedP = once(server, "connection") as Promise<[Socket]>;
  const client = net.connect({ host: "127.0.0.1", port, allowHalfOpen: opts.clientHalfOpen });
  await once(client, "connect");
  const [accepted] = await acceptedP;
  return { server, client, accepted };
}

/** Collects everything a socket reads until 'end'. */
function collect(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  return once(socket, "end").then(() => Buffer.concat(chunks));
}

function handleOf(fake: FakeNet, port: number): FakeHandle {
  return fake.sockets.find((h) => h.localPort === port && h.state === 1)!;
}

describe("net.Socket over a TcpSocketHandle", () => {
  it("echoes data through a server that pipes each connection to itself", async () => {
    const { net } = setup();
    const server = await listening(
      net.createServer((s) => s.pipe(s)),
      7,
    );
    const client = net.connect({ host: "127.0.0.1", port: 7 });
    const got = collect(client);
    client.end("hello, world");
    expect((await got).toString()).toBe("hello, world");
    server.close();
  });

  it("emits connect then ready, and moves from opening to open", async () => {
    const { net } = setup();
    await listening(net.createServer(), 80);
    const events: string[] = [];
    const client = net.connect(80, "127.0.0.1", () => events.push("cb"));
    expect(client.connecting).toBe(true);
    expect(client.pending).toBe(true);
    expect(client.readyState).toBe("opening");
    client.on("connect", () => events.push("connect"));
    client.on("ready", () => events.push("ready"));
    await once(client, "ready");
    expect(events).toEqual(["cb", "connect", "ready"]);
    expect(client.connecting).toBe(false);
    expect(client.pending).toBe(false);
    expect(client.readyState).toBe("open");
  });

  it("reports both ends' addresses like getsockname and getpeername", async () => {
    const { net } = setup();
    const { server, client, accepted } = await connectedPair(net, { port: 8080 });
    expect(server.address()).toEqual({ address: "127.0.0.1", family: "IPv4", port: 8080 });
    expect(client.remoteAddress).toBe("127.0.0.1");
    expect(client.remotePort).toBe(8080);
    expect(client.remoteFamily).toBe("IPv4");
    expect(client.localAddress).toBe("127.0.0.1");
    expect(client.localPort).toBeGreaterThanOrEqual(49152);
    expect(client.address()).toEqual({
      address: "127.0.0.1",
      family: "IPv4",
      port: client.localPort,
    });
    expect(accepted.remotePort).toBe(client.localPort);
    expect(accepted.localPort).toBe(8080);
    client.destroy();
    await once(client, "close");
    expect(client.remotePort).toBe(8080);
  });

  it("counts bytesRead and bytesWritten", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net);
    const got = collect(accepted);
    client.end(Buffer.alloc(10_000, 1));
    expect((await got).length).toBe(10_000);
    expect(client.bytesWritten).toBe(10_000);
    expect(accepted.bytesRead).toBe(10_000);
  });

  it("delivers strings when an encoding is set", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net);
    accepted.setEncoding("utf8");
    const parts: string[] = [];
    accepted.on("data", (s: string) => parts.push(s));
    client.end("héllo");
    await once(accepted, "end");
    expect(parts.join("")).toBe("héllo");
  });

  it("connects to localhost as 127.0.0.1", async () => {
    const { net } = setup();
    await listening(net.createServer(), 81);
    const client = net.connect(81);
    await once(client, "connect");
    expect(client.remoteAddress).toBe("127.0.0.1");
  });
});

describe("backpressure", () => {
  it("makes write() return false while the peer's window is full, and drains once it reads", async () => {
    const { net, fake } = setup({ rcvbuf: 4096 });
    const { client, accepted } = await connectedPair(net);
    accepted.pause();
    const big = Buffer.alloc(100_000, 7);
    expect(client.write(big)).toBe(false);
    await new Promise((r) => setImmediate(r));
    // The stack took what fits in the peer's receive buffer and said -EAGAIN for the rest.
    expect(client.bytesWritten).toBeLessThan(big.length);
    expect(client.writableLength).toBeGreaterThan(0);
    let drained = false;
    client.on("drain", () => {
      drained = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    const got = collect(accepted);
    accepted.resume();
    await once(client, "drain");
    client.end();
    expect((await got).equals(big)).toBe(true);
    expect(fake.sockets.length).toBeGreaterThan(0);
  });

  it("stops reading from the stack while the reader is paused, leaving data in the kernel", async () => {
    const { net, fake } = setup({ rcvbuf: 4096 });
    const { client, accepted } = await connectedPair(net);
    accepted.pause();
    client.write(Buffer.alloc(200_000, 1));
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    const handle = handleOf(fake, 7000);
    // The Readable buffered up to its high-water mark, then left the rest in the socket.
    expect(handle.inq).toBe(4096);
    expect(accepted.readableLength).toBeLessThanOrEqual(accepted.readableHighWaterMark + 65536);
    expect(client.bytesWritten).toBeLessThan(200_000);
  });

  it("calls the write callback only once every byte was taken", async () => {
    const { net } = setup({ rcvbuf: 1024 });
    const { client, accepted } = await connectedPair(net);
    accepted.pause();
    let done = false;
    client.write(Buffer.alloc(100_000), () => {
      done = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    accepted.resume();
    await once(client, "drain");
    expect(done).toBe(true);
    expect(client.bytesWritten).toBe(100_000);
  });
});

describe("half-close", () => {
  it("closes both ends after end() when half-open is not allowed", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net);
    const acceptedEnd = once(accepted, "end");
    const closes = [once(client, "close"), once(accepted, "close")];
    client.resume();
    accepted.resume();
    client.end();
    await acceptedEnd;
    const [[clientHadError], [acceptedHadError]] = await Promise.all(closes);
    expect(clientHadError).toBe(false);
    expect(acceptedHadError).toBe(false);
    expect(client.readyState).toBe("closed");
  });

  it("keeps the write side open after the peer's FIN with allowHalfOpen", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net, { serverHalfOpen: true });
    const got = collect(client);
    const closed = once(accepted, "close");
    accepted.resume();
    client.end("request");
    await once(accepted, "end");
    expect(accepted.writable).toBe(true);
    expect(accepted.readyState).toBe("writeOnly");
    accepted.end("late reply");
    expect((await got).toString()).toBe("late reply");
    expect((await closed)[0]).toBe(false);
  });

  it("fails with EPIPE when a half-open writer's data reaches a closed peer", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net, { clientHalfOpen: true });
    client.resume();
    accepted.destroy(); // no unread data: FIN, then the socket is gone
    await once(client, "end");
    // The first write succeeds; the RST it provokes arrives in CLOSE_WAIT: EPIPE.
    client.write("anyone there?");
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("EPIPE");
    expect(err.errno).toBe(-32);
    expect((err as ErrnoError & { syscall: string }).syscall).toBe("write");
  });
});

describe("destroy and errors", () => {
  it("resets the peer when destroyed with unread data, and the peer sees ECONNRESET", async () => {
    const { net } = setup();
    const server = await listening(net.createServer({ pauseOnConnect: true }), 7001);
    const acceptedP = once(server, "connection") as Promise<[Socket]>;
    const client = net.connect(7001, "127.0.0.1");
    const connected = once(client, "connect");
    const [accepted] = await acceptedP;
    await connected;
    client.write("unread");
    await new Promise((r) => setImmediate(r));
    const closed = new Promise((resolve) => client.on("close", resolve));
    accepted.destroy();
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err).toBeInstanceOf(ErrnoError);
    expect(err.code).toBe("ECONNRESET");
    expect(err.errno).toBe(-104);
    expect(err.syscall).toBe("read");
    expect(await closed).toBe(true);
  });

  it("emits close without error on destroy(), and error then close on destroy(err)", async () => {
    const { net } = setup();
    const { client, accepted } = await connectedPair(net);
    client.destroy();
    expect((await once(client, "close"))[0]).toBe(false);
    const order: string[] = [];
    accepted.on("error", () => order.push("error"));
    const closed = new Promise<void>((resolve) =>
      accepted.on("close", (hadError: boolean) => {
        order.push(`close:${hadError}`);
        resolve();
      }),
    );
    accepted.destroy(new Error("boom"));
    await closed;
    expect(order).toEqual(["error", "close:true"]);
  });

  it("fails with ECONNREFUSED when nobody listens", async () => {
    const { net } = setup();
    const client = net.connect({ host: "127.0.0.1", port: 9 });
    const [err] = (await once(client, "error")) as [ErrnoError & { address: string; port: number }];
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.errno).toBe(-111);
    expect(err.syscall).toBe("connect");
    expect(err.address).toBe("127.0.0.1");
    expect(err.port).toBe(9);
    expect(err.message).toBe("connect ECONNREFUSED 127.0.0.1:9");
    expect(client.destroyed).toBe(true);
    expect(client.remoteAddress).toBeUndefined();
  });

  it.each([
    ["ETIMEDOUT", -110],
    ["EHOSTUNREACH", -113],
    ["ENETUNREACH", -101],
  ] as const)("reports %s from the network as a connect error", async (code, errno) => {
    const { net } = setup({ connectErrors: { "192.0.2.1": code } });
    const client = net.connect({ host: "192.0.2.1", port: 80 });
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe(code);
    expect(err.errno).toBe(errno);
    expect(err.syscall).toBe("connect");
  });

  it("fails with ENOTFOUND for a name it cannot resolve", async () => {
    const { net } = setup();
    const client = net.connect({ host: "example.invalid", port: 80 });
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("ENOTFOUND");
    expect(err.syscall).toBe("getaddrinfo");
  });

  it("fails with EADDRNOTAVAIL when binding a local address the host does not have", async () => {
    const { net } = setup();
    const client = net.connect({ host: "127.0.0.1", port: 80, localAddress: "10.1.2.3" });
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("EADDRNOTAVAIL");
    expect(err.syscall).toBe("bind");
  });
});

describe("options", () => {
  it("sets TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE on the socket", async () => {
    const { net, fake } = setup();
    const { client } = await connectedPair(net);
    client.setNoDelay(true).setKeepAlive(true, 60_000);
    const h = fake.sockets.find((s) => s.localPort === client.localPort)!;
    expect(h.options.get(`${IPPROTO_TCP_LEVEL}:${TCP_OPT.NODELAY}`)).toBe(1);
    expect(h.options.get(`${SOL_SOCKET}:${SO.KEEPALIVE}`)).toBe(1);
    expect(h.options.get(`${IPPROTO_TCP_LEVEL}:${TCP_OPT.KEEPIDLE}`)).toBe(60);
    client.setNoDelay(false);
    expect(h.options.get(`${IPPROTO_TCP_LEVEL}:${TCP_OPT.NODELAY}`)).toBe(0);
  });

  it("applies options set before connect once the socket exists", async () => {
    const { net, fake } = setup();
    await listening(net.createServer(), 82);
    const client = new net.Socket();
    client.setNoDelay();
    client.connect(82, "127.0.0.1");
    await once(client, "connect");
    const h = fake.sockets.find((s) => s.localPort === client.localPort)!;
    expect(h.options.get(`${IPPROTO_TCP_LEVEL}:${TCP_OPT.NODELAY}`)).toBe(1);
  });

  it("ref() and unref() return the socket", async () => {
    const { net } = setup();
    const s = new net.Socket();
    expect(s.ref()).toBe(s);
    expect(s.unref()).toBe(s);
  });
});

describe("setTimeout on the stack's clock", () => {
  it("emits timeout after the idle time in virtual time", async () => {
    const { net, clock } = setup();
    const { client } = await connectedPair(net);
    let fired = 0;
    client.setTimeout(1000, () => fired++);
    expect(client.timeout).toBe(1000);
    await clock.advance(999);
    expect(fired).toBe(0);
    await clock.advance(1);
    expect(fired).toBe(1);
    await clock.advance(5000);
    expect(fired).toBe(1);
  });

  it("restarts the idle time on activity", async () => {
    const { net, clock } = setup();
    const { client, accepted } = await connectedPair(net);
    accepted.resume();
    let fired = 0;
    client.on("timeout", () => fired++);
    client.setTimeout(1000);
    await clock.advance(600);
    client.write("ping");
    await clock.advance(600);
    expect(fired).toBe(0);
    await clock.advance(400);
    expect(fired).toBe(1);
  });

  it("is disabled by setTimeout(0)", async () => {
    const { net, clock } = setup();
    const { client } = await connectedPair(net);
    const listener = () => {
      throw new Error("must not fire");
    };
    client.setTimeout(1000, listener);
    client.setTimeout(0, listener);
    await clock.advance(2000);
    expect(client.listenerCount("timeout")).toBe(0);
  });
});

describe("net.Server", () => {
  it("fails with EADDRINUSE when the port is taken", async () => {
    const { net } = setup();
    await listening(net.createServer(), 7);
    const second = net.createServer().listen(7, "127.0.0.1");
    const [err] = (await once(second, "error")) as [ErrnoError];
    expect(err.code).toBe("EADDRINUSE");
    expect(err.errno).toBe(-98);
    expect(err.syscall).toBe("listen");
    expect(second.listening).toBe(false);
  });

  it("fails with EADDRNOTAVAIL for an address the host does not have", async () => {
    const { net } = setup();
    const server = net.createServer().listen({ port: 7, host: "10.9.9.9" });
    const [err] = (await once(server, "error")) as [ErrnoError];
    expect(err.code).toBe("EADDRNOTAVAIL");
  });

  it("picks a port for listen(0) and calls the listening callback", async () => {
    const { net } = setup();
    const server = net.createServer();
    let called = false;
    server.listen(0, "127.0.0.1", () => {
      called = true;
    });
    await once(server, "listening");
    expect(called).toBe(true);
    expect(server.address()?.port).toBeGreaterThan(0);
  });

  it("accepts every queued connection on one wakeup and counts them", async () => {
    const { net } = setup();
    const server = await listening(net.createServer(), 90);
    const accepted: Socket[] = [];
    server.on("connection", (s: Socket) => accepted.push(s));
    const clients = [1, 2, 3].map(() => net.connect(90, "127.0.0.1"));
    await Promise.all(clients.map((c) => once(c, "connect")));
    await new Promise((r) => setImmediate(r));
    expect(accepted).toHaveLength(3);
    expect(accepted.every((s) => s.server === server)).toBe(true);
    const count = await new Promise<number>((resolve) =>
      server.getConnections((_e, n) => resolve(n)),
    );
    expect(count).toBe(3);
  });

  it("emits close only after the last connection closed", async () => {
    const { net } = setup();
    const { server, client, accepted } = await connectedPair(net);
    let closed = false;
    server.close(() => {
      closed = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    expect(server.listening).toBe(false);
    accepted.destroy();
    client.destroy();
    await once(server, "close");
    expect(closed).toBe(true);
  });

  it("refuses connections after close", async () => {
    const { net } = setup();
    const server = await listening(net.createServer(), 91);
    server.close();
    const client = net.connect(91, "127.0.0.1");
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("ECONNREFUSED");
  });

  it("closes connections beyond maxConnections", async () => {
    const { net } = setup();
    const server = await listening(net.createServer(), 92);
    server.maxConnections = 1;
    const drops: unknown[] = [];
    server.on("drop", (d) => drops.push(d));
    const a = net.connect(92, "127.0.0.1");
    await once(server, "connection");
    const b = net.connect(92, "127.0.0.1");
    b.resume();
    await once(b, "end");
    expect(drops).toHaveLength(1);
    a.destroy();
  });
});
