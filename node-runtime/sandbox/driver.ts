import type { StageTimer } from "../metrics/stages.js";
import type { ImageConfig } from "../images/types.js";
import type { NetworkPool, NetworkSlot } from "../network/types.js";
import type { ProcessExit } from "../system/process-exit.js";

export type SandboxKind = "firecracker" | "gvisor" | "containerd";

/** How the memory of a restored sandbox is populated (Firecracker only; others ignore it). */
export type MemoryBackend =
  | { kind: "file" }
  | {
      kind: "uffd";
      mode: "lazy" | "record" | "prefetch";
      workingSetPath?: string;
      /** The snapshot being loaded: a recorded working set carries its id in its header. */
      snapshotId?: string;
    };

/** Where a running function answers. */
export type FunctionEndpoint = { kind: "tcp"; host: string; port: number } | { kind: "unix"; path: string };

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

/** How a sandbox ended by itself: its process's exit (both null when the driver only polled it). */
export type SandboxExit = ProcessExit;

/** A live sandbox; opaque to the orchestrator except for these fields. */
export interface SandboxHandle {
  readonly kind: SandboxKind;
  readonly instanceId: string;
  readonly endpoint: FunctionEndpoint;
  /** PID of the VMM / sandbox process, for memory accounting and crash detection. */
  readonly pid: number | undefined;
  /** Resolves when the sandbox exits by itself (crash or function exit). */
  readonly exited: Promise<SandboxExit>;
}

export interface SnapshotFiles {
  /** Files written into the snapshot directory, relative to it. */
  files: string[];
}

export interface SandboxStats {
  rssBytes: number;
  cpuMicros?: number;
}

/** What a driver can do; the orchestrator decides by these, never by the driver's kind. */
export interface DriverCapabilities {
  /** Can snapshot and restore; false for plain containers: the orchestrator then always boots. */
  readonly snapshots: boolean;
  /** `snapshot()` ends the sandbox (runsc checkpoint): there is nothing to resume afterwards. */
  readonly stopsOnSnapshot: boolean;
  /** Every instance takes a slot of the node's network pool (`BootRequest.network`). */
  readonly needsNetwork: boolean;
}

/**
 * One driver per sandbox kind. The orchestrator knows drivers only through this interface.
 * Every method cleans up whatever it created when it fails, and throws a SandboxError (errors.ts)
 * whose class says what kind of failure it was.
 */
export interface SandboxDriver {
  readonly kind: SandboxKind;
  readonly capabilities: DriverCapabilities;
  boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle>;
  restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle>;
  pause(h: SandboxHandle): Promise<void>;
  resume(h: SandboxHandle): Promise<void>;
  /** Writes a snapshot of a paused sandbox into `dir` (which exists and is empty). */
  snapshot(h: SandboxHandle, dir: string): Promise<SnapshotFiles>;
  stop(h: SandboxHandle): Promise<void>;
  stats(h: SandboxHandle): Promise<SandboxStats>;
  /**
   * Optional: the first invocation of a restored instance is done (REAP: the page-fault handler
   * writes the working set it recorded, or counts the pages it missed). Returns what the driver
   * learnt, for logs; no-op for restores that need nothing.
   */
  firstInvocationDone?(h: SandboxHandle): Promise<unknown>;
  /**
   * Optional: removes whatever an earlier runtime process left for `instanceId` (its process if it
   * still runs, state directories, jails, mounts). Used for instances adopted after a restart, which
   * the driver never started; resolves when nothing of the instance is left, also when nothing was.
   */
  reclaim?(instanceId: string): Promise<void>;
}

/**
 * What each sandbox kind's factory (`sandbox/<kind>/create-<kind>-sandbox.ts`) returns: the driver
 * the served runtime registers, the network pool its instances take slots from when
 * `capabilities.needsNetwork`, and how to give back what the factory built (stop the instances first).
 */
export interface SandboxSetup {
  readonly driver: SandboxDriver;
  readonly pool?: NetworkPool;
  dispose(): Promise<void>;
}
