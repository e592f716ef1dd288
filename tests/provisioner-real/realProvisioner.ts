// The provisioner program (components/program's buildCluster, imported, not copied) executed
// for real on test hosts through the harness, with a stack config that points at them.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE_SOURCES } from "../../components/nodes/nodeRuntime.js";
import { parseStackConfig } from "../../components/config/validate.js";
import type { StackConfig } from "../../components/config/schema.js";
import { buildCluster } from "../../components/program/buildCluster.js";
import type { ManifestFetcher } from "../../components/addons/fetch.js";
import { runForReal, type RunOptions, type RunReport } from "../harness/realRun.js";
import { APT_PROXY, type TestHost } from "../hosts/testHosts.js";

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

let frozen: string | undefined;
/**
 * A copy of the files the node runtime bundle is built from, taken once per process. The
 * program hashes them to decide whether to re-install the node runtime; in a working tree that
 * others edit while a test runs, the live files would make a re-run legitimately "changed".
 */
export function frozenRepoRoot(): string {
  if (frozen) return frozen;
  const dir = mkdtempSync(join(tmpdir(), "vht-repo-"));
  for (const source of BUNDLE_SOURCES)
    cpSync(join(REPO_ROOT, source), join(dir, source), {
      recursive: true,
      filter: (src) => !/[/\\](node_modules|build)([/\\]|$)/.test(src.slice(REPO_ROOT.length)),
    });
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  frozen = dir;
  return dir;
}

/** A raw stack config (as a stack file would hold it) for these hosts: the first is the control plane. */
export function rawStackFor(hosts: readonly TestHost[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
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
      role: i === 0 ? "control-plane" : "worker",
    })),
    ...overrides,
  };
}

export function stackFor(hosts: readonly TestHost[], overrides: Record<string, unknown> = {}): StackConfig {
  return parseStackConfig(rawStackFor(hosts, overrides));
}

/**
 * Stands in for the HTTPS fetcher of in-cluster release files: the harness never downloads
 * them (tests may not reach the internet, and there is no cluster to apply them to).
 */
export class RefusingFetcher implements ManifestFetcher {
  readonly refused: string[] = [];
  async fetch(url: string): Promise<Uint8Array> {
    this.refused.push(url);
    throw new Error(`not fetched by the real-host harness: ${url}`);
  }
}

export interface ProvisionReport extends RunReport {
  readonly refusedDownloads: string[];
}

export async function provisionForReal(config: StackConfig, hosts: readonly TestHost[], options: RunOptions = {}): Promise<ProvisionReport> {
  const fetcher = new RefusingFetcher();
  const report = await runForReal(
    () => {
      buildCluster({
        config,
        secret: (key) => {
          throw new Error(`the real-host stack has no secret config key ${key}`);
        },
        repoRoot: frozenRepoRoot(),
        manifestFetcher: fetcher,
      });
    },
    // runLocal: the node runtime bundle is packed on this machine for real, as `pulumi up` would.
    { hostNames: Object.fromEntries(hosts.map((h) => [h.address, h.name])), runLocal: true, ...options },
  );
  return { ...report, refusedDownloads: fetcher.refused };
}

/** The host steps a report executed, as "host step outcome" lines. */
export function executedSteps(report: RunReport): string[] {
  return report.records
    .filter((r) => r.status === "executed" && r.type === "command:remote:Command")
    .map((r) => `${r.host} ${r.step} ${r.outcome ?? "?"}`)
    .sort();
}

/** The list of what was not executed, by name, with the reason: printed by tests and the bench. */
export function notExecutedList(report: RunReport): string[] {
  return report.notExecuted.map((r) => `${r.name} [${r.type}]: ${r.reason ?? r.status}`).sort();
}
