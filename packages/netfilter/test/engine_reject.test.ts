import {
  ackNum,
  code,
  dstAddr,
  dstPort,
  expectIpv4,
  flags,
  icmp,
  protocol,
  quote,
  seqNum,
  srcAddr,
  srcPort,
  tcp,
  tcpChecksumValid,
  tcpSegment,
  type,
  udp,
  udpDatagram,
} from "@skbuff/testing";
import { afterEach, describe, expect, it } from "vitest";
import { type Fw, firewall, inputChain } from "./engine_helpers.js";

let fw: Fw;
afterEach(async () => {
  await fw?.h.close();
});

describe("reject", () => {
  it("answers with an ICMP port unreachable quoting the packet, and drops it", async () => {
    fw = await firewall(inputChain("udp dport 9 reject with icmp type port-unreachable"));
    expect(fw.send({ inner: udpDatagram({ sport: 5000, dport: 9, payload: "hi" }) })).toBe(
      "reject",
    );
    expectIpv4(
      fw.h.nextPacket(),
      srcAddr("192.0.2.1"),
      dstAddr("192.0.2.2"),
      icmp(type(3), code(3), quote(protocol(17), udp(srcPort(5000), dstPort(9)))),
    );
    expect(fw.h.drops().NETFILTER_REJECT).toBe(1);
  });

  it("answers with port unreachable when no type is given", async () => {
    fw = await firewall(inputChain("reject"));
    fw.send({ inner: udpDatagram({ sport: 1, dport: 2 }) });
    expectIpv4(fw.h.nextPacket(), icmp(type(3), code(3)));
  });

  it("answers with the ICMP code the rule names", async () => {
    fw = await firewall(inputChain("reject with icmp type admin-prohibited"));
    fw.send({ inner: udpDatagram({ sport: 1, dport: 2 }) });
    expectIpv4(fw.h.nextPacket(), icmp(type(3), code(13)));
  });

  it("answers a SYN with a RST that acknowledges it", async () => {
    fw = await firewall(inputChain("tcp dport 23 reject with tcp reset"));
    expect(fw.send({ inner: tcpSegment({ sport: 40000, dport: 23, seq: 1000, flags: "S" }) })).toBe(
      "reject",
    );
    expectIpv4(
      fw.h.nextPacket(),
      srcAddr("192.0.2.1"),
      dstAddr("192.0.2.2"),
      tcp(srcPort(23), dstPort(40000), flags("RA"), seqNum(0), ackNum(1001), tcpChecksumValid),
    );
  });

  it("answers a segment with ACK with a RST whose sequence is that ACK", async () => {
    fw = await firewall(inputChain("tcp dport 23 reject with tcp reset"));
    fw.send({
      inner: tcpSegment({ sport: 40000, dport: 23, seq: 5, ack: 777, flags: "PA", payload: "abc" }),
    });
    expectIpv4(fw.h.nextPacket(), tcp(flags("R"), seqNum(777), ackNum(0)));
  });

  it("sends nothing back for a RST, and still drops it", async () => {
    fw = await firewall(inputChain("ip protocol tcp reject with tcp reset"));
    expect(fw.send({ inner: tcpSegment({ sport: 1, dport: 2, flags: "R" }) })).toBe("reject");
    fw.h.expectNoPacket(100);
  });
});
