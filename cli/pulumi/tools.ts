// The pinned Pulumi CLI and provider plugins, from the project's tool script
// (scripts/tools/build.sh): upstream's release where it is reachable, else built from Go modules
// into a cache outside the repository. The first build prints its progress; later calls take a second.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");
const BUILD_SCRIPT = `${REPO_ROOT}/scripts/tools/build.sh`;

/** The tools a Pulumi run needs: the engine and every provider plugin the program uses. */
export const PULUMI_TOOLS = ["pulumi", "pulumi-resource-kubernetes"] as const;

export class ToolError extends Error {}

/** Makes sure each tool is in the cache and returns its bin directory, in the order asked. */
export function ensureTools(tools: readonly string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [BUILD_SCRIPT, "--bin-dir", ...tools], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.once("error", reject);
    child.once("close", (code) => {
      if (code !== 0) return reject(new ToolError(`${tools.join(", ")}: the tool script failed (exit ${code}); its messages are above`));
      resolve(out.trim().split("\n"));
    });
  });
}
