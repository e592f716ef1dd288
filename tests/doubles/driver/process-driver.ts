// Test double of a SandboxDriver (stands in for the gVisor, containerd and Firecracker drivers while
// the orchestrator is tested on its own): each "sandbox" is a real child process serving the
// helloworld Greeter on a Unix socket; pause/resume are SIGSTOP/SIGCONT; a snapshot is a state file
// plus a blob standing in for guest memory; restore starts a process that reports the snapshot's tag.
// Faults are injected per revision so tests can exercise the orchestrator's error paths.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type {
  BootRequest,
  DriverCapabilities,
  RestoreRequest,
  SandboxDriver,
  SandboxExit,
  SandboxHandle,
  SandboxKind,
  SandboxStats,
  SnapshotFiles,
} from "#node-runtime/sandbox/driver.js";
import type { StageTimer } from "#node-runtime/metrics/stages.js";
import { SandboxHostError } from "#node-runtime/sandbox/errors.js";

const CHILD = fileURLToPath(new URL("./greeter-process.mjs", import.meta.url));
const PROTO = fileURLToPath(new URL("../../../node-runtime/api/protos/helloworld.proto", import.meta.url));

export interface DriverFaults {
  /** Revisions whose function never opens its socket. */
  neverListen: Set<string>;
  /** Revisions whose sandbox exits with code 3 this many ms after start. */
  crashAfterMs: Map<string, number>;
  /** Revisions whose restore throws. */
  failRestore: Set<string>;
  /** Revisions whose snapshot throws after writing part of its files. */
  failSnapshot: Set<string>;
  /** Revisions whose snapshot takes this many ms (a real checkpoint takes hundreds). */
  slowSnapshotMs: Map<string, number>;
}

interface DoubleHandle extends SandboxHandle {
  child: ChildProcess;
  dir: string;
  tag: string;
  revision: string;
}

export class ProcessDriver implements SandboxDriver {
  readonly capabilities: DriverCapabilities;
  readonly calls = { boot: 0, restore: 0, pause: 0, resume: 0, snapshot: 0, stop: 0 };
  readonly restores: RestoreRequest[] = [];
  readonly faults: DriverFaults = {
    neverListen: new Set(),
    crashAfterMs: new Map(),
    failRestore: new Set(),
    failSnapshot: new Set(),
    slowSnapshotMs: new Map(),
  };
  /** Instances whose REAP first invocation was reported (the Firecracker driver's optional hook). */
  readonly firstInvocations: string[] = [];
  /** Live child pids, for leak checks. */
  readonly live = new Set<number>();

  constructor(
    readonly kind: SandboxKind,
    private readonly workDir: string,
    opts: { snapshots?: boolean; needsNetwork?: boolean; memoryBytes?: number } = {},
  ) {
    this.capabilities = { snapshots: opts.snapshots ?? true, stopsOnSnapshot: false, needsNetwork: opts.needsNetwork ?? false };
    this.memoryBytes = opts.memoryBytes ?? 256 * 1024;
  }

  private readonly memoryBytes: number;

  async boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle> {
    this.calls.boot++;
    return timer.time("NewTask", () => this.launch(req, "boot"));
  }

  async restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle> {
    this.calls.restore++;
    this.restores.push(req);
    if (this.faults.failRestore.has(req.revision)) throw new SandboxHostError("injected restore failure");
    const state = path.join(req.snapshotDir, "state.json");
    // The blob must be readable like a memory file would be.
    await readFile(path.join(req.snapshotDir, "memory.img"));
    return timer.time("LoadVMM", () => this.launch(req, "restore", state));
  }

  private async launch(req: BootRequest, origin: string, stateFile?: string): Promise<DoubleHandle> {
    const dir = path.join(this.workDir, req.instanceId);
    await mkdir(dir, { recursive: true });
    const socket = path.join(dir, "fn.sock");
    const env: NodeJS.ProcessEnv = { ...process.env, DOUBLE_SOCKET: socket, DOUBLE_ORIGIN: origin, DOUBLE_PROTO: PROTO };
    if (stateFile) env.DOUBLE_STATE_FILE = stateFile;
    if (this.faults.neverListen.has(req.revision)) env.DOUBLE_NEVER_LISTEN = "1";
    const crash = this.faults.crashAfterMs.get(req.revision);
    if (crash !== undefined) env.DOUBLE_CRASH_MS = String(crash);
    const child = spawn(process.execPath, [CHILD], { env, stdio: ["ignore", "ignore", "inherit"] });
    const pid = child.pid!;
    this.live.add(pid);
    const exited = new Promise<SandboxExit>((resolve) =>
      child.once("exit", (code, signal) => {
        this.live.delete(pid);
        resolve({ code, signal });
      }),
    );
    return { kind: this.kind, instanceId: req.instanceId, endpoint: { kind: "unix", path: socket }, pid, exited, child, dir, tag: "", revision: req.revision };
  }

  /** Instances whose leftovers were reclaimed after a runtime restart (optional driver method). */
  readonly reclaimed: string[] = [];

  async reclaim(instanceId: string): Promise<void> {
    this.reclaimed.push(instanceId);
    await rm(path.join(this.workDir, instanceId), { recursive: true, force: true });
  }

  async firstInvocationDone(h: SandboxHandle): Promise<void> {
    this.firstInvocations.push(h.instanceId);
  }

  async pause(h: SandboxHandle): Promise<void> {
    this.calls.pause++;
    (h as DoubleHandle).child.kill("SIGSTOP");
  }

  async resume(h: SandboxHandle): Promise<void> {
    this.calls.resume++;
    (h as DoubleHandle).child.kill("SIGCONT");
  }

  async snapshot(h: SandboxHandle, dir: string): Promise<SnapshotFiles> {
    this.calls.snapshot++;
    const d = h as DoubleHandle;
    await writeFile(path.join(dir, "memory.img"), randomBytes(this.memoryBytes));
    if (this.faults.failSnapshot.has(d.revision)) throw new Error("injected snapshot failure");
    const slow = this.faults.slowSnapshotMs.get(d.revision);
    if (slow) await new Promise((resolve) => setTimeout(resolve, slow));
    const tag = `snap-of-${h.instanceId}`;
    await writeFile(path.join(dir, "state.json"), JSON.stringify({ tag }));
    return { files: ["memory.img", "state.json"] };
  }

  async stop(h: SandboxHandle): Promise<void> {
    this.calls.stop++;
    const d = h as DoubleHandle;
    if (d.child.exitCode === null && d.child.signalCode === null) {
      d.child.kill("SIGKILL");
      await d.exited;
    }
    await rm(d.dir, { recursive: true, force: true });
  }

  async stats(h: SandboxHandle): Promise<SandboxStats> {
    const status = await readFile(`/proc/${h.pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? "0");
    return { rssBytes: kb * 1024 };
  }
}
