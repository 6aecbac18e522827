import { fc, test } from "@fast-check/vitest";
import { NF_INET_LOCAL_IN, NF_INET_NUMHOOKS, type NfHookState, skbFromBytes } from "@skbuff/core";
import { icmpEcho, ipv4Packet, tcpSegment, udpDatagram } from "@skbuff/testing";
import { afterAll, beforeAll, describe, expect } from "vitest";
import { type Fw, firewall } from "./engine_helpers.js";

const RULESET = `table ip filter {
	set blocked { type ipv4_addr; flags interval; elements = { 10.0.0.0/8, 192.0.2.99 } }
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		tcp flags & (syn | ack) == syn meta mark set 1
		meta length 0-64 counter
	}
	chain input {
		type filter hook input priority filter; policy drop;
		ct state established,related accept
		ip saddr @blocked log prefix "blocked " drop
		jump services
		icmp type { echo-request, echo-reply } limit rate 100/second accept
		meta mark 1 tcp sport != 0-1023 queue num 9 bypass
		ip protocol udp reject
		tcp dport 1-100 reject with tcp reset
	}
	chain services {
		tcp dport { 22, 80, 443 } accept
		udp dport 53 accept
		iifname "lo" accept
		return
	}
	chain output {
		type filter hook output priority filter; policy accept;
		oifname "tst*" counter
	}
}`;

let fw: Fw;
beforeAll(async () => {
  fw = await firewall(RULESET);
});
afterAll(async () => {
  await fw.h.close();
});

const addr = fc.constantFrom("192.0.2.2", "10.1.2.3", "192.0.2.99", "198.51.100.1");
const transport = fc.oneof(
  fc
    .record({
      sport: fc.nat(65535),
      dport: fc.nat(65535),
      flags: fc.nat(255),
      payload: fc.string(),
    })
    .map((o) => tcpSegment(o)),
  fc
    .record({ sport: fc.nat(65535), dport: fc.nat(65535), payload: fc.string() })
    .map((o) => udpDatagram(o)),
  fc.record({ id: fc.nat(65535), seq: fc.nat(65535) }).map((o) => icmpEcho(o)),
);

describe("a compiled ruleset", () => {
  test.prop([addr, transport, fc.nat(0x1fff), fc.boolean()])(
    "never throws on packets through the stack",
    (src, inner, frag, mf) => {
      fw.h.inject(ipv4Packet({ src, dst: "192.0.2.1", inner, fragOffset: (frag % 4) * 8, mf }));
      while (fw.h.pending > 0) fw.h.nextPacket();
      expect(fw.h.stack.softnetMib.NfHookErrors).toBe(0);
      expect(fw.h.drops().NF_HOOK_EXCEPTION).toBeUndefined();
    },
  );

  test.prop([
    fc.uint8Array({ maxLength: 80 }),
    fc.nat(NF_INET_NUMHOOKS - 1),
    fc.integer({ min: -1, max: 40 }),
  ])("never throws on arbitrary bytes at any hook", (bytes, hook, nh) => {
    const skb = skbFromBytes(bytes);
    skb.networkHeader = nh < 0 ? -1 : skb.data + Math.min(nh, bytes.length);
    const state: NfHookState = {
      hook,
      pf: 2,
      in: hook === NF_INET_LOCAL_IN ? fw.h.dev : null,
      out: null,
      sk: null,
      net: fw.h.stack,
      okfn: () => 0,
    };
    const v = fw.rs.evaluate(skb, state);
    expect(Number.isInteger(v)).toBe(true);
    while (fw.h.pending > 0) fw.h.nextPacket();
  });
});
