/**
 * Shared by the engine tests: a harness stack with a ruleset, a fake conntrack whose `ct state`
 * the test sets per TCP/UDP source port, and a way to tell what the ruleset did to a packet.
 */
import { definePlugin, type Plugin, type SkBuff } from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { createHarness, type Harness, type PacketSpec } from "@skbuff/testing";
import { createRuleset, type Ruleset } from "../src/engine/ruleset.js";
import { CONNTRACK_API, type ConntrackApi, CT_STATE } from "../src/nf_api.js";

/** A conntrack stand-in: `ct state` by the packet's source port (TCP/UDP), NEW otherwise. */
export class FakeConntrack implements ConntrackApi {
  readonly states = new Map<number, number>();
  ctState(skb: SkBuff): number {
    const b = skb.head;
    const nh = skb.networkHeader;
    const proto = b[nh + 9];
    if (proto !== 6 && proto !== 17) return CT_STATE.NEW;
    const th = nh + (b[nh]! & 15) * 4;
    const sport = (b[th]! << 8) | b[th + 1]!;
    return this.states.get(sport) ?? CT_STATE.NEW;
  }
  ctOf(): object | null {
    return null;
  }
  ctMark(): number {
    return 0;
  }
  setCtMark(): void {}
}

export function fakeConntrackPlugin(ct: FakeConntrack): Plugin {
  return definePlugin({
    name: "test:fake-conntrack",
    register(ctx) {
      ctx.provide(CONNTRACK_API, ct);
    },
  });
}

export interface Fw {
  readonly h: Harness;
  readonly rs: Ruleset;
  readonly ct: FakeConntrack;
  /** Injects a packet and says what the ruleset did with it. */
  send(p: Uint8Array | PacketSpec): "accept" | "drop" | "reject";
  /** Drops the packets the stack sent so far. */
  drain(): void;
}

/** A harness (ipv4, icmp without rate limits, a fake conntrack) with a ruleset loaded. */
export async function firewall(text: string): Promise<Fw> {
  const ct = new FakeConntrack();
  const h = await createHarness({
    plugins: [ipv4(), icmp({ ratemask: 0 }), fakeConntrackPlugin(ct)],
  });
  const rs = createRuleset(h.stack);
  rs.replace(text);
  return {
    h,
    rs,
    ct,
    send(p) {
      const before = h.drops();
      h.inject(p);
      const after = h.drops();
      const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
      if (d("NETFILTER_REJECT") > 0) return "reject";
      if (d("NETFILTER_DROP") > 0) return "drop";
      return "accept";
    },
    drain() {
      while (h.pending > 0) h.nextPacket();
    },
  };
}

/** An input chain with policy drop and the given rules. */
export function inputChain(rules: string, extra = ""): string {
  return `table ip filter {
${extra}
	chain input {
		type filter hook input priority filter; policy drop;
${rules}
	}
}
`;
}
