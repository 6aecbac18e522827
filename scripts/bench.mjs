#!/usr/bin/env node
// pnpm bench: packets/s through the IPv4 receive path (PRE_ROUTING + LOCAL_IN, three hooks each,
// on real SkBuffs) and ping round trips/s over loopback, each next to a baseline measured in the
// same run: a plain JavaScript loop doing comparable work (parse and check an IPv4 header, call six
// hook functions, dispatch to a handler). Figures are ratios against that baseline because this
// machine is shared and noisy. Run after `pnpm build` (the script does it).
import {
  consumeSkb,
  createStack,
  definePlugin,
  devAllocSkb,
  ipFastCsum,
  NF_ACCEPT,
  NF_INET_LOCAL_IN,
  NF_INET_PRE_ROUTING,
  NFPROTO_IPV4,
  netifReceiveSkb,
  netifRx,
  VirtualClock,
} from "../packages/core/dist/index.js";
import { icmp } from "../packages/icmp/dist/index.js";
import { ipSendCheck, ipv4 } from "../packages/ipv4/dist/index.js";
import { loopback } from "../packages/loopback/dist/index.js";
import { benchArgs, timeIt } from "./bench-lib.mjs";

const { json, quick, out } = benchArgs();
const N = quick ? 200_000 : 2_000_000;
const results = [];

// A 64-byte IPv4 packet to 192.0.2.1, protocol 253 (experimental).
const PROTO = 253;
const template = new Uint8Array(64);
template.set([0x45, 0, 0, 64, 0, 1, 0x40, 0, 64, PROTO, 0, 0, 198, 51, 100, 7, 192, 0, 2, 1]);
ipSendCheck(template, 0);

// --- baseline: a plain JS loop doing comparable work -------------------------------------------
function baseline(n) {
  const buf = new Uint8Array(64 + 64);
  const hooks = [() => 1, () => 1, () => 1, () => 1, () => 1, () => 1];
  let delivered = 0;
  const handler = (b, off) => {
    delivered += b[off] === PROTO ? 1 : 0;
  };
  for (let i = 0; i < n; i++) {
    buf.set(template, 64);
    const o = 64;
    if (buf[o] >> 4 !== 4 || (buf[o] & 15) < 5) continue;
    if (ipFastCsum(buf, o, buf[o] & 15) !== 0) continue;
    const len = (buf[o + 2] << 8) | buf[o + 3];
    if (len > 64) continue;
    let v = 1;
    for (let h = 0; h < 6 && v === 1; h++) v = hooks[h]();
    if (v === 1) handler(buf, o + 9);
  }
  if (delivered !== n) throw new Error(`baseline delivered ${delivered}/${n}`);
}

// --- the real path -----------------------------------------------------------------------------
async function makeRxStack() {
  let delivered = 0;
  const sink = definePlugin({
    name: "bench:sink",
    requires: ["skbuff:ipv4"],
    register(ctx) {
      ctx.inetAddProtocol({
        protocol: PROTO,
        handler(skb) {
          delivered++;
          consumeSkb(skb);
          return 0;
        },
      });
      for (const hooknum of [NF_INET_PRE_ROUTING, NF_INET_LOCAL_IN]) {
        for (const priority of [-100, 0, 100]) {
          ctx.nfRegisterHook({ pf: NFPROTO_IPV4, hooknum, priority, hook: () => NF_ACCEPT });
        }
      }
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
    },
  });
  const clock = new VirtualClock({ autoAdvance: false });
  const stack = await createStack({
    name: "bench",
    clock,
    plugins: [ipv4(), sink],
    devices: [{ driver: "bench", name: "eth0", address: "192.0.2.1/24" }],
  });
  return { stack, clock, dev: stack.getDevice("eth0"), delivered: () => delivered };
}

function freshSkb(dev) {
  const skb = devAllocSkb(64);
  skb.head.set(template, skb.data);
  skb.put(64);
  skb.dev = dev;
  skb.protocol = 0x0800;
  return skb;
}

const rx = await makeRxStack();
const viaReceive = (n) => {
  for (let i = 0; i < n; i++) netifReceiveSkb(freshSkb(rx.dev));
};
const viaBacklog = (n) => {
  // netif_rx onto the backlog, drained by the softirq in NAPI batches, as a driver would.
  const max = rx.stack.core.netdevMaxBacklog.value;
  for (let i = 0; i < n; ) {
    const burst = Math.min(max, n - i);
    for (let j = 0; j < burst; j++) netifRx(freshSkb(rx.dev));
    rx.clock.advanceSync(0);
    i += burst;
  }
};
const allocOnly = (n) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += freshSkb(rx.dev).len;
  if (s !== n * 64) throw new Error("alloc");
};

out(`skbuff bench (node ${process.version}, ${N.toLocaleString()} packets per run, best of 5)`);
const base = timeIt(baseline, N);
results.push({
  name: "baseline: plain JS loop (parse, csum, 6 hook calls, dispatch)",
  perSec: base,
});
const alloc = timeIt(allocOnly, N);
results.push({
  name: "devAllocSkb + copy 64 bytes (what a driver does per packet)",
  perSec: alloc,
});
rx.stack.sysctl.set("net.core.netdev_max_backlog", 10_000);
const before = rx.delivered();
const recv = timeIt(viaReceive, N);
results.push({
  name: "netifReceiveSkb -> ipRcv -> PRE_ROUTING(3) -> LOCAL_IN(3) -> handler",
  perSec: recv,
});
const backlog = timeIt(viaBacklog, N);
results.push({
  name: "netifRx -> backlog -> netRxAction (NAPI) -> ... -> handler",
  perSec: backlog,
});
const expected = (Math.min(N, 50_000) + 5 * N) * 2; // warm-up + 5 timed runs, two paths
if (rx.delivered() - before !== expected) {
  throw new Error(
    `delivered ${rx.delivered() - before}, expected ${expected}: the path dropped packets`,
  );
}
await rx.stack.close();

// --- ping round trips over loopback ------------------------------------------------------------
const pingClock = new VirtualClock();
const pstack = await createStack({
  name: "ping",
  clock: pingClock,
  plugins: [ipv4(), icmp()],
  devices: [loopback()],
});
const PINGS = quick ? 5_000 : 30_000;
const pingRun = async (n) => {
  for (let i = 0; i < n; i++) await pstack.ping("127.0.0.1", { timeoutMs: 1000 });
};
await pingRun(1000);
let pingBest = 0;
for (let r = 0; r < 3; r++) {
  const t0 = process.hrtime.bigint();
  await pingRun(PINGS);
  pingBest = Math.max(pingBest, PINGS / (Number(process.hrtime.bigint() - t0) / 1e9));
}
results.push({
  name: "ping 127.0.0.1 round trips (await stack.ping, one at a time)",
  perSec: pingBest,
});
// Baseline for the round trip: an async request/response on promises with comparable hops.
const promiseRtt = async (n) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};
let immBest = 0;
for (let r = 0; r < 3; r++) {
  const t0 = process.hrtime.bigint();
  await promiseRtt(PINGS);
  immBest = Math.max(immBest, PINGS / (Number(process.hrtime.bigint() - t0) / 1e9));
}
results.push({
  name: "baseline: one setImmediate round per await (event-loop bound)",
  perSec: immBest,
});
await pstack.close();

for (const r of results) {
  out(
    `  ${r.name.padEnd(72)} ${(r.perSec / 1e6).toFixed(2).padStart(7)} M/s  (${(r.perSec / base).toFixed(3)}x baseline)`,
  );
}
if (json) console.log(JSON.stringify({ baselinePerSec: base, results }, null, 2));
