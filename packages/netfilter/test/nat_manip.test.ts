import {
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  csumFold,
  csumTcpudpNofold,
  inetAton,
  inetNtoa,
  setU16,
  skbChecksumHelp,
  skbFromBytes,
} from "@skbuff/core";
import {
  dstAddr,
  dstPort,
  echoId,
  expectIpv4,
  icmp,
  icmpEcho,
  ipv4Packet,
  srcAddr,
  srcPort,
  tcp,
  tcpSegment,
  udp,
  udpDatagram,
} from "@skbuff/testing";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { NfConntrackTuple } from "../src/conntrack/index.js";
import { NF_NAT_MANIP, nfNatIpv4ManipPkt } from "../src/nat/index.js";

const addr = fc.integer({ min: 0x01000000, max: 0xdfffffff }).map((a) => inetNtoa(a >>> 0));
const port = fc.integer({ min: 1, max: 65535 });

describe("nf_nat_ipv4_manip_pkt", () => {
  it("keeps every checksum valid whatever it rewrites", () => {
    fc.assert(
      fc.property(
        fc.record({
          kind: fc.constantFrom("tcp", "udp", "icmp"),
          src: addr,
          dst: addr,
          sport: port,
          dport: port,
          payload: fc.uint8Array({ maxLength: 33 }),
          to: addr,
          toPort: port,
          manip: fc.constantFrom(NF_NAT_MANIP.SRC, NF_NAT_MANIP.DST),
        }),
        (r) => {
          const inner =
            r.kind === "tcp"
              ? tcpSegment({ sport: r.sport, dport: r.dport, flags: "S", payload: r.payload })
              : r.kind === "udp"
                ? udpDatagram({ sport: r.sport, dport: r.dport, payload: r.payload })
                : icmpEcho({ id: r.sport, seq: 1, payload: r.payload });
          const skb = skbFromBytes(ipv4Packet({ src: r.src, dst: r.dst, inner }));
          skb.setNetworkHeader(0);
          skb.ipSummed = CHECKSUM_NONE;
          const a = inetAton(r.to)!;
          const target: NfConntrackTuple = {
            src: a,
            dst: a,
            protonum: r.kind === "tcp" ? 6 : r.kind === "udp" ? 17 : 1,
            sport: r.toPort,
            dport: r.toPort,
          };
          expect(nfNatIpv4ManipPkt(skb, skb.networkHeader, target, r.manip)).toBe(true);
          const bytes = skb.head.slice(skb.data, skb.tail);
          const isSrc = r.manip === NF_NAT_MANIP.SRC;
          const l3 = isSrc ? [srcAddr(r.to), dstAddr(r.dst)] : [srcAddr(r.src), dstAddr(r.to)];
          if (r.kind === "tcp") {
            expectIpv4(bytes, ...l3, tcp(isSrc ? srcPort(r.toPort) : dstPort(r.toPort)));
          } else if (r.kind === "udp") {
            expectIpv4(bytes, ...l3, udp(isSrc ? srcPort(r.toPort) : dstPort(r.toPort)));
          } else {
            expectIpv4(bytes, ...l3, icmp(echoId(r.toPort)));
          }
        },
      ),
    );
  });

  it("updates the pseudo-header sum a CHECKSUM_PARTIAL segment carries, for the device to finish", () => {
    const bytes = ipv4Packet({
      src: "192.0.2.1",
      dst: "198.51.100.1",
      inner: tcpSegment({ sport: 40000, dport: 80, flags: "S", payload: "hello" }),
    });
    const skb = skbFromBytes(bytes);
    skb.setNetworkHeader(0);
    const th = skb.data + 20;
    const len = bytes.length - 20;
    // What the sender leaves in the field: the folded pseudo-header sum, not complemented.
    const pseudo = csumTcpudpNofold(inetAton("192.0.2.1")!, inetAton("198.51.100.1")!, len, 6, 0);
    setU16(skb.head, th + 16, ~csumFold(pseudo) & 0xffff);
    skb.ipSummed = CHECKSUM_PARTIAL;
    skb.csumStart = th;
    skb.csumOffset = 16;
    const target: NfConntrackTuple = {
      src: inetAton("198.51.100.254")!,
      dst: 0,
      protonum: 6,
      sport: 61000,
      dport: 0,
    };
    expect(nfNatIpv4ManipPkt(skb, skb.networkHeader, target, NF_NAT_MANIP.SRC)).toBe(true);
    skbChecksumHelp(skb);
    expectIpv4(skb.head.slice(skb.data, skb.tail), srcAddr("198.51.100.254"), tcp(srcPort(61000)));
  });

  it("rewrites the ports of a quote cut to 8 bytes and leaves its checksum", () => {
    const whole = ipv4Packet({
      src: "192.0.2.1",
      dst: "198.51.100.1",
      inner: tcpSegment({ sport: 40000, dport: 80, flags: "S" }),
    });
    const skb = skbFromBytes(whole.subarray(0, 28));
    skb.setNetworkHeader(0);
    const target: NfConntrackTuple = {
      src: inetAton("198.51.100.254")!,
      dst: 0,
      protonum: 6,
      sport: 1234,
      dport: 0,
    };
    expect(nfNatIpv4ManipPkt(skb, skb.networkHeader, target, NF_NAT_MANIP.SRC)).toBe(true);
    const out = skb.head.slice(skb.data, skb.tail);
    expect([(out[20]! << 8) | out[21]!, out.length]).toEqual([1234, 28]);
  });
});
