import type { StageTimer } from "#node-runtime/metrics/stages.js";

/**
 * What the driver needs from a userfaultfd page-fault handler for REAP restores (`memory.kind ===
 * "uffd"`). The handler listens on `socketPath`; Firecracker connects to it during snapshot/load and
 * hands over the guest regions and the uffd. The driver kills the VMM if the handler fails.
 */
export interface UffdHandlerSession {
  readonly socketPath: string;
  /** Resolves once the handler has the VMM's regions and uffd and serves faults; rejects on failure. */
  readonly ready: Promise<void>;
  /** Settles when the handler ends; an error (or a rejection) means the guest's memory is gone. */
  readonly exited: Promise<{ ok: boolean; reason?: string }>;
  /** End of the first invocation after the load (REAP: stop recording, write the working set). */
  finishFirstInvocation(): Promise<unknown>;
  stop(): Promise<void>;
}

export interface UffdHandlerStart {
  instanceId: string;
  /** Guest memory file of the snapshot being loaded. */
  memoryFile: string;
  /** Where the handler must listen (inside the VM's jail, so Firecracker can reach it). */
  socketPath: string;
  mode: "lazy" | "record" | "prefetch";
  workingSetPath?: string;
  /** Id of the snapshot being loaded, written into a recorded working set's header. */
  snapshotId?: string;
  /** The VMM to kill if the handler fails. */
  vmmPid: number | undefined;
  timer: StageTimer;
}

export interface UffdHandlerLauncher {
  start(req: UffdHandlerStart): Promise<UffdHandlerSession>;
}
