/**
 * The `netfilter()` plugin: connection tracking, NAT and an nftables-like ruleset in a stack.
 *
 * ```ts
 * createStack({ plugins: [ipv4(), icmp(), netfilter({ ruleset: "./firewall.nft" })] });
 * ```
 * ```yaml
 * plugins:
 *   - { use: "@skbuff/netfilter", options: { ruleset: ./firewall.nft } }
 * ```
 * Registration order: conntrack (its hooks at `NF_IP_PRI_CONNTRACK*`), then NAT, then the
 * ruleset, whose base chains hook in at their own priorities. A bad ruleset fails the stack's
 * creation with an {@link NftSyntaxError}. The ruleset is provided under {@link NFT_RULESET} for
 * control at run time: `stack.container.resolve(NFT_RULESET).replace(text)`.
 * @packageDocumentation
 */
import { readFileSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { definePlugin, type Plugin, parseOptions, type Stack, token, z } from "@skbuff/core";
import { registerConntrack } from "./conntrack/index.js";
import { Ruleset } from "./engine/ruleset.js";
import { registerNat } from "./nat/index.js";
import { NftSyntaxError } from "./nft/errors.js";

/** The plugin's name. */
export const NETFILTER_PLUGIN = "skbuff:netfilter";

/** The DI token of a stack's {@link Ruleset}. */
export const NFT_RULESET = token<Ruleset>("skbuff:nft_ruleset");

/**
 * The ruleset of a stack made with {@link netfilter} (`stack.container.resolve(NFT_RULESET)`,
 * typed). @throws PluginError naming the plugin when the stack has none
 */
export function rulesetOf(stack: Stack): Ruleset {
  return stack.service(NFT_RULESET, "netfilter()");
}

/** Options of {@link netfilter}. */
export interface NetfilterOptions {
  /**
   * The ruleset: nft text, or the path of a file ending in `.nft` (relative paths from
   * `baseDir`, else from the process's working directory). Default: no tables.
   */
  readonly ruleset?: string;
  /** Connection tracking options, or false to leave conntrack (and NAT) out. */
  readonly conntrack?: { readonly max?: number } | false;
}

/** What the config loader (or a caller) may pass beside the options. */
export interface NetfilterContext {
  /** Folder relative ruleset paths are resolved from (a config file's folder). */
  readonly baseDir?: string;
}

const schema = z
  .object({
    ruleset: z.string().optional(),
    conntrack: z
      .union([z.literal(false), z.object({ max: z.number().int().positive().optional() }).strict()])
      .optional(),
  })
  .strict();

/** Whether a ruleset option names a file rather than holding nft text. */
function isRulesetFile(ruleset: string): boolean {
  return !ruleset.includes("\n") && !ruleset.includes("{") && ruleset.trim().endsWith(".nft");
}

/**
 * The netfilter plugin factory: conntrack, NAT and the ruleset.
 * @throws ConfigError for bad options (the ruleset itself is read and checked at registration)
 */
export function netfilter(options?: NetfilterOptions, context: NetfilterContext = {}): Plugin {
  const opts = parseOptions(schema, options, NETFILTER_PLUGIN);
  return definePlugin({
    name: NETFILTER_PLUGIN,
    requires: ["skbuff:ipv4"],
    register(ctx) {
      if (opts.conntrack !== false) {
        registerConntrack(
          ctx,
          opts.conntrack?.max !== undefined ? { max: opts.conntrack.max } : {},
        );
        registerNat(ctx);
      }
      const ruleset = new Ruleset(ctx.stack, (ops) => ctx.nfRegisterHook(ops));
      ctx.onClose(() => ruleset.close());
      if (opts.ruleset !== undefined) {
        const { text, file } = readRuleset(opts.ruleset, context.baseDir);
        ruleset.replace(text, { file });
      }
      ctx.provide(NFT_RULESET, ruleset);
    },
  });
}

function readRuleset(ruleset: string, baseDir?: string): { text: string; file: string } {
  if (!isRulesetFile(ruleset)) return { text: ruleset, file: "<ruleset>" };
  const file = ruleset.trim();
  const path = isAbsolute(file) ? file : resolve(baseDir ?? process.cwd(), file);
  try {
    return { text: readFileSync(path, "utf8"), file };
  } catch (error) {
    throw new NftSyntaxError(
      `cannot read the ruleset file ${path}: ${(error as Error).message}`,
      file,
      null,
      undefined,
    );
  }
}
