import type * as grpc from "@grpc/grpc-js";
import type { RuntimeMetrics } from "../metrics/runtime-metrics.js";
import { RuntimeError } from "../orchestrator/errors.js";
import type { InstanceInfo, SnapshotMode } from "../orchestrator/instance.js";
import { checkRevision } from "../orchestrator/names.js";
import type { Orchestrator } from "../orchestrator/orchestrator.js";
import type { SandboxKind } from "../sandbox/driver.js";
import type { SnapshotStore } from "../snapshots/snapshot-store.js";
import { unary } from "./grpc-status.js";

export interface StartInstanceMsg {
  instance_id: string;
  revision: string;
  image: string;
  port: number;
  sandbox: string;
  snapshot_mode: string;
  vcpus: number;
  memory_mib: number;
  env: Record<string, string>;
}

export function instanceMsg(i: InstanceInfo) {
  const e = i.endpoint;
  return {
    instance_id: i.instanceId,
    revision: i.revision,
    image: i.image,
    image_digest: i.imageDigest,
    sandbox: i.sandbox,
    snapshot_mode: i.snapshotMode,
    start_kind: i.startKind,
    state: i.state,
    port: i.port,
    endpoint: e ? (e.kind === "tcp" ? { kind: "tcp", host: e.host, port: e.port } : { kind: "unix", path: e.path }) : undefined,
    pid: i.pid ?? 0,
    started_at: i.startedAt,
    cold_start_us: i.coldStart,
    recovered: i.recovered,
    notes: i.notes,
    exited: i.exit !== undefined,
    exit_code: i.exit?.code ?? 0,
    exit_signal: i.exit?.signal ?? "",
    exited_at: i.exitedAt ?? "",
  };
}

/** Our richer service: start/stop/get/invoke instances, list and delete snapshots, metrics. */
export function nodeRuntimeHandlers(
  deps: { orchestrator: Orchestrator; snapshots: SnapshotStore; metrics: RuntimeMetrics },
  onError?: (err: unknown) => void,
): grpc.UntypedServiceImplementation {
  const { orchestrator, snapshots, metrics } = deps;
  const required = (value: string, field: string) => {
    if (!value) throw new RuntimeError("INVALID_ARGUMENT", `${field} is required`);
    return value;
  };
  return {
    StartInstance: unary(
      async (req: StartInstanceMsg) =>
        instanceMsg(
          await orchestrator.start({
            instanceId: req.instance_id || undefined,
            revision: req.revision || undefined,
            image: req.image,
            port: req.port || undefined,
            sandbox: (req.sandbox || undefined) as SandboxKind | undefined,
            snapshotMode: (req.snapshot_mode || undefined) as SnapshotMode | undefined,
            vcpus: req.vcpus || undefined,
            memoryMiB: req.memory_mib || undefined,
            env: Object.keys(req.env ?? {}).length ? req.env : undefined,
          }),
        ),
      onError,
    ),
    StopInstance: unary(async (req: { instance_id: string }) => {
      const r = await orchestrator.stop(required(req.instance_id, "instance_id"));
      return { instance_id: r.instanceId, snapshot: r.snapshot, snapshot_error: r.snapshotError ?? "" };
    }, onError),
    GetInstance: unary(async (req: { instance_id: string }) => instanceMsg(orchestrator.status(required(req.instance_id, "instance_id"))), onError),
    Invoke: unary(async (req: { instance_id: string; name: string }) => {
      const r = await orchestrator.invoke(required(req.instance_id, "instance_id"), req.name || "world");
      return { message: r.message, duration_us: r.durationUs, cold_start: r.coldStart };
    }, onError),
    ListInstances: unary(async () => ({ instances: orchestrator.list().map(instanceMsg) }), onError),
    ListSnapshots: unary(async () => {
      const list = await snapshots.list();
      return {
        snapshots: list.map((s) => ({
          revision: s.revision,
          sandbox: s.sandbox,
          image_digest: s.imageDigest,
          created_at: s.createdAt,
          last_used_at: s.lastUsedAt,
          size_bytes: s.sizeBytes,
          files: s.files,
          in_use: s.inUse,
        })),
        total_bytes: list.reduce((a, s) => a + s.sizeBytes, 0),
        budget_bytes: snapshots.budgetBytes,
      };
    }, onError),
    DeleteSnapshot: unary(async (req: { revision: string }) => {
      await snapshots.remove(checkRevision(req.revision));
      return {};
    }, onError),
    GetMetrics: unary(async () => {
      await orchestrator.coldStartsRecorded();
      return {
        prometheus_text: await metrics.prometheusText(),
        vhive_csv: metrics.csv(),
        cold_starts: metrics.coldStarts().map((c) => ({
          instance_id: c.instanceId,
          revision: c.revision,
          sandbox: c.sandbox,
          start_kind: c.startKind,
          snapshot_mode: c.snapshotMode,
          stages_us: c.stages,
          rss_bytes: c.rssBytes ?? 0,
          at: c.at,
        })),
      };
    }, onError),
  };
}
