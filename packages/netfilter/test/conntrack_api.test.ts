import {
  createStack,
  NF_ACCEPT,
  NF_INET_FORWARD,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_CONNTRACK,
  NF_IP_PRI_FILTER,
  NF_IP_PRI_RAW,
  NF_QUEUE_NR,
  NFPROTO_IPV4,
  type NfQueueEntry,
  PluginError,
} from "@skbuff/core";
import { ipv4 } from "@skbuff/ipv4";
import { createHarness, ipv4Packet, udpDatagram } from "@skbuff/testing";
import { describe, expect, it } from "vitest";
import {
  type ConntrackService,
  conntrackEntries,
  conntrackFlush,
  registerConntrack,
} from "../src/conntrack/index.js";
import { registerNat } from "../src/nat/index.js";
import { CONNTRACK_API, CT_STATE, conntrackOf } from "../src/nf_api.js";
import { conntrackPlugin } from "./conntrack_helpers.js";

const datagram = ipv4Packet({
  src: "192.0.2.2",
  dst: "198.51.100.9",
  inner: udpDatagram({ sport: 5000, dport: 53 }),
});

describe("the conntrack API", () => {
  it("is provided under CONNTRACK_API", async () => {
    let api: ConntrackService | null = null;
    const h = await createHarness({
      plugins: [ipv4(), conntrackPlugin({ onRegister: (_ctx, a) => (api = a) })],
    });
    expect(h.stack.container.resolve(CONNTRACK_API)).toBe(api);
    expect(conntrackOf(h.stack)).toBe(api);
    await h.close();
  });

  it("keeps a connection's mark, read and set through any of its packets", async () => {
    const marks: number[] = [];
    const plugin = conntrackPlugin({
      onRegister(ctx, api) {
        ctx.nfRegisterHook({
          pf: NFPROTO_IPV4,
          hooknum: NF_INET_PRE_ROUTING,
          priority: NF_IP_PRI_CONNTRACK + 1,
          hook: (skb) => {
            marks.push(api.ctMark(skb));
            api.setCtMark(skb, api.ctMark(skb) + 1);
            return NF_ACCEPT;
          },
        });
      },
    });
    const h = await createHarness({
      plugins: [ipv4(), plugin],
      sysctl: { "net.ipv4.ip_forward": 1 },
    });
    h.inject(datagram);
    h.inject(datagram);
    expect(marks).toEqual([0, 1]);
    expect(conntrackEntries(h.stack)[0]?.mark).toBe(2);
    await h.close();
  });

  it("leaves a packet marked notrack alone: UNTRACKED, no connection", async () => {
    const states: number[] = [];
    const plugin = conntrackPlugin({
      onRegister(ctx, api) {
        ctx.nfRegisterHook({
          pf: NFPROTO_IPV4,
          hooknum: NF_INET_PRE_ROUTING,
          priority: NF_IP_PRI_RAW,
          hook: (skb) => {
            api.setUntracked(skb);
            return NF_ACCEPT;
          },
        });
        ctx.nfRegisterHook({
          pf: NFPROTO_IPV4,
          hooknum: NF_INET_PRE_ROUTING,
          priority: NF_IP_PRI_CONNTRACK + 1,
          hook: (skb) => {
            states.push(api.ctState(skb));
            return NF_ACCEPT;
          },
        });
      },
    });
    const h = await createHarness({
      plugins: [ipv4(), plugin],
      sysctl: { "net.ipv4.ip_forward": 1 },
    });
    h.inject(datagram);
    expect(states).toEqual([CT_STATE.UNTRACKED]);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
    expect(h.counters().NfConntrackIgnore).toBe(1);
    await h.close();
  });

  it("lets the second of two racing first packets of a UDP flow join the first's connection", async () => {
    const queued: NfQueueEntry[] = [];
    const plugin = conntrackPlugin({
      onRegister(ctx) {
        ctx.nfRegisterQueueHandler(0, (e) => queued.push(e));
        ctx.nfRegisterHook({
          pf: NFPROTO_IPV4,
          hooknum: NF_INET_FORWARD,
          priority: NF_IP_PRI_FILTER,
          hook: () => NF_QUEUE_NR(0),
        });
      },
    });
    const h = await createHarness({
      plugins: [ipv4(), plugin],
      sysctl: { "net.ipv4.ip_forward": 1 },
    });
    h.inject(datagram);
    h.inject(datagram);
    expect(queued).toHaveLength(2);
    for (const e of queued) h.stack.nf.reinject(e, NF_ACCEPT);
    expect(h.transmitted).toHaveLength(2);
    expect(conntrackEntries(h.stack)).toHaveLength(1);
    expect(h.counters()).toMatchObject({ NfConntrackInsert: 1, NfConntrackClashResolve: 1 });
    await h.close();
  });

  it("flushes the table like conntrack -F", async () => {
    const h = await createHarness({
      plugins: [ipv4(), conntrackPlugin()],
      sysctl: { "net.ipv4.ip_forward": 1 },
    });
    h.inject(datagram);
    expect(conntrackFlush(h.stack)).toBe(1);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
    expect(h.stack.sysctl.get("net.netfilter.nf_conntrack_count")).toBe(0);
    await h.close();
  });

  it("refuses NAT without conntrack, naming what is missing", async () => {
    const plugin = {
      name: "test:nat-only",
      register(ctx: Parameters<typeof registerNat>[0]) {
        registerNat(ctx);
      },
    };
    await expect(createStack({ plugins: [ipv4(), plugin] })).rejects.toThrow(
      /NAT needs connection tracking; call registerConntrack\(ctx\) before registerNat\(ctx\)/,
    );
  });

  it("refuses to register conntrack twice in a stack", async () => {
    const plugin = {
      name: "test:twice",
      register(ctx: Parameters<typeof registerConntrack>[0]) {
        registerConntrack(ctx);
        registerConntrack(ctx);
      },
    };
    await expect(createStack({ plugins: [ipv4(), plugin] })).rejects.toThrow(PluginError);
  });
});
