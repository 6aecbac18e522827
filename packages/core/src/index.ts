/**
 * @skbuff/core — the contracts every other package builds on: `SkBuff`, `NetDevice`, the
 * protocol registries, the `NF_HOOK` verdict contract, drop reasons, MIB counters,
 * tracepoints, clocks, the softirq scheduler, qdiscs, `Stack` (one network namespace) and the
 * plugin and config loader.
 *
 * Layers, bottom up:
 * - wire helpers: {@link getU16}, {@link csumPartial}, … (no stack imports)
 * - packets: {@link SkBuff}, {@link SkBuffHead}, {@link kfreeSkb} / {@link consumeSkb}
 * - devices: {@link NetDevice}, {@link netifRx}, {@link devQueueXmit}, qdiscs
 * - registries: {@link PacketType}, {@link InetProtocol}, {@link Proto}, netfilter hooks
 * - the namespace: {@link Stack}, plugins, config
 * @packageDocumentation
 */
import "reflect-metadata";

export * from "./bytes.js";
export * from "./checksum.js";
export {
  type Clock,
  type ClockOptions,
  isClock,
  RealClock,
  type RealClockOptions,
  type Timer,
  VirtualClock,
  type VirtualClockOptions,
} from "./clock.js";
export { type LoadOptions, loadNetwork, loadStack } from "./config/load_stack.js";
export {
  devHardStartXmit,
  devQueueXmit,
  type NapiStruct,
  netifCarrierOff,
  netifCarrierOn,
  netifReceiveSkb,
  netifRx,
  netifStopQueue,
  netifWakeQueue,
  qdiscRun,
  Softnet,
} from "./dev.js";
export {
  checkDeviceSpecKeys,
  DEV_NAME_EXPECTED,
  DEVICE_SPEC_KEYS,
  devValidName,
  type NetDeviceDriver,
} from "./driver.js";
export { consumeSkb, kfreeSkb } from "./drop.js";
export { SkbDropReason } from "./drop_reason.js";
export { type DstEntry, skbDst } from "./dst.js";
export { ERRNO, type ErrnoName, errnoName } from "./errno.js";
export {
  ConfigError,
  describeValue,
  ErrnoError,
  PluginError,
  SkbuffError,
  SysctlError,
} from "./errors.js";
export { type AnyFn, type FuncGraphEvent, FunctionGraphTracer, traceable } from "./ftrace.js";
export { type Cidr, inetAton, inetMakeMask, inetNtoa, parseCidr } from "./inet_addr.js";
export { type MibGroup, MibRegistry, SoftnetMib } from "./mib.js";
export {
  ARPHRD,
  type DevAddress,
  IFF,
  NETDEV_TX_BUSY,
  NETDEV_TX_OK,
  NetDevice,
  type NetDeviceFeatures,
  type NetDeviceInit,
  type NetDeviceOps,
  NetDeviceStats,
  type NetdevTx,
} from "./netdevice.js";
export * from "./netfilter.js";
export { createNetwork, Network } from "./network.js";
export type {
  DeviceSpec,
  HostOptions,
  LinkSpec,
  Maybe,
  NetworkOptions,
  RouteSpec,
  ServiceSpec,
  StackOptions,
  SysctlValue,
} from "./options.js";
export { parseOptions, z } from "./options_schema.js";
export { definePlugin, isPlugin, orderPlugins, type Plugin } from "./plugin.js";
export { PluginContext } from "./plugin_context.js";
export * from "./protocol.js";
export {
  NET_XMIT_CN,
  NET_XMIT_DROP,
  NET_XMIT_SUCCESS,
  PfifoQdisc,
  type Qdisc,
  type QdiscOps,
  type QdiscOptions,
  QdiscStats,
} from "./qdisc.js";
export { skbChecksumHelp } from "./skb_checksum.js";
export * from "./skbuff.js";
export { SkBuffHead } from "./skbuff_head.js";
export * from "./sock.js";
export {
  type CoreSysctls,
  createStack,
  type NetdevEvent,
  type NetdevNotifier,
  netGeneric,
  registerPernetId,
  Stack,
  type StackNet,
} from "./stack.js";
export { Sysctl, type SysctlDef, type SysctlEntry, type SysctlType } from "./sysctl.js";
export {
  type InetdService,
  type PingOptions,
  type PingReply,
  type PingService,
  type RouteService,
  TOKENS,
  type Token,
  token,
} from "./tokens.js";
export { TRACEPOINTS, tp, tracepoint } from "./trace.js";
