import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DriverRegistry } from "#node-runtime/orchestrator/driver-registry.js";
import { InstanceStateStore } from "#node-runtime/orchestrator/instance-state-store.js";
import { Orchestrator, type OrchestratorDefaults } from "#node-runtime/orchestrator/orchestrator.js";
import { RuntimeMetrics } from "#node-runtime/metrics/runtime-metrics.js";
import { SnapshotStore, type SnapshotStoreOptions } from "#node-runtime/snapshots/snapshot-store.js";
import { ProcessDriver } from "../doubles/driver/process-driver.js";
import { ImageStoreDouble } from "../doubles/driver/image-store-double.js";

export const IMAGE = "helloworld:latest";
export const DIGEST = "sha256:" + "ab".repeat(32);

/** An orchestrator wired to the process driver double, in its own temp dir (prefix vhor-). */
export async function orchestratorHarness(
  opts: {
    budgetBytes?: number;
    checksums?: SnapshotStoreOptions["checksums"];
    defaults?: Partial<OrchestratorDefaults>;
    snapshots?: boolean;
    root?: string;
  } = {},
) {
  const root = opts.root ?? (await mkdtemp(path.join(tmpdir(), "vhor-orch-")));
  const driver = new ProcessDriver("gvisor", path.join(root, "sandboxes"), { snapshots: opts.snapshots });
  const images = new ImageStoreDouble();
  images.add(IMAGE, DIGEST);
  const metrics = new RuntimeMetrics();
  const snapshots = new SnapshotStore({
    root: path.join(root, "snapshots"),
    budgetBytes: opts.budgetBytes ?? 64 * 1024 * 1024,
    checksums: opts.checksums,
    onEvent: (e) => metrics.snapshotEvent(e.kind),
  });
  await snapshots.init();
  const orchestrator = new Orchestrator({
    drivers: new DriverRegistry().register(driver),
    images,
    snapshots,
    metrics,
    state: new InstanceStateStore(path.join(root, "instances")),
    // Generous: the function double is a Node process, slow to start on a loaded two-core CI machine.
    defaults: { readyTimeoutMs: 30_000, ...opts.defaults },
  });
  await orchestrator.init();
  return {
    root,
    driver,
    images,
    metrics,
    snapshots,
    orchestrator,
    /** Names of what is left behind: live sandbox processes, sandbox dirs, staging dirs. */
    async leftovers(): Promise<string[]> {
      const out = [...driver.live].map((pid) => `process ${pid}`);
      const list = async (dir: string) => readdir(dir).catch(() => [] as string[]);
      for (const d of await list(path.join(root, "sandboxes"))) out.push(`sandbox dir ${d}`);
      for (const d of await list(path.join(root, "snapshots", "staging"))) out.push(`staging dir ${d}`);
      return out;
    },
    async dispose() {
      await orchestrator.stopAll();
      await snapshots.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
