// The node runtime, assembled: image store, sandbox drivers, snapshot store, metrics and the
// orchestrator, from one RuntimeConfig. The CLI's `serve`, the benchmark and the end-to-end tests
// all build it here, so they run the same wiring.
import { mkdir, rm } from "node:fs/promises";
import path from "node:path";
import { pino, type Logger } from "pino";
import type { RuntimeConfig } from "./config/runtime-config.js";
import type { ImageStore } from "./images/types.js";
import { LocalImageStore } from "./images/image-store.js";
import { registryOptionsFrom } from "./images/registry-credentials.js";
import { RuntimeMetrics } from "./metrics/runtime-metrics.js";
import type { NetworkPool } from "./network/types.js";
import { DriverRegistry } from "./orchestrator/driver-registry.js";
import { InstanceStateStore } from "./orchestrator/instance-state-store.js";
import { Orchestrator } from "./orchestrator/orchestrator.js";
import { runtimeStorageBudget } from "./orchestrator/runtime-storage-budget.js";
import type { StorageBudget } from "./orchestrator/storage-budget.js";

export { Orchestrator };
import { createSandboxDriver, type SandboxResources } from "./orchestrator/sandbox-factories.js";
import type { SandboxDriver, SandboxKind } from "./sandbox/driver.js";
import { SnapshotStore } from "./snapshots/snapshot-store.js";

export type { StartInstanceRequest, InstanceInfo, StopResult, SnapshotMode } from "./orchestrator/instance.js";
export { RuntimeError } from "./orchestrator/errors.js";

export interface NodeRuntime {
  readonly config: RuntimeConfig;
  readonly orchestrator: Orchestrator;
  readonly snapshots: SnapshotStore;
  readonly metrics: RuntimeMetrics;
  readonly images: ImageStore;
  readonly logger: Logger;
  /** Stops every instance (snapshotting as usual) and releases drivers' and the pool's resources. */
  close(): Promise<void>;
}

export interface NodeRuntimeOverrides {
  /** Drivers to use instead of building them from the config (tests pass doubles here). */
  drivers?: SandboxDriver[];
  images?: ImageStore;
  network?: NetworkPool;
  logger?: Logger;
}

export async function createNodeRuntime(config: RuntimeConfig, overrides: NodeRuntimeOverrides = {}): Promise<NodeRuntime> {
  const logger = overrides.logger ?? pino({ level: config.logLevel }, pino.destination(2));
  const dataDir = config.dataDir;
  await mkdir(dataDir, { recursive: true });
  const images =
    overrides.images ??
    new LocalImageStore({ root: config.imageDir ?? path.join(path.dirname(dataDir), "images"), registry: await registryOptionsFrom(config) });
  const metrics = new RuntimeMetrics();
  // Working sets of earlier versions, one per revision and bound to no snapshot: never safe to load.
  await rm(path.join(dataDir, "working-sets"), { recursive: true, force: true });
  let storageRef: StorageBudget | undefined;
  const snapshots = new SnapshotStore({
    root: path.join(dataDir, "snapshots"),
    budgetBytes: config.diskBudget,
    // Collected by the runtime-wide StorageBudget below (allocated blocks of everything stored).
    enforceBudget: false,
    checksums: config.snapshotChecksums,
    onEvent: (e) => {
      metrics.snapshotEvent(e.kind);
      logger.info(e, `snapshot ${e.kind}`);
      if (e.kind === "committed") void storageRef?.collect().catch((err) => logger.warn({ err: String(err) }, "disk budget collection failed"));
    },
  });
  await snapshots.init();

  const registry = new DriverRegistry();
  let network = overrides.network;
  const disposers: (() => Promise<void>)[] = [];
  if (overrides.drivers) {
    for (const d of overrides.drivers) registry.register(d);
  } else {
    const kinds: SandboxKind[] = config.sandboxes ?? [config.sandbox];
    const resources: SandboxResources = { images, config, logger };
    for (const kind of kinds) {
      const built = await createSandboxDriver(kind, resources);
      registry.register(built.driver);
      network ??= built.pool;
      if (built.dispose) disposers.push(built.dispose);
    }
  }

  const orchestrator = new Orchestrator({
    drivers: registry,
    images,
    snapshots,
    metrics,
    network,
    state: new InstanceStateStore(path.join(dataDir, "instances")),
    logger,
    defaults: {
      sandbox: config.sandbox,
      snapshotMode: config.snapshotMode,
      vcpus: config.vcpus,
      memoryMiB: config.memoryMiB,
      readyTimeoutMs: config.readyTimeoutMs,
      invokeTimeoutMs: config.invokeTimeoutMs,
    },
  });
  await orchestrator.init();
  // Everything the runtime stores counts against diskBudget: collected now and after each snapshot.
  const storage = runtimeStorageBudget({ config, images, snapshots, orchestrator, logger });
  await storage.collect();
  storageRef = storage;
  return {
    config,
    orchestrator,
    snapshots,
    metrics,
    images,
    logger,
    async close() {
      await orchestrator.stopAll();
      await snapshots.close();
      for (const d of disposers.reverse()) await d().catch((err) => logger.warn({ err: String(err) }, "driver cleanup failed"));
    },
  };
}
