/**
 * Stacks for stack-to-stack TCP tests, driven by hand on a virtual clock: a host with loopback,
 * two hosts over veth (netem optional), and a connected socket pair. Call {@link useStacks} once
 * per test file: it closes what a test made and checks that no packet handler threw.
 */
import { createStack, ERRNO, type Stack, VirtualClock } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { twoStacks } from "@skbuff/testing";
import { afterEach, expect } from "vitest";
import {
  TCP_ESTABLISHED,
  TCP_SOCKET_API,
  type TcpSocketApi,
  type TcpSocketHandle,
  tcp,
} from "../src/index.js";
import { pump } from "./pump.js";

const closers: (() => Promise<void>)[] = [];
/** Stacks of the current test: none may have had a handler throw. */
const stacksSeen: Stack[] = [];

/** Registers the per-test cleanup and handler-error check. */
export function useStacks(): void {
  afterEach(async () => {
    for (const st of stacksSeen.splice(0)) {
      expect(st.dropReasons().HANDLER_EXCEPTION ?? 0).toBe(0);
    }
    for (const c of closers.splice(0)) await c();
  });
}

/** Has the per-test cleanup close `close` and check `stack` (for stacks made elsewhere). */
export function track(stack: Stack, close: () => Promise<void>): void {
  closers.push(close);
  stacksSeen.push(stack);
}

/** The socket API of a stack. */
export function apiOf(s: Stack): TcpSocketApi {
  return s.container.resolve<TcpSocketApi>(TCP_SOCKET_API);
}

/** A virtual clock that moves only when told to, and rethrows timer errors. */
export function virtualClock(): VirtualClock {
  return new VirtualClock({
    autoAdvance: false,
    onError: (e) => {
      throw e;
    },
  });
}

/** One host with a loopback device. */
export async function loopStack(): Promise<{ stack: Stack; clock: VirtualClock }> {
  const clock = virtualClock();
  const stack = await createStack({
    name: "lo-host",
    clock,
    devices: [loopback()],
    plugins: [ipv4(), icmp(), tcp()],
  });
  closers.push(() => stack.close());
  stacksSeen.push(stack);
  return { stack, clock };
}

/** Two hosts over veth (192.0.2.1 and 192.0.2.2), with netem on the link when given. */
export async function vethPair(
  netem?: string,
): Promise<{ a: Stack; b: Stack; clock: VirtualClock }> {
  const clock = virtualClock();
  const t = await twoStacks({
    plugins: [ipv4(), icmp(), tcp()],
    clock,
    ...(netem ? { netem } : {}),
  });
  closers.push(() => t.close());
  stacksSeen.push(t.a, t.b);
  return { a: t.a, b: t.b, clock };
}

/** A connected pair: `client` on `cs` to a listener on `ss` port 5000; returns both ends. */
export function connectPair(
  clock: VirtualClock,
  cs: Stack,
  ss: Stack,
  addr: string,
): { client: TcpSocketHandle; server: TcpSocketHandle; listener: TcpSocketHandle } {
  const listener = apiOf(ss).socket();
  expect(listener.bind("0.0.0.0", 5000)).toBe(0);
  expect(listener.listen(16)).toBe(0);
  const client = apiOf(cs).socket();
  expect(client.connect(addr, 5000)).toBe(-ERRNO.EINPROGRESS);
  let server: TcpSocketHandle | number = -ERRNO.EAGAIN;
  pump(
    clock,
    () => typeof server === "object" && client.state === TCP_ESTABLISHED,
    () => {
      if (typeof server === "number") server = listener.accept();
    },
  );
  return { client, server: server as unknown as TcpSocketHandle, listener };
}
