import { createHash } from "node:crypto";
import { access, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "../../images/run-command.js";

const RELAY_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), "relay", "vhgv-relay.c");
export const DEFAULT_RELAY_CACHE_DIR = "/var/cache/vhgv-relay";

/**
 * Compiles the in-sandbox relay as a static binary (it runs inside any image, whatever libc it
 * has) and caches it in `cacheDir` under the hash of its source, so a changed relay is rebuilt.
 */
export async function ensureRelayBinary(cacheDir = DEFAULT_RELAY_CACHE_DIR, cc = process.env.CC ?? "cc"): Promise<string> {
  const source = await readFile(RELAY_SOURCE);
  const hash = createHash("sha256").update(source).digest("hex").slice(0, 16);
  const target = path.join(cacheDir, `vhgv-relay-${hash}`);
  if (await access(target).then(() => true, () => false)) return target;
  await mkdir(cacheDir, { recursive: true });
  const partial = `${target}.${process.pid}.${Date.now()}.tmp`;
  try {
    await runCommand(cc, ["-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", partial, RELAY_SOURCE]);
    // rename is atomic, so concurrent builders never expose a half-written binary
    await rename(partial, target);
  } catch (error) {
    await rm(partial, { force: true });
    throw new Error(`building the gVisor relay needs a C compiler with a static libc (Debian: gcc, libc6-dev): ${(error as Error).message}`);
  }
  return target;
}
