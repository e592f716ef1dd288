// The provisioner run by the real Pulumi engine (the pinned CLI from scripts/tools, the project's
// provider plugin, the program through the Automation API) against SSH test hosts: a project
// directory and a file state backend of the test's own, a stack file that points at the hosts.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml, stringify as toYaml } from "yaml";
import type { Stack, UpResult, PreviewResult, DestroyResult } from "@pulumi/pulumi/automation/index.js";
import { parseStackConfig } from "#components/config/validate.js";
import type { StackConfig } from "#components/config/schema.js";
import { openStack, projectDirectory, PROJECT } from "#cli/pulumi/workspace.js";
import { REPO_ROOT } from "#cli/pulumi/tools.js";
import { APT_PROXY, type TestHost } from "../hosts/test-hosts.js";

export { REPO_ROOT };

/** A raw stack config (as a stack file would hold it) for these hosts: the first is the control plane. */
export function rawStackFor(hosts: readonly TestHost[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const kubernetes = overrides.kubernetes !== false;
  return {
    target: "hosts",
    sandbox: "gvisor",
    packages: { source: "debian" },
    aptProxy: APT_PROXY,
    // The test hosts' bridge subnet; the MetalLB pool is its top, above every test host address.
    network: { hostCidr: "10.231.0.0/24", metallbPool: "10.231.0.240-10.231.0.250" },
    hosts: hosts.map((h, i) => ({
      name: h.name,
      address: h.address,
      port: h.port,
      user: h.user,
      sshKey: { file: h.privateKeyPath },
      hostKey: h.hostKey,
      role: kubernetes && i === 0 ? "control-plane" : "worker",
    })),
    ...overrides,
  };
}

export function stackFor(hosts: readonly TestHost[], overrides: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(rawStackFor(hosts, overrides));
}

/** One stack of a test: its own project directory, state backend and passphrase. */
export class EngineStack {
  /** Everything the engine printed, over all operations (for the secrets checks). */
  output = "";
  private constructor(
    readonly name: string,
    readonly dir: string,
    readonly stack: Stack,
  ) {}

  static async open(
    name: string,
    config: Record<string, unknown>,
    secrets: Record<string, string> = {},
    program?: () => Promise<Record<string, unknown> | undefined>,
  ): Promise<EngineStack> {
    const dir = mkdtempSync(join(tmpdir(), `vhive-engine-${name}-`));
    projectDirectory(dir);
    const stateDir = join(dir, "state");
    writeFileSync(join(dir, "passphrase"), "test passphrase of an engine test stack", { mode: 0o600 });
    EngineStack.writeConfig(dir, name, config);
    const stack = await openStack({
      stack: name,
      workDir: dir,
      backendUrl: `file://${stateDir}`,
      env: { PULUMI_CONFIG_PASSPHRASE_FILE: join(dir, "passphrase"), PULUMI_HOME: join(dir, "pulumi-home") },
      ...(program ? { program } : {}),
    });
    for (const [key, value] of Object.entries(secrets)) await stack.setConfig(`${PROJECT}:${key}`, { value, secret: true });
    return new EngineStack(name, dir, stack);
  }

  /** Replaces the stack file's plain settings (encrypted secrets set with setConfig stay). */
  static writeConfig(dir: string, name: string, config: Record<string, unknown>): void {
    const file = join(dir, `Pulumi.${name}.yaml`);
    let existing: Record<string, unknown> = {};
    try {
      existing = (parseYaml(readFileSync(file, "utf8")) ?? {}) as Record<string, unknown>;
    } catch {
      // No stack file yet.
    }
    const kept = Object.fromEntries(
      Object.entries((existing.config ?? {}) as Record<string, unknown>).filter(([, v]) => typeof v === "object" && v !== null && "secure" in v),
    );
    const settings = Object.fromEntries(Object.entries(config).map(([k, v]) => [`${PROJECT}:${k}`, v]));
    writeFileSync(file, toYaml({ ...existing, config: { ...kept, ...settings } }));
  }

  reconfigure(config: Record<string, unknown>): void {
    EngineStack.writeConfig(this.dir, this.name, config);
  }

  private collect = (text: string) => {
    this.output += text;
    if (process.env.VHIVE_TEST_ENGINE_LOG) process.stdout.write(text);
  };

  up(options: { refresh?: boolean } = {}): Promise<UpResult> {
    return this.stack.up({ onOutput: this.collect, showSecrets: false, ...options });
  }

  /**
   * `pulumi up --continue-on-error` that may fail: whether it succeeded, what the engine printed
   * in this run (its diagnostics name each failed resource with its error) and the changes made.
   */
  async upAllowingFailure(): Promise<{ ok: boolean; output: string; changes: Record<string, number> }> {
    const start = this.output.length;
    try {
      const result = await this.stack.up({ onOutput: this.collect, showSecrets: false, continueOnError: true });
      return { ok: true, output: this.output.slice(start), changes: result.summary.resourceChanges ?? {} };
    } catch (error) {
      return { ok: false, output: `${this.output.slice(start)}\n${(error as Error).message}`, changes: {} };
    }
  }

  /** Names of the resources in the stack's state (provider instances left out, as the engine's summary counts). */
  async resourceNames(): Promise<string[]> {
    const state = (await this.stack.exportStack()).deployment as { resources?: { urn: string; type: string }[] };
    return (state.resources ?? [])
      .filter((r) => !r.type.startsWith("pulumi:providers:"))
      .map((r) => r.urn.split("::").at(-1)!)
      .sort();
  }

  preview(options: { expectNoChanges?: boolean; refresh?: boolean } = {}): Promise<PreviewResult> {
    return this.stack.preview({ onOutput: this.collect, ...options });
  }

  refresh() {
    return this.stack.refresh({ onOutput: this.collect, showSecrets: false });
  }

  destroy(): Promise<DestroyResult> {
    return this.stack.destroy({ onOutput: this.collect, showSecrets: false });
  }

  /** Every file of the file state backend (checkpoints, backups, history), as text. */
  async stateText(): Promise<string> {
    const files = readdirSync(join(this.dir, "state"), { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
    return files.map((e) => readFileSync(join(e.parentPath, e.name), "utf8")).join("\n");
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
