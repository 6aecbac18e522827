/**
 * veth: a pair of devices joined back to back, possibly in two stacks. What one end transmits,
 * the other receives, through the receiving stack's own backlog and softirq.
 *
 * skbuff's veth is an L3 point-to-point pipe, like a pair of TUN devices rather than Linux's
 * Ethernet veth: packets are bare IPv4 datagrams with no link-layer header, so there is no
 * ARP (`NOARP`), no MAC address and no broadcast; the devices are `POINTOPOINT` and of type
 * `ARPHRD_NONE`. `skb.protocol` travels with the packet.
 * @see drivers/net/veth.c
 * @packageDocumentation
 */
import {
  ARPHRD,
  CHECKSUM_NONE,
  CHECKSUM_PARTIAL,
  CHECKSUM_UNNECESSARY,
  ConfigError,
  checkDeviceSpecKeys,
  DEV_NAME_EXPECTED,
  type DeviceSpec,
  definePlugin,
  devValidName,
  IFF,
  kfreeSkb,
  type LinkSpec,
  NET_RX_SUCCESS,
  NETDEV_TX_OK,
  type NetDevice,
  type NetDeviceDriver,
  type NetDeviceOps,
  type NetdevTx,
  netifCarrierOff,
  netifCarrierOn,
  netifRx,
  PACKET_HOST,
  type Plugin,
  type SkBuff,
  SkbDropReason,
  SkbuffError,
  type Stack,
  skbChecksumHelp,
  traceable,
} from "@skbuff/core";

/** The plugin's name. */
export const VETH_PLUGIN_NAME = "skbuff:veth";
/** The driver's name, the `driver:` of a device spec. */
const DRIVER_NAME = "veth";
/** `ETH_DATA_LEN`, veth's default MTU. */
const VETH_DEFAULT_MTU = 1500;

/** A veth device spec: the generic keys plus `offload`. */
export interface VethDeviceSpec extends DeviceSpec {
  readonly driver: "veth";
  /**
   * Checksum offload (`ethtool -K DEV tx on rx on`): the device takes `CHECKSUM_PARTIAL`
   * packets and its peer delivers them as `CHECKSUM_UNNECESSARY`. Default false: IP, ICMP and
   * TCP checksums are computed by the sender and verified by the receiver, as on a real wire.
   */
  readonly offload?: boolean;
}

/** Driver-private state of a veth device (`struct veth_priv`). */
interface VethPriv {
  /** The other end, or null while unpaired. */
  peer: NetDevice | null;
}

function privOf(dev: NetDevice): VethPriv {
  return dev.priv as VethPriv;
}

/** Whether `dev` was made by the veth driver. */
export function isVeth(dev: NetDevice): boolean {
  return dev.ops === vethOps;
}

/** The other end of a veth device, or null when it has none (`veth_peer_dev`). */
export function vethPeer(dev: NetDevice): NetDevice | null {
  return isVeth(dev) ? privOf(dev).peer : null;
}

/**
 * Carrier follows both ends: on when the devices are paired and both up, off otherwise
 * (`netif_carrier_on/off` in `veth_open`/`veth_close`).
 */
function updateCarrier(dev: NetDevice): void {
  const peer = privOf(dev).peer;
  const on = peer !== null && dev.isUp && peer.isUp;
  setCarrier(dev, on);
  if (peer !== null) setCarrier(peer, on);
}

function setCarrier(dev: NetDevice, on: boolean): void {
  if (on) netifCarrierOn(dev);
  else netifCarrierOff(dev);
}

/**
 * `skb_scrub_packet`: the packet leaves one owner for another. Routing, socket and netfilter
 * state go; when it crosses into another stack (`xnet`) the mark and time stamp go too.
 * `cb` belongs to the layer that owned the packet and is cleared in any case.
 * @see net/core/skbuff.c skb_scrub_packet()
 */
export function skbScrubPacket(skb: SkBuff, xnet: boolean): void {
  skb.pktType = PACKET_HOST;
  skb.skbIif = 0;
  skb.dst = null;
  skb.cb = null;
  skb.nfct = null; // nf_reset_ct()
  skb.nfctinfo = 0;
  if (!xnet) return;
  skb.sk = null; // skb_orphan()
  skb.mark = 0;
  skb.tstamp = 0; // skb_clear_tstamp()
}

/**
 * What the receiving end knows about the checksum. A packet whose checksum the sender left to
 * the device (`CHECKSUM_PARTIAL`) never touched a wire: a peer with receive offload takes it
 * as verified (`CHECKSUM_UNNECESSARY`, as Linux's veth does with offloads on); a peer without
 * gets it with the checksum filled in and verifies it in software (`CHECKSUM_NONE`).
 */
function vethRxCsum(skb: SkBuff, peer: NetDevice): void {
  if (skb.ipSummed === CHECKSUM_PARTIAL) {
    if (peer.features.rxCsum) {
      skb.ipSummed = CHECKSUM_UNNECESSARY;
      return;
    }
    skbChecksumHelp(skb);
  }
  if (!peer.features.rxCsum) {
    skb.ipSummed = CHECKSUM_NONE;
    skb.csumValid = false;
  }
}

/**
 * `veth_xmit`: hands the packet to the peer. Takes ownership of `skb`; always returns
 * `NETDEV_TX_OK`.
 *
 * - No peer, or the peer is down: dropped with `DEV_CARRIER` in this stack, `tx_dropped`.
 *   (The core drops most of these first: such a device has no carrier.)
 * - Longer than the peer's MTU (`is_skb_forwardable`): dropped with `PKT_TOO_BIG` in the
 *   peer's stack, `rx_dropped` on the peer and `tx_dropped` here.
 * - Otherwise the packet is scrubbed ({@link skbScrubPacket}), becomes the peer's
 *   (`skb.dev = peer`, `PACKET_HOST`) and is queued with {@link netifRx} on the peer's stack,
 *   to be received by that stack's softirq: xmit never reenters a stack. `tx_*` count here and
 *   `rx_*` on the peer once the backlog took it; a full backlog drops it with `CPU_BACKLOG`
 *   (`rx_dropped` on the peer, `tx_dropped` here).
 * @see drivers/net/veth.c veth_xmit()
 */
export const vethXmit = traceable(
  "veth_xmit",
  function vethXmit(skb: SkBuff, dev: NetDevice): NetdevTx {
    const peer = privOf(dev).peer;
    if (peer === null || !peer.isUp) {
      dev.stats.tx_dropped++;
      kfreeSkb(skb, SkbDropReason.DEV_CARRIER, dev.net);
      return NETDEV_TX_OK;
    }
    const len = skb.len;
    // __is_skb_forwardable(): the peer's MTU (there is no link-layer header to add to it).
    if (len > peer.mtu) {
      peer.stats.rx_dropped++;
      dev.stats.tx_dropped++;
      kfreeSkb(skb, SkbDropReason.PKT_TOO_BIG, peer.net);
      return NETDEV_TX_OK;
    }
    // ____dev_forward_skb()
    skbScrubPacket(skb, dev.net !== peer.net);
    skb.priority = 0;
    skb.dev = peer;
    skb.resetMacHeader();
    skb.macLen = 0;
    vethRxCsum(skb, peer);
    if (netifRx(skb) === NET_RX_SUCCESS) {
      // dev_sw_netstats_tx_add(); veth_get_stats64() reports them as the peer's rx.
      dev.stats.tx_packets++;
      dev.stats.tx_bytes += len;
      peer.stats.rx_packets++;
      peer.stats.rx_bytes += len;
    } else {
      dev.stats.tx_dropped++;
    }
    return NETDEV_TX_OK;
  },
);

/** `veth_netdev_ops`. */
const vethOps: NetDeviceOps = {
  /**
   * `veth_open`: when the peer is up too, both ends get carrier. Runs before the core sets
   * `IFF_UP` on `dev`, so the carrier is settled by hand.
   */
  ndoOpen(dev) {
    const peer = privOf(dev).peer;
    if (peer?.isUp) {
      setCarrier(dev, true);
      setCarrier(peer, true);
    }
  },
  /** `veth_close`: both ends lose carrier. */
  ndoStop(dev) {
    setCarrier(dev, false);
    const peer = privOf(dev).peer;
    if (peer !== null) peer.carrier = false;
  },
  ndoStartXmit: vethXmit,
  /**
   * The device is going away: its peer stays, unpaired and without carrier. (Linux's
   * `veth_dellink` deletes the peer too; here the peer may belong to a stack that lives on.)
   */
  ndoUninit(dev) {
    vethUnlink(dev);
  },
};

/** Separates a device from its peer; both lose carrier. */
function vethUnlink(dev: NetDevice): void {
  const priv = privOf(dev);
  const peer = priv.peer;
  priv.peer = null;
  setCarrier(dev, false);
  if (peer !== null) {
    privOf(peer).peer = null;
    setCarrier(peer, false);
  }
}

/** The first free `vethN` name in a stack. */
function vethFreeName(stack: Stack): string {
  for (let i = 0; ; i++) {
    const name = `veth${i}`;
    if (stack.getDevice(name) === undefined) return name;
  }
}

/**
 * `veth_newlink` for one end: registers an unpaired veth device (no carrier until
 * {@link vethLink} gives it a peer and both ends are up).
 * @see drivers/net/veth.c veth_newlink(), veth_setup()
 */
function vethCreate(stack: Stack, spec: DeviceSpec, path: string): NetDevice {
  checkDeviceSpecKeys(spec, path, DRIVER_NAME, ["offload"]);
  const offload = spec.offload ?? false;
  if (typeof offload !== "boolean") {
    throw new ConfigError(`${path}.offload`, offload, "true or false");
  }
  const name = spec.name ?? vethFreeName(stack);
  if (!devValidName(name)) throw new ConfigError(`${path}.name`, name, DEV_NAME_EXPECTED);
  const priv: VethPriv = { peer: null };
  const dev = stack.registerNetdev({
    name,
    kind: DRIVER_NAME,
    mtu: VETH_DEFAULT_MTU,
    flags: IFF.POINTOPOINT | IFF.NOARP,
    type: ARPHRD.NONE,
    noQueue: true,
    features: { hwCsum: offload, rxCsum: offload, tso: false },
    ops: vethOps,
    priv,
  });
  setCarrier(dev, false); // netif_carrier_off()
  return dev;
}

/**
 * Pairs two unpaired veth devices, in one stack or two: what one transmits the other receives.
 * Both get carrier once both are up (now, if they already are).
 * @throws SkbuffError `EINVAL` when either is not a veth device or both are the same device,
 *   `EBUSY` when either already has a peer.
 * @see drivers/net/veth.c veth_newlink()
 */
export function vethLink(a: NetDevice, b: NetDevice): void {
  for (const dev of [a, b]) {
    if (!isVeth(dev)) {
      throw new SkbuffError(
        "EINVAL",
        `Device '${dev.name}' of stack '${dev.net.name}' is not a veth device`,
      );
    }
    const peer = privOf(dev).peer;
    if (peer !== null) {
      throw new SkbuffError(
        "EBUSY",
        `veth device '${dev.name}' of stack '${dev.net.name}' is already paired with '${peer.name}' of stack '${peer.net.name}'`,
      );
    }
  }
  if (a === b) {
    throw new SkbuffError("EINVAL", `veth device '${a.name}' cannot be its own peer`);
  }
  privOf(a).peer = b;
  privOf(b).peer = a;
  updateCarrier(a);
}

/** The `veth` driver: devices from specs, links from link specs. */
const vethDriver: NetDeviceDriver = {
  name: DRIVER_NAME,
  create: vethCreate,
  link(a: NetDevice, b: NetDevice, _spec: LinkSpec): void {
    vethLink(a, b);
  },
};

/**
 * The veth plugin: registers the `veth` driver, whose devices are the ends of point-to-point
 * links between stacks. Use it with `createNetwork` links, or {@link vethPair}:
 *
 * ```ts
 * const net = await createNetwork({
 *   plugins: [veth(), ipv4()],
 *   hosts: { a: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.1/24" }] },
 *            b: { devices: [{ driver: "veth", name: "eth0", address: "192.0.2.2/24" }] } },
 *   links: [{ ends: ["a:eth0", "b:eth0"] }],
 * });
 * ```
 *
 * A veth device is named `veth0`, `veth1`, … unless named otherwise, has MTU 1500, flags
 * `POINTOPOINT | NOARP`, type `ARPHRD_NONE` and no qdisc (`noqueue`, as Linux's veth). Its
 * spec takes `offload: true` to turn on checksum offload (off by default, so checksums are
 * computed and verified across the link). It has no carrier until paired with an up peer.
 * @see drivers/net/veth.c
 */
export function veth(): Plugin {
  return definePlugin({
    name: VETH_PLUGIN_NAME,
    register(ctx) {
      ctx.registerDriver(vethDriver);
    },
  });
}
