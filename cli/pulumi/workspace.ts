// A stack of this project opened through Pulumi's Automation API with the pinned engine: the
// program runs in this process (Pulumi's inline program host), so no language plugin is needed,
// and the engine, the kubernetes plugin and the project's own provider (Pulumi.yaml) are local.
import { mkdirSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { LocalWorkspace, PulumiCommand, type Stack } from "@pulumi/pulumi/automation/index.js";
import { vhiveProgram } from "#components/program/program.js";
import { ensureTools, PULUMI_TOOLS, REPO_ROOT } from "./tools.js";

export const PROJECT = "vhive";

export interface OpenStackOptions {
  readonly stack: string;
  /** State backend URL (default: a file backend in .pulumi-state/ of the repository). */
  readonly backendUrl?: string;
  /** Extra environment for the engine and plugins. */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The project directory (Pulumi.yaml and the stack files): the repository, or a directory of a
   * test's own made by projectDirectory().
   */
  readonly workDir?: string;
  /** The program to run (default: the project's own). */
  readonly program?: () => Promise<Record<string, unknown> | undefined>;
}

/**
 * A project directory outside the repository for stacks whose config a caller writes (the tests):
 * Pulumi.yaml naming this project and its provider plugin by absolute path.
 */
export function projectDirectory(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const yaml = [
    `name: ${PROJECT}`,
    "runtime: nodejs",
    "plugins:",
    "  providers:",
    "    - name: vhive",
    `      path: ${JSON.stringify(`${REPO_ROOT}/components/provider/bin`)}`,
    "",
  ].join("\n");
  writeFileSync(join(dir, "Pulumi.yaml"), yaml);
  return dir;
}

/**
 * Where a stack's generated passphrase lives: the user's config directory, not beside the state it
 * decrypts (a copy of the state directory must not carry its own key).
 */
export function passphraseFile(backendUrl: string, stack: string): string {
  const configHome = process.env.XDG_CONFIG_HOME ?? join(homedir(), ".config");
  const backendId = createHash("sha256").update(backendUrl).digest("hex").slice(0, 16);
  return join(configHome, "vhive", "passphrases", `${PROJECT}-${stack}-${backendId}`);
}

function ensurePassphrase(file: string): void {
  if (existsSync(file) && readFileSync(file, "utf8").trim() !== "") return;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, randomBytes(32).toString("hex"), { mode: 0o600, flag: "wx" });
  console.error(`Generated a stack passphrase in ${file} (keep it: it decrypts the stack's secrets).`);
}

export async function openStack(options: OpenStackOptions): Promise<Stack> {
  const [pulumiBin, ...pluginBins] = await ensureTools(PULUMI_TOOLS);
  const backendUrl = options.backendUrl ?? process.env.PULUMI_BACKEND_URL ?? `file://${REPO_ROOT}/.pulumi-state`;
  if (backendUrl.startsWith("file://")) mkdirSync(backendUrl.slice("file://".length), { recursive: true });
  const env: Record<string, string> = {
    // Plugins on the PATH are found by the engine without downloading anything.
    PATH: [...pluginBins, pulumiBin, process.env.PATH ?? ""].join(":"),
    PULUMI_BACKEND_URL: backendUrl,
    PULUMI_SKIP_UPDATE_CHECK: "true",
    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    ...options.env,
  };
  const given = (key: string) => process.env[key] !== undefined || options.env?.[key] !== undefined;
  if (!given("PULUMI_CONFIG_PASSPHRASE") && !given("PULUMI_CONFIG_PASSPHRASE_FILE")) {
    const file = passphraseFile(backendUrl, options.stack);
    ensurePassphrase(file);
    env.PULUMI_CONFIG_PASSPHRASE_FILE = file;
  }
  const pulumiCommand = await PulumiCommand.get({ root: dirname(pulumiBin!) });
  return LocalWorkspace.createOrSelectStack(
    { stackName: options.stack, projectName: PROJECT, program: options.program ?? vhiveProgram },
    { workDir: options.workDir ?? REPO_ROOT, pulumiCommand, envVars: env },
  );
}
