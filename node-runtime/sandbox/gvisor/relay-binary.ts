import { createHash } from "node:crypto";
import { access, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "#node-runtime/images/run-command.js";

const SOURCE_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "relay");
export const DEFAULT_RELAY_CACHE_DIR = "/var/cache/vhgv-relay";

/** The driver's two helper programs: the in-sandbox relay, and the host-side sandbox reaper. */
export type GvisorHelper = "vhgv-relay" | "vhgv-reaper";

/**
 * Compiles a helper (relay/<name>.c) as a static binary (the relay runs inside any image, whatever
 * libc it has) and caches it in `cacheDir` under the hash of its source, so a changed helper is
 * rebuilt.
 */
export async function ensureHelperBinary(name: GvisorHelper, cacheDir = DEFAULT_RELAY_CACHE_DIR, cc = process.env.CC ?? "cc"): Promise<string> {
  const sourceFile = path.join(SOURCE_DIR, `${name}.c`);
  const source = await readFile(sourceFile);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const target = path.join(cacheDir, `${name}-${hash}`);
  if (
    await access(target).then(
      () => true,
      () => false,
    )
  )
    return target;
  await mkdir(cacheDir, { recursive: true });
  const partial = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await runCommand(cc, ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", partial, sourceFile]);
    // rename is atomic, so concurrent builders never expose a half-written binary
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw new Error(`building the gVisor ${name} needs a C compiler with a static libc (Debian: gcc, libc6-dev): ${(error as Error).message}`);
  }
  return target;
}

/** The in-sandbox relay (see relay/vhgv-relay.c). */
export function ensureRelayBinary(cacheDir = DEFAULT_RELAY_CACHE_DIR, cc = process.env.CC ?? "cc"): Promise<string> {
  return ensureHelperBinary("vhgv-relay", cacheDir, cc);
}

/** The subreaper runsc create and restore run under (see relay/vhgv-reaper.c). */
export function ensureReaperBinary(cacheDir = DEFAULT_RELAY_CACHE_DIR, cc = process.env.CC ?? "cc"): Promise<string> {
  return ensureHelperBinary("vhgv-reaper", cacheDir, cc);
}
