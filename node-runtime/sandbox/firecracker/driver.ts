import { spawn, type ChildProcess } from "node:child_process";
import { chmod, chown, copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type {
  BootRequest,
  DriverCapabilities,
  RestoreRequest,
  SandboxDriver,
  SandboxExit,
  SandboxHandle,
  SandboxStats,
  SnapshotFiles,
  FunctionEndpoint,
} from "../driver.js";
import { SandboxError, SandboxExitedError, SandboxNotFoundError, SandboxRequestError, SandboxStateError, SandboxTimeoutError } from "../errors.js";
import type { StageTimer } from "#node-runtime/metrics/stages.js";
import type { ImageStore } from "#node-runtime/images/types.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";
import { FirecrackerApiClient } from "./api-client.js";
import type { SnapshotType } from "./api-types.js";
import { DEFAULT_BASE_BOOT_ARGS, buildBootArgs } from "./boot-args.js";
import { buildGuestConfig } from "./guest-config.js";
import { cloneDiskImage, writableLayerTemplate } from "./rootfs.js";
import { preparedImage } from "./prepared-image.js";
import { describeHostCpu, readSnapshotMeta, snapshotLoadProblems, writeSnapshotMeta, type FirecrackerSnapshotMeta } from "./snapshot-meta.js";
import type { UffdHandlerLauncher, UffdHandlerSession } from "./uffd-seam.js";
import { IN_JAIL, SNAPSHOT_FILES, buildVmmCommand, checkInstanceId, checkSocketPathRoom, jailRoot, vmName, vmsDir, type JailMode } from "./vm-layout.js";
import { readProcFile } from "#node-runtime/system/proc-file.js";
import { errorMessage } from "#node-runtime/system/error-message.js";

/** vHive's defaults for a function VM. */
export const FIRECRACKER_DEFAULT_MACHINE = { vcpus: 1, memoryMiB: 512 } as const;

/** Written beside each VM's log: the VMM's pid, for reclaim(). */
const VMM_PID_FILE = "vmm.pid";
/** Written there too: the instance id the VM directory (named by vmName()) belongs to. */
const INSTANCE_ID_FILE = "instance-id";

/** The one network interface every function VM has. */
const IFACE_ID = "eth0";

export interface FirecrackerDriverOptions {
  /** The upstream `firecracker` binary (or, under the jailer, the file it copies into the jail). */
  firecrackerBin: string;
  /** Uncompressed guest kernel (vmlinux). */
  kernelPath: string;
  /** Supplies the function image as an ext4 file (cached per digest by the store). */
  images: Pick<ImageStore, "ext4">;
  /** Static guest init, see `buildGuestInit()` in guest-init/build.ts. */
  guestInitBinary: string;
  /** Directory for per-VM directories when not jailed (direct mode). */
  runDir: string;
  /** Cache of function images with our init written in; default `<runDir>/../prepared-images`. */
  preparedImageDir?: string;
  /** Size of each VM's writable layer (sparse: only what the guest writes takes space). Default 1024 MiB. */
  writableLayerMiB?: number;
  /**
   * Run every VM under the jailer: chroot per VM, dropped uid/gid, its network namespace. Files all
   * VMs share (kernel, a snapshot's vmstate and memory) are linked into each jail owned by this
   * process and writable by nobody else; only the VM's own disk and directories go to uid/gid.
   */
  jailer?: { jailerBin: string; uid: number; gid: number; chrootBaseDir: string };
  /** Kernel arguments before ours (`init=`, `ip=`); default DEFAULT_BASE_BOOT_ARGS. */
  bootArgs?: string;
  /** What `snapshot()` writes; Diff enables dirty-page tracking on boot and load. Default Full. */
  snapshotType?: SnapshotType;
  /** REAP restores (`memory.kind === "uffd"`) need a page-fault handler. */
  uffd?: UffdHandlerLauncher;
  /** How long Firecracker may take to open its API socket. Default 10 s. */
  apiStartTimeoutMs?: number;
}

interface VmRecord {
  handle: FirecrackerSandbox;
  child: ChildProcess;
  client: FirecrackerApiClient;
  /** The VM's root as Firecracker sees it (its cwd / chroot). */
  root: string;
  /** Everything to delete when the VM is gone. */
  removeOnStop: string;
  vcpus: number;
  memoryMiB: number;
  network?: NetworkSlot;
  firecrackerVersion: string;
  /** Memory image the next Diff snapshot is written on top of. */
  baseMemory?: { file: string; snapshotDir: string };
  uffd?: UffdHandlerSession;
  /** Why the page-fault handler ended while the VM still ran (the VMM was killed for it). */
  handlerLost?: string;
  stopping: boolean;
}

class FirecrackerSandbox implements SandboxHandle {
  readonly kind = "firecracker" as const;
  constructor(
    readonly instanceId: string,
    readonly endpoint: FunctionEndpoint,
    readonly pid: number | undefined,
    readonly exited: Promise<SandboxExit>,
  ) {}
}

/**
 * Runs functions in upstream Firecracker microVMs. Every VM has its own jail directory in which its
 * disk, kernel and snapshot files have the same names, and its own network namespace in which the
 * tap has the same name, so a snapshot of one VM loads unchanged into any other.
 */
export class FirecrackerDriver implements SandboxDriver {
  readonly kind = "firecracker" as const;
  readonly capabilities: DriverCapabilities = { snapshots: true, stopsOnSnapshot: false, needsNetwork: true };
  private readonly vms = new Map<string, VmRecord>();
  private readonly mode: JailMode;
  private readonly bootArgsBase: string;
  private readonly snapshotType: SnapshotType;
  private readonly preparedDir: string;
  private readonly writableLayerMiB: number;
  /** Made once per driver: concurrent first boots wait for the same template. */
  private writableTemplate: Promise<string> | undefined;

  constructor(private readonly opts: FirecrackerDriverOptions) {
    for (const field of ["firecrackerBin", "kernelPath", "guestInitBinary", "runDir"] as const) {
      if (typeof opts[field] !== "string" || opts[field].length === 0) throw new Error(`FirecrackerDriver: option ${field} is required`);
    }
    this.mode = opts.jailer === undefined ? { kind: "direct" } : { kind: "jailer", ...opts.jailer };
    this.bootArgsBase = opts.bootArgs ?? DEFAULT_BASE_BOOT_ARGS;
    this.snapshotType = opts.snapshotType ?? "Full";
    this.preparedDir = resolve(opts.preparedImageDir ?? join(opts.runDir, "..", "prepared-images"));
    this.writableLayerMiB = opts.writableLayerMiB ?? 1024;
    if (!Number.isInteger(this.writableLayerMiB) || this.writableLayerMiB < 16)
      throw new Error(`FirecrackerDriver: option writableLayerMiB must be an integer ≥ 16, got ${opts.writableLayerMiB}`);
    checkSocketPathRoom(this.mode, resolve(opts.runDir), opts.firecrackerBin);
  }

  private writableLayerTemplate(): Promise<string> {
    this.writableTemplate ??= writableLayerTemplate(this.preparedDir, this.writableLayerMiB).catch((e: unknown) => {
      this.writableTemplate = undefined;
      throw e;
    });
    return this.writableTemplate;
  }

  /** Instances this driver has started and not yet stopped. */
  liveInstances(): string[] {
    return [...this.vms.keys()];
  }

  async boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle> {
    checkRequest(req);
    this.checkNotRunning(req.instanceId);
    const image = await timer.time("GetImage", () => this.opts.images.ext4(req.imageDigest));
    return timer.time("FcCreateVM", async () => {
      const { root, removeOnStop } = await this.prepareJail(req.instanceId);
      let record: VmRecord | undefined;
      try {
        const prepared = await preparedImage(this.preparedDir, image, resolve(this.opts.guestInitBinary), buildGuestConfig(req.image, req.env));
        // The image is shared read-only (a link, not a copy); the VM writes into a layer of its own.
        await this.shareReadOnly(prepared, join(root, IN_JAIL.rootfs));
        await cloneDiskImage(await this.writableLayerTemplate(), join(root, IN_JAIL.writableLayer));
        await this.shareReadOnly(resolve(this.opts.kernelPath), join(root, IN_JAIL.kernel));
        await this.handOver(root, [IN_JAIL.writableLayer]);
        record = await this.startVmm(req, root, removeOnStop, req.vcpus, req.memoryMiB);
        const c = record.client;
        await c.putMachineConfig({
          vcpu_count: req.vcpus,
          mem_size_mib: req.memoryMiB,
          smt: false,
          track_dirty_pages: this.snapshotType === "Diff",
        });
        await c.putBootSource({
          kernel_image_path: IN_JAIL.kernel,
          boot_args: buildBootArgs(this.bootArgsBase, req.network, req.instanceId),
        });
        await c.putDrive({ drive_id: "rootfs", path_on_host: IN_JAIL.rootfs, is_root_device: true, is_read_only: true });
        await c.putDrive({ drive_id: "rw", path_on_host: IN_JAIL.writableLayer, is_root_device: false, is_read_only: false });
        if (req.network !== undefined) {
          await c.putNetworkInterface({ iface_id: IFACE_ID, host_dev_name: req.network.tapName, guest_mac: req.network.guestMac });
        }
        await c.instanceStart();
        return record.handle;
      } catch (e) {
        await this.teardown(req.instanceId, record, removeOnStop);
        throw e instanceof SandboxError ? e : SandboxError.withContext(e, `Firecracker boot of instance ${req.instanceId} failed`);
      }
    });
  }

  async restore(req: RestoreRequest, timer: StageTimer): Promise<SandboxHandle> {
    checkRequest(req);
    this.checkNotRunning(req.instanceId);
    const snapDir = resolve(req.snapshotDir);
    const meta = await readSnapshotMeta(snapDir).catch((e: unknown) => {
      throw new SandboxStateError(errorMessage(e), { cause: e });
    });
    for (const f of [SNAPSHOT_FILES.vmstate, SNAPSHOT_FILES.memory, SNAPSHOT_FILES.rootfs, SNAPSHOT_FILES.writableLayer]) {
      await stat(join(snapDir, f)).catch(() => {
        throw new SandboxStateError(`snapshot ${snapDir} lacks ${f}`);
      });
    }
    const overrides = networkOverrides(meta, req.network);
    if (req.memory.kind === "uffd" && this.opts.uffd === undefined) {
      throw new SandboxStateError("restore with memory.kind 'uffd' needs the driver option `uffd` (a page-fault handler launcher)");
    }
    let record: VmRecord | undefined;
    let removeOnStop: string | undefined;
    try {
      await timer.time("LoadVMM", async () => {
        const jail = await this.prepareJail(req.instanceId);
        removeOnStop = jail.removeOnStop;
        const root = jail.root;
        await this.shareReadOnly(join(snapDir, SNAPSHOT_FILES.rootfs), join(root, IN_JAIL.rootfs));
        await cloneDiskImage(join(snapDir, SNAPSHOT_FILES.writableLayer), join(root, IN_JAIL.writableLayer));
        await mkdir(join(root, IN_JAIL.snapshotDir));
        await this.shareReadOnly(join(snapDir, SNAPSHOT_FILES.vmstate), join(root, IN_JAIL.vmstate));
        if (req.memory.kind === "file") await this.shareReadOnly(join(snapDir, SNAPSHOT_FILES.memory), join(root, IN_JAIL.memory));
        await this.handOver(root, [IN_JAIL.writableLayer, IN_JAIL.snapshotDir]);
        record = await this.startVmm(req, root, jail.removeOnStop, meta.vcpus, meta.memoryMiB);
        // Only a running VMM says its version; check before loading anything into it.
        const problems = snapshotLoadProblems(meta, {
          firecrackerVersion: record.firecrackerVersion,
          hostCpu: await describeHostCpu(),
          vcpus: req.vcpus,
          memoryMiB: req.memoryMiB,
        });
        if (problems.length > 0) throw new SandboxStateError(`snapshot ${snapDir} cannot be loaded here: ${problems.join("; ")}`);
        let backendPath: string = IN_JAIL.memory;
        if (req.memory.kind === "uffd") {
          const uffdSocket = IN_JAIL.uffdSocket;
          record.uffd = await this.opts.uffd!.start({
            instanceId: req.instanceId,
            memoryFile: join(snapDir, SNAPSHOT_FILES.memory),
            socketPath: join(root, uffdSocket),
            mode: req.memory.mode,
            workingSetPath: req.memory.workingSetPath,
            ...(req.memory.snapshotId !== undefined ? { snapshotId: req.memory.snapshotId } : {}),
            vmmPid: record.handle.pid,
            timer,
          });
          watchUffdHandler(record);
          // Connecting to a Unix socket needs write permission on it: the jailed VMM must own it.
          await this.handOver(root, [uffdSocket]);
          backendPath = uffdSocket;
        }
        const loading = record.client.loadSnapshot({
          snapshot_path: IN_JAIL.vmstate,
          mem_backend: { backend_type: req.memory.kind === "uffd" ? "Uffd" : "File", backend_path: backendPath },
          track_dirty_pages: this.snapshotType === "Diff",
          resume_vm: false,
          ...(overrides.length > 0 ? { network_overrides: overrides } : {}),
        });
        await loading.catch(async (e: Error) => {
          // A failing handler kills the VMM mid-request; its own reason says more than a hang-up.
          const handlerFailure = await handlerFailureWithin(record!.uffd, 500);
          throw handlerFailure === undefined ? e : new SandboxExitedError(`${handlerFailure.message} (snapshot/load: ${e.message})`, { cause: e });
        });
        // The handler has the regions and the uffd only after the load; it must serve before resume.
        if (record.uffd !== undefined) await record.uffd.ready;
      });
      const live = record!;
      await timer.time("FcResume", () =>
        live.client.patchVm({ state: "Resumed" }).catch(async (e: Error) => {
          const handlerFailure = await handlerFailureWithin(live.uffd, 500);
          throw handlerFailure === undefined ? e : new SandboxExitedError(`${handlerFailure.message} (resume: ${e.message})`, { cause: e });
        }),
      );
      // A handler gone before the vCPUs ran leaves a VM that hangs on its first fault: not a restore.
      if (live.handlerLost !== undefined)
        throw new SandboxExitedError(`the page-fault handler ended as the VM resumed (${live.handlerLost}); the VMM was killed`);
      live.baseMemory = { file: join(snapDir, SNAPSHOT_FILES.memory), snapshotDir: snapDir };
      return live.handle;
    } catch (e) {
      await this.teardown(req.instanceId, record, removeOnStop);
      throw e instanceof SandboxError ? e : SandboxError.withContext(e, `Firecracker restore of instance ${req.instanceId} failed`);
    }
  }

  /**
   * Tells the page-fault handler of a REAP restore that the first invocation is done (record: the
   * working set is written; prefetch: unique pages are counted). No-op for File restores.
   */
  async firstInvocationDone(h: SandboxHandle): Promise<unknown> {
    return this.record(h).uffd?.finishFirstInvocation();
  }

  async pause(h: SandboxHandle): Promise<void> {
    await this.record(h).client.patchVm({ state: "Paused" });
  }

  async resume(h: SandboxHandle): Promise<void> {
    await this.record(h).client.patchVm({ state: "Resumed" });
  }

  snapshot(h: SandboxHandle, dir: string): Promise<SnapshotFiles> {
    return this.snapshotOfType(h, dir, this.snapshotType);
  }

  /**
   * Writes a snapshot of a paused VM into `dir`. A Diff is written on top of a copy of the memory
   * this VM was restored from (or last snapshotted to): Firecracker writes the dirty pages in place
   * into an existing memory file, so `dir` still holds a complete, loadable memory image.
   */
  async snapshotOfType(h: SandboxHandle, dir: string, type: SnapshotType): Promise<SnapshotFiles> {
    const r = this.record(h);
    if (type === "Diff" && this.snapshotType !== "Diff") {
      throw new SandboxStateError("Diff snapshots need the driver option snapshotType: 'Diff' (it turns on dirty-page tracking at boot and load)");
    }
    const target = resolve(dir);
    const inJail = join(r.root, IN_JAIL.snapshotDir);
    await rm(inJail, { recursive: true, force: true });
    await mkdir(inJail);
    await this.handOver(r.root, [IN_JAIL.snapshotDir]);
    if (type === "Diff" && r.baseMemory !== undefined) {
      await cloneDiskImage(r.baseMemory.file, join(r.root, IN_JAIL.memory));
      await this.handOver(r.root, [IN_JAIL.memory]);
    }
    await r.client.createSnapshot({ snapshot_path: IN_JAIL.vmstate, mem_file_path: IN_JAIL.memory, snapshot_type: type });
    await moveFile(join(r.root, IN_JAIL.vmstate), join(target, SNAPSHOT_FILES.vmstate));
    await moveFile(join(r.root, IN_JAIL.memory), join(target, SNAPSHOT_FILES.memory));
    // Written by the jailed VMM as uid/gid: take them back before any other jail links them.
    await this.takeBack([join(target, SNAPSHOT_FILES.vmstate), join(target, SNAPSHOT_FILES.memory)]);
    // The disk as it is at the pause, so clones see the files the snapshotted memory refers to.
    // The read-only image is linked (it never changes); only the small writable layer is copied.
    await rm(join(target, SNAPSHOT_FILES.rootfs), { force: true });
    await linkOrCopy(join(r.root, IN_JAIL.rootfs), join(target, SNAPSHOT_FILES.rootfs));
    await cloneDiskImage(join(r.root, IN_JAIL.writableLayer), join(target, SNAPSHOT_FILES.writableLayer));
    const meta: FirecrackerSnapshotMeta = {
      format: 1,
      snapshotType: type,
      firecrackerVersion: r.firecrackerVersion,
      hostCpu: await describeHostCpu(),
      vcpus: r.vcpus,
      memoryMiB: r.memoryMiB,
      ...(r.network === undefined
        ? {}
        : { network: { ifaceId: IFACE_ID, tapName: r.network.tapName, guestIp: r.network.guestIp, guestMac: r.network.guestMac } }),
      ...(type === "Diff" && r.baseMemory !== undefined ? { baseSnapshotDir: r.baseMemory.snapshotDir } : {}),
      createdAt: new Date().toISOString(),
    };
    await writeSnapshotMeta(target, meta);
    r.baseMemory = { file: join(target, SNAPSHOT_FILES.memory), snapshotDir: target };
    return { files: [SNAPSHOT_FILES.vmstate, SNAPSHOT_FILES.memory, SNAPSHOT_FILES.rootfs, SNAPSHOT_FILES.writableLayer, SNAPSHOT_FILES.meta] };
  }

  async stop(h: SandboxHandle): Promise<void> {
    const r = this.vms.get(h.instanceId);
    if (r === undefined) return;
    await this.teardown(h.instanceId, r, r.removeOnStop);
  }

  /**
   * Removes what an earlier driver with the same directories left for `instanceId` (a daemon that
   * crashed or restarted): kills its VMM if that process still runs this VM, deletes its VM
   * directory or jail. The orchestrator calls it for instances it adopted after a restart.
   */
  async reclaim(instanceId: string): Promise<void> {
    checkInstanceId(instanceId);
    if (this.vms.has(instanceId)) throw new SandboxStateError(`instance ${instanceId} runs under this driver: stop it instead of reclaiming it`);
    await this.reclaimVmDir(vmName(instanceId));
  }

  /**
   * Removes every VM an earlier driver with the same directories left behind (see reclaim()).
   * Returns the instance ids reclaimed. Call it before booting anything.
   */
  async reclaimStale(): Promise<string[]> {
    const parent = this.vmsDir();
    const entries = await readdir(parent).catch(() => [] as string[]);
    const running = new Set([...this.vms.keys()].map(vmName));
    const reclaimed: string[] = [];
    for (const name of entries) {
      if (running.has(name)) continue;
      const id = (await readFile(join(parent, name, INSTANCE_ID_FILE), "utf8").catch(() => name)).trim();
      await this.reclaimVmDir(name);
      reclaimed.push(id);
    }
    return reclaimed;
  }

  private async reclaimVmDir(name: string): Promise<void> {
    const home = join(this.vmsDir(), name);
    const pid = Number((await readFile(join(home, VMM_PID_FILE), "utf8").catch(() => "")).trim());
    if (Number.isInteger(pid) && pid > 0) {
      const cmdline = await readProcFile(`/proc/${pid}/cmdline`).catch(() => "");
      // Only a process that is still this VM's VMM (pids get reused): its command line has --id <name>.
      if (cmdline.split("\0").includes(name)) {
        process.kill(pid, "SIGKILL");
        for (
          let i = 0;
          i < 200 &&
          (await stat(`/proc/${pid}`).then(
            () => true,
            () => false,
          ));
          i++
        )
          await new Promise((ok) => setTimeout(ok, 10));
      }
    }
    await rm(home, { recursive: true, force: true });
  }

  /** Stops every VM this driver runs (vHive's StopVMs), without stopping anything else. */
  async stopAll(): Promise<void> {
    await Promise.all([...this.vms.values()].map((r) => this.teardown(r.handle.instanceId, r, r.removeOnStop)));
  }

  async stats(h: SandboxHandle): Promise<SandboxStats> {
    const pid = this.record(h).handle.pid;
    if (pid === undefined) throw new SandboxStateError(`instance ${h.instanceId} has no VMM process`);
    const status = await readProcFile(`/proc/${pid}/status`);
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? "0");
    // /proc/<pid>/stat: utime and stime are fields 14 and 15, in USER_HZ (100 on Linux) ticks.
    const statLine = await readProcFile(`/proc/${pid}/stat`);
    const fields = statLine.slice(statLine.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    return { rssBytes: rssKb * 1024, cpuMicros: ticks * 10_000 };
  }

  private record(h: SandboxHandle): VmRecord {
    const r = this.vms.get(h.instanceId);
    if (r === undefined) throw new SandboxNotFoundError(`no running Firecracker instance ${h.instanceId}`);
    return r;
  }

  private checkNotRunning(instanceId: string): void {
    if (this.vms.has(instanceId)) throw new SandboxStateError(`instance ${instanceId} is already running`);
  }

  private async prepareJail(instanceId: string): Promise<{ root: string; removeOnStop: string }> {
    this.checkNotRunning(instanceId);
    const root = jailRoot(this.mode, resolve(this.opts.runDir), vmName(instanceId), this.opts.firecrackerBin);
    const removeOnStop = this.vmHome(instanceId);
    try {
      await stat(removeOnStop);
      throw new SandboxStateError(`jail ${removeOnStop} for instance ${instanceId} already exists (a previous VM was not cleaned up?)`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    await mkdir(root, { recursive: true });
    await writeFile(join(removeOnStop, INSTANCE_ID_FILE), `${instanceId}\n`);
    // Firecracker creates its API socket and snapshot files in the jail's root.
    await this.handOver(root, ["."]);
    return { root, removeOnStop };
  }

  /** The directory holding everything of one VM: direct mode its root, jailer mode the jail above it. */
  private vmHome(instanceId: string): string {
    return join(this.vmsDir(), vmName(instanceId));
  }

  private vmsDir(): string {
    return vmsDir(this.mode, resolve(this.opts.runDir), this.opts.firecrackerBin);
  }

  /**
   * Gives the VM read-only use of a file every VM shares (kernel, a snapshot's vmstate and memory).
   * A hard link shares the inode, so the file itself must be ours and writable by nobody else: it
   * is never handed to the jail's uid. A file that is not (another owner, group- or world-writable,
   * unreadable to the jail) is copied instead, the copy read-only and still ours.
   */
  private async shareReadOnly(source: string, target: string): Promise<void> {
    if (this.mode.kind === "direct") return linkOrCopy(source, target);
    const st = await stat(source);
    const ours = st.uid === process.getuid?.();
    const safe = ours && (st.mode & 0o022) === 0 && (st.mode & 0o004) !== 0;
    if (safe) return linkOrCopy(source, target);
    await copyFile(source, target);
    await chmod(target, 0o444);
  }

  /** Makes files a jailed VMM wrote ours and read-only to everyone else (jailer mode). */
  private async takeBack(files: string[]): Promise<void> {
    if (this.mode.kind !== "jailer") return;
    for (const f of files) {
      await chown(f, process.getuid?.() ?? 0, process.getgid?.() ?? 0);
      await chmod(f, 0o644);
    }
  }

  /** Under the jailer Firecracker runs as uid/gid and must own what it writes. */
  private async handOver(root: string, names: string[]): Promise<void> {
    if (this.mode.kind !== "jailer") return;
    for (const n of names) await chown(join(root, n), this.mode.uid, this.mode.gid);
  }

  private async startVmm(req: BootRequest, root: string, home: string, vcpus: number, memoryMiB: number): Promise<VmRecord> {
    const cmd = buildVmmCommand({
      mode: this.mode,
      firecrackerBin: resolve(this.opts.firecrackerBin),
      instanceId: vmName(req.instanceId),
      root,
      netns: req.network?.netns,
    });
    const logPath = join(home, "firecracker.log");
    const log = await open(logPath, "a");
    const child = spawn(cmd.file, cmd.args, { cwd: cmd.cwd, stdio: ["ignore", log.fd, log.fd] });
    await log.close();
    // Lets a later driver (after a daemon crash) find and stop this VMM: see reclaimStale().
    if (child.pid !== undefined) await writeFile(join(home, VMM_PID_FILE), `${child.pid}\n`);
    const exited = new Promise<SandboxExit>((ok) => {
      child.once("exit", (code, signal) => ok({ code, signal }));
      child.once("error", () => ok({ code: null, signal: null }));
    });
    if (req.network === undefined) throw new SandboxRequestError(`instance ${req.instanceId}: no network slot`);
    const endpoint: FunctionEndpoint = { kind: "tcp", host: req.network.cloneIp, port: req.port };
    const record: VmRecord = {
      handle: new FirecrackerSandbox(req.instanceId, endpoint, child.pid, exited),
      child,
      client: new FirecrackerApiClient(join(root, IN_JAIL.apiSocket)),
      root,
      removeOnStop: home,
      vcpus,
      memoryMiB,
      network: req.network,
      firecrackerVersion: "unknown",
      stopping: false,
    };
    this.vms.set(req.instanceId, record);
    try {
      await waitForApi(record, exited, logPath, this.opts.apiStartTimeoutMs ?? 10_000);
      record.firecrackerVersion = (await record.client.version()).firecracker_version;
    } catch (e) {
      // The caller never sees this record: stop the process here (the caller deletes the jail).
      await this.teardown(req.instanceId, record, undefined);
      throw e;
    }
    return record;
  }

  /** Kills the VMM, stops its page-fault handler and deletes its jail; safe on partial state. */
  private async teardown(instanceId: string, r: VmRecord | undefined, removeOnStop: string | undefined): Promise<void> {
    if (r !== undefined) {
      r.stopping = true;
      await killAndWait(r.child, r.handle.exited);
      if (r.uffd !== undefined) await r.uffd.stop().catch(() => undefined);
      // Only our own record: a failed duplicate must not forget the VM already running under that id.
      if (this.vms.get(instanceId) === r) this.vms.delete(instanceId);
    }
    if (removeOnStop !== undefined) await rm(removeOnStop, { recursive: true, force: true });
  }
}

function checkRequest(req: BootRequest): void {
  checkInstanceId(req.instanceId);
  if (!Number.isInteger(req.vcpus) || req.vcpus < 1 || req.vcpus > 32) throw new SandboxRequestError(`vcpus must be an integer in 1..32, got ${req.vcpus}`);
  if (!Number.isInteger(req.memoryMiB) || req.memoryMiB < 1) throw new SandboxRequestError(`memoryMiB must be a positive integer, got ${req.memoryMiB}`);
  if (req.network === undefined)
    throw new SandboxRequestError(`instance ${req.instanceId}: Firecracker VMs need a network slot (BootRequest.network) to be reachable`);
}

/** Same guest address and MAC are required; a different tap name is handled with network_overrides. */
function networkOverrides(meta: FirecrackerSnapshotMeta, slot: NetworkSlot | undefined): { iface_id: string; host_dev_name: string }[] {
  if (meta.network === undefined || slot === undefined) return [];
  if (meta.network.guestIp !== slot.guestIp || meta.network.guestMac.toLowerCase() !== slot.guestMac.toLowerCase()) {
    throw new SandboxStateError(
      `snapshot guest network ${meta.network.guestIp}/${meta.network.guestMac} differs from slot ${slot.index} (${slot.guestIp}/${slot.guestMac}); the restored guest would keep the old address`,
    );
  }
  return meta.network.tapName === slot.tapName ? [] : [{ iface_id: meta.network.ifaceId, host_dev_name: slot.tapName }];
}

async function handlerFailureWithin(session: UffdHandlerSession | undefined, ms: number): Promise<Error | undefined> {
  if (session === undefined) return undefined;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((ok) => (timer = setTimeout(() => ok(undefined), ms)));
  // Before the handshake the failure rejects `ready`; after it (a working set that fails its checksum
  // while it streams in) the handler ends with a reason instead: either one explains the hang-up.
  const beforeServing = session.ready.then(
    () => new Promise<undefined>(() => undefined),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  const whileServing = session.exited.then(
    (x) =>
      !x.ok
        ? new Error(`the page-fault handler failed: ${x.reason ?? "no reason given"}`)
        : x.reason === HANDLER_SAW_VMM_EXIT
          ? new Promise<undefined>(() => undefined)
          : new Error(`the page-fault handler ended while its VMM was up (${x.reason ?? "no reason given"}); the VMM was killed`),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  const result = await Promise.race([beforeServing, whileServing, timeout]);
  clearTimeout(timer);
  return result;
}

/** The reason a handler gives when it ended because the VMM exited (the only harmless end). */
const HANDLER_SAW_VMM_EXIT = "vmm-exited";

/**
 * Whenever the handler ends while the VM runs — failed, closed, or its thread gone — nothing answers
 * the guest's page faults any more: Firecracker keeps its own userfaultfd open, so its vCPUs would
 * wait on them forever. The VMM is killed; its exit then ends the instance.
 */
function watchUffdHandler(r: VmRecord): void {
  const lost = (reason: string): void => {
    if (r.stopping || r.child.exitCode !== null || r.child.signalCode !== null) return;
    r.handlerLost = reason;
    r.child.kill("SIGKILL");
  };
  r.uffd?.exited
    .then((result) => {
      if (!result.ok) lost(`failed: ${result.reason ?? "no reason given"}`);
      else if (result.reason !== HANDLER_SAW_VMM_EXIT) lost(result.reason ?? "ended");
    })
    .catch((e: unknown) => lost(errorMessage(e)));
}

async function waitForApi(r: VmRecord, exited: Promise<unknown>, logPath: string, timeoutMs: number): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone || r.child.exitCode !== null || r.child.signalCode !== null)
      throw new SandboxExitedError(`Firecracker for ${r.handle.instanceId} exited before opening its API socket: ${await tail(logPath)}`);
    try {
      await r.client.describeInstance();
      return;
    } catch {
      if (Date.now() > deadline)
        throw new SandboxTimeoutError(
          `Firecracker for ${r.handle.instanceId} did not open ${r.client.socketPath} within ${timeoutMs} ms: ${await tail(logPath)}`,
        );
      await new Promise((ok) => setTimeout(ok, 5));
    }
  }
}

async function tail(path: string): Promise<string> {
  const text = await readFile(path, "utf8").catch(() => "");
  return text.trim().split("\n").slice(-5).join(" | ") || "(no output)";
}

async function killAndWait(child: ChildProcess, exited: Promise<unknown>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 2_000);
  await exited;
  clearTimeout(timer);
}

async function linkOrCopy(source: string, target: string): Promise<void> {
  try {
    await link(source, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV" && (e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    await copyFile(source, target);
  }
}

async function moveFile(source: string, target: string): Promise<void> {
  try {
    await rename(source, target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EXDEV") throw e;
    await cloneDiskImage(source, target);
    await rm(source);
  }
}
