import { SandboxRequestError } from "../errors.js";
import type { ImageConfig } from "#node-runtime/images/types.js";

/**
 * The file our guest init reads (GUEST_CONFIG_PATH): one `key value` record per line, values with
 * `\` and newlines escaped. Keys: `arg` (argv, in order), `env` (KEY=VALUE), `cwd`, `user`.
 */
export function buildGuestConfig(
  image: Pick<ImageConfig, "entrypoint" | "cmd" | "env" | "workingDir" | "user">,
  extraEnv: Record<string, string> = {},
): string {
  const argv = [...image.entrypoint, ...image.cmd];
  if (argv.length === 0) throw new SandboxRequestError("image config has neither Entrypoint nor Cmd: nothing to start in the guest");
  const env = new Map<string, string>();
  for (const entry of image.env) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new SandboxRequestError(`image config env entry ${JSON.stringify(entry)} is not KEY=VALUE`);
    env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  for (const [k, v] of Object.entries(extraEnv)) {
    if (k.length === 0 || k.includes("=")) throw new SandboxRequestError(`env key ${JSON.stringify(k)} is empty or contains '='`);
    env.set(k, v);
  }
  if (!env.has("PATH")) env.set("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  const lines = [
    ...argv.map((a) => `arg ${escapeValue(a)}`),
    ...[...env].map(([k, v]) => `env ${escapeValue(`${k}=${v}`)}`),
    `cwd ${escapeValue(image.workingDir || "/")}`,
    `user ${escapeValue(image.user || "0")}`,
  ];
  return lines.join("\n") + "\n";
}

function escapeValue(v: string): string {
  if (v.includes("\0")) throw new SandboxRequestError(`guest config value contains a NUL byte: ${JSON.stringify(v)}`);
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}
