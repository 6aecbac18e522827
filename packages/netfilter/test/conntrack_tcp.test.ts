import type { Harness } from "@skbuff/testing";
import { ipv4Packet, tcpSegment } from "@skbuff/testing";
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

/** A segment of the client → server direction (`c2s`) or back. */
function seg(c2s: boolean, flags: string, seq = 0, ack = 0): Uint8Array {
  const inner = c2s
    ? tcpSegment({ sport: 40000, dport: 80, seq, ack, flags })
    : tcpSegment({ sport: 80, dport: 40000, seq, ack, flags });
  return c2s
    ? ipv4Packet({ src: CLIENT, dst: SERVER, inner })
    : ipv4Packet({ src: SERVER, dst: CLIENT, inner });
}

describe("the TCP tracker", () => {
  it("walks a handshake and an orderly close through Linux's states", async () => {
    const { h, seen } = await setup();
    h.inject(seg(true, "S", 100));
    h.inject(seg(false, "S.", 500, 101));
    h.inject(seg(true, ".", 101, 501));
    h.inject(seg(true, "F.", 101, 501));
    h.inject(seg(false, ".", 501, 102));
    h.inject(seg(false, "F.", 501, 102));
    h.inject(seg(true, ".", 102, 502));
    expect(seen.map((s) => s.tcp)).toEqual([
      "SYN_SENT",
      "SYN_RECV",
      "ESTABLISHED",
      "FIN_WAIT",
      "CLOSE_WAIT",
      "LAST_ACK",
      "TIME_WAIT",
    ]);
    expect(seen.map((s) => s.state)).toEqual([
      CT_STATE.NEW,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
      CT_STATE.ESTABLISHED,
    ]);
  });

  it("lists an established connection as conntrack -L does, assured, for 5 days", async () => {
    const { h } = await setup();
    h.inject(seg(true, "S", 100));
    h.inject(seg(false, "S.", 500, 101));
    h.inject(seg(true, ".", 101, 501));
    expect(conntrackEntries(h.stack).map(formatConntrack)).toEqual([
      "tcp      6 432000 ESTABLISHED src=192.0.2.2 dst=198.51.100.9 sport=40000 dport=80 " +
        "src=198.51.100.9 dst=192.0.2.2 sport=80 dport=40000 [ASSURED] mark=0 use=1",
    ]);
  });

  it("shows a connection not answered yet as UNREPLIED in SYN_SENT for 120 s", async () => {
    const { h } = await setup();
    h.inject(seg(true, "S", 100));
    expect(conntrackEntries(h.stack).map(formatConntrack)).toEqual([
      "tcp      6 120 SYN_SENT src=192.0.2.2 dst=198.51.100.9 sport=40000 dport=80 [UNREPLIED] " +
        "src=198.51.100.9 dst=192.0.2.2 sport=80 dport=40000 mark=0 use=1",
    ]);
  });

  it("forgets a connection in TIME_WAIT after nf_conntrack_tcp_timeout_time_wait (120 s)", async () => {
    const { h } = await setup();
    for (const [c2s, f] of [
      [true, "S"],
      [false, "S."],
      [true, "."],
      [true, "F."],
      [false, "F."],
      [true, "."],
    ] as const) {
      h.inject(seg(c2s, f));
    }
    expect(conntrackEntries(h.stack)[0]?.tcpState).toBe(7);
    h.advance(119_999);
    expect(conntrackEntries(h.stack)).toHaveLength(1);
    h.advance(1);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
    expect(h.stack.sysctl.get("net.netfilter.nf_conntrack_count")).toBe(0);
  });

  it("moves to CLOSE on a RST and forgets the connection 10 s later", async () => {
    const { h, seen } = await setup();
    h.inject(seg(true, "S"));
    h.inject(seg(false, "R."));
    expect(seen.at(-1)?.tcp).toBe("CLOSE");
    h.advance(10_000);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("marks a SYN-ACK with no connection INVALID and counts it", async () => {
    const { h, seen } = await setup();
    h.inject(seg(false, "S.", 500, 101));
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.INVALID]);
    expect(h.counters().NfConntrackInvalid).toBe(1);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("marks a bare ACK with no connection INVALID when nf_conntrack_tcp_loose is 0", async () => {
    const { h, seen } = await setup({ sysctl: { "net.netfilter.nf_conntrack_tcp_loose": 0 } });
    h.inject(seg(true, ".", 101, 501));
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.INVALID]);
    expect(conntrackEntries(h.stack)).toHaveLength(0);
  });

  it("picks up a connection from a mid-stream ACK by default, for at most 300 s unanswered", async () => {
    const { h, seen } = await setup();
    h.inject(seg(true, ".", 101, 501));
    expect(seen).toEqual([{ state: CT_STATE.NEW, tcp: "ESTABLISHED" }]);
    expect(formatConntrack(conntrackEntries(h.stack)[0]!)).toMatch(/^tcp {6}6 300 ESTABLISHED /);
  });

  it("marks a segment INVALID when its flags make no sense in the state", async () => {
    const { h, seen } = await setup();
    h.inject(seg(true, "S"));
    h.inject(seg(true, "F."));
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.NEW, CT_STATE.INVALID]);
    expect(seen[1]?.tcp).toBeNull();
  });

  it("marks a segment with an impossible flag combination INVALID", async () => {
    const { h, seen } = await setup();
    h.inject(seg(true, "SF"));
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.INVALID]);
  });

  it("marks a segment with a bad checksum INVALID", async () => {
    const { h, seen } = await setup();
    h.inject(
      ipv4Packet({
        src: CLIENT,
        dst: SERVER,
        inner: tcpSegment({ sport: 40000, dport: 80, flags: "S", checksum: 0x1234 }),
      }),
    );
    expect(seen.map((s) => s.state)).toEqual([CT_STATE.INVALID]);
  });

  it("reopens a connection in TIME_WAIT with a new SYN", async () => {
    const { h, seen } = await setup();
    for (const [c2s, f] of [
      [true, "S"],
      [false, "S."],
      [true, "."],
      [true, "F."],
      [false, "F."],
      [true, "."],
      [true, "S"],
    ] as const) {
      h.inject(seg(c2s, f));
    }
    expect(seen.at(-1)).toEqual({ state: CT_STATE.NEW, tcp: "SYN_SENT" });
    expect(conntrackEntries(h.stack).map((c) => c.tcpState)).toEqual([1]);
  });
});
