import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  KNOWN_FAILING,
  LINUX_TOLERANCE_USECS,
  PASSES_AT_LINUX_TOLERANCE,
} from "../src/packetdrill/runner/known_failing.js";
import { runScriptFile } from "../src/packetdrill/runner/run.js";
import { packetdrillDir } from "./conformance.js";

/** Wall-clock bound per script (they run on the virtual clock, so this is generous). */
const SCRIPT_TIMEOUT_MS = 20_000;

const dir = packetdrillDir();
const tcpDir = dir === undefined ? undefined : join(dir, "tcp");

function scripts(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith(".pkt")) out.push(relative(root, p));
    }
  };
  walk(root);
  return out;
}

if (tcpDir === undefined) {
  console.warn(
    "packetdrill_conformance: SKIPPED the Linux packetdrill scripts: no shared/conformance/packetdrill (set SKB_PACKETDRILL_DIR)",
  );
}

describe.skipIf(tcpDir === undefined)("Linux's packetdrill scripts", () => {
  const all = tcpDir === undefined ? [] : scripts(tcpDir);
  const passed: string[] = [];
  const passedAtLinuxTolerance: string[] = [];

  afterAll(() => {
    console.info(
      `packetdrill conformance: ${passed.length}/${all.length} of Linux's scripts pass at the default tolerance, ${passedAtLinuxTolerance.length} more at ${LINUX_TOLERANCE_USECS / 1000} ms (Linux's own bar); ${Object.keys(KNOWN_FAILING).length} known failing (known_failing.ts)`,
    );
  });

  it("finds the 26 scripts", () => {
    expect(all).toHaveLength(26);
  });

  it("lists only scripts that exist as known failing, each with a reason", () => {
    expect(Object.keys(KNOWN_FAILING).filter((k) => !all.includes(k))).toEqual([]);
    for (const reason of Object.values(KNOWN_FAILING)) expect(reason).toMatch(/^line \d+: .{20,}/);
  });

  it("lists only existing scripts as passing at Linux's tolerance, none also known failing", () => {
    const names = Object.keys(PASSES_AT_LINUX_TOLERANCE);
    expect(names.filter((k) => !all.includes(k))).toEqual([]);
    expect(names.filter((k) => Object.hasOwn(KNOWN_FAILING, k))).toEqual([]);
    for (const reason of Object.values(PASSES_AT_LINUX_TOLERANCE)) {
      expect(reason).toMatch(/^line \d+: .{20,}/);
    }
  });

  for (const name of all) {
    const known = Object.hasOwn(KNOWN_FAILING, name) ? KNOWN_FAILING[name] : undefined;
    const tolerant = Object.hasOwn(PASSES_AT_LINUX_TOLERANCE, name)
      ? PASSES_AT_LINUX_TOLERANCE[name]
      : undefined;
    if (tolerant !== undefined) {
      it(
        `${name} passes at Linux's ${LINUX_TOLERANCE_USECS / 1000} ms tolerance, and misses the default one where its entry says`,
        async () => {
          const strict = await runScriptFile(join(tcpDir!, name));
          expect(
            strict.passed,
            `${name} passes at the default tolerance now: remove it from PASSES_AT_LINUX_TOLERANCE`,
          ).toBe(false);
          expect(strict.failure?.line).toBe(Number(/^line (\d+):/.exec(tolerant)?.[1]));
          const r = await runScriptFile(join(tcpDir!, name), [
            `--tolerance_usecs=${LINUX_TOLERANCE_USECS}`,
          ]);
          const f = r.failure;
          expect(
            r.passed,
            f && `line ${f.line}: ${f.reason}\n  expected ${f.expected}\n  got ${f.actual}`,
          ).toBe(true);
          passedAtLinuxTolerance.push(name);
        },
        SCRIPT_TIMEOUT_MS,
      );
      continue;
    }
    const title =
      known === undefined
        ? `${name} passes`
        : `${name} still fails (known: ${known.slice(0, 60)}…)`;
    it(
      title,
      async () => {
        const r = await runScriptFile(join(tcpDir!, name));
        if (r.passed) passed.push(name);
        if (known === undefined) {
          const f = r.failure;
          expect(
            r.passed,
            f && `line ${f.line}: ${f.reason}\n  expected ${f.expected}\n  got ${f.actual}`,
          ).toBe(true);
        } else {
          expect(
            r.passed,
            `${name} passes now: remove it from KNOWN_FAILING (known_failing.ts)`,
          ).toBe(false);
          const line = /^line (\d+):/.exec(known)?.[1];
          if (line !== undefined) expect(r.failure?.line).toBe(Number(line));
        }
      },
      SCRIPT_TIMEOUT_MS,
    );
  }
});
