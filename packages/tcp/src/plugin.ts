/**
 * The `tcp()` plugin: registers TCP with IPv4 (`inet_add_protocol(IPPROTO_TCP)`), its sysctls
 * and counters, and provides the socket API under {@link TCP_SOCKET_API}.
 * @see net/ipv4/af_inet.c inet_init(), net/ipv4/tcp_ipv4.c tcp_sk_init()
 * @packageDocumentation
 */
import {
  definePlugin,
  IPPROTO_TCP,
  type Plugin,
  parseOptions,
  TOKENS,
  token,
  z,
} from "@skbuff/core";
import { TCP_CONGESTION_OPS } from "./congestion.js";
import { TcpMib } from "./mib.js";
import { createNetApi } from "./net/net.js";
import { TcpNet, tcpNet } from "./netns.js";
import { TcpSocketApiImpl } from "./socket.js";
import type { TcpSocketApi } from "./socket_api.js";
import { registerTcpSysctls } from "./sysctl.js";
import { tcpDestroySock } from "./tcp.js";
import { tcpReno } from "./tcp_cong_reno.js";
import { tcpCubic } from "./tcp_cubic.js";
import { tcpV4Err, tcpV4Rcv } from "./tcp_ipv4.js";
import {
  inetTwskKill,
  RequestSock,
  reqskDrop,
  reqskQueueClose,
  TcpTimewaitSock,
} from "./tcp_minisocks.js";

/** The plugin's name. */
export const TCP_PLUGIN = "skbuff:tcp";

/** The token under which the plugin provides {@link TcpSocketApi}. */
export const TCP_SOCKET_API = token<TcpSocketApi>("skbuff:tcp_socket_api");

/** Options of {@link tcp}. */
export interface TcpOptions {
  /** Default of `net.ipv4.tcp_congestion_control` (default "cubic", "reno" when not registered). */
  readonly congestion?: string;
}

const schema = z.strictObject({ congestion: z.string().min(1).optional() });

/**
 * The TCP plugin. Requires `ipv4()`. Registers Reno and CUBIC (the default) as congestion-control
 * algorithms; other plugins add theirs under `TCP_CONGESTION_OPS`.
 */
export function tcp(options: TcpOptions = {}): Plugin {
  const opts = parseOptions(schema, options, TCP_PLUGIN);
  return definePlugin({
    name: TCP_PLUGIN,
    requires: ["skbuff:ipv4"],
    register(ctx) {
      const net = ctx.stack;
      const congestion = opts.congestion ?? "cubic";
      let tn: TcpNet | null = null;
      const choices = (): readonly string[] => [
        ...new Set(["reno", congestion, ...(tn?.congestionOps().map((o) => o.name) ?? [])]),
      ];
      const sysctl = registerTcpSysctls(ctx, congestion, choices);
      const mib = ctx.registerMib(new TcpMib());
      const seed = crypto.getRandomValues(new Uint32Array(1))[0]!;
      tn = new TcpNet(net, sysctl, mib, seed);
      tn.closeRequests = reqskQueueClose;
      // Linux builds Reno in and ships CUBIC as the default module; both register by name.
      ctx.container.register(TCP_CONGESTION_OPS, { useValue: tcpReno });
      ctx.container.register(TCP_CONGESTION_OPS, { useValue: tcpCubic });
      ctx.inetAddProtocol({ protocol: IPPROTO_TCP, handler: tcpV4Rcv, errHandler: tcpV4Err });
      const sockets = new TcpSocketApiImpl(net);
      ctx.provide(TCP_SOCKET_API, sockets);
      // stack.net: Node's net module over these sockets (DESIGN's `stack.net.createServer`).
      ctx.provide(TOKENS.net, createNetApi(net, sockets));
      ctx.onClose(() => {
        const t = tcpNet(net);
        for (const sk of [...t.socks]) tcpDestroySock(sk);
        for (const s of [...t.hashinfo.ehash.values()]) {
          if (s instanceof TcpTimewaitSock) inetTwskKill(s);
          else if (s instanceof RequestSock) reqskDrop(s);
        }
      });
    },
  });
}
