import { definePlugin, NF_ACCEPT, type NfHookState, type SkBuff } from "@skbuff/core";
import { icmp as icmpPlugin } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import {
  createHarness,
  expectIpv4,
  icmp,
  icmpEcho,
  tcpSegment,
  type,
  udpDatagram,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { createRuleset } from "../src/engine/ruleset.js";
import { CT_STATE, NAT_API, type NatApi, type NatRange, type NatType } from "../src/nf_api.js";
import { NftSyntaxError } from "../src/nft/errors.js";
import { type Fw, firewall, inputChain } from "./engine_helpers.js";

let fw: Fw;
afterEach(async () => {
  await fw?.h.close();
});

const syn = (dport: number, sport = 40000) => tcpSegment({ sport, dport, flags: "S" });
const udp = (dport: number, sport = 5000) => udpDatagram({ sport, dport, payload: "x" });

describe("address matches", () => {
  it("accepts a packet from the address an ip saddr rule names, and drops others", async () => {
    fw = await firewall(inputChain("ip saddr 192.0.2.2 accept"));
    expect(fw.send({ inner: syn(80) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.3", inner: syn(80) })).toBe("drop");
  });

  it("matches a CIDR prefix by mask", async () => {
    fw = await firewall(inputChain("ip saddr 192.0.2.0/28 accept"));
    expect(fw.send({ src: "192.0.2.15", inner: syn(80) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.16", inner: syn(80) })).toBe("drop");
  });

  it("matches an address range", async () => {
    fw = await firewall(inputChain("ip saddr 192.0.2.10-192.0.2.20 accept"));
    expect(fw.send({ src: "192.0.2.20", inner: syn(80) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.21", inner: syn(80) })).toBe("drop");
  });

  it("matches an anonymous set of addresses and prefixes", async () => {
    fw = await firewall(inputChain("ip saddr { 192.0.2.5, 192.0.2.64/26 } accept"));
    expect(fw.send({ src: "192.0.2.5", inner: syn(80) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.100", inner: syn(80) })).toBe("accept");
    expect(fw.send({ src: "192.0.2.6", inner: syn(80) })).toBe("drop");
  });

  it("matches the destination address with ip daddr", async () => {
    fw = await firewall(inputChain("ip daddr 192.0.2.1 accept"));
    expect(fw.send({ inner: syn(80) })).toBe("accept");
  });

  it("negates a match with !=", async () => {
    fw = await firewall(inputChain("ip saddr != 192.0.2.2 accept"));
    expect(fw.send({ inner: syn(80) })).toBe("drop");
    expect(fw.send({ src: "192.0.2.3", inner: syn(80) })).toBe("accept");
  });
});

describe("protocol and port matches", () => {
  it("matches the IP protocol by name", async () => {
    fw = await firewall(inputChain("ip protocol udp accept"));
    expect(fw.send({ inner: udp(53) })).toBe("accept");
    expect(fw.send({ inner: syn(53) })).toBe("drop");
  });

  it("matches a tcp destination port, and not a udp one with the same number", async () => {
    fw = await firewall(inputChain("tcp dport 22 accept"));
    expect(fw.send({ inner: syn(22) })).toBe("accept");
    expect(fw.send({ inner: syn(23) })).toBe("drop");
    expect(fw.send({ inner: udp(22) })).toBe("drop");
  });

  it("matches tcp source ports in a range", async () => {
    fw = await firewall(inputChain("tcp sport 1024-65535 accept"));
    expect(fw.send({ inner: syn(80, 1024) })).toBe("accept");
    expect(fw.send({ inner: syn(80, 1023) })).toBe("drop");
  });

  it("matches udp ports in a set", async () => {
    fw = await firewall(inputChain("udp dport { 53, 123, 5000-5010 } accept"));
    expect(fw.send({ inner: udp(123) })).toBe("accept");
    expect(fw.send({ inner: udp(5005) })).toBe("accept");
    expect(fw.send({ inner: udp(124) })).toBe("drop");
  });

  it("matches a udp source port", async () => {
    fw = await firewall(inputChain("udp sport 53 accept"));
    expect(fw.send({ inner: udp(9, 53) })).toBe("accept");
    expect(fw.send({ inner: udp(9, 54) })).toBe("drop");
  });

  it("does not match a port negation on a packet of another protocol", async () => {
    fw = await firewall(inputChain("tcp dport != 22 accept"));
    expect(fw.send({ inner: syn(80) })).toBe("accept");
    expect(fw.send({ inner: udp(80) })).toBe("drop");
  });

  it("matches tcp flags when any of the named flags is set", async () => {
    fw = await firewall(inputChain("tcp flags syn accept"));
    expect(fw.send({ inner: tcpSegment({ sport: 1, dport: 2, flags: "SA" }) })).toBe("accept");
    expect(fw.send({ inner: tcpSegment({ sport: 1, dport: 2, flags: "A" }) })).toBe("drop");
  });

  it("matches tcp flags under a mask exactly", async () => {
    fw = await firewall(inputChain("tcp flags & (syn | ack) == syn accept"));
    expect(fw.send({ inner: tcpSegment({ sport: 1, dport: 2, flags: "S" }) })).toBe("accept");
    expect(fw.send({ inner: tcpSegment({ sport: 1, dport: 2, flags: "SA" }) })).toBe("drop");
  });

  it("matches an ICMP type, and the accepted echo request is answered", async () => {
    fw = await firewall(inputChain("icmp type echo-request accept"));
    expect(fw.send({ inner: icmpEcho({ id: 1, seq: 1 }) })).toBe("accept");
    expectIpv4(fw.h.nextPacket(), icmp(type(0)));
    expect(fw.send({ inner: icmpEcho({ id: 1, seq: 2, reply: true }) })).toBe("drop");
  });
});

describe("interface, state, mark and length matches", () => {
  it("matches the input interface by name", async () => {
    fw = await firewall(inputChain('iifname "tst0" udp dport 1 accept\n\t\tiifname "eth*" accept'));
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(fw.send({ inner: udp(2) })).toBe("drop");
  });

  it("matches the output interface with a wildcard", async () => {
    fw = await firewall(
      'table ip t { chain out { type filter hook output priority 0; policy accept; oifname "tst*" icmp type echo-reply drop } }',
    );
    const before = fw.h.drops().NETFILTER_DROP ?? 0;
    fw.h.inject({ inner: icmpEcho({ id: 3, seq: 1 }) });
    expect(fw.h.pending).toBe(0);
    expect(fw.h.drops().NETFILTER_DROP).toBe(before + 1);
  });

  it("matches ct state from conntrack", async () => {
    fw = await firewall(
      inputChain("ct state established,related accept\n\t\tct state invalid drop"),
    );
    fw.ct.states.set(40001, CT_STATE.ESTABLISHED);
    fw.ct.states.set(40002, CT_STATE.RELATED);
    expect(fw.send({ inner: syn(80, 40001) })).toBe("accept");
    expect(fw.send({ inner: syn(80, 40002) })).toBe("accept");
    expect(fw.send({ inner: syn(80, 40003) })).toBe("drop");
  });

  it("sets the mark in one chain and matches it in a later one", async () => {
    fw = await firewall(`table ip t {
	chain pre {
		type filter hook prerouting priority mangle; policy accept;
		udp dport 7 meta mark set 0x2a
	}
	chain in {
		type filter hook input priority filter; policy drop;
		meta mark 42 accept
	}
}`);
    expect(fw.send({ inner: udp(7) })).toBe("accept");
    expect(fw.send({ inner: udp(8) })).toBe("drop");
  });

  it("matches the packet length", async () => {
    fw = await firewall(inputChain("meta length 0-100 accept"));
    expect(fw.send({ inner: udpDatagram({ sport: 1, dport: 2, payload: "x".repeat(10) }) })).toBe(
      "accept",
    );
    expect(fw.send({ inner: udpDatagram({ sport: 1, dport: 2, payload: "x".repeat(200) }) })).toBe(
      "drop",
    );
  });

  it("refuses ct state at load when the stack has no conntrack", async () => {
    const h = await createHarness({ plugins: [ipv4(), icmpPlugin()] });
    const rs = createRuleset(h.stack);
    expect(() => rs.replace(inputChain("ct state new accept"))).toThrow(
      /ct state needs the conntrack part of netfilter\(\)/,
    );
    await h.close();
  });
});

describe("queue", () => {
  it("drops a packet queued to a queue nobody listens on", async () => {
    fw = await firewall(inputChain("queue num 3", "").replace("policy drop", "policy accept"));
    expect(fw.send({ inner: udp(1) })).toBe("drop");
  });

  it("lets a packet through a queue nobody listens on with bypass", async () => {
    fw = await firewall(inputChain("queue num 3 bypass"));
    expect(fw.send({ inner: udp(1) })).toBe("accept");
  });

  it("hands the packet to the handler of its queue number", async () => {
    fw = await firewall(inputChain("queue num 7"));
    const queued: number[] = [];
    fw.h.stack.nf.registerQueueHandler(7, (entry) => {
      queued.push(entry.queueNum);
      fw.h.stack.nf.reinject(entry, NF_ACCEPT);
    });
    expect(fw.send({ inner: udp(1) })).toBe("accept");
    expect(queued).toEqual([7]);
  });
});

describe("NAT statements", () => {
  class FakeNat implements NatApi {
    readonly calls: [NatType, NatRange | null, number][] = [];
    setup(_skb: SkBuff, state: NfHookState, t: NatType, range: NatRange | null): number {
      this.calls.push([t, range, state.hook]);
      return NF_ACCEPT;
    }
  }

  it("asks NAT to set up snat, dnat and masquerade with their ranges", async () => {
    const nat = new FakeNat();
    const h = await createHarness({
      plugins: [
        ipv4(),
        icmpPlugin(),
        definePlugin({ name: "test:nat", register: (ctx) => ctx.provide(NAT_API, nat) }),
      ],
    });
    const rs = createRuleset(h.stack);
    rs.replace(`table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		udp dport 80 dnat to 10.0.0.2:8080
	}
	chain in {
		type nat hook input priority srcnat; policy accept;
		udp dport 80 snat to 192.0.2.9-192.0.2.10
		udp dport 81 masquerade to :1000-2000
	}
}`);
    h.inject({ inner: udp(80) });
    h.inject({ inner: udp(81) });
    expect(nat.calls).toEqual([
      ["dnat", { minAddr: 0x0a000002, maxAddr: 0x0a000002, minPort: 8080, maxPort: 8080 }, 0],
      ["snat", { minAddr: 0xc0000209, maxAddr: 0xc000020a, minPort: 0, maxPort: 0 }, 1],
      ["masquerade", { minAddr: 0, maxAddr: 0, minPort: 1000, maxPort: 2000 }, 1],
    ]);
    await h.close();
  });

  it("refuses snat at load when the stack has no NAT", async () => {
    const h = await createHarness({ plugins: [ipv4(), icmpPlugin()] });
    const rs = createRuleset(h.stack);
    let error: unknown;
    try {
      rs.replace(
        "table ip nat {\n\tchain post {\n\t\ttype nat hook postrouting priority srcnat;\n\t\tsnat to 192.0.2.1\n\t}\n}",
        { file: "nat.nft" },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(NftSyntaxError);
    expect((error as Error).message).toMatch(
      /^nat\.nft:4:3: error: snat needs the conntrack\/NAT part of netfilter\(\)\n\t\tsnat to 192\.0\.2\.1\n\t\t\^\^\^\^$/,
    );
    await h.close();
  });
});
