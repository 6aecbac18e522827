import { existsSync, readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";

// One vitest project per workspace package (and per example that has tests).
const projectDirs = [
  ...readdirSync(new URL("./packages", import.meta.url)).map((n) => `packages/${n}`),
  ...readdirSync(new URL("./examples", import.meta.url)).map((n) => `examples/${n}`),
].filter((dir) => existsSync(new URL(`./${dir}/test`, import.meta.url)));

export default defineConfig({
  // Vite 8 transforms TS with Oxc: legacy decorators + design:* metadata for tsyringe.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  // Resolve @skbuff/* to src/*.ts via the "@skbuff/source" export condition: tests need no build.
  ssr: { resolve: { conditions: ["@skbuff/source", "module", "node", "development|production"] } },
  test: {
    // CI asks for a JSON report next to the usual output (SKB_JSON_REPORT=path pnpm test).
    ...(process.env.SKB_JSON_REPORT
      ? {
          reporters: ["default", "json"],
          outputFile: { json: process.env.SKB_JSON_REPORT },
        }
      : {}),
    projects: projectDirs.map((dir) => ({
      extends: true,
      test: {
        name: dir.split("/")[1],
        root: `${import.meta.dirname}/${dir}`,
        include: ["test/**/*.test.ts"],
      },
    })),
    benchmark: { include: ["test/**/*.bench.ts"] },
    coverage: { provider: "v8", include: ["packages/*/src/**/*.ts"], reporter: ["text", "html"] },
  },
});
