// The pinned Pulumi CLI run the way a user runs it (`pulumi package add`, `stack init`, `preview`),
// not through the Automation API: programs start under the real language hosts. The engine, the
// language hosts and the Kubernetes plugin come from scripts/tools and are found on the PATH; the
// state backend and Pulumi's home are the test's own, and the engine downloads no plugin.
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureTools, PULUMI_TOOLS } from "#cli/pulumi/tools.js";

/** The tools a program in any of the examples' languages needs, besides the project's own provider. */
export const CLI_TOOLS = [...PULUMI_TOOLS, "pulumi-language-nodejs", "pulumi-language-python"] as const;

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** One step of `pulumi preview --json`. */
export interface PreviewStep {
  readonly op: string;
  readonly urn: string;
  readonly newState?: { readonly type: string; readonly parent?: string; readonly inputs?: Record<string, unknown> };
}

export interface PreviewJson {
  readonly steps: PreviewStep[];
  readonly diagnostics?: { readonly message: string; readonly severity: string }[];
  readonly changeSummary: Record<string, number>;
}

export class PulumiCli {
  private constructor(
    /** Directory of each tool's binaries, by tool. */
    readonly bins: Readonly<Record<(typeof CLI_TOOLS)[number], string>>,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Builds or finds the tools; state and Pulumi's home go under `workDir`. */
  static async open(workDir: string): Promise<PulumiCli> {
    const dirs = await ensureTools(CLI_TOOLS);
    const bins = Object.fromEntries(CLI_TOOLS.map((tool, i) => [tool, dirs[i]!])) as Record<(typeof CLI_TOOLS)[number], string>;
    const state = join(workDir, "state");
    const home = join(workDir, "pulumi-home");
    mkdirSync(state, { recursive: true });
    mkdirSync(home, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PATH: [...new Set(dirs), process.env.PATH ?? ""].join(":"),
      PULUMI_BACKEND_URL: `file://${state}`,
      PULUMI_HOME: home,
      // Stands in for a user's passphrase: it guards only this test's throwaway state.
      PULUMI_CONFIG_PASSPHRASE: "vhive-cli-test",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
    };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    delete env.PULUMI_ACCESS_TOKEN;
    return new PulumiCli(bins, env);
  }

  /** Runs `pulumi <args>` in `cwd`; never throws for a non-zero exit (the caller asserts). */
  run(cwd: string, args: readonly string[], extraEnv: Readonly<Record<string, string>> = {}): Promise<CliResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(join(this.bins.pulumi, "pulumi"), [...args, "--non-interactive"], {
        cwd,
        env: { ...this.env, ...extraEnv },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** `pulumi preview --json` of a stack; fails with the engine's output when the preview does. */
  async preview(cwd: string, stack: string): Promise<PreviewJson> {
    const result = await this.run(cwd, ["preview", "--stack", stack, "--json"]);
    if (result.code !== 0) throw new Error(`pulumi preview failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    return JSON.parse(result.stdout) as PreviewJson;
  }
}

/** The message a run prints when it used a language host or plugin from the PATH (ours, not a download). */
export function usedFromPath(preview: PreviewJson, tool: string, binDir: string): boolean {
  return (preview.diagnostics ?? []).some((d) => d.message.includes(`using ${tool} from $PATH at ${join(binDir, tool)}`));
}
