/**
 * SNMP MIB counters, as Linux keeps them per network namespace and `nstat` prints them
 * (`IpInReceives`, `TcpExtListenOverflows`, …). A protocol keeps its counters in a plain class
 * with numeric fields (incremented on the hot path as `mib.IpInReceives++`) and registers the
 * object with the stack, which reads all groups for {@link Stack.counters}.
 * @packageDocumentation
 */

/** A group of counters: an object whose own numeric properties are counters. */
export type MibGroup = object;

/** The stack's registry of counter groups. */
export class MibRegistry {
  private readonly groups: MibGroup[] = [];

  /** Adds a group (an object with numeric fields named like nstat's counters). */
  register<G extends MibGroup>(group: G): G {
    if (!this.groups.includes(group)) this.groups.push(group);
    return group;
  }

  /**
   * All counters by name. With `nonZero`, only those that moved (nstat's default output).
   */
  snapshot(nonZero = false): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of this.groups) {
      for (const [k, v] of Object.entries(g)) {
        if (typeof v !== "number") continue;
        if (nonZero && v === 0) continue;
        out[k] = (out[k] ?? 0) + v;
      }
    }
    return out;
  }
}

/**
 * The core's own counters: the receive backlog, like `/proc/net/softnet_stat`, plus the
 * netfilter core.
 */
export class SoftnetMib {
  /** Packets taken off the backlog and handed to `netifReceiveSkb`. */
  SoftnetProcessed = 0;
  /** Packets dropped because the backlog was full (`netdev_max_backlog`). */
  SoftnetDropped = 0;
  /** Times `netRxAction` stopped with work left because its budget ran out. */
  SoftnetTimeSqueeze = 0;
  /** Netfilter hook functions that threw. */
  NfHookErrors = 0;
  /** Packets handed to an NF_QUEUE handler. */
  NfQueued = 0;
}
