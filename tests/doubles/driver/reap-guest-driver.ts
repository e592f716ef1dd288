// TEST DOUBLE: stands in for the Firecracker driver's REAP restores where no Firecracker runs. The
// function is the process driver double's greeter (gRPC, tests/doubles/driver/process-driver.ts);
// the guest's memory is fc-guest (tests/memory/fc-guest.c), a process that registers anonymous
// memory with userfaultfd and hands it to the real REAP handler (node-runtime/memory/uffd-handler.ts)
// started on the snapshot's memory file with the mode and working-set path the orchestrator chose —
// what the Firecracker driver does for a VMM. The first invocation's page touches are a trace the test
// sets; the test reads what the guest sees through `guest(instanceId)`.
import path from "node:path";
import { startUffdHandler, type FirstInvocationResult, type UffdHandler } from "#node-runtime/memory/uffd-handler.js";
import type { StageTimer } from "#node-runtime/metrics/stages.js";
import type {
  BootRequest,
  DriverCapabilities,
  MemoryBackend,
  RestoreRequest,
  SandboxDriver,
  SandboxHandle,
  SandboxStats,
  SnapshotFiles,
} from "#node-runtime/sandbox/driver.js";
import { GuestProcess, writeTrace } from "#tests/memory/guest-process.js";
import { ProcessDriver } from "./process-driver.js";

interface GuestMemory {
  guest: GuestProcess;
  handler: UffdHandler;
  memory: MemoryBackend;
}

export class ReapGuestDriver implements SandboxDriver {
  readonly kind = "firecracker" as const;
  readonly capabilities: DriverCapabilities = { snapshots: true, stopsOnSnapshot: false, needsNetwork: false };
  readonly inner: ProcessDriver;
  /** Pages the guest touches during each first invocation (memory-file page numbers). */
  firstInvocationTrace: number[] = [];
  /** What each REAP first invocation's handler reported, by instance. */
  readonly firstInvocationResults = new Map<string, FirstInvocationResult>();
  private readonly guests = new Map<string, GuestMemory>();
  private traces = 0;

  constructor(
    private readonly workDir: string,
    private readonly guestBin: string,
    private readonly memoryBytes: number,
  ) {
    this.inner = new ProcessDriver("firecracker", workDir, { memoryBytes });
  }

  boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle> {
    return this.inner.boot(req, timer);
  }

  async restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle> {
    const handle = await this.inner.restore(req, timer);
    if (req.memory.kind !== "uffd") return handle;
    const socketPath = path.join(this.workDir, `${req.instanceId}.uffd`);
    let handler: UffdHandler | undefined;
    let guest: GuestProcess | undefined;
    try {
      handler = await startUffdHandler({
        socketPath,
        memFilePath: path.join(req.snapshotDir, "memory.img"),
        mode: req.memory.mode,
        ...(req.memory.workingSetPath !== undefined ? { workingSetPath: req.memory.workingSetPath } : {}),
        ...(req.memory.snapshotId !== undefined ? { snapshotId: req.memory.snapshotId } : {}),
        handshakeTimeoutMs: 10_000,
        timer,
      });
      guest = new GuestProcess(this.guestBin, ["--socket", socketPath, "--regions", String(this.memoryBytes)]);
      await guest.nextLine(); // {"handshakeSent":true}
      await handler.ready;
      this.guests.set(req.instanceId, { guest, handler, memory: req.memory });
      return handle;
    } catch (err) {
      guest?.kill();
      await handler?.close();
      await this.inner.stop(handle);
      throw err;
    }
  }

  /** The guest of a REAP restore: touches pages and reports per-page sums (fc-guest's protocol). */
  guest(instanceId: string): { touch(pages: number[]): Promise<{ pages: number; residentBefore: number; sums: number[] }>; memory: MemoryBackend } {
    const g = this.guests.get(instanceId);
    if (!g) throw new Error(`instance ${instanceId} has no REAP guest`);
    return {
      memory: g.memory,
      touch: (pages) => g.guest.command(`touch ${writeTrace(path.join(this.workDir, `trace-${this.traces++}`), pages)} sums`),
    };
  }

  async firstInvocationDone(h: SandboxHandle): Promise<unknown> {
    const g = this.guests.get(h.instanceId);
    if (!g) return undefined;
    await g.guest.command(`touch ${writeTrace(path.join(this.workDir, `trace-${this.traces++}`), this.firstInvocationTrace)}`);
    const result = await g.handler.stopRecording();
    this.firstInvocationResults.set(h.instanceId, result);
    return result;
  }

  pause(h: SandboxHandle): Promise<void> {
    return this.inner.pause(h);
  }

  resume(h: SandboxHandle): Promise<void> {
    return this.inner.resume(h);
  }

  snapshot(h: SandboxHandle, dir: string): Promise<SnapshotFiles> {
    return this.inner.snapshot(h, dir);
  }

  async stop(h: SandboxHandle): Promise<void> {
    const g = this.guests.get(h.instanceId);
    this.guests.delete(h.instanceId);
    if (g) {
      g.guest.kill();
      await g.guest.exited;
      await g.handler.close();
    }
    await this.inner.stop(h);
  }

  stats(h: SandboxHandle): Promise<SandboxStats> {
    return this.inner.stats(h);
  }
}
