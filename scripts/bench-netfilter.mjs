#!/usr/bin/env node
// pnpm build && node scripts/bench-netfilter.mjs [--quick] [--json]
// (packages/netfilter must be built too: `pnpm -C packages/netfilter build`; or point
// SKB_NETFILTER_DIST at a folder holding another build of it.)
//
// Packets/s through a LOCAL_IN filter chain of 1, 3, 10, 100 and 1 000 rules, and through a set
// lookup (`ip saddr @blocked`) with 100, 1 000 and 10 000 elements, each next to a baseline
// measured in the same run: a hand-written JavaScript loop doing the same matching on the same
// bytes. Figures are best of 5 and printed as ratios against their baseline, because this machine
// is shared and noisy (the issue measured ~35 M packets/s for such a loop here).
//
// What is timed: `stack.nf.run(NFPROTO_IPV4, NF_INET_LOCAL_IN, …)` on one 64-byte TCP packet
// (198.51.100.7:40000 > 192.0.2.1:80) that no rule matches, so every rule is evaluated and the
// chain's policy (accept) applies; the skb is reused, so the figures are the hook path and the
// rules, without allocation or the IP receive path (the last line gives that path for scale).
//
// Two kinds of chains are measured:
// - "engine": the rule engine of @skbuff/netfilter (packages/netfilter/dist), given the ruleset
//   as nft text through its public API, when that API is there;
// - "raw hook": one netfilter hook (NfHookOps) running hand-written match closures, one per rule —
//   what the engine's compiled rules should cost at best, and the fallback when the engine is not
//   built: the script says so in its output.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import {
  consumeSkb,
  createStack,
  definePlugin,
  devAllocSkb,
  getU16,
  getU32,
  NF_ACCEPT,
  NF_DROP,
  NF_INET_LOCAL_IN,
  NFPROTO_IPV4,
  netifReceiveSkb,
  VirtualClock,
} from "../packages/core/dist/index.js";
import { ipSendCheck, ipv4 } from "../packages/ipv4/dist/index.js";
import { benchArgs, timeIt } from "./bench-lib.mjs";

const { json, quick, out } = benchArgs();
const N = quick ? 200_000 : 2_000_000;
const results = [];

// --- the packet ----------------------------------------------------------------------------------
const IPPROTO_TCP = 6;
const DPORT = 80;
const template = new Uint8Array(64);
template.set([0x45, 0, 0, 64, 0, 1, 0x40, 0, 64, IPPROTO_TCP, 0, 0, 198, 51, 100, 7, 192, 0, 2, 1]);
template.set([0x9c, 0x40, 0, DPORT, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff], 20);
ipSendCheck(template, 0);

// --- the rules: none matches the packet ----------------------------------------------------------
// Rule i: `ip saddr 10.<i>.0.1 tcp dport <1000 + i> drop`. The saddr differs, so each rule stops
// at its first match expression, as nftables' would.
const ruleSaddr = (i) => (10 << 24) | ((i & 0xff) << 16) | ((i >> 8) << 8) | 1;
const ruleDport = (i) => 1000 + i;
const dotted = (a) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
// Set elements: 10.x.y.z addresses, none of which is the packet's source.
const setElem = (i) => ((10 << 24) | (i + 1)) >>> 0;

const CHAIN_SIZES = [1, 3, 10, 100, 1000];
const SET_SIZES = [100, 1000, 10_000];

// --- baselines: plain JS loops over the same bytes ----------------------------------------------
// Sixteen copies of the packet (source ports differ), taken in turn, so that the loop really
// reads each packet's bytes instead of the JIT hoisting one packet's loads out of it.
const packets = Array.from({ length: 16 }, (_, i) => {
  const b = template.slice();
  b[21] = i;
  return b;
});
function baselineChain(nrules) {
  const rules = [];
  for (let i = 0; i < nrules; i++) rules.push({ saddr: ruleSaddr(i) >>> 0, dport: ruleDport(i) });
  return (n) => {
    let accepted = 0;
    for (let p = 0; p < n; p++) {
      const buf = packets[p & 15];
      let verdict = NF_ACCEPT;
      const saddr = getU32(buf, 12);
      for (let r = 0; r < rules.length; r++) {
        const rule = rules[r];
        if (saddr !== rule.saddr) continue;
        if (buf[9] !== IPPROTO_TCP) continue;
        if (getU16(buf, (buf[0] & 15) * 4 + 2) !== rule.dport) continue;
        verdict = NF_DROP;
        break;
      }
      if (verdict === NF_ACCEPT) accepted++;
    }
    if (accepted !== n) throw new Error(`baseline chain accepted ${accepted}/${n}`);
  };
}

function baselineSet(nelems) {
  const set = new Set();
  for (let i = 0; i < nelems; i++) set.add(setElem(i));
  return (n) => {
    let accepted = 0;
    for (let p = 0; p < n; p++) if (!set.has(getU32(packets[p & 15], 12))) accepted++;
    if (accepted !== n) throw new Error(`baseline set accepted ${accepted}/${n}`);
  };
}

// --- stacks --------------------------------------------------------------------------------------
/** A device that swallows what it is given (nothing is sent in these runs). */
const benchDriver = definePlugin({
  name: "bench:device",
  register(ctx) {
    ctx.registerDriver({
      name: "bench",
      create(stack, spec) {
        return stack.registerNetdev({
          name: spec.name ?? "bench0",
          kind: "bench",
          mtu: 1500,
          noQueue: true,
          ops: {
            ndoStartXmit(skb) {
              consumeSkb(skb);
              return 0;
            },
          },
        });
      },
    });
    // Deliver TCP locally to a sink, so the full-path line below has somewhere to end.
    ctx.inetAddProtocol({
      protocol: IPPROTO_TCP,
      handler(skb) {
        consumeSkb(skb);
        return 0;
      },
    });
  },
});

async function makeStack(plugins) {
  const stack = await createStack({
    name: "bench-nf",
    clock: new VirtualClock({ autoAdvance: false }),
    plugins: [ipv4(), benchDriver, ...plugins],
    devices: [{ driver: "bench", name: "eth0", address: "192.0.2.1/24" }],
  });
  return { stack, dev: stack.getDevice("eth0") };
}

function reusedSkb(dev) {
  const skb = devAllocSkb(64);
  skb.head.set(template, skb.data);
  skb.put(64);
  skb.dev = dev;
  skb.protocol = 0x0800;
  skb.setNetworkHeader(0);
  skb.transportHeader = skb.networkHeader + 20;
  return skb;
}

/** Runs LOCAL_IN's hooks on one reused skb, n times; every run must accept. */
function throughLocalIn({ stack, dev }) {
  const skb = reusedSkb(dev);
  const nf = stack.nf;
  const okfn = () => 0;
  return (n) => {
    let accepted = 0;
    for (let i = 0; i < n; i++) {
      accepted += nf.run(NFPROTO_IPV4, NF_INET_LOCAL_IN, null, skb, dev, null, okfn);
    }
    if (accepted !== n) throw new Error(`LOCAL_IN accepted ${accepted}/${n}: a rule matched`);
  };
}

// --- raw hooks: hand-written closures ------------------------------------------------------------
function rawChainPlugin(nrules) {
  const rules = [];
  for (let i = 0; i < nrules; i++) {
    const saddr = ruleSaddr(i) >>> 0;
    const dport = ruleDport(i);
    rules.push((b, nh) => {
      if (getU32(b, nh + 12) !== saddr) return false;
      if (b[nh + 9] !== IPPROTO_TCP) return false;
      return getU16(b, nh + (b[nh] & 15) * 4 + 2) === dport;
    });
  }
  return definePlugin({
    name: "bench:raw-chain",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_LOCAL_IN,
        priority: 0,
        hook(skb) {
          const b = skb.head;
          const nh = skb.networkHeader;
          for (let r = 0; r < rules.length; r++) if (rules[r](b, nh)) return NF_DROP;
          return NF_ACCEPT;
        },
      });
    },
  });
}

function rawSetPlugin(nelems) {
  const set = new Set();
  for (let i = 0; i < nelems; i++) set.add(setElem(i));
  return definePlugin({
    name: "bench:raw-set",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.nfRegisterHook({
        pf: NFPROTO_IPV4,
        hooknum: NF_INET_LOCAL_IN,
        priority: 0,
        hook: (skb) => (set.has(getU32(skb.head, skb.networkHeader + 12)) ? NF_DROP : NF_ACCEPT),
      });
    },
  });
}

// --- the rule engine, through its public API -----------------------------------------------------
function chainRuleset(nrules) {
  const rules = [];
  for (let i = 0; i < nrules; i++) {
    rules.push(`    ip saddr ${dotted(ruleSaddr(i) >>> 0)} tcp dport ${ruleDport(i)} drop`);
  }
  return [
    "table ip filter {",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    ...rules,
    "  }",
    "}",
    "",
  ].join("\n");
}

function setRuleset(nelems) {
  const elems = [];
  for (let i = 0; i < nelems; i++) elems.push(dotted(setElem(i)));
  return [
    "table ip filter {",
    "  set blocked {",
    "    type ipv4_addr",
    `    elements = { ${elems.join(", ")} }`,
    "  }",
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    "    ip saddr @blocked drop",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The engine's plugin factory, or why it cannot be used. */
async function loadEngine() {
  // SKB_NETFILTER_DIST points at another build of the package (a folder with index.js).
  const dist = process.env.SKB_NETFILTER_DIST
    ? pathToFileURL(`${process.env.SKB_NETFILTER_DIST}/index.js`)
    : new URL("../packages/netfilter/dist/index.js", import.meta.url);
  if (!existsSync(dist)) return { why: `${fileURLToPath(dist)} is not built` };
  let mod;
  try {
    mod = await import(dist.href);
  } catch (error) {
    return { why: `importing ${fileURLToPath(dist)} failed: ${error.message}` };
  }
  if (typeof mod.netfilter !== "function") {
    return { why: `${fileURLToPath(dist)} exports no netfilter() plugin factory` };
  }
  // Check that it takes a ruleset and filters with it before timing it: the benchmark's packet
  // must pass the timed rulesets, and be dropped by one rule or set element that matches it.
  const PKT_SADDR = "198.51.100.7";
  const matching = [
    chainRuleset(3).replace(
      /ip saddr [\d.]+ tcp dport \d+ drop/,
      `ip saddr ${PKT_SADDR} tcp dport ${DPORT} drop`,
    ),
    setRuleset(100).replace("elements = { ", `elements = { ${PKT_SADDR}, `),
  ];
  try {
    const probe = await makeStack([mod.netfilter({ ruleset: chainRuleset(3), conntrack: false })]);
    throughLocalIn(probe)(10);
    const hooks = probe.stack.nf.list(NFPROTO_IPV4, NF_INET_LOCAL_IN).length;
    await probe.stack.close();
    if (hooks === 0) return { why: "netfilter({ ruleset }) registered no LOCAL_IN hook" };
    for (const ruleset of matching) {
      const s = await makeStack([mod.netfilter({ ruleset, conntrack: false })]);
      const verdict = s.stack.nf.run(
        NFPROTO_IPV4,
        NF_INET_LOCAL_IN,
        null,
        reusedSkb(s.dev),
        s.dev,
        null,
        () => 0,
      );
      await s.stack.close();
      if (verdict === 1) return { why: "netfilter({ ruleset }) let through a packet a rule drops" };
    }
  } catch (error) {
    return { why: `netfilter({ ruleset }) did not run a ruleset: ${error.message}` };
  }
  return { netfilter: mod.netfilter };
}

// --- run -----------------------------------------------------------------------------------------
out(
  `skbuff netfilter bench (node ${process.version}, ${N.toLocaleString()} packets per run, best of 5)`,
);
const engine = await loadEngine();
if (engine.why !== undefined) {
  out("");
  out(`  NOTE: the rule engine is not measured: ${engine.why}.`);
  out("  The 'raw hook' lines measure NF hooks with hand-written match closures instead: the");
  out("  hook-path cost that compiled rules add to, not the engine's own cost.");
}
out("");

const row = (name, perSec, base) => {
  results.push({ name, perSec, baselinePerSec: base });
  out(
    `  ${name.padEnd(58)} ${(perSec / 1e6).toFixed(2).padStart(7)} M/s  (${(perSec / base).toFixed(3)}x baseline)`,
  );
};

for (const nrules of CHAIN_SIZES) {
  const n = nrules >= 1000 ? Math.max(20_000, N / 100) : nrules >= 100 ? N / 10 : N;
  const base = timeIt(baselineChain(nrules), n);
  row(`baseline: JS loop over ${nrules} rule${nrules === 1 ? "" : "s"}`, base, base);
  const raw = await makeStack([rawChainPlugin(nrules)]);
  row(
    `raw hook: LOCAL_IN, ${nrules} closure rule${nrules === 1 ? "" : "s"}`,
    timeIt(throughLocalIn(raw), n),
    base,
  );
  await raw.stack.close();
  if (engine.netfilter) {
    const s = await makeStack([
      engine.netfilter({ ruleset: chainRuleset(nrules), conntrack: false }),
    ]);
    row(
      `engine: input chain of ${nrules} rule${nrules === 1 ? "" : "s"}`,
      timeIt(throughLocalIn(s), n),
      base,
    );
    await s.stack.close();
  }
}
out("");
for (const nelems of SET_SIZES) {
  const base = timeIt(baselineSet(nelems), N);
  row(`baseline: JS Set.has, ${nelems.toLocaleString()} elements`, base, base);
  const raw = await makeStack([rawSetPlugin(nelems)]);
  row(
    `raw hook: LOCAL_IN, Set of ${nelems.toLocaleString()}`,
    timeIt(throughLocalIn(raw), N),
    base,
  );
  await raw.stack.close();
  if (engine.netfilter) {
    const s = await makeStack([
      engine.netfilter({ ruleset: setRuleset(nelems), conntrack: false }),
    ]);
    row(
      `engine: ip saddr @blocked, ${nelems.toLocaleString()} elements`,
      timeIt(throughLocalIn(s), N),
      base,
    );
    await s.stack.close();
  }
}

// For scale: the whole receive path (alloc, ipRcv, PRE_ROUTING, routing, LOCAL_IN with 3 rules,
// delivery), which is what a packet costs end to end.
out("");
{
  const full = await makeStack([
    engine.netfilter
      ? engine.netfilter({ ruleset: chainRuleset(3), conntrack: false })
      : rawChainPlugin(3),
  ]);
  const base = results.find((r) => r.name.startsWith("baseline: JS loop over 3 "))?.perSec ?? 1;
  const via = (n) => {
    for (let i = 0; i < n; i++) {
      const skb = devAllocSkb(64);
      skb.head.set(template, skb.data);
      skb.put(64);
      skb.dev = full.dev;
      skb.protocol = 0x0800;
      netifReceiveSkb(skb);
    }
  };
  row(
    `full receive path, ${engine.netfilter ? "engine" : "raw hook"}: 3 rules + delivery`,
    timeIt(via, quick ? N / 4 : N / 2),
    base,
  );
  await full.stack.close();
}

if (json) {
  console.log(
    JSON.stringify(
      { engine: engine.netfilter ? "netfilter" : `raw hooks (${engine.why})`, results },
      null,
      2,
    ),
  );
}
