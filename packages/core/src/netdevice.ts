/**
 * `struct net_device` and the driver contract (`struct net_device_ops`).
 * @see include/linux/netdevice.h
 * @packageDocumentation
 */
import type { Qdisc } from "./qdisc.js";
import type { SkBuff } from "./skbuff.js";
import type { Stack } from "./stack.js";

/** Interface flags (`IFF_*`, include/uapi/linux/if.h). */
export const IFF = {
  UP: 0x1,
  BROADCAST: 0x2,
  DEBUG: 0x4,
  LOOPBACK: 0x8,
  POINTOPOINT: 0x10,
  RUNNING: 0x40,
  NOARP: 0x80,
  PROMISC: 0x100,
  MULTICAST: 0x1000,
  LOWER_UP: 0x10000,
} as const;

/** Device features (`NETIF_F_*`): what the hardware does so the stack need not. */
export interface NetDeviceFeatures {
  /** NETIF_F_HW_CSUM: the device fills transport checksums on transmit (CHECKSUM_PARTIAL). */
  hwCsum: boolean;
  /** NETIF_F_RXCSUM: the device verifies checksums on receive. */
  rxCsum: boolean;
  /** NETIF_F_GSO/TSO: the device takes segments larger than the MTU. */
  tso: boolean;
}

/** `struct rtnl_link_stats64`, the counters `ip -s link` prints. */
export class NetDeviceStats {
  rx_packets = 0;
  tx_packets = 0;
  rx_bytes = 0;
  tx_bytes = 0;
  rx_errors = 0;
  tx_errors = 0;
  rx_dropped = 0;
  tx_dropped = 0;
  rx_nohandler = 0;
  /** Received packets for another host, dropped (`rx_otherhost_dropped`). */
  rx_otherhost_dropped = 0;
  tx_carrier_errors = 0;
}

/** Return codes of a driver's xmit (`netdev_tx_t`). */
export const NETDEV_TX_OK = 0x00;
/** The driver is busy: the qdisc requeues the packet and retries later. */
export const NETDEV_TX_BUSY = 0x10;
/** What a driver's xmit returns. */
export type NetdevTx = typeof NETDEV_TX_OK | typeof NETDEV_TX_BUSY;

/** Link types (`ARPHRD_*`). Devices here carry IP packets without a link-layer header. */
export const ARPHRD = { ETHER: 1, LOOPBACK: 772, NONE: 0xfffe } as const;

/**
 * The driver contract, `struct net_device_ops`. `ndoStartXmit` takes ownership of the skb: it
 * must hand it on (to a peer's `netifRx`, to a file descriptor) or free it, and must never call
 * back into the stack's receive path synchronously.
 */
export interface NetDeviceOps {
  ndoOpen?(dev: NetDevice): void;
  ndoStop?(dev: NetDevice): void;
  ndoStartXmit(skb: SkBuff, dev: NetDevice): NetdevTx;
  /** Releases driver resources when the device is unregistered. */
  ndoUninit?(dev: NetDevice): void;
}

/** An address assigned to a device, as `ip addr add` takes it. */
export interface DevAddress {
  /** `inet` for IPv4. */
  readonly family: "inet";
  /** Dotted quad. */
  readonly address: string;
  readonly prefixLen: number;
}

/** What a driver gives {@link Stack.registerNetdev} to create a device. */
export interface NetDeviceInit {
  name: string;
  ops: NetDeviceOps;
  mtu: number;
  minMtu?: number;
  maxMtu?: number;
  flags?: number;
  type?: number;
  features?: Partial<NetDeviceFeatures>;
  /** `IFF_NO_QUEUE`: transmit straight to the driver (loopback, veth) instead of a pfifo. */
  noQueue?: boolean;
  txQueueLen?: number;
  /** Driver-private state (`netdev_priv`). */
  priv?: unknown;
  /** The driver's name (`rtnl_link_ops->kind`): `loopback`, `veth`. */
  kind?: string;
}

/** `struct net_device`: one interface of one stack. */
export class NetDevice {
  readonly name: string;
  /** Unique within its stack; assigned at registration (lo gets 1 when registered first). */
  readonly ifindex: number;
  mtu: number;
  readonly minMtu: number;
  readonly maxMtu: number;
  /** `IFF_*` bits. */
  flags: number;
  readonly type: number;
  readonly features: NetDeviceFeatures;
  readonly stats = new NetDeviceStats();
  /** Addresses, in the order they were added. Protocols keep their own view (in_device). */
  readonly addresses: DevAddress[] = [];
  readonly ops: NetDeviceOps;
  /** The stack (network namespace) this device belongs to: `dev_net(dev)`. */
  readonly net: Stack;
  /** Root egress qdisc; null with `noqueue`. */
  qdisc: Qdisc | null = null;
  readonly txQueueLen: number;
  /** Carrier (`netif_carrier_on/off`); a veth without a peer has none. */
  carrier = true;
  /** Set while the driver can't take packets (`netif_stop_queue`). */
  queueStopped = false;
  /** Driver-private state. */
  priv: unknown;
  /** The driver's name (`rtnl_link_ops->kind`). */
  readonly kind: string;
  /** `IFF_NO_QUEUE`: no qdisc; packets go straight to the driver. */
  noQueue: boolean;

  /** @internal use {@link Stack.registerNetdev}. */
  constructor(net: Stack, ifindex: number, init: NetDeviceInit) {
    this.net = net;
    this.ifindex = ifindex;
    this.name = init.name;
    this.ops = init.ops;
    this.mtu = init.mtu;
    this.minMtu = init.minMtu ?? 68;
    this.maxMtu = init.maxMtu ?? 65536;
    this.flags = init.flags ?? 0;
    this.type = init.type ?? ARPHRD.NONE;
    this.features = { hwCsum: false, rxCsum: false, tso: false, ...init.features };
    this.txQueueLen = init.txQueueLen ?? 1000;
    this.priv = init.priv;
    this.kind = init.kind ?? "";
    this.noQueue = init.noQueue ?? false;
  }

  /** `IFF_UP` is set. */
  get isUp(): boolean {
    return (this.flags & IFF.UP) !== 0;
  }

  /** Up and with carrier: packets can go out (`netif_running && netif_carrier_ok`). */
  get isRunning(): boolean {
    return (this.flags & IFF.UP) !== 0 && this.carrier;
  }

  /** A line like `ip link` prints. */
  toString(): string {
    const names = Object.entries(IFF)
      .filter(([, bit]) => (this.flags & bit) !== 0)
      .map(([n]) => n);
    return `${this.ifindex}: ${this.name}: <${names.join(",")}> mtu ${this.mtu}`;
  }
}
