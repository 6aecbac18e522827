import { ICMP_TYPE } from "@skbuff/icmp";
import {
  type Harness,
  icmpEcho,
  icmpError,
  ipv4Packet,
  tcpSegment,
  udpDatagram,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { conntrackEntries, formatConntrack } from "../src/conntrack/index.js";
import { CT_STATE } from "../src/nf_api.js";
import { forwardingHarness } from "./conntrack_helpers.js";

const CLIENT = "192.0.2.2";
const SERVER = "198.51.100.9";

let harness: Harness | null = null;
afterEach(async () => {
  await harness?.close();
  harness = null;
});

async function setup(options: Parameters<typeof forwardingHarness>[0] = {}) {
  const r = await forwardingHarness(options);
  harness = r.h;
  return r;
}

function udp(c2s: boolean, sport = 5000, dport = 53): Uint8Array {
  return c2s
    ? ipv4Packet({ src: CLIENT, dst: SERVER, inner: udpDatagram({ sport, dport, payload: "q" }) })
    : ipv4Packet({ src: SERVER, dst: CLIENT, inner: udpDatagram({ sport: dport, dport: sport }) });
}

describe("the UDP tracker", () => {
  it("forgets a flow never answered after nf_conntrack_udp_timeout (30 s)", async () => {
    const { h, seen } = await setup();
    h.inject(udp(true));
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW]);
    expect(formatConntrack(conntrackEntries(h.stack)[0]!)).toBe(
      "udp      17 30 src=192.0.2.2 dst=198.51.100.9 sport=5000 dport=53 [UNREPLIED] " +
        "src=198.51.100.9 dst=192.0.2.2 sport=53 dport=5000 mark=0 use=1",
    );
    h.advance(29_999);
    expect(conntrackEntries(h.stack)).toHaveLength(1);
    h.advance(1);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("sees the answer as ESTABLISHED and keeps a replied flow 30 s", async () => {
    const { h, seen } = await setup();
    h.inject(udp(true));
    h.inject(udp(false));
    h.inject(udp(true));
    expect(seen.map((s) => s.state)).toEqual([
      CT_STATE.NEW,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
    ]);
    const ct = conntrackEntries(h.stack)[0]!;
    expect(formatConntrack(ct)).toMatch(/^udp {6}17 30 src=.* sport=5000 dport=53 src=/);
    h.advance(30_000);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("makes a flow still active 2 s after it began a stream: ASSURED, 120 s", async () => {
    const { h } = await setup();
    h.inject(udp(true));
    h.inject(udp(false));
    h.advance(2_001);
    h.inject(udp(true));
    expect(formatConntrack(conntrackEntries(h.stack)[0]!)).toMatch(
      /^udp {6}17 120 .* \[ASSURED\] mark=0 use=1$/,
    );
    h.advance(119_999);
    expect(conntrackEntries(h.stack)).toHaveLength(1);
    h.advance(1);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("tracks a datagram that arrives in fragments, reassembled first", async () => {
    const { h, seen } = await setup();
    const whole = ipv4Packet({
      src: CLIENT,
      dst: SERVER,
      id: 77,
      inner: udpDatagram({ sport: 5000, dport: 53, payload: "x".repeat(40) }),
    });
    const body = whole.subarray(20);
    h.inject({
      src: CLIENT,
      dst: SERVER,
      id: 77,
      mf: true,
      protocol: 17,
      payload: body.subarray(0, 24),
    });
    expect(seen).toHaveLength(0);
    h.inject({
      src: CLIENT,
      dst: SERVER,
      id: 77,
      fragOffset: 24,
      protocol: 17,
      payload: body.subarray(24),
    });
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW]);
    expect(conntrackEntries(h.stack).map((c) => c.orig.sport)).toEqual([5000]);
    expect(h.nextPacket().length).toBe(whole.length);
  });
});

describe("the ICMP tracker", () => {
  it("tracks an echo request by its id and sees the reply as ESTABLISHED", async () => {
    const { h, seen } = await setup();
    h.inject(ipv4Packet({ src: CLIENT, dst: SERVER, inner: icmpEcho({ id: 7, seq: 1 }) }));
    h.inject(
      ipv4Packet({ src: SERVER, dst: CLIENT, inner: icmpEcho({ id: 7, seq: 1, reply: true }) }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW, CT_STATE.ESTABLISHED]);
    expect(conntrackEntries(h.stack).map(formatConntrack)).toEqual([
      "icmp     1 30 src=192.0.2.2 dst=198.51.100.9 type=8 code=0 id=7 " +
        "src=198.51.100.9 dst=192.0.2.2 type=0 code=0 id=7 mark=0 use=1",
    ]);
  });

  it("marks an echo reply with another id INVALID", async () => {
    const { h, seen } = await setup();
    h.inject(ipv4Packet({ src: CLIENT, dst: SERVER, inner: icmpEcho({ id: 7, seq: 1 }) }));
    h.inject(
      ipv4Packet({ src: SERVER, dst: CLIENT, inner: icmpEcho({ id: 8, seq: 1, reply: true }) }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW, CT_STATE.INVALID]);
  });

  it("sees a port unreachable about a tracked UDP flow as RELATED", async () => {
    const { h, seen, api } = await setup();
    const request = udp(true);
    h.inject(request);
    h.inject(
      ipv4Packet({
        src: SERVER,
        dst: CLIENT,
        inner: icmpError({ type: ICMP_TYPE.DEST_UNREACH, code: 3, quote: request }),
      }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW, CT_STATE.RELATED]);
    expect(api).toBeDefined();
  });

  it("marks an ICMP error about a flow it does not track INVALID", async () => {
    const { h, seen } = await setup();
    h.inject(
      ipv4Packet({
        src: SERVER,
        dst: CLIENT,
        inner: icmpError({ type: ICMP_TYPE.DEST_UNREACH, code: 3, quote: udp(true) }),
      }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.INVALID]);
    expect(h.counters().NfConntrackError).toBe(1);
  });

  it("marks an ICMP error sent to someone other than the flow's peer INVALID", async () => {
    const { h, seen } = await setup();
    const request = udp(true);
    h.inject(request);
    h.inject(
      ipv4Packet({
        src: SERVER,
        dst: "192.0.2.99",
        inner: icmpError({ type: ICMP_TYPE.DEST_UNREACH, code: 3, quote: request }),
      }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW, CT_STATE.INVALID]);
  });
});

describe("the table", () => {
  it("evicts an unassured connection when nf_conntrack_max is reached", async () => {
    const { h } = await setup({ max: 2 });
    h.inject(udp(true, 5001));
    h.inject(udp(true, 5002));
    h.inject(udp(true, 5003));
    expect(conntrackEntries(h.stack).map((c) => c.orig.sport)).toEqual([5002, 5003]);
    expect(h.counters()).toMatchObject({ NfConntrackEarlyDrop: 1, NfConntrackInsert: 3 });
  });

  it("drops a new flow with NF_CONNTRACK_FULL when every entry is assured", async () => {
    const { h } = await setup({ max: 1 });
    const tcp = (c2s: boolean, flags: string) =>
      c2s
        ? ipv4Packet({ src: CLIENT, dst: SERVER, inner: tcpSegment({ sport: 1, dport: 2, flags }) })
        : ipv4Packet({
            src: SERVER,
            dst: CLIENT,
            inner: tcpSegment({ sport: 2, dport: 1, flags }),
          });
    h.inject(tcp(true, "S"));
    h.inject(tcp(false, "S."));
    h.inject(tcp(true, "."));
    const before = h.transmitted.length;
    h.inject(udp(true));
    expect(h.transmitted.length).toBe(before);
    expect(h.drops()).toMatchObject({ NF_CONNTRACK_FULL: 1 });
    expect(h.counters()).toMatchObject({ NfConntrackDrop: 1, NfConntrackEarlyDrop: 0 });
    expect(conntrackEntries(h.stack)).toHaveLength(1);
  });

  it("uses one GC timer for the whole table, deleted when the stack closes", async () => {
    const { h } = await setup();
    const timers = h.stack.timerCount;
    for (let p = 1; p <= 50; p++) h.inject(udp(true, p + 1000));
    expect(conntrackEntries(h.stack)).toHaveLength(50);
    expect(h.stack.timerCount).toBe(timers);
    await h.close();
    harness = null;
    expect(h.stack.timerCount).toBe(0);
  });

  it("has Linux's sysctl names and defaults", async () => {
    const { h } = await setup();
    const all = h.stack.sysctl.all();
    expect(all).toMatchObject({
      "net.netfilter.nf_conntrack_max": 65536,
      "net.netfilter.nf_conntrack_tcp_timeout_established": 432000,
      "net.netfilter.nf_conntrack_tcp_timeout_syn_sent": 120,
      "net.netfilter.nf_conntrack_tcp_timeout_syn_recv": 60,
      "net.netfilter.nf_conntrack_tcp_timeout_fin_wait": 120,
      "net.netfilter.nf_conntrack_tcp_timeout_close_wait": 60,
      "net.netfilter.nf_conntrack_tcp_timeout_last_ack": 30,
      "net.netfilter.nf_conntrack_tcp_timeout_time_wait": 120,
      "net.netfilter.nf_conntrack_tcp_timeout_close": 10,
      "net.netfilter.nf_conntrack_udp_timeout": 30,
      "net.netfilter.nf_conntrack_udp_timeout_stream": 120,
      "net.netfilter.nf_conntrack_icmp_timeout": 30,
      "net.netfilter.nf_conntrack_generic_timeout": 600,
    });
  });

  it("keeps nf_conntrack_count read-only and in step with the table", async () => {
    const { h } = await setup();
    h.inject(udp(true));
    h.stack.sysctl.set("net.netfilter.nf_conntrack_count", 99);
    expect(h.stack.sysctl.get("net.netfilter.nf_conntrack_count")).toBe(1);
  });
});
