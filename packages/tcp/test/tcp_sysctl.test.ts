import { ipv4 } from "@skbuff/ipv4";
import { createHarness, type Harness, parsePacket, tcpSegment } from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { TCP_SOCKET_API, type TcpSocketApi, tcp } from "../src/index.js";
import { tcpHarness } from "./helpers.js";

let h: Harness;
afterEach(async () => {
  await h?.close();
});

describe("sysctls and counters", () => {
  it("registers Linux's names with its production defaults", async () => {
    h = await tcpHarness();
    const get = (n: string) => h.stack.sysctl.get(n);
    expect(get("net.ipv4.tcp_rmem")).toEqual([4096, 131072, 6291456]);
    expect(get("net.ipv4.tcp_wmem")).toEqual([4096, 16384, 4194304]);
    expect(get("net.ipv4.ip_local_port_range")).toEqual([32768, 60999]);
    expect(get("net.core.somaxconn")).toBe(4096);
    const ints: Record<string, number> = {
      tcp_sack: 1,
      tcp_dsack: 1,
      tcp_timestamps: 1,
      tcp_window_scaling: 1,
      tcp_syn_retries: 6,
      tcp_synack_retries: 5,
      tcp_retries1: 3,
      tcp_retries2: 15,
      tcp_fin_timeout: 60,
      tcp_keepalive_time: 7200,
      tcp_keepalive_intvl: 75,
      tcp_keepalive_probes: 9,
      tcp_max_syn_backlog: 4096,
      tcp_syncookies: 1,
      tcp_reordering: 3,
      tcp_early_retrans: 3,
      tcp_recovery: 1,
      tcp_slow_start_after_idle: 1,
      tcp_rfc1337: 0,
      tcp_abort_on_overflow: 0,
      tcp_min_rtt_wlen: 300,
      tcp_frto: 2,
      tcp_ecn: 2,
      tcp_base_mss: 1024,
      tcp_mtu_probing: 0,
    };
    for (const [name, v] of Object.entries(ints))
      expect([name, get(`net.ipv4.${name}`)]).toEqual([name, v]);
    expect(get("net.ipv4.tcp_congestion_control")).toBe("cubic");
  });

  it("gives window scale 8 in the SYN-ACK when tcp_rmem's maximum is 15728640", async () => {
    h = await createHarness({
      plugins: [ipv4(), tcp()],
      sysctl: { "net.ipv4.tcp_rmem": "4096 540000 15728640" },
    });
    const l = h.stack.container.resolve<TcpSocketApi>(TCP_SOCKET_API).socket();
    l.bind("0.0.0.0", 80);
    l.listen(8);
    h.inject(
      tcpSegment({
        sport: 1234,
        dport: 80,
        seq: 1,
        flags: "S",
        options: [
          { kind: "mss", value: 1460 },
          { kind: "wscale", value: 7 },
        ],
      }),
    );
    const v = parsePacket(h.nextPacket());
    const t = v?.transport;
    const ws = t && t.layer === "tcp" ? t.options?.find((o) => o.kind === "wscale") : undefined;
    expect(ws).toEqual({ kind: "wscale", value: 8 });
  });

  it("exposes the Tcp and TcpExt counters under nstat's names", async () => {
    h = await tcpHarness();
    const c = h.counters();
    for (const name of [
      "TcpActiveOpens",
      "TcpPassiveOpens",
      "TcpAttemptFails",
      "TcpEstabResets",
      "TcpCurrEstab",
      "TcpInSegs",
      "TcpOutSegs",
      "TcpRetransSegs",
      "TcpInErrs",
      "TcpOutRsts",
      "TcpInCsumErrors",
      "TcpExtListenOverflows",
      "TcpExtListenDrops",
      "TcpExtSyncookiesSent",
      "TcpExtSyncookiesRecv",
      "TcpExtSyncookiesFailed",
      "TcpExtTCPChallengeACK",
      "TcpExtTCPTimeouts",
      "TcpExtTCPFastRetrans",
      "TcpExtTCPLossProbes",
      "TcpExtTCPSackRecovery",
      "TcpExtTCPDSACKRecv",
      "TcpExtDelayedACKs",
      "TcpExtTCPPureAcks",
      "TcpExtTCPHPHits",
      "TcpExtTW",
      "TcpExtTWRecycled",
      "TcpExtPAWSEstab",
      "TcpExtTCPAbortOnData",
      "TcpExtTCPAbortOnClose",
      "TcpExtTCPAbortOnTimeout",
    ]) {
      expect([name, c[name]]).toEqual([name, 0]);
    }
  });
});
