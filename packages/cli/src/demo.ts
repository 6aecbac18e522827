/**
 * `skb demo`: three stacks over veth (a — router — b), pings across them, a hook plugin that
 * drops echo requests from one source, a TTL expiry at the router, a fragmented ping, and a
 * printout of what happened: replies, drops with their reasons, and counters.
 * @packageDocumentation
 */
import {
  createNetwork,
  definePlugin,
  FunctionGraphTracer,
  inetAton,
  type Network,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_FORWARD,
  NF_IP_PRI_FILTER,
  NFPROTO_IPV4,
  type Plugin,
  type SkBuff,
  type Stack,
  VirtualClock,
} from "@skbuff/core";
import { icmp } from "@skbuff/icmp";
import { ipv4 } from "@skbuff/ipv4";
import { loopback } from "@skbuff/loopback";
import { netem } from "@skbuff/netem";
import { veth } from "@skbuff/veth";

/** Where the demo writes (stdout by default). */
export interface DemoOptions {
  readonly out?: (line: string) => void;
  /** Emit a JSON summary instead of text. */
  readonly json?: boolean;
}

/** What the demo observed, for `--json` and tests. */
export interface DemoResult {
  readonly pings: {
    readonly from: string;
    readonly to: string;
    readonly ok: boolean;
    readonly detail: string;
  }[];
  readonly drops: Record<string, Record<string, number>>;
  readonly counters: Record<string, Record<string, number>>;
  readonly trace: string;
}

/**
 * A small firewall plugin written against the public API only: on the router's FORWARD hook it
 * drops ICMP echo requests from one source address and counts them.
 */
export function blockPingFrom(source: string): Plugin & { readonly dropped: () => number } {
  const src = inetAton(source);
  if (src === null) throw new TypeError(`blockPingFrom: ${source} is not an IPv4 address`);
  let dropped = 0;
  const hook = (skb: SkBuff): number => {
    const b = skb.head;
    const nh = skb.networkHeader;
    const saddr =
      ((b[nh + 12]! << 24) | (b[nh + 13]! << 16) | (b[nh + 14]! << 8) | b[nh + 15]!) >>> 0;
    const ihl = (b[nh]! & 0x0f) * 4;
    if (saddr === src && b[nh + 9] === 1 && b[nh + ihl] === 8) {
      dropped++;
      return NF_DROP;
    }
    return NF_ACCEPT;
  };
  const plugin = definePlugin({
    name: "demo:block-ping",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_FORWARD,
        priority: NF_IP_PRI_FILTER,
        hook,
      });
    },
  });
  return Object.assign(Object.create(null), plugin, { dropped: () => dropped });
}

/** Runs the demo scenario and prints it. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const out = options.json ? () => {} : (options.out ?? ((l: string) => console.log(l)));
  const firewall = blockPingFrom("192.0.2.99");
  const clock = new VirtualClock();
  const base = [veth(), netem(), ipv4(), icmp()];
  const net: Network = await createNetwork({
    plugins: base,
    hosts: {
      a: {
        devices: [
          loopback(),
          { driver: "veth", name: "eth0", address: ["192.0.2.1/24", "192.0.2.99/24"] },
        ],
        routes: [{ to: "default", via: "192.0.2.254" }],
      },
      router: {
        plugins: [...base, firewall],
        devices: [
          { driver: "veth", name: "eth0", address: "192.0.2.254/24" },
          { driver: "veth", name: "eth1", address: "198.51.100.254/24", mtu: 1500 },
        ],
        sysctl: { "net.ipv4.ip_forward": 1 },
      },
      b: {
        devices: [loopback(), { driver: "veth", name: "eth0", address: "198.51.100.1/24" }],
        routes: [{ to: "default", via: "198.51.100.254" }],
      },
    },
    links: [
      { ends: ["a:eth0", "router:eth0"], netem: { delay: "2ms" } },
      { ends: ["router:eth1", "b:eth0"], netem: { delay: "3ms" } },
    ],
    clock,
  });
  const { a, router, b } = net.hosts as Record<"a" | "router" | "b", Stack>;
  const pings: DemoResult["pings"] = [];
  const ping = async (
    label: string,
    host: Stack,
    dst: string,
    opts: Parameters<Stack["ping"]>[1] = {},
  ) => {
    try {
      const r = await host.ping(dst, { timeoutMs: 1000, ...opts });
      const detail = `${r.bytes} bytes from ${r.from}: icmp_seq=${r.seq} ttl=${r.ttl} time=${r.rttMs.toFixed(3)} ms`;
      pings.push({ from: host.name, to: dst, ok: true, detail });
      out(`  ${label.padEnd(44)} ${detail}`);
    } catch (e) {
      const err = e as Error & { code?: string };
      const detail = `${err.code ?? "error"}: ${err.message.replace(/^[A-Z]+: /, "")}`;
      pings.push({ from: host.name, to: dst, ok: false, detail });
      out(`  ${label.padEnd(44)} ${detail}`);
    }
  };

  out("skbuff demo: three stacks in one process, joined by veth links (virtual clock)");
  out("");
  out(
    "  a (192.0.2.1, .99) --veth, netem 2ms-- router (ip_forward=1, demo:block-ping) --veth, netem 3ms-- b (198.51.100.1)",
  );
  out("");
  out("pings");
  await ping("a -> 127.0.0.1 (its own loopback)", a, "127.0.0.1");
  await ping("a -> router 192.0.2.254", a, "192.0.2.254");
  const tracer = new FunctionGraphTracer(undefined, { stackColumn: true }).start();
  await ping("a -> b 198.51.100.1 (through the router)", a, "198.51.100.1");
  const trace = tracer.stop();
  await ping("a -> b, 3000 bytes (fragmented at MTU 1500)", a, "198.51.100.1", { size: 3000 });
  await ping("a -> b with ttl 1 (expires at the router)", a, "198.51.100.1", { ttl: 1 });
  await ping("a (from 192.0.2.99) -> b (firewalled)", a, "198.51.100.1", { source: "192.0.2.99" });
  await ping("b -> 203.0.113.7 (no route at the router)", b, "203.0.113.7");
  out("");
  out(`demo:block-ping dropped ${firewall.dropped()} echo request(s) at the router's FORWARD hook`);

  const drops: DemoResult["drops"] = {};
  const counters: DemoResult["counters"] = {};
  for (const host of [a, router, b]) {
    drops[host.name] = host.dropReasons();
    counters[host.name] = host.counters(true);
  }
  out("");
  out("drops, by reason (kfree_skb)");
  for (const [name, d] of Object.entries(drops)) {
    const list = Object.entries(d)
      .map(([r, n]) => `${r}=${n}`)
      .join(" ");
    out(`  ${name.padEnd(8)} ${list || "none"}`);
  }
  out("");
  out("counters (nstat names, non-zero)");
  for (const [name, c] of Object.entries(counters)) {
    out(`  ${name}`);
    const entries = Object.entries(c).filter(
      ([k]) => !k.startsWith("Softnet") && !k.startsWith("IpExtIn") && !k.startsWith("IpExtOut"),
    );
    for (let i = 0; i < entries.length; i += 4) {
      out(
        `    ${entries
          .slice(i, i + 4)
          .map(([k, v]) => `${k}=${v}`.padEnd(26))
          .join("")}`,
      );
    }
  }
  out("");
  out(
    "the third ping's path: out of a, through the router, into b and back (function_graph; the first column is the stack):",
  );
  for (const line of trace.split("\n").slice(0, 400)) out(line);
  await net.close();
  const result = { pings, drops, counters, trace };
  if (options.json)
    (options.out ?? ((l: string) => console.log(l)))(JSON.stringify(result, null, 2));
  return result;
}
