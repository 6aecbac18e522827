import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * Where Linux's packetdrill scripts are: `$SKB_PACKETDRILL_DIR`, else `shared/conformance/packetdrill`
 * beside the repository, else the workplace's `/work/shared`. Undefined when none exists (the
 * tests that need it then skip, saying so).
 */
export function packetdrillDir(): string | undefined {
  const candidates = [
    process.env.SKB_PACKETDRILL_DIR,
    fileURLToPath(new URL("../../../../shared/conformance/packetdrill", import.meta.url)),
    "/work/shared/conformance/packetdrill",
  ];
  return candidates.find((d): d is string => d !== undefined && existsSync(d));
}
