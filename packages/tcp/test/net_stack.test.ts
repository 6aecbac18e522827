import { createHash } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import { createStack, type ErrnoError, type Stack, VirtualClock } from "@skbuff/core";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { afterEach, describe, expect, it } from "vitest";
import { type NetApi, netApi, type Socket } from "../src/net/index.js";
import { tcp } from "../src/plugin.js";

let stack: Stack | undefined;
afterEach(async () => {
  await stack?.close();
  stack = undefined;
});

async function netOfNewStack(clock = new VirtualClock()): Promise<NetApi> {
  stack = await createStack({
    name: "net-stack",
    plugins: [ipv4(), tcp(), netApi()],
    devices: [loopback()],
    clock,
  });
  return stack.net as NetApi;
}

/** A server on 127.0.0.1:7000 and a client connected to it, with the accepted socket. */
async function connectedPair(
  net: NetApi,
  options: { allowHalfOpen?: boolean; pauseOnConnect?: boolean } = {},
): Promise<{ client: Socket; accepted: Socket }> {
  const server = net.createServer(options).listen(7000, "127.0.0.1");
  await once(server, "listening");
  const acceptedP = once(server, "connection") as Promise<[Socket]>;
  const client = net.connect(7000, "127.0.0.1");
  const connected = once(client, "connect");
  const [accepted] = await acceptedP;
  await connected;
  return { client, accepted };
}

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function pattern(length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = 0x12345678;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("stack.net over the TCP engine and loopback", () => {
  it("echoes through stack.net.createServer((s) => s.pipe(s))", async () => {
    const net = await netOfNewStack();
    const server = net.createServer((s) => s.pipe(s)).listen(7, "127.0.0.1");
    await once(server, "listening");
    const client = net.connect({ host: "127.0.0.1", port: 7 });
    const chunks: Buffer[] = [];
    client.on("data", (c: Buffer) => chunks.push(c));
    client.end("hello over loopback");
    await once(client, "end");
    expect(Buffer.concat(chunks).toString()).toBe("hello over loopback");
    expect(client.remoteAddress).toBe("127.0.0.1");
    expect(client.remotePort).toBe(7);
    server.close();
  });

  it("moves 1 MiB both ways with the same SHA-256 at every end", async () => {
    const net = await netOfNewStack();
    const data = pattern(1 << 20);
    let serverHash = "";
    const server = net
      .createServer((s: Socket) => {
        const h = createHash("sha256");
        s.on("data", (c: Buffer) => h.update(c));
        s.on("end", () => {
          serverHash = h.digest("hex");
        });
        s.pipe(s);
      })
      .listen(5001, "127.0.0.1");
    await once(server, "listening");
    const client = net.connect(5001, "127.0.0.1");
    const back = createHash("sha256");
    let received = 0;
    client.on("data", (c: Buffer) => {
      back.update(c);
      received += c.length;
    });
    client.end(data);
    await once(client, "end");
    expect(received).toBe(data.length);
    expect(back.digest("hex")).toBe(sha256(data));
    expect(serverHash).toBe(sha256(data));
    expect(client.bytesWritten).toBe(data.length);
    expect(client.bytesRead).toBe(data.length);
  });

  it("serves Node's http module: a GET through http.request({ createConnection })", async () => {
    const net = await netOfNewStack();
    const httpServer = http.createServer((req, res) => res.end(`hi ${req.url}`));
    const server = net
      .createServer((s) => httpServer.emit("connection", s))
      .listen(80, "127.0.0.1");
    await once(server, "listening");
    const body = await new Promise<string>((resolve, reject) => {
      http
        .request(
          {
            host: "127.0.0.1",
            port: 80,
            path: "/index.html",
            createConnection: net.createConnection,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () => resolve(Buffer.concat(chunks).toString()));
          },
        )
        .on("error", reject)
        .end();
    });
    expect(body).toBe("hi /index.html");
  });

  it("reports ECONNREFUSED when the stack answers a SYN with RST", async () => {
    const net = await netOfNewStack();
    const client = net.connect({ host: "127.0.0.1", port: 9 });
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("ECONNREFUSED");
    expect(err.errno).toBe(-111);
  });

  it("half-closes: the server keeps writing after the client's FIN with allowHalfOpen", async () => {
    const net = await netOfNewStack();
    const { client, accepted } = await connectedPair(net, { allowHalfOpen: true });
    const chunks: Buffer[] = [];
    client.on("data", (c: Buffer) => chunks.push(c));
    const clientEnd = once(client, "end");
    const closes = [once(accepted, "close"), once(client, "close")];
    accepted.resume();
    client.end("request");
    await once(accepted, "end");
    expect(accepted.readyState).toBe("writeOnly");
    accepted.end("late reply");
    await clientEnd;
    expect(Buffer.concat(chunks).toString()).toBe("late reply");
    const [[acceptedHadError], [clientHadError]] = await Promise.all(closes);
    expect(acceptedHadError).toBe(false);
    expect(clientHadError).toBe(false);
  });

  it("resets the peer (ECONNRESET) when a socket is destroyed with unread data", async () => {
    const net = await netOfNewStack();
    const { client, accepted } = await connectedPair(net, { pauseOnConnect: true });
    client.write("never read");
    await new Promise((r) => setTimeout(r, 10));
    const closed = new Promise((resolve) => client.on("close", resolve));
    accepted.destroy();
    const [err] = (await once(client, "error")) as [ErrnoError];
    expect(err.code).toBe("ECONNRESET");
    expect(err.errno).toBe(-104);
    expect(await closed).toBe(true);
  });

  it("holds a writer back while the reader is paused, then drains", async () => {
    const net = await netOfNewStack();
    const { client, accepted } = await connectedPair(net, { pauseOnConnect: true });
    const data = pattern(4 << 20);
    expect(client.write(data)).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(client.bytesWritten).toBeLessThan(data.length);
    const got = createHash("sha256");
    accepted.on("data", (c: Buffer) => got.update(c));
    accepted.resume();
    await once(client, "drain");
    client.end();
    await once(accepted, "end");
    expect(got.digest("hex")).toBe(sha256(data));
  });

  it("emits timeout after the idle time on the stack's virtual clock", async () => {
    const clock = new VirtualClock({ autoAdvance: false });
    const net = await netOfNewStack(clock);
    net.createServer().listen(7001, "127.0.0.1");
    const client = net.connect(7001, "127.0.0.1");
    await clock.advance(5);
    expect(client.connecting).toBe(false);
    let fired = 0;
    client.setTimeout(1000, () => fired++);
    await clock.advance(999);
    expect(fired).toBe(0);
    await clock.advance(1);
    expect(fired).toBe(1);
  });

  it("keeps an http connection alive for two requests", async () => {
    const net = await netOfNewStack();
    const httpServer = http.createServer((req, res) => {
      req.resume();
      req.on("end", () => res.end(`ok ${req.url}`));
    });
    const connections: Socket[] = [];
    net
      .createServer((s) => {
        connections.push(s);
        httpServer.emit("connection", s);
      })
      .listen(80, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agent.createConnection = () => net.createConnection(80, "127.0.0.1");
    const get = (path: string) =>
      new Promise<string>((resolve, reject) => {
        http
          .request({ agent, path }, (res) => {
            let body = "";
            res.on("data", (c: Buffer) => {
              body += c.toString();
            });
            res.on("end", () => resolve(body));
          })
          .on("error", reject)
          .end();
      });
    expect(await get("/a")).toBe("ok /a");
    expect(await get("/b")).toBe("ok /b");
    expect(connections).toHaveLength(1);
    agent.destroy();
  });
});
