import {
  getU32,
  inetAton,
  NF_ACCEPT,
  NF_INET_POST_ROUTING,
  NF_INET_PRE_ROUTING,
  NF_IP_PRI_FIRST,
  NF_IP_PRI_NAT_DST,
  NF_IP_PRI_NAT_SRC,
  NFPROTO_IPV4,
} from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  checkIpv4,
  icmp,
  icmpEcho,
  ipv4Packet,
  tcp,
  tcpSegment,
  threeStacks,
  udp,
  udpDatagram,
} from "@skbuff/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { conntrackPlugin, natRange, sendRaw, type TestNatRule } from "./conntrack_helpers.js";

const rules: TestNatRule[] = [
  {
    hooknum: NF_INET_POST_ROUTING,
    priority: NF_IP_PRI_NAT_SRC,
    type: "masquerade",
    range: null,
    match: (_skb, state) => state.out?.name === "eth1",
  },
  {
    hooknum: NF_INET_PRE_ROUTING,
    priority: NF_IP_PRI_NAT_DST,
    type: "dnat",
    range: natRange("198.51.100.1", 80),
    match: (skb) => getU32(skb.head, skb.networkHeader + 16) === inetAton("192.0.2.254"),
  },
];

describe("NAT under random traffic", () => {
  it("never throws and hands the server packets from the router with valid checksums", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            kind: fc.constantFrom("tcp", "udp", "icmp"),
            src: fc.constantFrom("192.0.2.1", "192.0.2.7"),
            dst: fc.constantFrom("198.51.100.1", "192.0.2.254"),
            sport: fc.integer({ min: 1, max: 65535 }),
            dport: fc.integer({ min: 1, max: 65535 }),
            flags: fc.constantFrom("S", "S.", ".", "F.", "R"),
          }),
          { minLength: 1, maxLength: 12 },
        ),
        async (pkts) => {
          const atB: Uint8Array[] = [];
          const plugin = conntrackPlugin({
            nat: true,
            rules: (s) => (s.name === "router" ? rules : []),
            onRegister(ctx) {
              if (ctx.stack.name !== "b") return;
              ctx.nfRegisterHook({
                pf: NFPROTO_IPV4,
                hooknum: NF_INET_PRE_ROUTING,
                priority: NF_IP_PRI_FIRST,
                hook: (skb) => {
                  atB.push(skb.head.slice(skb.data, skb.tail));
                  return NF_ACCEPT;
                },
              });
            },
          });
          const t = await threeStacks({ plugins: [ipv4(), icmpPlugin(), plugin] });
          try {
            t.a.addAddress(t.a.getDevice("eth0")!, "192.0.2.7/24");
            for (const p of pkts) {
              const inner =
                p.kind === "tcp"
                  ? tcpSegment({ sport: p.sport, dport: p.dport, flags: p.flags })
                  : p.kind === "udp"
                    ? udpDatagram({ sport: p.sport, dport: p.dport, payload: "x" })
                    : icmpEcho({ id: p.sport, seq: 1 });
              sendRaw(t.a, ipv4Packet({ src: p.src, dst: p.dst, inner }));
              await t.clock.advance(5);
            }
            for (const s of [t.a, t.router, t.b]) {
              expect(s.softnetMib.NfHookErrors).toBe(0);
              expect(s.dropReasons().HANDLER_EXCEPTION ?? 0).toBe(0);
            }
            for (const bytes of atB) {
              const layer = bytes[9] === 6 ? tcp() : bytes[9] === 17 ? udp() : icmp();
              expect(checkIpv4(bytes, layer)).toEqual([]);
              // INVALID packets (a SYN-ACK out of nowhere) pass NAT untranslated, as in Linux.
              const sourceIsRouterOrClient = [
                inetAton("198.51.100.254"),
                inetAton("192.0.2.1"),
                inetAton("192.0.2.7"),
              ].includes(getU32(bytes, 12));
              expect(sourceIsRouterOrClient).toBe(true);
            }
          } finally {
            await t.close();
          }
        },
      ),
      { numRuns: 25 },
    );
  });
});
