import type { FunctionEndpoint, SandboxExit, SandboxHandle, SandboxKind } from "../sandbox/driver.js";
import type { NetworkSlot } from "../network/types.js";
import type { StageDurations } from "../metrics/stages.js";
import type { ColdStartRecord } from "../metrics/cold-start-record.js";
import type { FunctionClient } from "./function-client.js";

export type SnapshotMode = "off" | "vanilla" | "reap";
export const SNAPSHOT_MODES: readonly SnapshotMode[] = ["off", "vanilla", "reap"];

/** vHive's default GUEST_PORT. */
export const DEFAULT_FUNCTION_PORT = 50051;

/** What a caller (API, CLI, CRI front end) asks for. */
export interface StartInstanceRequest {
  /** Unique instance id; generated from the revision when absent. */
  instanceId?: string;
  /**
   * Function revision (Knative's K_REVISION); snapshots are kept per revision. When absent (vHive's
   * StartVM), the revision is `img-<first 16 hex digits of the image digest>`.
   */
  revision?: string;
  /** Image reference or digest (vHive's GUEST_IMAGE). */
  image: string;
  /** Port the function listens on in its sandbox (vHive's GUEST_PORT); default 50051. */
  port?: number;
  sandbox?: SandboxKind;
  snapshotMode?: SnapshotMode;
  vcpus?: number;
  memoryMiB?: number;
  env?: Record<string, string>;
}

/**
 * starting → running → stopping → (removed); running → exited when the sandbox dies by itself
 * (the record stays, so status shows the crash, until it is stopped).
 */
export type InstanceState = "starting" | "running" | "stopping" | "exited";

export interface InstanceInfo {
  instanceId: string;
  revision: string;
  image: string;
  imageDigest: string;
  sandbox: SandboxKind;
  snapshotMode: SnapshotMode;
  startKind: "boot" | "restore";
  state: InstanceState;
  port: number;
  endpoint?: FunctionEndpoint;
  pid?: number;
  startedAt: string;
  /** Cold-start stages in µs (FuncInvocation appears after the first invoke). */
  coldStart: StageDurations;
  /** How the sandbox exited, when it did by itself, and when the orchestrator noticed. */
  exit?: SandboxExit;
  exitedAt?: string;
  /** Recovered from the state directory after a runtime restart. */
  recovered: boolean;
  /** Things worth knowing: a discarded snapshot, a restore that fell back to a boot, … */
  notes: string[];
}

export interface StopResult {
  instanceId: string;
  /** taken: this teardown committed the revision's snapshot; else why not. */
  snapshot: "taken" | "exists" | "off" | "unsupported" | "not-first" | "failed" | "not-running";
  snapshotError?: string;
}

/** Orchestrator-internal live state of an instance. */
export interface LiveInstance {
  info: InstanceInfo;
  handle?: SandboxHandle;
  client?: FunctionClient;
  slot?: NetworkSlot;
  invoked: boolean;
  /** Settles when the first invocation's metrics record is written. */
  coldStartRecorded?: Promise<ColdStartRecord>;
}
