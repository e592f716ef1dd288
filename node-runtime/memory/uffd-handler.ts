import { chown, lstat, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { StageTimer } from "../metrics/stages.js";
import { loadUffdNative, type NativeEvent, type NativeHandle, type NativeStats, type UffdNative } from "./native-binding.js";
import { parseUffdHandshake, UffdHandshakeError, type UffdRegion } from "./handshake.js";
import { buildWorkingSetImage, writeFileAtomically } from "./working-set-file.js";
import { clearWorkingSetStale, DEFAULT_RERECORD_THRESHOLD, markWorkingSetStale, workingSetPathFor } from "./working-set-policy.js";

export type UffdMode = "lazy" | "record" | "prefetch";

export interface UffdHandlerOptions {
  /** Unix socket to listen on; pass the same path as `mem_backend.backend_path` of `snapshot/load`. */
  socketPath: string;
  /** The snapshot's guest memory file. */
  memFilePath: string;
  mode: UffdMode;
  /**
   * Working-set file: read in `prefetch`, written in `record`. Defaults to `working-set.reap`
   * beside the memory file (see `planReapLoad`, which also picks the mode).
   */
  workingSetPath?: string;
  /** Id of the snapshot being loaded (32 hex digits): record writes it into the working set's header. */
  snapshotId?: string;
  /** VMM process killed if the handler fails; defaults to the pid that connected (SO_PEERCRED). */
  vmmPid?: number;
  /** Receives FetchState and InstallWS (prefetch, once the set is in) and ServeUnique (at stopRecording). */
  timer?: StageTimer;
  /** How long to wait for the VMM to connect and send its regions (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Prefetch: share of lazily served pages above which the set is re-recorded (default 0.25). */
  rerecordThreshold?: number;
  /** Pin the fault-serving thread to this CPU (benchmarks; default: not pinned). */
  cpu?: number;
  /**
   * Run the fault thread SCHED_FIFO at this priority (1–99) so other load on the host cannot
   * delay page faults; default normal scheduling. Falls back with a warning if not permitted.
   */
  realtimePriority?: number;
  /**
   * Owner given to the socket (mode 0600) — needed when the VMM runs under another uid, as a
   * jailed Firecracker does. Default: the handler's own uid.
   */
  socketOwner?: { uid: number; gid: number };
}

export interface UffdReady {
  regions: UffdRegion[];
  /** Pid that connected to the socket (the VMM). */
  peerPid: number;
  /** Non-fatal conditions (e.g. realtimePriority not permitted). */
  notes: string[];
}

/** How the working set went in (prefetch); all zero for lazy and record loads. */
export interface UffdInstall {
  /** Pages of the working set installed (pages the VMM had faulted in itself are not counted). */
  installedPages: number;
  /** From the start of the stream until its last read completed (REAP's FetchState). */
  fetchStateUs: number;
  /** Time the fault thread spent installing chunks (REAP's InstallWS; the checksum comes after). */
  installWsUs: number;
  /** From the start of the stream until the whole set was installed and its checksum verified. */
  streamUs: number;
  /** Why the working set could not be used (then every fault is served lazily). */
  workingSetWarning?: string;
}

export interface UffdStats extends NativeStats {
  mode: UffdMode;
  /** Prefetch: pages of the working set installed (reused from the recorded set). */
  reusedPages: number;
  /** uniquePages / (reusedPages + uniquePages); 0 when nothing was served. */
  outsideShare: number;
}

export interface UffdFailure {
  error: Error;
  /** Pid killed because of the failure (0 if none could be). */
  killedPid: number;
}

export type FirstInvocationResult =
  | { mode: "record"; recordedPages: Uint32Array; workingSetPath: string; workingSetBytes: number }
  | { mode: "prefetch"; reusedPages: number; uniquePages: number; outsideShare: number; rerecord: boolean }
  | { mode: "lazy"; faults: number };

export interface UffdHandler {
  /**
   * Resolves once the handshake is validated and the fault thread serves; rejects with the
   * failure otherwise. In prefetch mode the working set is still streaming in: the VMM may be
   * resumed now, its faults are answered first and the set's chunks installed between them.
   */
  readonly ready: Promise<UffdReady>;
  /**
   * Prefetch: resolves when the whole working set is installed and verified, or found unusable
   * (`workingSetWarning`; served lazily). Rejects if the handler fails first — a set that fails its
   * checksum after pages of it reached the guest kills the VMM and is marked for re-recording.
   * Lazy and record loads resolve it together with `ready`, with zeros.
   */
  readonly installed: Promise<UffdInstall>;
  /** Resolves when the handler stops: the VMM exited, close() was called, or it failed. */
  readonly stopped: Promise<{ reason: string }>;
  stats(): UffdStats;
  /**
   * Marks the end of the first invocation after the load. record: stops recording and writes the
   * working set atomically (returns the touched pages in first-touch order); prefetch: reports
   * reused vs unique pages, adds ServeUnique to the timer, and marks the set for re-recording if
   * the outside share passes the threshold; lazy: returns the fault count.
   */
  stopRecording(): Promise<FirstInvocationResult>;
  /** Stops serving and releases everything; the VMM must be gone or about to be. */
  close(): Promise<void>;
  /** Called once if the handler fails (bad handshake, timeout, fault-serving error). */
  onFailure(listener: (f: UffdFailure) => void): void;
}

const MODE_CODE = { lazy: 0, record: 1, prefetch: 2 } as const;
const MAX_SUN_PATH = 107;

/**
 * Starts a memory-backend handler for one snapshot restore. Call it before `snapshot/load`
 * (the socket is listening when the returned promise resolves), then load the snapshot with
 * `mem_backend: {backend_type: "Uffd", backend_path: socketPath}` and await `ready`.
 *
 * Faults are served on a native thread; the JavaScript event loop is never on the fault path.
 * If anything fails, the VMM is killed (so it cannot hang on a fault nobody answers), `ready`
 * rejects and the failure listeners run.
 */
export async function startUffdHandler(opts: UffdHandlerOptions): Promise<UffdHandler> {
  if (!(opts.mode in MODE_CODE)) throw new Error(`mode must be lazy, record or prefetch, got ${JSON.stringify(opts.mode)}`);
  if (Buffer.byteLength(opts.socketPath) > MAX_SUN_PATH) {
    throw new Error(`socketPath ${opts.socketPath} is longer than ${MAX_SUN_PATH} bytes (Unix socket limit)`);
  }
  if (opts.realtimePriority !== undefined && !(Number.isInteger(opts.realtimePriority) && opts.realtimePriority >= 1 && opts.realtimePriority <= 99)) {
    throw new Error(`realtimePriority must be an integer in 1..99, got ${opts.realtimePriority}`);
  }
  if (opts.snapshotId !== undefined && !/^[0-9a-f]{32}$/.test(opts.snapshotId)) {
    throw new Error(`snapshotId must be 32 hex digits, got ${JSON.stringify(opts.snapshotId)}`);
  }
  const threshold = opts.rerecordThreshold ?? DEFAULT_RERECORD_THRESHOLD;
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`rerecordThreshold must be within [0, 1], got ${threshold}`);
  const workingSetPath = opts.workingSetPath ?? workingSetPathFor(dirname(opts.memFilePath));
  await removeStaleSocket(opts.socketPath);
  const native = loadUffdNative();
  const handler = new UffdHandlerImpl(native, opts, workingSetPath, threshold);
  handler.start();
  if (opts.socketOwner) {
    try {
      await chown(opts.socketPath, opts.socketOwner.uid, opts.socketOwner.gid);
    } catch (err) {
      await handler.close();
      throw new Error(`socketOwner: cannot chown ${opts.socketPath}: ${(err as Error).message}`);
    }
  }
  return handler;
}

async function removeStaleSocket(path: string): Promise<void> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return;
  if (!st.isSocket()) throw new Error(`socketPath ${path} exists and is not a socket; refusing to replace it`);
  await rm(path, { force: true });
}

class UffdHandlerImpl implements UffdHandler {
  readonly ready: Promise<UffdReady>;
  readonly installed: Promise<UffdInstall>;
  readonly stopped: Promise<{ reason: string }>;
  private resolveReady!: (r: UffdReady) => void;
  private rejectReady!: (e: Error) => void;
  private resolveInstalled!: (r: UffdInstall) => void;
  private rejectInstalled!: (e: Error) => void;
  private resolveStopped!: (s: { reason: string }) => void;
  private handle: NativeHandle | undefined;
  private regions: UffdRegion[] = [];
  private peerPid = 0;
  private warning: string | undefined;
  private readonly notes: string[] = [];
  private settled = false;
  private closed = false;
  private failed: UffdFailure | undefined;
  private recordingStopped = false;
  private workingSetFailure: string | undefined;
  private readonly failureListeners: ((f: UffdFailure) => void)[] = [];

  constructor(
    private readonly native: UffdNative,
    private readonly opts: UffdHandlerOptions,
    private readonly workingSetPath: string,
    private readonly threshold: number,
  ) {
    this.ready = new Promise((res, rej) => {
      this.resolveReady = res;
      this.rejectReady = rej;
    });
    this.installed = new Promise((res, rej) => {
      this.resolveInstalled = res;
      this.rejectInstalled = rej;
    });
    // Callers may rely on onFailure alone; an unobserved rejection must not crash the daemon.
    this.ready.catch(() => undefined);
    this.installed.catch(() => undefined);
    this.stopped = new Promise((res) => (this.resolveStopped = res));
  }

  start(): void {
    this.handle = this.native.createHandler(this.opts.socketPath, this.opts.memFilePath, this.opts.handshakeTimeoutMs ?? 10_000, (e) => this.onEvent(e));
  }

  private onEvent(e: NativeEvent): void {
    switch (e.kind) {
      case "handshake":
        this.onHandshake(e);
        return;
      case "warning":
        // The native side prefixes working-set problems; anything else is informational.
        if (e.message?.startsWith("working set")) this.warning = e.message;
        else if (e.message) this.notes.push(e.message);
        return;
      case "serving":
        this.settled = true;
        this.resolveReady({ regions: this.regions, peerPid: this.peerPid, notes: [...this.notes] });
        if (this.opts.mode !== "prefetch") this.resolveInstalled({ installedPages: 0, fetchStateUs: 0, installWsUs: 0, streamUs: 0 });
        return;
      case "installed":
        if (this.warning === undefined) {
          this.opts.timer?.add("FetchState", e.fetchUs);
          this.opts.timer?.add("InstallWS", e.installUs);
        }
        this.resolveInstalled({
          installedPages: e.installedPages,
          fetchStateUs: e.fetchUs,
          installWsUs: e.installUs,
          streamUs: e.streamUs,
          ...(this.warning !== undefined ? { workingSetWarning: this.warning } : {}),
        });
        return;
      case "failed": {
        const error = new Error(`UFFD handler: ${e.message ?? "fault thread failed"}`);
        // The set is at fault, not the VMM: the next load of this snapshot records a fresh one
        // (marked in teardown, before `stopped` resolves).
        if (e.workingSetBad) this.workingSetFailure = e.message ?? "working set failed";
        this.fail(error, e.killedPid);
        return;
      }
      case "exited":
        if (!this.settled) this.fail(new Error(`UFFD handler: stopped before serving (${e.message})`), 0);
        else void this.shutdown(e.message ?? "exited");
        return;
    }
  }

  private onHandshake(e: NativeEvent): void {
    this.peerPid = e.peerPid;
    if (e.error) {
      this.fail(new UffdHandshakeError(stripPrefix(e.message ?? "failed")), 0);
      return;
    }
    try {
      const memFileSize = this.native.stats(this.handle!).memFileSize;
      this.regions = parseUffdHandshake(e.message ?? "", e.fdCount, memFileSize);
      this.native.serve(this.handle!, {
        regions: this.regions.map(({ hostBase, size, offset }) => ({ hostBase, size, offset })),
        pageSize: this.regions[0]!.pageSize,
        mode: MODE_CODE[this.opts.mode],
        ...(this.opts.mode === "prefetch" ? { workingSetPath: this.workingSetPath } : {}),
        vmmPid: this.opts.vmmPid ?? 0,
        cpu: this.opts.cpu ?? -1,
        ...(this.opts.realtimePriority !== undefined ? { rtPriority: this.opts.realtimePriority } : {}),
      });
    } catch (err) {
      this.fail(err as Error, 0);
    }
  }

  /** Kills the VMM (unless the native thread already did), reports, and releases everything. */
  private fail(error: Error, killedByNative: number): void {
    if (this.failed || this.closed) return;
    let killedPid = killedByNative;
    const pid = this.opts.vmmPid ?? this.peerPid;
    if (!killedPid && pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
        killedPid = pid;
      } catch {
        // Already gone.
      }
    }
    this.failed = { error, killedPid };
    this.rejectReady(error);
    this.rejectInstalled(error);
    for (const l of this.failureListeners) l(this.failed);
    void this.shutdown(`failed: ${error.message}`);
  }

  onFailure(listener: (f: UffdFailure) => void): void {
    if (this.failed) listener(this.failed);
    else this.failureListeners.push(listener);
  }

  stats(): UffdStats {
    if (!this.handle) throw new Error("UFFD handler not started");
    const s = this.native.stats(this.handle);
    const reusedPages = this.opts.mode === "prefetch" ? s.installedPages : 0;
    const served = reusedPages + s.uniquePages;
    return { ...s, mode: this.opts.mode, reusedPages, outsideShare: served === 0 ? 0 : s.uniquePages / served };
  }

  async stopRecording(): Promise<FirstInvocationResult> {
    if (!this.handle || this.closed) throw new Error("UFFD handler is closed");
    if (this.recordingStopped) throw new Error("stopRecording() was already called for this load");
    await this.ready;
    // Reused and unique pages are only final once the whole set is in.
    await this.installed;
    this.recordingStopped = true;
    if (this.opts.mode === "record") {
      const order = this.native.stopRecording(this.handle);
      // Stored in first-touch order: the next load installs the pages the guest needs first first.
      const data = this.native.readPages(this.handle, order);
      const s = this.native.stats(this.handle);
      const image = buildWorkingSetImage(
        {
          pageSize: this.regions[0]!.pageSize,
          memFileSize: s.memFileSize,
          pages: order,
          data,
          recordedAtMs: Date.now(),
          ...(this.opts.snapshotId !== undefined ? { snapshotId: this.opts.snapshotId } : {}),
        },
        (b) => this.native.hash64(b),
      );
      await writeFileAtomically(this.workingSetPath, image);
      await clearWorkingSetStale(this.workingSetPath);
      return { mode: "record", recordedPages: order, workingSetPath: this.workingSetPath, workingSetBytes: image.length };
    }
    const s = this.stats();
    if (this.opts.mode === "prefetch") {
      this.opts.timer?.add("ServeUnique", s.serveUs);
      const rerecord = s.outsideShare > this.threshold || this.warning !== undefined;
      if (rerecord) {
        await markWorkingSetStale(this.workingSetPath, this.warning ?? `outside share ${s.outsideShare.toFixed(3)} > threshold ${this.threshold}`);
      }
      return { mode: "prefetch", reusedPages: s.reusedPages, uniquePages: s.uniquePages, outsideShare: s.outsideShare, rerecord };
    }
    return { mode: "lazy", faults: s.faults };
  }

  async close(): Promise<void> {
    await this.shutdown("closed");
  }

  private shutdownDone: Promise<void> | undefined;

  /** Idempotent; every caller waits for the same teardown (socket removed included). */
  private shutdown(reason: string): Promise<void> {
    this.shutdownDone ??= this.teardown(reason);
    return this.shutdownDone;
  }

  private async teardown(reason: string): Promise<void> {
    this.closed = true;
    if (!this.settled && !this.failed) this.rejectReady(new Error(`UFFD handler closed before it was ready (${reason})`));
    if (!this.failed) this.rejectInstalled(new Error(`UFFD handler stopped before the working set was installed (${reason})`));
    // Joining the native threads is quick: close() wakes them through an eventfd.
    if (this.handle) this.native.close(this.handle);
    if (this.workingSetFailure !== undefined) await markWorkingSetStale(this.workingSetPath, this.workingSetFailure).catch(() => undefined);
    await rm(this.opts.socketPath, { force: true });
    this.resolveStopped({ reason });
  }
}

function stripPrefix(m: string): string {
  return m.replace(/^handshake: /, "");
}
