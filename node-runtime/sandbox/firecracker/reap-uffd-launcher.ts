import { startUffdHandler } from "#node-runtime/memory/index.js";
import type { UffdHandlerLauncher, UffdHandlerSession, UffdHandlerStart } from "./uffd-seam.js";

/** Connects the driver to the REAP userfaultfd handler of node-runtime/memory. */
export class ReapUffdLauncher implements UffdHandlerLauncher {
  constructor(private readonly opts: { handshakeTimeoutMs?: number; rerecordThreshold?: number } = {}) {}

  async start(req: UffdHandlerStart): Promise<UffdHandlerSession> {
    const handler = await startUffdHandler({
      socketPath: req.socketPath,
      memFilePath: req.memoryFile,
      mode: req.mode,
      ...(req.workingSetPath !== undefined ? { workingSetPath: req.workingSetPath } : {}),
      ...(req.snapshotId !== undefined ? { snapshotId: req.snapshotId } : {}),
      ...(req.vmmPid !== undefined ? { vmmPid: req.vmmPid } : {}),
      timer: req.timer,
      ...this.opts,
    });
    const exited = new Promise<{ ok: boolean; reason?: string }>((settle) => {
      handler.onFailure((f) => settle({ ok: false, reason: f.error.message }));
      void handler.stopped.then((s) => settle({ ok: true, reason: s.reason }));
    });
    const ready = handler.ready.then(() => undefined);
    // Awaited by the driver only after a successful load; a failure is reported through `exited` too.
    ready.catch(() => undefined);
    return {
      socketPath: req.socketPath,
      ready,
      exited,
      finishFirstInvocation: () => handler.stopRecording(),
      stop: () => handler.close(),
    };
  }
}
