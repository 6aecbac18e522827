/**
 * The protocol registries plugins fill: `struct packet_type` by ethertype (`dev_add_pack`) and
 * `struct net_protocol` by IP protocol number (`inet_add_protocol`).
 * @see net/core/dev.c dev_add_pack(), net/ipv4/protocol.c inet_add_protocol()
 * @packageDocumentation
 */
import type { NetDevice } from "./netdevice.js";
import type { SkBuff } from "./skbuff.js";

/** Ethertypes (`ETH_P_*`). */
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const ETH_P_IPV6 = 0x86dd;
/** Every protocol: a tap (`ptype_all`), like AF_PACKET sockets. */
export const ETH_P_ALL = 0x0003;

/** Result of a receive handler. */
export const NET_RX_SUCCESS = 0;
export const NET_RX_DROP = 1;

/**
 * `struct packet_type`: a receive handler for one ethertype. `func` takes ownership of the skb.
 * With `type: ETH_P_ALL` it is a tap: it gets a clone of every packet and must free it.
 */
export interface PacketType {
  readonly type: number;
  /** Only packets from this device, when set. */
  readonly dev?: NetDevice;
  func(skb: SkBuff, dev: NetDevice, pt: PacketType): number;
}

/**
 * `struct net_protocol`: an IP protocol's receive side. `handler` takes ownership of the skb.
 * `errHandler` gets ICMP errors about packets this protocol sent (`skb` holds the ICMP message
 * with `data` at the quoted IP header; `info` is type-specific, e.g. the next-hop MTU).
 */
export interface InetProtocol {
  readonly protocol: number;
  handler(skb: SkBuff): number;
  errHandler?(skb: SkBuff, type: number, code: number, info: number): number;
}

/** IP protocol numbers. */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_RAW = 255;

/** Packet types and IP protocols registered in one stack. */
export class ProtocolRegistry {
  /** ptype_base, by ethertype. */
  private readonly ptypes = new Map<number, PacketType[]>();
  /** ptype_all: taps. */
  taps: readonly PacketType[] = [];
  /** inet_protos[256]. */
  readonly inetProtos: (InetProtocol | null)[] = new Array(256).fill(null);

  /**
   * The last {@link ProtocolRegistry.packetTypes} answer: nearly every packet in a row has the
   * same ethertype. Forgotten whenever a handler is added or removed.
   */
  private lastType = -1;
  private lastList: readonly PacketType[] | undefined = undefined;

  /** `dev_add_pack`. */
  devAddPack(pt: PacketType): void {
    this.lastType = -1;
    if (pt.type === ETH_P_ALL) {
      this.taps = [...this.taps, pt];
      return;
    }
    this.ptypes.set(pt.type, [...(this.ptypes.get(pt.type) ?? []), pt]);
  }

  /** `dev_remove_pack`. */
  devRemovePack(pt: PacketType): void {
    this.lastType = -1;
    if (pt.type === ETH_P_ALL) {
      this.taps = this.taps.filter((p) => p !== pt);
      return;
    }
    const list = (this.ptypes.get(pt.type) ?? []).filter((p) => p !== pt);
    if (list.length) this.ptypes.set(pt.type, list);
    else this.ptypes.delete(pt.type);
  }

  /** Handlers for an ethertype (undefined when none). */
  packetTypes(type: number): readonly PacketType[] | undefined {
    if (type === this.lastType) return this.lastList;
    const list = this.ptypes.get(type);
    this.lastType = type;
    this.lastList = list;
    return list;
  }

  /** `inet_add_protocol`: fails (returns false) when the number is taken, as in Linux. */
  inetAddProtocol(proto: InetProtocol): boolean {
    if (!Number.isInteger(proto.protocol) || proto.protocol < 0 || proto.protocol > 255) {
      throw new RangeError(`IP protocol number ${proto.protocol} is not 0..255`);
    }
    if (this.inetProtos[proto.protocol] !== null) return false;
    this.inetProtos[proto.protocol] = proto;
    return true;
  }

  /** `inet_del_protocol`. */
  inetDelProtocol(proto: InetProtocol): boolean {
    if (this.inetProtos[proto.protocol] !== proto) return false;
    this.inetProtos[proto.protocol] = null;
    return true;
  }
}
