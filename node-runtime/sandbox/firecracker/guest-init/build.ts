import { createHash } from "node:crypto";
import { access, mkdir, readFile, rename } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { execCommand } from "../exec-command.js";

const source = join(dirname(fileURLToPath(import.meta.url)), "vhfc-init.c");

/**
 * Compiles the guest init as a static binary with the machine's C compiler (it must run in any
 * image, whatever libc it has). Cached in `outDir` under the hash of its source.
 */
export async function buildGuestInit(outDir: string, cc = process.env.CC ?? "cc"): Promise<string> {
  const code = await readFile(source);
  const hash = createHash("sha256").update(code).digest("hex").slice(0, 12);
  const target = join(outDir, `vhfc-init-${hash}`);
  try {
    await access(target);
    return target;
  } catch {
    // not built yet
  }
  await mkdir(outDir, { recursive: true });
  const tmp = `${target}.${process.pid}.tmp`;
  await execCommand(cc, ["-static", "-Os", "-Wall", "-Werror", "-o", tmp, source]).catch((e: Error) => {
    throw new Error(`building the guest init needs a C compiler with static libc (Debian: gcc, libc6-dev): ${e.message}`);
  });
  await rename(tmp, target);
  return target;
}
