import { describe, expect, it } from "vitest";
import { type PacketType, ProtocolRegistry } from "../src/protocol.js";

const ETH_P_IP = 0x0800;
const ETH_P_ARP = 0x0806;

function handler(type: number): PacketType {
  return { type, func: () => 0 };
}

describe("ProtocolRegistry.packetTypes", () => {
  it("sees a handler added or removed after the same ethertype was looked up", () => {
    const reg = new ProtocolRegistry();
    const ip = handler(ETH_P_IP);
    const ip2 = handler(ETH_P_IP);
    expect(reg.packetTypes(ETH_P_IP)).toBeUndefined();
    reg.devAddPack(ip);
    expect(reg.packetTypes(ETH_P_IP)).toEqual([ip]);
    reg.devAddPack(ip2);
    expect(reg.packetTypes(ETH_P_IP)).toEqual([ip, ip2]);
    reg.devRemovePack(ip);
    expect(reg.packetTypes(ETH_P_IP)).toEqual([ip2]);
    reg.devRemovePack(ip2);
    expect(reg.packetTypes(ETH_P_IP)).toBeUndefined();
  });

  it("answers each ethertype with its own handlers when lookups alternate", () => {
    const reg = new ProtocolRegistry();
    const ip = handler(ETH_P_IP);
    const arp = handler(ETH_P_ARP);
    reg.devAddPack(ip);
    reg.devAddPack(arp);
    expect([ETH_P_IP, ETH_P_ARP, ETH_P_IP].map((t) => reg.packetTypes(t))).toEqual([
      [ip],
      [arp],
      [ip],
    ]);
  });
});
