/**
 * Node's own `http` module over a skbuff stack. The server is `http.createServer()`, fed the
 * connections that `stack.net.createServer()` accepts (`httpServer.emit("connection", socket)`);
 * the client is `http.request()` with `createConnection: stack.net.createConnection`. Every byte
 * goes through the stack: TCP, IPv4 and the loopback device, on the stack's clock.
 * @packageDocumentation
 */
import { once } from "node:events";
import http from "node:http";
import { type Clock, createStack } from "@skbuff/core";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { netApi, tcp } from "@skbuff/tcp";

/** Options of {@link runHttpExample}. */
export interface HttpExampleOptions {
  /** The stack's clock (default a virtual clock that advances by itself). */
  readonly clock?: Clock | "real" | "virtual";
  /** The request body to send (default none: a GET). */
  readonly body?: string;
}

/**
 * Starts an HTTP server on 127.0.0.1:80 of a fresh stack, makes one request to it over
 * loopback and returns the response body.
 */
export async function runHttpExample(options: HttpExampleOptions = {}): Promise<string> {
  const stack = await createStack({
    name: "http-example",
    plugins: [ipv4(), tcp(), netApi()],
    devices: [loopback()],
    clock: options.clock ?? "virtual",
  });
  try {
    const net = stack.net;
    const httpServer = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString();
        res.setHeader("content-type", "text/plain");
        res.end(
          `${req.method} ${req.url} from ${req.socket.remoteAddress}` +
            (body ? `, ${body.length} bytes: ${body}` : ""),
        );
      });
    });
    const server = net
      .createServer((socket) => httpServer.emit("connection", socket))
      .listen(80, "127.0.0.1");
    await once(server, "listening");

    const body = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: 80,
          method: options.body === undefined ? "GET" : "POST",
          path: "/hello",
          headers: { connection: "close" },
          createConnection: net.createConnection,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => resolve(Buffer.concat(chunks).toString()));
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(options.body);
    });
    server.close();
    return body;
  } finally {
    await stack.close();
  }
}
