/**
 * The loopback device, `lo`: whatever a stack sends on it comes back in on it, through the
 * stack's own receive backlog.
 * @see drivers/net/loopback.c
 * @packageDocumentation
 */
import {
  ARPHRD,
  CHECKSUM_UNNECESSARY,
  ConfigError,
  checkDeviceSpecKeys,
  DEV_NAME_EXPECTED,
  type DeviceSpec,
  definePlugin,
  devValidName,
  IFF,
  isPlugin,
  NET_RX_SUCCESS,
  NETDEV_TX_OK,
  type NetDevice,
  type NetDeviceDriver,
  type NetDeviceOps,
  type NetdevTx,
  netifRx,
  PACKET_LOOPBACK,
  type Plugin,
  type SkBuff,
  type Stack,
  traceable,
} from "@skbuff/core";

/** The plugin's name. */
/** The loopback plugin's name. */
export const PLUGIN_NAME = "skbuff:loopback";
/** The driver's name, the `driver:` of a device spec. */
/** The loopback driver's name, the `driver:` of its device specs. */
export const DRIVER_NAME = "loopback";
/** The interface name when the spec gives none. */
const DEFAULT_NAME = "lo";
/** `LOOPBACK_MTU`: 64 KiB, so that nothing sent locally ever needs fragmenting. */
const LOOPBACK_MTU = 65536;
/** The address `lo` gets when it comes up and the spec gave none. */
const LOOPBACK_ADDRESS = "127.0.0.1";
const LOOPBACK_CIDR = `${LOOPBACK_ADDRESS}/8`;

/** Keys that a spec which is also a plugin (the object {@link loopback} returns) carries. */
const PLUGIN_KEYS: readonly string[] = ["register", "requires", "start", "stop"];

/** Driver-private state of a loopback device (`netdev_priv`). */
interface LoopbackPriv {
  /** The spec gave no address: give the device 127.0.0.1/8 whenever it comes up. */
  readonly autoAddress: boolean;
}

/**
 * What {@link loopback} returns: a plugin that registers the `loopback` driver, and at the same
 * time the device spec `{ driver: "loopback" }` carrying that plugin. It therefore fits both
 * `plugins: [loopback()]` and `devices: [loopback()]`; in the second place the stack adds the
 * plugin by itself.
 *
 * Its `name` is the plugin's (`skbuff:loopback`), not an interface name: the driver names the
 * device `lo` all the same.
 */
export type LoopbackPlugin = Plugin &
  DeviceSpec & {
    readonly name: typeof PLUGIN_NAME;
    readonly driver: typeof DRIVER_NAME;
    readonly plugin: Plugin;
  };

/**
 * `loopback_xmit`: the packet turns around. It leaves its socket (`skb_orphan`), loses its
 * route and its transmit time stamp, and is queued on the stack's receive backlog as a
 * `PACKET_LOOPBACK` packet of the same device, with `CHECKSUM_UNNECESSARY`: bytes that never
 * left memory need no checksum verification. `skb.protocol` stays what the sender set
 * (0x0800 for IPv4): there is no link-layer header to read it from.
 *
 * Statistics, as in Linux: the device counts each packet once, when the backlog accepts it,
 * and reports it as both transmitted and received. A full backlog drops the packet (counted by
 * {@link netifRx} as `CPU_BACKLOG` and `rx_dropped`).
 *
 * Never reenters the stack: {@link netifRx} only queues, and the receive softirq delivers the
 * packet later. Takes ownership of `skb`; always returns `NETDEV_TX_OK`.
 *
 * Differences from Linux, on purpose: Linux keeps the output route (`skb_dst_force`) and lets
 * `eth_type_trans` mark unicast packets `PACKET_HOST`; here the route is dropped so that the
 * receive side looks its own up, and the packet is marked `PACKET_LOOPBACK` so that taps and
 * protocols can tell looped-back packets apart.
 * @see drivers/net/loopback.c loopback_xmit()
 */
export const loopbackXmit = traceable(
  "loopback_xmit",
  function loopbackXmit(skb: SkBuff, dev: NetDevice): NetdevTx {
    // skb_tx_timestamp(): no software transmit time stamps here. skb_clear_tstamp(): the receive
    // path stamps the packet again from the stack's clock.
    skb.tstamp = 0;
    skb.sk = null; // skb_orphan()
    skb.dst = null;
    skb.dev = dev;
    skb.pktType = PACKET_LOOPBACK;
    skb.ipSummed = CHECKSUM_UNNECESSARY;
    const len = skb.len;
    if (netifRx(skb) === NET_RX_SUCCESS) {
      // dev_lstats_add(): loopback_get_stats64() reports these as both rx and tx.
      const stats = dev.stats;
      stats.tx_packets++;
      stats.tx_bytes += len;
      stats.rx_packets++;
      stats.rx_bytes += len;
    }
    return NETDEV_TX_OK;
  },
);

/** `loopback_ops`. */
const loopbackOps: NetDeviceOps = {
  ndoStartXmit: loopbackXmit,
};

/**
 * `loopback_net_init` + `loopback_setup`: registers one loopback device for a spec. Keys other
 * than the generic ones (`driver`, `name`, `address`, `mtu`, `up`, `plugin`) are refused.
 * @see drivers/net/loopback.c loopback_setup()
 */
function loopbackCreate(stack: Stack, spec: DeviceSpec, path: string): NetDevice {
  const specIsPlugin = isPlugin(spec);
  checkDeviceSpecKeys(spec, path, DRIVER_NAME, [], specIsPlugin ? PLUGIN_KEYS : []);
  // The object loopback() returns is a plugin too, and its `name` is the plugin's: a name with
  // a colon, which is never an interface name.
  const fromPlugin = specIsPlugin && spec.plugin !== undefined && spec.name === spec.plugin.name;
  const name = spec.name === undefined || fromPlugin ? DEFAULT_NAME : spec.name;
  if (!devValidName(name)) throw new ConfigError(`${path}.name`, name, DEV_NAME_EXPECTED);
  const priv: LoopbackPriv = { autoAddress: spec.address === undefined };
  return stack.registerNetdev({
    name,
    kind: DRIVER_NAME,
    mtu: LOOPBACK_MTU,
    flags: IFF.LOOPBACK,
    type: ARPHRD.LOOPBACK,
    noQueue: true,
    features: { hwCsum: true, rxCsum: true, tso: true },
    ops: loopbackOps,
    priv,
  });
}

/**
 * `inetdev_event(NETDEV_UP)` for loopback devices: a loopback device that comes up without an
 * address gets 127.0.0.1/8, unless its spec listed addresses of its own. Runs after the device
 * is up, so protocols see `up` and then `addr-add`, like `ip link set lo up` on Linux.
 * @see net/ipv4/devinet.c inetdev_event()
 */
function loopbackUp(stack: Stack, dev: NetDevice): void {
  if (dev.ops !== loopbackOps) return;
  const priv = dev.priv as LoopbackPriv;
  if (!priv.autoAddress) return;
  if (dev.addresses.some((a) => a.family === "inet" && a.address === LOOPBACK_ADDRESS)) return;
  stack.addAddress(dev, LOOPBACK_CIDR);
}

/** The `loopback` driver (`rtnl_link_ops` has no part here: Linux makes `lo` per namespace). */
const loopbackDriver: NetDeviceDriver = {
  name: DRIVER_NAME,
  create: loopbackCreate,
};

/**
 * The loopback plugin, which is also the device spec of `lo`:
 *
 * ```ts
 * const stack = await createStack({ devices: [loopback()] }); // lo, up, 127.0.0.1/8
 * ```
 *
 * It registers the `loopback` driver. A device made by it is `lo` unless named otherwise, has
 * MTU 65536, flags `LOOPBACK`, no qdisc, checksum and segmentation offloads, and transmits with
 * {@link loopbackXmit}. When it comes up without an address and its spec gave none, it gets
 * 127.0.0.1/8. More loopback devices can be described as plain specs
 * (`{ driver: "loopback", name: "lo1", address: "127.0.0.2/8" }`) next to `plugins: [loopback()]`.
 * @see drivers/net/loopback.c
 */
export function loopback(): LoopbackPlugin {
  const plugin = definePlugin({
    name: PLUGIN_NAME,
    register(ctx) {
      const stack = ctx.stack;
      ctx.registerDriver(loopbackDriver);
      stack.registerNotifier((event, dev) => {
        if (event === "up") loopbackUp(stack, dev);
      });
    },
  });
  return Object.freeze({ ...plugin, name: PLUGIN_NAME, driver: DRIVER_NAME, plugin });
}
