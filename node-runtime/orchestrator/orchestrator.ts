import { randomBytes } from "node:crypto";
import { pino, type Logger } from "pino";
import type { ImageStore, StoredImage } from "../images/types.js";
import type { NetworkPool, NetworkSlot } from "../network/types.js";
import type { BootRequest, MemoryBackend, SandboxDriver, SandboxHandle, SandboxKind } from "../sandbox/driver.js";
import { SandboxRequestError } from "../sandbox/errors.js";
import { StageTimer } from "../metrics/stages.js";
import { planWorkingSet, workingSetPathFor } from "../memory/working-set-policy.js";
import type { RuntimeMetrics } from "../metrics/runtime-metrics.js";
import type { ColdStartRecord } from "../metrics/cold-start-record.js";
import { SnapshotCorruptError, type SnapshotLease, type SnapshotStore } from "../snapshots/snapshot-store.js";
import type { DriverRegistry } from "./driver-registry.js";
import { RuntimeError, asRuntimeError, classifyDriverError } from "./errors.js";
import { FunctionClient } from "./function-client.js";
import {
  DEFAULT_FUNCTION_PORT,
  SNAPSHOT_MODES,
  type InstanceInfo,
  type LiveInstance,
  type SnapshotMode,
  type StartInstanceRequest,
  type StopResult,
} from "./instance.js";
import type { InstanceRecord, InstanceStateStore } from "./instance-state-store.js";
import { MAX_NAME_LENGTH, checkInstanceId, checkPort, checkRevision } from "./names.js";
import { adoptedHandle, pidAlive } from "./adopted-handle.js";
import { errorMessage } from "../system/error-message.js";

/** The revision of an image-only start (vHive's StartVM): one per image digest. */
export function imageRevision(digest: string): string {
  return `img-${digest.replace(/^sha256:/, "").slice(0, 16)}`;
}

export interface OrchestratorDefaults {
  sandbox: SandboxKind;
  snapshotMode: SnapshotMode;
  vcpus: number;
  memoryMiB: number;
  /** How long a function gets to accept connections after its sandbox started. */
  readyTimeoutMs: number;
  invokeTimeoutMs: number;
}

export const ORCHESTRATOR_DEFAULTS: OrchestratorDefaults = {
  sandbox: "gvisor",
  snapshotMode: "vanilla",
  vcpus: 1,
  memoryMiB: 512,
  readyTimeoutMs: 20_000,
  invokeTimeoutMs: 10_000,
};

export interface OrchestratorOptions {
  drivers: DriverRegistry;
  images: ImageStore;
  snapshots: SnapshotStore;
  network?: NetworkPool;
  metrics?: RuntimeMetrics;
  /** Persists live instances so a restarted runtime finds them again. */
  state?: InstanceStateStore;
  logger?: Logger;
  defaults?: Partial<OrchestratorDefaults>;
}

export interface InvokeResult {
  message: string;
  durationUs: number;
  /** True for an instance's first invocation, whose FuncInvocation completes its cold-start record. */
  coldStart: boolean;
}

/**
 * Runs function instances keyed by revision, knowing sandboxes only through SandboxDriver.
 * The first instance of a revision boots; the teardown of a booted instance, when the revision has no
 * snapshot yet, takes one (pause, snapshot into staging, resume, commit); later instances restore
 * from it, any number concurrently; one that starts while that snapshot is being taken waits for it
 * (a boot then would mix boots into the revision's restores). Every failure path gives back what it took (sandbox, network
 * slot, staging files, lease) and raises a RuntimeError whose code the API maps to gRPC.
 */
export class Orchestrator {
  private readonly instances = new Map<string, LiveInstance>();
  /** Revisions whose snapshot a teardown is taking: by which sandbox, and when it is done (taken or not). */
  private readonly snapshotting = new Map<string, { sandbox: SandboxKind; done: Promise<void> }>();
  private readonly defaults: OrchestratorDefaults;
  private readonly log: Logger;

  constructor(private readonly opts: OrchestratorOptions) {
    this.defaults = { ...ORCHESTRATOR_DEFAULTS, ...opts.defaults };
    this.log = opts.logger ?? pino({ level: "silent" });
  }

  get sandboxKinds(): SandboxKind[] {
    return this.opts.drivers.kinds();
  }

  get defaultSettings(): Readonly<OrchestratorDefaults> {
    return this.defaults;
  }

  /** Reconciles instances persisted by a previous run: live sandboxes are adopted, dead ones reported as exited. */
  async init(): Promise<void> {
    if (!this.opts.state) return;
    const { records, unreadable } = await this.opts.state.load();
    for (const name of unreadable) this.log.warn({ file: name }, "dropped unreadable instance state file");
    for (const rec of records) this.adopt(rec);
    this.updateGauges();
  }

  private adopt(rec: InstanceRecord): void {
    const alive = rec.pid !== undefined && pidAlive(rec.pid);
    const info: InstanceInfo = {
      instanceId: rec.instanceId,
      revision: rec.revision,
      image: rec.image,
      imageDigest: rec.imageDigest,
      sandbox: rec.sandbox,
      snapshotMode: rec.snapshotMode,
      startKind: rec.startKind,
      state: alive ? "running" : "exited",
      port: rec.port,
      endpoint: rec.endpoint,
      pid: rec.pid,
      startedAt: rec.startedAt,
      coldStart: {},
      recovered: true,
      notes: alive ? ["recovered after a runtime restart"] : ["sandbox process was gone after a runtime restart"],
    };
    if (!alive) {
      info.exit = { code: null, signal: null };
      info.exitedAt = new Date().toISOString();
    }
    const handle = adoptedHandle(rec.sandbox, rec.instanceId, rec.endpoint, alive ? rec.pid : undefined);
    const live: LiveInstance = { info, handle, invoked: true };
    if (alive) {
      live.client = new FunctionClient(rec.endpoint);
      this.watchExit(live, handle);
    }
    this.instances.set(rec.instanceId, live);
    this.log.info({ instance: rec.instanceId, alive }, "reconciled instance from a previous run");
  }

  async start(req: StartInstanceRequest): Promise<InstanceInfo> {
    // vHive's StartVM names no revision; its instances share snapshots per image digest instead.
    const namedRevision = req.revision === undefined ? undefined : checkRevision(req.revision);
    if (!req.image) throw new RuntimeError("INVALID_ARGUMENT", "image is required (a reference or sha256 digest)");
    const port = checkPort(req.port ?? DEFAULT_FUNCTION_PORT);
    const sandbox = req.sandbox ?? this.defaults.sandbox;
    const snapshotMode = req.snapshotMode ?? this.defaults.snapshotMode;
    if (!SNAPSHOT_MODES.includes(snapshotMode)) {
      throw new RuntimeError("INVALID_ARGUMENT", `snapshot mode ${JSON.stringify(snapshotMode)} is invalid (expected one of ${SNAPSHOT_MODES.join(", ")})`);
    }
    const vcpus = req.vcpus ?? this.defaults.vcpus;
    const memoryMiB = req.memoryMiB ?? this.defaults.memoryMiB;
    if (!Number.isInteger(vcpus) || vcpus < 1) throw new RuntimeError("INVALID_ARGUMENT", `vcpus must be a positive integer, got ${vcpus}`);
    if (!Number.isInteger(memoryMiB) || memoryMiB < 16) throw new RuntimeError("INVALID_ARGUMENT", `memoryMiB must be an integer ≥ 16, got ${memoryMiB}`);
    const driver = this.opts.drivers.get(sandbox);
    const instanceId = checkInstanceId(req.instanceId || `${(namedRevision ?? "fn").slice(0, MAX_NAME_LENGTH - 9)}-${randomBytes(4).toString("hex")}`);
    if (this.instances.has(instanceId)) throw new RuntimeError("ALREADY_EXISTS", `instance ${instanceId} already exists`);

    const info: InstanceInfo = {
      instanceId,
      revision: namedRevision ?? "",
      image: req.image,
      imageDigest: "",
      sandbox,
      snapshotMode,
      startKind: "boot",
      state: "starting",
      port,
      startedAt: new Date().toISOString(),
      coldStart: {},
      recovered: false,
      notes: [],
    };
    const live: LiveInstance = { info, invoked: false };
    this.instances.set(instanceId, live);
    this.updateGauges();
    let log = this.log.child({ instance: instanceId, sandbox });
    const timer = new StageTimer();
    try {
      const image = await timer.time("GetImage", () => this.resolveImage(req.image));
      info.imageDigest = image.digest;
      const revision = namedRevision ?? imageRevision(image.digest);
      info.revision = revision;
      log = log.child({ revision });
      if (driver.capabilities.needsNetwork) {
        if (!this.opts.network) throw new RuntimeError("FAILED_PRECONDITION", `sandbox ${sandbox} needs a network pool and none is configured`);
        live.slot = await this.opts.network.acquire().catch((err) => {
          throw asRuntimeError(err, "RESOURCE_EXHAUSTED", "no network slot available");
        });
      }
      const boot: BootRequest = {
        instanceId,
        revision,
        imageDigest: image.digest,
        image: image.config,
        port,
        vcpus,
        memoryMiB,
        env: req.env,
        network: live.slot,
      };
      await timer.time("AddInstance", async () => {
        live.handle = await this.launch(driver, boot, snapshotMode, info, timer, log);
        info.endpoint = live.handle.endpoint;
        info.pid = live.handle.pid;
        this.watchExit(live, live.handle);
        live.client = await timer.time("ConnectFuncClient", () => this.connect(live, live.handle!));
      });
      info.coldStart = timer.snapshot();
      if (live.info.state === "starting") live.info.state = "running";
      await this.persist(live);
      log.info({ startKind: info.startKind, stagesUs: info.coldStart }, "instance started");
      this.updateGauges();
      return { ...info };
    } catch (err) {
      const error = asRuntimeError(err, "INTERNAL", `starting instance ${instanceId}`);
      log.warn({ err: error.message, code: error.code }, "instance failed to start");
      await this.release(live).catch((cleanupErr) => log.error({ err: errorMessage(cleanupErr) }, "cleanup after a failed start failed"));
      this.instances.delete(instanceId);
      this.updateGauges();
      throw error;
    }
  }

  private async resolveImage(ref: string): Promise<StoredImage> {
    try {
      return await this.opts.images.get(ref);
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError("NOT_FOUND", `image ${JSON.stringify(ref)} is not available: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Restores from the revision's snapshot when there is a usable one, otherwise boots. */
  private async launch(
    driver: SandboxDriver,
    boot: BootRequest,
    mode: SnapshotMode,
    info: InstanceInfo,
    timer: StageTimer,
    log: Logger,
  ): Promise<SandboxHandle> {
    if (mode !== "off" && driver.capabilities.snapshots) {
      const taking = this.snapshotting.get(boot.revision);
      if (taking?.sandbox === driver.kind) {
        const since = performance.now();
        await taking.done;
        info.notes.push(`waited ${Math.round(performance.now() - since)} ms for the snapshot of revision ${boot.revision} being taken`);
      }
      let lease: SnapshotLease | undefined;
      try {
        lease = await this.opts.snapshots.acquire(boot.revision);
      } catch (err) {
        if (!(err instanceof SnapshotCorruptError)) throw err;
        info.notes.push(err.message);
        this.opts.metrics?.snapshotEvent("corrupt");
        log.warn({ err: err.message }, "snapshot failed its checks; booting instead");
      }
      if (lease) {
        try {
          if (lease.manifest.sandbox !== driver.kind) {
            info.notes.push(`snapshot of revision ${boot.revision} was taken by ${lease.manifest.sandbox}, not ${driver.kind}; booting`);
          } else if (lease.manifest.imageDigest !== boot.imageDigest) {
            throw new RuntimeError(
              "INVALID_ARGUMENT",
              `revision ${boot.revision} was snapshotted from image ${lease.manifest.imageDigest}, but this request names ${boot.imageDigest}; a revision's image cannot change`,
            );
          } else {
            const memory = await this.memoryBackend(mode, lease, info);
            try {
              const handle = await driver.restore({ ...boot, snapshotDir: lease.dir, memory }, timer);
              info.startKind = "restore";
              return handle;
            } catch (err) {
              // A snapshot that does not load here (another VMM version or machine, or any other
              // failure) would fail every later start too: drop it, so this instance's teardown
              // takes it again (it boots now, and the teardown of a booted instance snapshots).
              // A request the driver refused says nothing about the snapshot: that one stays.
              const discarded =
                !(err instanceof SandboxRequestError) && (await this.opts.snapshots.discardLoaded(lease, `restore failed: ${errorMessage(err)}`));
              info.notes.push(
                `restore from snapshot failed (${errorMessage(err)}); booted instead` +
                  (discarded ? `; the snapshot was discarded and is taken again at this instance's teardown` : ""),
              );
              log.warn({ err: errorMessage(err), discarded }, "restore failed; booting instead");
            }
          }
        } finally {
          lease.release(); // idempotent: discardLoaded may have given it back already
        }
      }
    }
    try {
      return await driver.boot(boot, timer);
    } catch (err) {
      throw classifyDriverError(err, `sandbox ${driver.kind} could not start instance ${boot.instanceId}`);
    }
  }

  /**
   * REAP's working set lives in the snapshot's directory under a name carrying the snapshot's id: it
   * goes with the snapshot on every path (removed, evicted, corrupt, discarded at start-up), and a set
   * recorded on an earlier snapshot of the revision is never at the path a later one reads.
   */
  private async memoryBackend(mode: SnapshotMode, lease: SnapshotLease, info: InstanceInfo): Promise<MemoryBackend> {
    if (mode !== "reap") return { kind: "file" };
    // REAP: record the working set on a load that has none (or a stale/unreadable one), prefetch it after.
    const { snapshotId } = lease.manifest;
    const plan = await planWorkingSet(workingSetPathFor(lease.dir, snapshotId), { snapshotId, notBefore: new Date(lease.manifest.createdAt) });
    if (plan.mode === "record") info.notes.push(`REAP records the working set (${plan.reason})`);
    return { kind: "uffd", mode: plan.mode, workingSetPath: plan.workingSetPath, snapshotId };
  }

  /** Waits until the function accepts gRPC connections, failing early when its sandbox dies. */
  private async connect(live: LiveInstance, handle: SandboxHandle): Promise<FunctionClient> {
    const client = new FunctionClient(handle.endpoint);
    const deadline = new Date(Date.now() + this.defaults.readyTimeoutMs);
    let settled = false;
    try {
      await Promise.race([
        client.waitForReady(deadline).catch((err) => {
          throw new RuntimeError(
            "DEADLINE_EXCEEDED",
            `function of revision ${live.info.revision} did not accept connections on port ${live.info.port} within ${this.defaults.readyTimeoutMs} ms (${errorMessage(err)})`,
          );
        }),
        handle.exited.then((exit) => {
          if (settled) return;
          throw new RuntimeError(
            "UNAVAILABLE",
            `sandbox of instance ${live.info.instanceId} exited (code ${exit.code}, signal ${exit.signal}) before its function was ready`,
          );
        }),
      ]);
      return client;
    } catch (err) {
      client.close();
      throw err;
    } finally {
      settled = true;
    }
  }

  private watchExit(live: LiveInstance, handle: SandboxHandle): void {
    handle.exited.then(
      (exit) => {
        if (this.instances.get(live.info.instanceId) !== live || live.handle !== handle) return;
        if (live.info.state === "stopping") return;
        live.info.state = "exited";
        live.info.exit = exit;
        live.info.exitedAt = new Date().toISOString();
        this.log.warn({ instance: live.info.instanceId, ...exit }, "sandbox exited by itself");
        this.updateGauges();
      },
      () => undefined,
    );
  }

  /** Stops an instance; the first teardown of a booted revision takes the revision's snapshot. */
  async stop(instanceId: string): Promise<StopResult> {
    const live = this.instances.get(instanceId);
    if (!live) throw new RuntimeError("NOT_FOUND", `no instance ${JSON.stringify(instanceId)}`);
    if (live.info.state === "stopping" || live.info.state === "starting") {
      throw new RuntimeError("FAILED_PRECONDITION", `instance ${instanceId} is ${live.info.state}`);
    }
    const wasRunning = live.info.state === "running";
    live.info.state = "stopping";
    // Let the first invocation's bookkeeping (stats of this very sandbox) finish before teardown.
    await live.coldStartRecorded?.catch(() => undefined);
    this.updateGauges();
    const result: StopResult = { instanceId, snapshot: "not-running" };
    try {
      if (wasRunning) await this.snapshotOnTeardown(live, result);
      await this.release(live);
    } finally {
      this.instances.delete(instanceId);
      await this.opts.state?.remove(instanceId);
      this.opts.metrics?.forgetInstance(instanceId, live.info.revision, live.info.sandbox);
      this.updateGauges();
    }
    this.log.info({ instance: instanceId, snapshot: result.snapshot }, "instance stopped");
    return result;
  }

  private async snapshotOnTeardown(live: LiveInstance, result: StopResult): Promise<void> {
    const { info, handle } = live;
    const driver = this.opts.drivers.get(info.sandbox);
    if (info.snapshotMode === "off") {
      result.snapshot = "off";
      return;
    }
    if (!driver.capabilities.snapshots || !handle || info.recovered) {
      result.snapshot = "unsupported";
      return;
    }
    if (info.startKind !== "boot") {
      result.snapshot = "exists";
      return;
    }
    if (this.snapshotting.has(info.revision)) {
      result.snapshot = "not-first";
      return;
    }
    // Claim the revision before any await so a concurrent teardown cannot start a second snapshot.
    let finished!: () => void;
    this.snapshotting.set(info.revision, { sandbox: driver.kind, done: new Promise<void>((resolve) => (finished = resolve)) });
    let staging: string | undefined;
    try {
      if (await this.opts.snapshots.has(info.revision)) {
        result.snapshot = "exists";
        return;
      }
      staging = await this.opts.snapshots.stage(info.revision);
      await driver.pause(handle);
      try {
        await driver.snapshot(handle, staging);
      } finally {
        // Some sandboxes end when snapshotted (runsc checkpoint); there is nothing to resume then.
        if (!driver.capabilities.stopsOnSnapshot) {
          await driver.resume(handle).catch((err) => this.log.warn({ err: errorMessage(err) }, "resume after snapshot failed"));
        }
      }
      const committed = await this.opts.snapshots.commit(staging, {
        revision: info.revision,
        sandbox: driver.kind,
        imageDigest: info.imageDigest,
      });
      staging = undefined;
      result.snapshot = committed ? "taken" : "exists";
    } catch (err) {
      result.snapshot = "failed";
      result.snapshotError = errorMessage(err);
      this.log.warn({ instance: info.instanceId, err: result.snapshotError }, "snapshot on teardown failed");
      if (staging) await this.opts.snapshots.abort(staging);
    } finally {
      this.snapshotting.delete(info.revision);
      finished();
    }
  }

  /** Gives back the sandbox, client and network slot of an instance. */
  private async release(live: LiveInstance): Promise<void> {
    live.client?.close();
    live.client = undefined;
    const errors: string[] = [];
    if (live.handle) {
      const driver = this.opts.drivers.get(live.info.sandbox);
      try {
        await driver.stop(live.handle);
      } catch (err) {
        // An adopted sandbox is unknown to the driver's in-memory state; the pid kill below is what counts.
        if (live.info.recovered) this.log.warn({ err: errorMessage(err) }, "driver could not stop an adopted sandbox");
        else errors.push(`stopping the sandbox: ${errorMessage(err)}`);
      }
      if (live.info.recovered) {
        // A sandbox adopted after a restart has no driver-side state; make sure its process goes,
        // then let a driver that can (optional `reclaim`) remove what it left for this instance id.
        if (live.handle.pid !== undefined && pidAlive(live.handle.pid)) {
          try {
            process.kill(live.handle.pid, "SIGKILL");
          } catch {
            /* already gone */
          }
        }
        if (driver.reclaim) await driver.reclaim(live.info.instanceId).catch((err) => errors.push(`reclaiming the sandbox's leftovers: ${errorMessage(err)}`));
        else this.log.warn({ instance: live.info.instanceId }, "driver cannot reclaim an adopted sandbox's files; only its process was killed");
      }
    }
    if (live.slot) {
      const slot: NetworkSlot = live.slot;
      live.slot = undefined;
      await this.opts.network?.release(slot).catch((err) => errors.push(`releasing network slot ${slot.index}: ${errorMessage(err)}`));
    }
    if (errors.length) throw new RuntimeError("INTERNAL", errors.join("; "));
  }

  async stopAll(): Promise<StopResult[]> {
    const ids = [...this.instances.keys()];
    const results = await Promise.allSettled(ids.map((id) => this.stop(id)));
    return results.map((r, i) => (r.status === "fulfilled" ? r.value : { instanceId: ids[i]!, snapshot: "failed", snapshotError: errorMessage(r.reason) }));
  }

  async invoke(instanceId: string, name = "world"): Promise<InvokeResult> {
    const live = this.instances.get(instanceId);
    if (!live) throw new RuntimeError("NOT_FOUND", `no instance ${JSON.stringify(instanceId)}`);
    if (live.info.state !== "running" || !live.client) {
      const why =
        live.info.state === "exited" ? `its sandbox exited (code ${live.info.exit?.code}, signal ${live.info.exit?.signal})` : `it is ${live.info.state}`;
      throw new RuntimeError("UNAVAILABLE", `instance ${instanceId} cannot be invoked: ${why}`);
    }
    const timer = new StageTimer();
    const message = await timer.time("FuncInvocation", () => live.client!.sayHello(name, this.defaults.invokeTimeoutMs));
    const durationUs = timer.snapshot().FuncInvocation ?? 0;
    const coldStart = !live.invoked;
    if (coldStart) {
      live.invoked = true;
      live.info.coldStart = { ...live.info.coldStart, FuncInvocation: durationUs };
      // Bookkeeping (REAP's end-of-recording, the RSS sample, the metrics record) runs after the
      // reply so it never adds to the latency callers measure; coldStartRecord() waits for it.
      live.coldStartRecorded = this.finishColdStart(live);
    }
    return { message, durationUs, coldStart };
  }

  private async finishColdStart(live: LiveInstance): Promise<ColdStartRecord> {
    if (live.info.snapshotMode === "reap" && live.info.startKind === "restore" && live.handle) {
      // REAP: the first invocation is what the handler records (or measures); tell it that it ended.
      const driver = this.opts.drivers.get(live.info.sandbox);
      await driver.firstInvocationDone?.(live.handle).catch((err) => live.info.notes.push(`REAP first-invocation hook failed: ${errorMessage(err)}`));
    }
    const record: ColdStartRecord = {
      instanceId: live.info.instanceId,
      revision: live.info.revision,
      sandbox: live.info.sandbox,
      startKind: live.info.startKind,
      snapshotMode: live.info.snapshotMode,
      stages: live.info.coldStart,
      rssBytes: await this.rss(live),
      at: new Date().toISOString(),
    };
    this.opts.metrics?.recordColdStart(record);
    return record;
  }

  /** Waits until every first invocation so far has its metrics record (for exports that must be complete). */
  async coldStartsRecorded(): Promise<void> {
    await Promise.all([...this.instances.values()].map((l) => l.coldStartRecorded?.catch(() => undefined)));
  }

  /** The cold-start record of an instance, once its first invocation's bookkeeping is done. */
  async coldStartRecord(instanceId: string): Promise<ColdStartRecord | undefined> {
    const live = this.instances.get(instanceId);
    if (!live) throw new RuntimeError("NOT_FOUND", `no instance ${JSON.stringify(instanceId)}`);
    return live.coldStartRecorded;
  }

  private async rss(live: LiveInstance): Promise<number | undefined> {
    if (!live.handle || live.info.recovered) return undefined;
    try {
      const { rssBytes } = await this.opts.drivers.get(live.info.sandbox).stats(live.handle);
      this.opts.metrics?.setRss(live.info.instanceId, live.info.revision, live.info.sandbox, rssBytes);
      return rssBytes;
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "stats failed");
      return undefined;
    }
  }

  /** Memory footprint of a running instance (driver.stats). */
  async stats(instanceId: string): Promise<{ rssBytes: number; cpuMicros?: number }> {
    const live = this.instances.get(instanceId);
    if (!live) throw new RuntimeError("NOT_FOUND", `no instance ${JSON.stringify(instanceId)}`);
    if (!live.handle || live.info.state !== "running") throw new RuntimeError("UNAVAILABLE", `instance ${instanceId} is ${live.info.state}`);
    const s = await this.opts.drivers.get(live.info.sandbox).stats(live.handle);
    this.opts.metrics?.setRss(instanceId, live.info.revision, live.info.sandbox, s.rssBytes);
    return s;
  }

  status(instanceId: string): InstanceInfo {
    const live = this.instances.get(instanceId);
    if (!live) throw new RuntimeError("NOT_FOUND", `no instance ${JSON.stringify(instanceId)}`);
    return { ...live.info, notes: [...live.info.notes] };
  }

  list(): InstanceInfo[] {
    return [...this.instances.values()].map((l) => ({ ...l.info, notes: [...l.info.notes] }));
  }

  /** Stops every instance (snapshotting as usual); the process keeps running. */
  async close(): Promise<void> {
    await this.stopAll();
  }

  private async persist(live: LiveInstance): Promise<void> {
    const { info } = live;
    const endpoint = info.endpoint;
    if (!this.opts.state || !endpoint) return;
    await this.opts.state.save({
      instanceId: info.instanceId,
      revision: info.revision,
      image: info.image,
      imageDigest: info.imageDigest,
      sandbox: info.sandbox,
      snapshotMode: info.snapshotMode,
      startKind: info.startKind,
      port: info.port,
      endpoint,
      pid: info.pid,
      networkSlot: live.slot?.index,
      startedAt: info.startedAt,
    });
  }

  private updateGauges(): void {
    if (!this.opts.metrics) return;
    const counts = new Map<string, { sandbox: string; state: string; count: number }>();
    for (const { info } of this.instances.values()) {
      const key = `${info.sandbox}/${info.state}`;
      const c = counts.get(key) ?? { sandbox: info.sandbox, state: info.state, count: 0 };
      c.count++;
      counts.set(key, c);
    }
    this.opts.metrics.setInstanceCounts([...counts.values()]);
  }
}
