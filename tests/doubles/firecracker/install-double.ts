// Writes an executable `firecracker` shim that starts the Firecracker API test double
// (firecracker-double.ts) for one spec version, so the driver can spawn it like the real binary.
import { chmodSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";
import type { FirecrackerApiVersion } from "#node-runtime/sandbox/firecracker/api-types.js";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");

export function installFirecrackerDouble(dir: string, version: FirecrackerApiVersion, recordPath: string): string {
  const shim = join(dir, `firecracker-double-${version}`);
  const loader = join(repo, "node_modules/tsx/dist/loader.mjs");
  writeFileSync(
    shim,
    [
      "#!/bin/sh",
      "# Test double of the firecracker binary (see tests/doubles/firecracker/firecracker-double.ts).",
      `exec '${process.execPath}' --import 'file://${loader}' '${join(here, "firecracker-double.ts")}' --spec-version ${version} --record '${recordPath}' "$@"`,
      "",
    ].join("\n"),
  );
  chmodSync(shim, 0o755);
  return shim;
}
