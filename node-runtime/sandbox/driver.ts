import type { StageTimer } from "../metrics/stages.js";
import type { ImageConfig } from "../images/types.js";
import type { NetworkSlot } from "../network/types.js";

export type SandboxKind = "firecracker" | "gvisor" | "containerd";

/** How the memory of a restored sandbox is populated (Firecracker only; others ignore it). */
export type MemoryBackend =
  | { kind: "file" }
  | { kind: "uffd"; mode: "lazy" | "record" | "prefetch"; workingSetPath?: string };

/** Where a running function answers. */
export type FunctionEndpoint =
  | { kind: "tcp"; host: string; port: number }
  | { kind: "unix"; path: string };

export interface BootRequest {
  /** Unique per instance; used for names of namespaces, jails and files. */
  instanceId: string;
  /** Function revision this instance serves (snapshots are keyed by it). */
  revision: string;
  /** Image digest (sha256:…) already present in the image store. */
  imageDigest: string;
  image: ImageConfig;
  /** Port the function listens on inside its sandbox (vHive's GUEST_PORT). */
  port: number;
  vcpus: number;
  memoryMiB: number;
  env?: Record<string, string>;
  /** Network slot for sandboxes with a network device (Firecracker); absent for the others. */
  network?: NetworkSlot;
}

export interface RestoreRequest extends BootRequest {
  /** Directory holding a committed snapshot, as written by `snapshot()`. */
  snapshotDir: string;
  memory: MemoryBackend;
}

/** A live sandbox; opaque to the orchestrator except for these fields. */
export interface SandboxHandle {
  readonly kind: SandboxKind;
  readonly instanceId: string;
  readonly endpoint: FunctionEndpoint;
  /** PID of the VMM / sandbox process, for memory accounting and crash detection. */
  readonly pid: number | undefined;
  /** Resolves when the sandbox exits by itself (crash or function exit). */
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
}

export interface SnapshotFiles {
  /** Files written into the snapshot directory, relative to it. */
  files: string[];
}

export interface SandboxStats {
  rssBytes: number;
  cpuMicros?: number;
}

/**
 * One driver per sandbox kind. The orchestrator knows drivers only through this interface.
 * Every method cleans up whatever it created when it fails.
 */
export interface SandboxDriver {
  readonly kind: SandboxKind;
  /** False for plain containers: the orchestrator then always boots. */
  readonly supportsSnapshots: boolean;
  boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle>;
  restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle>;
  pause(h: SandboxHandle): Promise<void>;
  resume(h: SandboxHandle): Promise<void>;
  /** Writes a snapshot of a paused sandbox into `dir` (which exists and is empty). */
  snapshot(h: SandboxHandle, dir: string): Promise<SnapshotFiles>;
  stop(h: SandboxHandle): Promise<void>;
  stats(h: SandboxHandle): Promise<SandboxStats>;
}
