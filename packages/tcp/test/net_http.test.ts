import { once } from "node:events";
import http from "node:http";
import { VirtualClock } from "@skbuff/core";
import { describe, expect, it } from "vitest";
import { createNetApi, type NetApi, type Socket } from "../src/net/index.js";
import { FakeNet } from "./net_fake.js";

/** Node's own HTTP server, fed sockets from `net.createServer` through `emit("connection")`. */
async function httpServerOn(net: NetApi, port: number) {
  const requests: { method: string; url: string; body: string; socket: unknown }[] = [];
  const httpServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: req.method!, url: req.url!, body, socket: req.socket });
      res.setHeader("content-type", "text/plain");
      res.end(`${req.method} ${req.url} got ${body.length} bytes: ${body}`);
    });
  });
  const connections: Socket[] = [];
  const netServer = net
    .createServer((socket) => {
      connections.push(socket);
      httpServer.emit("connection", socket);
    })
    .listen(port, "127.0.0.1");
  await once(netServer, "listening");
  return { httpServer, netServer, requests, connections };
}

function request(
  options: http.RequestOptions,
  body?: string,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode!,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          reused: req.reusedSocket,
        }),
      );
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function setup() {
  const fake = new FakeNet({ rcvbuf: 2048 });
  const net = createNetApi({ clock: new VirtualClock({ autoAdvance: false }) }, fake);
  return { fake, net };
}

describe("Node's http module over stack.net", () => {
  it("serves a GET through http.createServer and http.request({ createConnection })", async () => {
    const { net } = setup();
    const { requests } = await httpServerOn(net, 80);
    const res = await request({
      method: "GET",
      path: "/hello",
      headers: { connection: "close" },
      createConnection: () => net.createConnection({ host: "127.0.0.1", port: 80 }),
    });
    expect(res.status).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain");
    expect(res.body).toBe("GET /hello got 0 bytes: ");
    expect(requests).toHaveLength(1);
  });

  it("takes stack.net.createConnection itself as http.request's createConnection", async () => {
    const { net } = setup();
    await httpServerOn(net, 8000);
    const res = await request({
      host: "127.0.0.1",
      port: 8000,
      path: "/direct",
      createConnection: net.createConnection,
    });
    expect(res.body).toBe("GET /direct got 0 bytes: ");
  });

  it("carries bodies larger than the socket buffers both ways", async () => {
    const { net } = setup();
    await httpServerOn(net, 8080);
    const body = "x".repeat(50_000);
    const res = await request(
      {
        method: "POST",
        path: "/upload",
        headers: { "content-length": body.length, connection: "close" },
        createConnection: () => net.createConnection(8080, "127.0.0.1"),
      },
      body,
    );
    expect(res.body).toBe(`POST /upload got 50000 bytes: ${body}`);
  });

  it("keeps the connection alive for a second request through an Agent", async () => {
    const { net } = setup();
    const { requests, connections } = await httpServerOn(net, 80);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agent.createConnection = () => net.createConnection({ host: "127.0.0.1", port: 80 });
    const first = await request({ agent, path: "/one", method: "POST" }, "first body");
    const second = await request({ agent, path: "/two", method: "POST" }, "second body");
    expect(first.body).toBe("POST /one got 10 bytes: first body");
    expect(second.body).toBe("POST /two got 11 bytes: second body");
    expect(first.reused).toBe(false);
    expect(second.reused).toBe(true);
    expect(connections).toHaveLength(1);
    expect(requests[0]!.socket).toBe(requests[1]!.socket);
    const closed = once(connections[0]!, "close");
    agent.destroy();
    await closed;
  });
});
