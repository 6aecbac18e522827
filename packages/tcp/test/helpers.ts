/** Shared set-up of the TCP tests: a harness stack with TCP, and a socket API on it. */

import type { SysctlValue } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { createHarness, type Harness, parsePacket, type TcpView } from "@skbuff/testing";
import { TCP_SOCKET_API, type TcpSocketApi, tcp } from "../src/index.js";

/** A harness stack (192.0.2.1 on tst0, peer 192.0.2.2) with ipv4, icmp and tcp. */
export async function tcpHarness(sysctl: Record<string, SysctlValue> = {}): Promise<Harness> {
  return createHarness({ plugins: [ipv4(), icmp(), tcp()], sysctl });
}

/** The socket API of a stack. */
export function api(
  h: { stack: { container: { resolve<T>(t: symbol): T } } } | Harness,
): TcpSocketApi {
  return (h as Harness).stack.container.resolve(TCP_SOCKET_API);
}

/** The TCP view of a packet the stack sent. */
export function tcpOf(bytes: Uint8Array): TcpView {
  const v = parsePacket(bytes);
  if (v?.transport.layer !== "tcp") throw new Error("not a TCP packet");
  return v.transport;
}
