/**
 * `@skbuff/netem`: the netem qdisc, which makes a device's egress behave like a long, lossy,
 * slow link: delay with jitter and correlation, random and Gilbert-Elliott loss, duplication,
 * reordering, corruption and rate limiting with a queue limit. Seeded, so a run replays
 * exactly, and on the stack's clock, so minutes of network time take a moment under a
 * `VirtualClock`.
 *
 * Layers: `units` and `tc` parse what people write, `config` is the normalized settings,
 * `random` the seeded numbers, distributions and Gilbert-Elliott model, `tfifo` the time-ordered queue, `netem` the
 * qdisc, `plugin` the plugin and helpers.
 * @see net/sched/sch_netem.c, tc-netem(8)
 * @packageDocumentation
 */
import { netem } from "./plugin.js";

export {
  isNetemConfig,
  NETEM_DEFAULT_LIMIT,
  NETEM_DEFAULT_SEED,
  NETEM_DISTRIBUTIONS,
  type NetemChance,
  type NetemChanceOptions,
  type NetemConfig,
  type NetemDistribution,
  type NetemGemodelOptions,
  type NetemLoss,
  type NetemLossOptions,
  type NetemOptions,
  type NetemPercent,
  type NetemRate,
  type NetemReorder,
  type NetemReorderOptions,
  type NetemTime,
} from "./config.js";
export { NetemQdisc, NetemStats } from "./netem.js";
export { NETEM_PLUGIN_NAME, parseNetemOptions } from "./options.js";
export { type NetemPluginOptions, netem, netemAttach, netemOf } from "./plugin.js";
export { parseTcNetem } from "./tc.js";
export default netem;
