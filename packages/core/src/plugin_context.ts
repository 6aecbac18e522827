/**
 * What a plugin's `register`/`start`/`stop` get: the stack they are registering into, and
 * shorthands for its registries.
 * @packageDocumentation
 */
import type { DependencyContainer } from "tsyringe";
import type { Clock } from "./clock.js";
import type { NetDeviceDriver } from "./driver.js";
import { PluginError } from "./errors.js";
import type { MibGroup } from "./mib.js";
import type { NfHookOps, NfQueueHandler } from "./netfilter.js";
import type { SysctlValue } from "./options.js";
import type { InetProtocol, PacketType } from "./protocol.js";
import type { QdiscOps } from "./qdisc.js";
import type { NetProtoFamily } from "./sock.js";
import type { Stack } from "./stack.js";
import type { SysctlDef, SysctlEntry } from "./sysctl.js";
import type { Token } from "./tokens.js";

/** The registration surface a plugin sees. */
export class PluginContext {
  constructor(
    /** The stack being built. */
    readonly stack: Stack,
    /** The plugin's name, for messages. */
    readonly pluginName: string,
  ) {}

  /** The stack's child DI container. */
  get container(): DependencyContainer {
    return this.stack.container;
  }

  /** The stack's clock. */
  get clock(): Clock {
    return this.stack.clock;
  }

  /** `nf_register_net_hook`; returns the unregister function. */
  nfRegisterHook(ops: NfHookOps): () => void {
    return this.stack.nf.register(ops);
  }

  /** Binds a handler to an NF_QUEUE number. */
  nfRegisterQueueHandler(queueNum: number, handler: NfQueueHandler): () => void {
    return this.stack.nf.registerQueueHandler(queueNum, handler);
  }

  /** `dev_add_pack`. */
  devAddPack(pt: PacketType): void {
    this.stack.protocols.devAddPack(pt);
  }

  /** `inet_add_protocol`; throws if the protocol number is taken. */
  inetAddProtocol(proto: InetProtocol): void {
    if (!this.stack.protocols.inetAddProtocol(proto)) {
      throw new PluginError(
        `Plugin '${this.pluginName}': IP protocol ${proto.protocol} already has a handler`,
      );
    }
  }

  /** `sock_register`: an address family's socket constructor. */
  sockRegister(family: NetProtoFamily): void {
    this.stack.sockRegister(family);
  }

  /** Registers a device driver by name (`loopback`, `veth`). */
  registerDriver(driver: NetDeviceDriver): void {
    this.stack.registerDriver(driver);
  }

  /** Registers a qdisc kind (`netem`). */
  registerQdisc(ops: QdiscOps): void {
    this.stack.registerQdisc(ops);
  }

  /** Registers a sysctl; keep the entry and read `entry.value` on the hot path. */
  registerSysctl<T extends SysctlValue>(def: SysctlDef<T>): SysctlEntry<T> {
    return this.stack.sysctl.register(def);
  }

  /** Registers a group of MIB counters. */
  registerMib<G extends MibGroup>(group: G): G {
    return this.stack.mib.register(group);
  }

  /** Provides a service under a token in the stack's container. */
  provide<T>(tok: Token<T>, value: T): void {
    this.stack.container.register(tok, { useValue: value });
  }

  /** Runs `fn` when the stack closes (after the plugin's stop). */
  onClose(fn: () => void | Promise<void>): void {
    this.stack.onClose(fn);
  }
}
