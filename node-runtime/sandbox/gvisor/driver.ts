// gVisor sandboxes through runsc: each function runs from an OCI bundle built on the image store's
// read-only rootfs (runsc keeps the writes in memory), behind our relay, which makes the
// function's port reachable as a host Unix socket even with --network=none. Snapshots are runsc
// checkpoints; restores go into fresh bundles with the same layout, any number at once.
import { appendFile, chmod, chown, mkdir, open, readdir, readFile, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ImageStore } from "#node-runtime/images/types.js";
import { VethNetworks, type VethNetwork } from "#node-runtime/network/veth-networks.js";
import type { StageTimer } from "#node-runtime/metrics/stages.js";
import type {
  BootRequest,
  DriverCapabilities,
  FunctionEndpoint,
  RestoreRequest,
  SandboxDriver,
  SandboxExit,
  SandboxHandle,
  SandboxStats,
  SnapshotFiles,
} from "../driver.js";
import {
  SandboxError,
  SandboxExitedError,
  SandboxHostError,
  SandboxNotFoundError,
  SandboxRequestError,
  SandboxStateError,
  SandboxTimeoutError,
} from "../errors.js";
import { resolveImageUser } from "./image-user.js";
import { prepareInstanceRootfs, unmountInstanceRootfs } from "./instance-rootfs.js";
import { probeNetstack, type NetstackSupport } from "./netstack-probe.js";
import { buildSandboxSpec, SOCKET_NAME } from "./oci-spec.js";
import { DEFAULT_RELAY_CACHE_DIR, ensureReaperBinary, ensureRelayBinary } from "./relay-binary.js";
import { RunscCli, RunscError, type RunscNetwork, type RunscPlatformChoice, type RunscSnapshotChoice } from "./runsc-cli.js";
import { findGoferPids, isAlive, treeUsage } from "./sandbox-processes.js";
import { waitForSocket } from "./unix-socket-wait.js";

export const DEFAULT_GVISOR_BASE_DIR = "/run/vhgv-gvisor";
/** runsc writes its checkpoint into this one file of the snapshot directory. */
export const CHECKPOINT_FILE = "checkpoint.img";
/** The relay creates this in its socket directory once it holds no host socket (relay/vhgv-relay.c). */
const SUSPENDED_MARKER = "suspended";

export interface GvisorDriverOptions {
  /**
   * Holds `runsc/` (runsc --root) and `instances/<instanceId>/` (bundle, socket dir, log).
   * Default /run/vhgv-gvisor. Keep it short: socket paths must fit in 107 bytes.
   */
  baseDir?: string;
  /** runsc binary; default "runsc". */
  runsc?: string;
  /**
   * Default "auto": systrap on a runsc that defaults to it itself (the pinned upstream release),
   * ptrace on older ones (Debian bookworm's runsc has no systrap; ptrace runs on a paravirtual KVM guest).
   */
  platform?: RunscPlatformChoice;
  /**
   * "none" (default): no network device; the function is reached through a host Unix socket.
   * "netns": every sandbox gets a network namespace of its own (a veth pair on its own /30 of
   * `networkSubnet`, made and removed by this driver), whose address runsc's netstack takes over;
   * the function is reached at that address and its port, from the node and, through the node's
   * routing, from pod networks. Probed once, and refused with the probe's reason where runsc
   * cannot do it. The relay's Unix socket stays too.
   */
  network?: "none" | "netns";
  /** "netns": IPv4 block carved into one /30 per sandbox; default 10.212.0.0/16. */
  networkSubnet?: string;
  /**
   * "netns": prefix (1-7 characters of [a-z0-9]) of the namespaces (`<prefix>-ns-<n>`) and host links
   * (`<prefix>h<n>`); default "vhgv". Namespaces with this prefix that no instance of this driver's
   * base dir uses are deleted before its first netns sandbox (what a crashed runtime left), so two
   * drivers on one host need different prefixes.
   */
  networkPrefix?: string;
  /** A prebuilt relay; default: compiled from relay/vhgv-relay.c into relayCacheDir. */
  relayBinary?: string;
  relayCacheDir?: string;
  /** How long a function may take to listen on its port after start; default 30 s. */
  bootTimeoutMs?: number;
  /** Same for a restored function; default 10 s. */
  restoreTimeoutMs?: number;
  /**
   * Environment added to every function (the image's own values lose, the request's win).
   * Default GRPC_POLL_STRATEGY=poll: this runsc refuses to checkpoint a TCP socket that an epoll
   * set watches ("endpoint still has waiters upon save"), which gRPC's default poller does.
   */
  env?: Record<string, string>;
  /** Directory for runsc --debug logs (off by default; they are large). */
  debugLogDir?: string;
  /**
   * runsc checkpoint / restore options. Default "auto": the measured MEASURED_SNAPSHOT_OPTIONS
   * (uncompressed pages, background restore) on runsc 20240930 or later, none on older ones.
   */
  snapshot?: RunscSnapshotChoice;
}

/** Internal state of one sandbox; the orchestrator sees only the SandboxHandle fields. */
class GvisorHandle implements SandboxHandle {
  readonly kind = "gvisor" as const;
  pid: number | undefined;
  readonly exited: Promise<SandboxExit>;
  paused = false;
  /** Set once runsc checkpoint ended the sandbox (successfully). */
  checkpointed = false;
  /** Set while the driver itself ends the sandbox, so that is not reported as an exit. */
  ending = false;
  /** The sandbox's own network namespace ("netns" mode); removed with the sandbox. */
  network: VethNetwork | undefined;
  /** When `runsc restore` returned (performance.now()), for a restored sandbox. */
  restoredAt: number | undefined;
  /** Settles when a restore's `runsc restore` has exited (the instance may be handed out before). */
  restoring: Promise<void> | undefined;
  /** The reaper's arguments that mount the instance root before runsc runs (set by prepare). */
  mountArgs: string[] = [];
  exitedInfo: SandboxExit | undefined;
  watchTimer: NodeJS.Timeout | undefined;
  private resolveExited!: (v: SandboxExit) => void;

  constructor(
    readonly instanceId: string,
    readonly containerId: string,
    readonly dir: string,
    readonly endpoint: FunctionEndpoint,
    readonly cli: RunscCli,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
  }

  get bundleDir(): string {
    return path.join(this.dir, "bundle");
  }
  get socketDir(): string {
    return path.join(this.dir, "sock");
  }
  get socketPath(): string {
    return path.join(this.socketDir, SOCKET_NAME);
  }
  get logPath(): string {
    return path.join(this.dir, "function.log");
  }
  get pidFile(): string {
    return path.join(this.dir, "sandbox.pid");
  }

  reportExit(info: SandboxExit): void {
    if (this.exitedInfo || this.ending) return;
    this.exitedInfo = info;
    this.resolveExited(info);
  }
}

const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_SUN_PATH = 107;

export class GvisorDriver implements SandboxDriver {
  readonly kind = "gvisor" as const;
  /**
   * stopsOnSnapshot: runsc checkpoint ends the sandbox (this runsc cannot keep it running:
   * --leave-running leaves runsc checkpoint attached to a re-created sandbox). After `snapshot()` the
   * handle only accepts `stop()`; restore a new instance from the snapshot to serve again.
   * needsNetwork: "netns" mode runs netstack in the request's namespace (see the options).
   */
  readonly capabilities: DriverCapabilities;

  private readonly baseDir: string;
  private readonly runscRoot: string;
  private readonly opts: Required<Omit<GvisorDriverOptions, "relayBinary" | "debugLogDir">> & { relayBinary?: string; debugLogDir?: string };
  /** "netns" mode: the per-sandbox namespaces, and the one-time removal of a crashed runtime's. */
  private readonly networks: VethNetworks | undefined;
  private staleNetworksSwept: Promise<void> | undefined;
  private relay: Promise<string> | undefined;
  private reaper: Promise<string> | undefined;
  private netstack: Promise<NetstackSupport> | undefined;
  private readonly clis = new Map<RunscNetwork, RunscCli>();
  private runscCleanup: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly images: ImageStore,
    options: GvisorDriverOptions = {},
  ) {
    this.baseDir = path.resolve(options.baseDir ?? DEFAULT_GVISOR_BASE_DIR);
    this.runscRoot = path.join(this.baseDir, "runsc");
    this.opts = {
      baseDir: this.baseDir,
      runsc: options.runsc ?? "runsc",
      platform: options.platform ?? "auto",
      network: options.network ?? "none",
      relayBinary: options.relayBinary,
      relayCacheDir: options.relayCacheDir ?? DEFAULT_RELAY_CACHE_DIR,
      bootTimeoutMs: options.bootTimeoutMs ?? 30_000,
      restoreTimeoutMs: options.restoreTimeoutMs ?? 10_000,
      env: options.env ?? { GRPC_POLL_STRATEGY: "poll" },
      debugLogDir: options.debugLogDir,
      snapshot: options.snapshot ?? "auto",
      networkSubnet: options.networkSubnet ?? "10.212.0.0/16",
      networkPrefix: options.networkPrefix ?? "vhgv",
    };
    if (this.opts.network !== "none" && this.opts.network !== "netns") {
      throw new Error(`gVisor driver option network must be "none" or "netns", not ${JSON.stringify(this.opts.network)}`);
    }
    // Validates networkSubnet and networkPrefix up front, naming the field.
    this.networks =
      this.opts.network === "netns"
        ? new VethNetworks({ subnet: this.opts.networkSubnet, prefix: this.opts.networkPrefix, label: "gVisor driver network" })
        : undefined;
    // The driver makes its sandboxes' namespaces itself: none from the node's (Firecracker-shaped) pool.
    this.capabilities = { snapshots: true, stopsOnSnapshot: true, needsNetwork: false };
  }

  /** The runsc invocation for containers of one network mode (flags must repeat on every call). */
  cli(network: RunscNetwork = this.opts.network === "netns" ? "sandbox" : "none"): RunscCli {
    let cli = this.clis.get(network);
    if (!cli) {
      cli = new RunscCli({
        binary: this.opts.runsc,
        root: this.runscRoot,
        platform: this.opts.platform,
        network,
        debugLogDir: this.opts.debugLogDir,
        snapshot: this.opts.snapshot,
      });
      this.clis.set(network, cli);
    }
    return cli;
  }

  /** runsc --root of this driver (tests check it is empty after everything stopped). */
  get stateRoot(): string {
    return this.runscRoot;
  }

  /** Whether this host's runsc can run netstack networking; probed once per driver. */
  netstackSupport(): Promise<NetstackSupport> {
    this.netstack ??= this.relayPath().then((relay) =>
      probeNetstack({ cli: this.cli("sandbox"), relayBinary: relay, workDir: path.join(this.baseDir, "probe") }),
    );
    return this.netstack;
  }

  private relayPath(): Promise<string> {
    this.relay ??= this.opts.relayBinary
      ? stat(this.opts.relayBinary).then(
          () => this.opts.relayBinary as string,
          () => {
            throw new SandboxStateError(`gVisor relay binary ${this.opts.relayBinary} does not exist`);
          },
        )
      : ensureRelayBinary(this.opts.relayCacheDir);
    this.relay.catch(() => (this.relay = undefined));
    return this.relay;
  }

  /** runsc create and restore run under the reaper, so a sandbox killed by a signal is reported as such. */
  private reaperPath(): Promise<string> {
    this.reaper ??= ensureReaperBinary(this.opts.relayCacheDir);
    this.reaper.catch(() => (this.reaper = undefined));
    return this.reaper;
  }

  async boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle> {
    const reaper = await this.reaperPath();
    const h = await this.prepare(req);
    const log = await open(h.logPath, "a");
    try {
      await timer.time("NewContainer", () =>
        h.cli.run(["create", `--bundle=${h.bundleDir}`, `--pid-file=${h.pidFile}`, h.containerId], { fd: log.fd, path: h.logPath }, [reaper, ...h.mountArgs]),
      );
      h.pid = await readPid(h.pidFile);
      await timer.time("TaskStart", () => h.cli.run(["start", h.containerId]));
      this.watchExit(h);
      await timer.time("ConnectFuncClient", () => this.waitReady(h, req.port, this.opts.bootTimeoutMs, false));
      return h;
    } catch (error) {
      await this.destroy(h);
      throw SandboxError.withContext(error, `gVisor boot of instance ${req.instanceId} failed`);
    } finally {
      await log.close();
    }
  }

  async restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle> {
    const image = path.join(req.snapshotDir, CHECKPOINT_FILE);
    const info = await stat(image).catch(() => undefined);
    if (!info?.isFile() || info.size === 0) {
      throw new SandboxStateError(`gVisor restore of instance ${req.instanceId}: snapshot ${req.snapshotDir} has no ${CHECKPOINT_FILE}`);
    }
    const restoreFlags = (await this.snapshotFlags(req.instanceId, "restore")).restore;
    const reaper = await this.reaperPath();
    const h = await this.prepare(req);
    const log = await open(h.logPath, "a");
    // The wait for the function starts with runsc restore, not after it. The restored sandbox runs
    // (and the relay binds its socket) before `runsc restore` exits: runsc still records the
    // container's state, then its processes exit (0-120 ms later on this loaded machine). So the
    // instance is returned as soon as the function listens, and runsc finishes behind it: every later
    // runsc call on the sandbox waits for that (h.restoring), and should runsc fail after all, the
    // sandbox is ended and reported as exited.
    const started = performance.now();
    let restoreFailed = false;
    const ready = this.waitReady(h, req.port, this.opts.restoreTimeoutMs, true, () => (restoreFailed ? "runsc restore failed" : undefined));
    ready.catch(() => undefined); // awaited below; a failed restore ends it early
    const runscDone = h.cli
      .run(
        ["restore", "--detach", ...restoreFlags, `--image-path=${req.snapshotDir}`, `--bundle=${h.bundleDir}`, `--pid-file=${h.pidFile}`, h.containerId],
        { fd: log.fd, path: h.logPath },
        [reaper, ...h.mountArgs],
      )
      .then(
        () => {
          h.restoredAt = performance.now();
        },
        (error: unknown) => {
          restoreFailed = true;
          throw error;
        },
      );
    h.restoring = runscDone.catch(() => undefined);
    try {
      // LoadVMM: until the restored function listens or runsc returned, whichever came first.
      const first = await Promise.race([runscDone.then(() => "runsc" as const), ready.then(() => "listening" as const)]);
      timer.add("LoadVMM", (performance.now() - started) * 1000);
      // runsc writes the PID file before it restores anything (container.New), so it is there now.
      h.pid = await readPid(h.pidFile);
      this.watchExit(h);
      if (first === "runsc") {
        // Only what is left of the wait once runsc returned.
        await timer.time("ConnectFuncClient", () => ready);
      } else {
        // Listening already: nothing is left to wait for (the stage stays, at zero, for the record).
        timer.add("ConnectFuncClient", 0);
        runscDone.catch((error: unknown) => this.endAfterLateRestoreFailure(h, error));
      }
      return h;
    } catch (error) {
      await this.destroy(h);
      throw SandboxError.withContext(error, `gVisor restore of instance ${req.instanceId} from ${req.snapshotDir} failed`);
    } finally {
      await log.close();
    }
  }

  /**
   * runsc restore failed after its function already listened (so the instance was handed out): the
   * sandbox cannot be managed, so it is ended, and `exited` reports that.
   */
  private async endAfterLateRestoreFailure(h: GvisorHandle, error: unknown): Promise<void> {
    if (h.ending) return;
    await appendFile(h.logPath, `vhgv: runsc restore failed after the function listened: ${(error as Error).message}\n`).catch(() => undefined);
    if (h.pid !== undefined) {
      try {
        process.kill(h.pid, "SIGKILL");
      } catch {
        // already gone: the exit watcher reports it
      }
    }
  }

  async pause(handle: SandboxHandle): Promise<void> {
    const h = this.live(handle, "pause");
    await h.restoring;
    await h.cli.run(["pause", h.containerId]);
    h.paused = true;
  }

  async resume(handle: SandboxHandle): Promise<void> {
    const h = this.live(handle, "resume");
    await h.restoring;
    await h.cli.run(["resume", h.containerId]);
    h.paused = false;
  }

  /**
   * Checkpoints the sandbox into `dir` (which ends it; see `stopsOnSnapshot`). Before that the relay
   * is suspended: it closes its listener and connections, because runsc cannot save host sockets,
   * and leaves a marker in the socket directory. A restored relay finds its new socket directory
   * without the marker and binds its listener there by itself.
   */
  async snapshot(handle: SandboxHandle, dir: string): Promise<SnapshotFiles> {
    const h = this.live(handle, "snapshot");
    await h.restoring;
    const checkpointFlags = (await this.snapshotFlags(h.instanceId, "snapshot")).checkpoint;
    // runsc cannot checkpoint a paused container cleanly (its state machine then has no way out of
    // "paused"), and the relay must run to rebind, so resume first.
    if (h.paused) await this.resume(h);
    const marker = path.join(h.socketDir, SUSPENDED_MARKER);
    try {
      // only a marker the relay makes now counts
      await rm(marker, { force: true });
      await h.cli.run(["kill", h.containerId, "USR2"]);
      await waitForFile(marker, 5_000, () => (h.exitedInfo ? "the sandbox exited" : undefined));
      // The checkpoint ends the sandbox: that is not an exit to report.
      h.ending = true;
      await h.cli.run(["checkpoint", ...checkpointFlags, `--image-path=${dir}`, h.containerId]);
    } catch (error) {
      h.ending = false;
      // A failed checkpoint ends the sandbox too (runsc stops the kernel before it encodes it).
      if (h.pid !== undefined && !(await isAlive(h.pid))) h.reportExit({ code: null, signal: null });
      // whatever runsc wrote is not a snapshot
      for (const name of await readdir(dir).catch(() => [] as string[])) await rm(path.join(dir, name), { recursive: true, force: true });
      throw SandboxError.withContext(error, `gVisor snapshot of instance ${h.instanceId} failed`);
    }
    h.checkpointed = true;
    this.unwatch(h);
    return { files: (await readdir(dir)).sort() };
  }

  async stats(handle: SandboxHandle): Promise<SandboxStats> {
    const h = this.live(handle, "stats");
    if (h.pid === undefined) throw new SandboxStateError(`gVisor instance ${h.instanceId} has no sandbox process`);
    const usage = await treeUsage(h.pid, await findGoferPids(h.bundleDir));
    if (usage.pids.length === 0) throw new SandboxExitedError(`gVisor instance ${h.instanceId}: sandbox process ${h.pid} is gone`);
    return { rssBytes: usage.memoryBytes, cpuMicros: usage.cpuMicros };
  }

  async stop(handle: SandboxHandle): Promise<void> {
    await this.destroy(this.own(handle));
  }

  /**
   * Removes what an earlier runtime process left for `instanceId` under this driver's base dir
   * (container, sandbox and gofer processes, overlay mount, files). The orchestrator calls it for
   * instances it adopted after a restart, whose handles this driver never made.
   */
  async reclaim(instanceId: string): Promise<void> {
    if (!INSTANCE_ID.test(instanceId)) throw new SandboxRequestError(`instanceId ${JSON.stringify(instanceId)} is not one this driver makes`);
    const dir = path.join(this.baseDir, "instances", instanceId);
    const netnsPath = await bundleNetnsPath(path.join(dir, "bundle"));
    const h = new GvisorHandle(
      instanceId,
      `vhgv-${instanceId}`,
      dir,
      { kind: "unix", path: path.join(dir, "sock", SOCKET_NAME) },
      this.cli(netnsPath ? "sandbox" : "none"),
    );
    h.pid = await readPid(h.pidFile).catch(() => undefined);
    try {
      await this.destroy(h);
    } finally {
      // After the sandbox is gone: the namespace this driver's layout made for it, if any.
      if (netnsPath) await this.networks?.releaseLeftover(netnsPath);
    }
  }

  // --- internals ---

  /** runsc's checkpoint/restore flags; options this runsc lacks are refused before anything is touched. */
  private snapshotFlags(instanceId: string, what: string): Promise<{ checkpoint: string[]; restore: string[] }> {
    return this.cli()
      .snapshotFlags()
      .catch((error: Error) => {
        throw new SandboxStateError(`gVisor ${what} of instance ${instanceId}: ${error.message}`);
      });
  }

  private own(handle: SandboxHandle): GvisorHandle {
    if (!(handle instanceof GvisorHandle)) throw new SandboxNotFoundError(`handle of instance ${handle.instanceId} is not a gVisor sandbox`);
    return handle;
  }

  private live(handle: SandboxHandle, what: string): GvisorHandle {
    const h = this.own(handle);
    if (h.checkpointed) {
      throw new SandboxStateError(`gVisor instance ${h.instanceId} cannot ${what}: its checkpoint ended the sandbox; restore a new instance from the snapshot`);
    }
    if (h.exitedInfo) throw new SandboxExitedError(`gVisor instance ${h.instanceId} cannot ${what}: the sandbox exited (code ${h.exitedInfo.code})`);
    return h;
  }

  /** Instance directory, bundle and socket directory; removed again if anything fails. */
  private async prepare(req: BootRequest): Promise<GvisorHandle> {
    if (!INSTANCE_ID.test(req.instanceId)) {
      throw new SandboxRequestError(`instanceId ${JSON.stringify(req.instanceId)} must be 1-64 characters of [A-Za-z0-9_.-], starting with a letter or digit`);
    }
    if (!Number.isInteger(req.port) || req.port < 1 || req.port > 65535) throw new SandboxRequestError(`port ${req.port} is not a TCP port`);
    const netns = this.networks !== undefined;
    if (netns) {
      const support = await this.netstackSupport();
      if (!support.supported)
        throw new SandboxStateError(`this host's runsc cannot use netstack networking (${support.reason}); run the gVisor driver with network "none"`);
    }
    const dir = path.join(this.baseDir, "instances", req.instanceId);
    const socketPath = path.join(dir, "sock", SOCKET_NAME);
    if (Buffer.byteLength(socketPath) > MAX_SUN_PATH) {
      throw new SandboxRequestError(`socket path ${socketPath} is longer than ${MAX_SUN_PATH} bytes; use a shorter baseDir or instanceId`);
    }
    await mkdir(this.runscRoot, { recursive: true, mode: 0o711 });
    await mkdir(path.dirname(dir), { recursive: true, mode: 0o711 });
    if (netns) await this.sweepStaleNetworks();
    // Exclusive: a directory that exists belongs to a live (or unreclaimed) instance; leave it be.
    await mkdir(dir, { mode: 0o711 }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "EEXIST") throw new SandboxStateError(`instance directory ${dir} is in use (is instance ${req.instanceId} running?)`);
      throw error;
    });
    let network: VethNetwork | undefined;
    try {
      network = netns ? await this.acquireNetwork(req.instanceId) : undefined;
      const endpoint: FunctionEndpoint = network ? { kind: "tcp", host: network.containerIp, port: req.port } : { kind: "unix", path: socketPath };
      const h = new GvisorHandle(req.instanceId, `vhgv-${req.instanceId}`, dir, endpoint, this.cli(network ? "sandbox" : "none"));
      h.network = network;
      const netnsPath = network?.netnsPath;
      const [lower, relayBinary] = await Promise.all([this.images.rootfs(req.imageDigest), this.relayPath()]);
      const user = await resolveImageUser(req.image.user, lower);
      const rootfs = await prepareInstanceRootfs(lower, dir);
      h.mountArgs = ["--mount-overlay", rootfs.options, rootfs.mountPoint];
      const spec = buildSandboxSpec({
        image: req.image,
        user,
        rootfs: rootfs.mountPoint,
        relayBinary,
        socketDir: h.socketDir,
        port: req.port,
        driverEnv: this.opts.env,
        requestEnv: req.env,
        vcpus: req.vcpus,
        memoryMiB: req.memoryMiB,
        netnsPath,
      });
      await mkdir(h.bundleDir);
      await writeFile(path.join(h.bundleDir, "config.json"), JSON.stringify(spec, null, 2));
      // The relay runs as the function's user and must create its socket here.
      await mkdir(h.socketDir, { mode: 0o700 });
      await chown(h.socketDir, user.uid, user.gid);
      await chmod(h.socketDir, 0o700);
      return h;
    } catch (error) {
      await unmountInstanceRootfs(dir).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      if (network) await this.networks?.release(network);
      throw error;
    }
  }

  private async acquireNetwork(instanceId: string): Promise<VethNetwork> {
    try {
      return await this.networks!.acquire();
    } catch (error) {
      throw new SandboxHostError(`gVisor instance ${instanceId}: ${(error as Error).message}`);
    }
  }

  /**
   * Deletes, once per driver, the namespaces of this driver's prefix that no instance under its
   * base dir uses: what a runtime that crashed (or was killed) left. Adopted instances keep theirs:
   * their bundles name them.
   */
  private sweepStaleNetworks(): Promise<void> {
    this.staleNetworksSwept ??= (async () => {
      const inUse = new Set<string>();
      const instances = path.join(this.baseDir, "instances");
      for (const id of await readdir(instances).catch(() => [] as string[])) {
        const netnsPath = await bundleNetnsPath(path.join(instances, id, "bundle"));
        if (netnsPath) inUse.add(netnsPath);
      }
      for (const name of await readdir("/var/run/netns").catch(() => [] as string[])) {
        const netnsPath = `/var/run/netns/${name}`;
        if (!inUse.has(netnsPath)) await this.networks!.releaseLeftover(netnsPath);
      }
    })();
    this.staleNetworksSwept.catch(() => (this.staleNetworksSwept = undefined));
    return this.staleNetworksSwept;
  }

  /** Waits for the relay's socket; fails early, with the function's log, if the sandbox exits. */
  private async waitReady(h: GvisorHandle, port: number, timeoutMs: number, restored: boolean, startFailed?: () => string | undefined): Promise<void> {
    const abortReason = () =>
      startFailed?.() ?? (h.exitedInfo ? `the function exited with code ${h.exitedInfo.code} before listening on port ${port}` : undefined);
    const start = performance.now();
    let listening = false;
    try {
      await waitForSocket(h.socketPath, {
        timeoutMs,
        abortReason,
        // Should the restored relay not be listening a second after runsc restore returned, remove
        // whatever is at the path (a bind there fails while a file exists) and ask it again; never
        // while runsc restore still runs, when `runsc kill` could not reach it.
        nudge: restored
          ? {
              afterMs: 1_000,
              when: () => h.restoredAt !== undefined && performance.now() - h.restoredAt >= 1_000,
              run: () =>
                rm(h.socketPath, { force: true })
                  .then(() => h.cli.run(["kill", h.containerId, "USR1"]))
                  .then(
                    () => undefined,
                    () => undefined,
                  ),
            }
          : undefined,
      });
      listening = true;
      // The function listens; in its own namespace it must also answer at its address (a function
      // that binds only 127.0.0.1 would not, and the caller would time out without knowing why).
      if (h.endpoint.kind === "tcp") {
        const target = { host: h.endpoint.host, port: h.endpoint.port };
        await waitForSocket(target, { timeoutMs: Math.max(1, timeoutMs - (performance.now() - start)), abortReason });
      }
    } catch (error) {
      const tail = await logTail(h.logPath);
      if (h.exitedInfo) throw new SandboxExitedError(`the function exited with code ${h.exitedInfo.code} before listening on port ${port}${tail}`);
      if (error instanceof SandboxTimeoutError) {
        const endpoint = h.endpoint.kind === "tcp" ? `${h.endpoint.host}:${port}` : "";
        throw new SandboxTimeoutError(
          listening
            ? `the function listens on port ${port} inside its sandbox but did not answer at ${endpoint} within ${timeoutMs} ms (does it bind only 127.0.0.1?)${tail}`
            : `the function did not listen on port ${port} within ${timeoutMs} ms${tail}`,
        );
      }
      throw SandboxError.withContext(error, `waiting for the function on port ${port}${tail}`);
    }
  }

  /**
   * Reports the sandbox's exit through `exited`. runsc ends the sandbox process together with the
   * function (the relay is its first process), so a poll of that process notices any exit, a
   * crash or kill of the sandbox included; the relay's last log line gives the function's status,
   * else the reaper's line about the sandbox process (how it was killed).
   */
  private watchExit(h: GvisorHandle): void {
    h.watchTimer = setInterval(() => {
      if (h.pid === undefined || h.exitedInfo || h.ending) return;
      void isAlive(h.pid).then(async (alive) => {
        if (alive || h.exitedInfo || h.ending) return;
        this.unwatch(h);
        h.reportExit(await exitOnceLogged(h.logPath, h.pid));
      });
    }, 100);
    h.watchTimer.unref();
  }

  private unwatch(h: GvisorHandle): void {
    if (h.watchTimer) clearInterval(h.watchTimer);
    h.watchTimer = undefined;
  }

  /**
   * `runsc list` and `runsc state` open a lock file for every container they read; one running
   * while another instance is deleted recreated that instance's lock file after its cleanup (seen
   * in CI when StopVMs stopped four at once). Deletes, their cleanup and listings take turns.
   */
  private serialised<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.runscCleanup.catch(() => undefined).then(fn);
    this.runscCleanup = next;
    return next;
  }

  /**
   * Ends the sandbox and removes everything the instance had: runsc state, processes (sandbox,
   * its stubs, the gofer), bundle, socket and log. Safe to repeat; also used when boot fails.
   */
  private async destroy(h: GvisorHandle): Promise<void> {
    // A restore's runsc may still be finishing (see restore()); its state must be final first.
    await h.restoring;
    h.ending = true;
    this.unwatch(h);
    const problems: string[] = [];
    await this.serialised(async () => {
      const st = await h.cli.state(h.containerId).catch(() => undefined);
      // `runsc delete` panics on a paused container ("paused => stopped"); resume it first.
      if (st?.status === "paused") await h.cli.run(["resume", h.containerId]).catch(() => undefined);
      if (st) {
        await h.cli.run(["delete", "--force", h.containerId]).catch((e: Error) => problems.push(e.message));
      }
      // runsc delete can leave processes behind (seen when a checkpoint replaced the sandbox); make sure.
      const leftovers = [...(h.pid !== undefined ? [h.pid] : []), ...(await findGoferPids(h.bundleDir))];
      for (const pid of leftovers) {
        if (await isAlive(pid)) {
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
      for (const pid of leftovers) {
        for (let i = 0; i < 50 && (await isAlive(pid)); i++) await sleep(20);
        if (await isAlive(pid)) problems.push(`process ${pid} survived SIGKILL`);
      }
      // State files runsc left because delete failed name the container; nothing else uses them.
      for (const name of await readdir(this.runscRoot).catch(() => [] as string[])) {
        if (name.startsWith(`${h.containerId}_sandbox:`)) await rm(path.join(this.runscRoot, name), { force: true });
      }
    });
    // The namespace goes once nothing runs in it (deleting it takes both veth ends along).
    if (h.network) {
      await this.networks?.release(h.network);
      h.network = undefined;
    }
    // Never remove the directory through a still-mounted root (that would write whiteouts, harmless,
    // but it means something holds the mount): unmount first, and keep the files if that fails.
    try {
      await unmountInstanceRootfs(h.dir);
      await rm(h.dir, { recursive: true, force: true });
    } catch (error) {
      problems.push((error as Error).message);
    }
    h.paused = false;
    const stillListed = (await this.serialised(() => h.cli.list().catch(() => []))).some((c) => c.id === h.containerId);
    const unremoved = await stat(h.dir).then(
      () => true,
      () => false,
    );
    if (stillListed || unremoved) {
      throw new SandboxHostError(`gVisor stop of instance ${h.instanceId} left ${stillListed ? "runsc state" : h.dir} behind: ${problems.join("; ")}`);
    }
  }
}

/** The network namespace a bundle's config.json joins, if it names one. */
async function bundleNetnsPath(bundleDir: string): Promise<string | undefined> {
  try {
    const spec = JSON.parse(await readFile(path.join(bundleDir, "config.json"), "utf8")) as { linux?: { namespaces?: { type: string; path?: string }[] } };
    return spec.linux?.namespaces?.find((n) => n.type === "network")?.path;
  } catch {
    return undefined;
  }
}

/** runsc --pid-file holds the sandbox process's PID (saves a `runsc state` call per start). */
async function readPid(file: string): Promise<number> {
  const pid = Number((await readFile(file, "utf8")).trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new SandboxHostError(`runsc wrote no sandbox PID to ${file}`);
  return pid;
}

async function waitForFile(file: string, timeoutMs: number, abortReason: () => string | undefined): Promise<void> {
  const start = Date.now();
  for (;;) {
    if (
      await stat(file).then(
        () => true,
        () => false,
      )
    )
      return;
    const reason = abortReason();
    if (reason) throw new SandboxExitedError(`${reason} while its relay prepared for the checkpoint`);
    if (Date.now() - start > timeoutMs) throw new SandboxTimeoutError(`the relay did not confirm it closed its sockets within ${timeoutMs} ms`);
    await sleep(3);
  }
}

const EXIT_LINE = /vhgv-relay: function (exited with status|killed by signal) (\d+)/g;
const REAPED_LINE = /vhgv-reaper: process (\d+) (exited with status|killed by signal) (\d+)/g;

/**
 * The function's exit as the relay logged it; else, when the sandbox process itself ended (killed
 * from outside), as the reaper logged that; unknown (both null) when neither said anything.
 */
export async function exitFromLog(file: string, sandboxPid?: number): Promise<SandboxExit> {
  const text = await readFile(file, "utf8").catch(() => "");
  const fromRelay = [...text.matchAll(EXIT_LINE)].at(-1);
  const fromReaper = [...text.matchAll(REAPED_LINE)].filter((m) => Number(m[1]) === sandboxPid).at(-1);
  const last = fromRelay ? ([fromRelay[1], fromRelay[2]] as const) : fromReaper ? ([fromReaper[2], fromReaper[3]] as const) : undefined;
  if (!last) return { code: null, signal: null };
  const n = Number(last[1]);
  if (last[0] === "exited with status") return { code: n, signal: null };
  const name = Object.entries(osConstants.signals).find(([, v]) => v === n)?.[0];
  return { code: null, signal: name ?? `signal ${n}` };
}

/**
 * exitFromLog once the sandbox process is reaped. The reaper logs a death just before it reaps the
 * zombie, and a zombie already counts as dead: without this wait a killed sandbox could be read as
 * an unknown exit (seen with upstream runsc on systrap, whose stub processes make the death slower).
 */
async function exitOnceLogged(file: string, sandboxPid: number | undefined): Promise<SandboxExit> {
  for (let waited = 0; sandboxPid !== undefined && waited < 2_000; waited += 50) {
    const exit = await exitFromLog(file, sandboxPid);
    if (exit.code !== null || exit.signal !== null) return exit;
    if (
      !(await stat(`/proc/${sandboxPid}`).then(
        () => true,
        () => false,
      ))
    )
      break;
    await sleep(50);
  }
  return exitFromLog(file, sandboxPid);
}

/** The end of the function's output, to say why it failed. */
async function logTail(file: string): Promise<string> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(file, "r");
    const { size } = await fh.stat();
    const len = Math.min(size, 2048);
    const buf = Buffer.alloc(len);
    await fh.read(buf, 0, len, size - len);
    const text = buf.toString("utf8").trim();
    return text ? `; function log ends with:\n${text}` : "";
  } catch {
    return "";
  } finally {
    await fh?.close();
  }
}

export { RunscError };
