// Plain runc containers through containerd's own gRPC API (containers, snapshots, tasks), one
// container per function instance. No snapshots: capabilities.snapshots is false and the
// orchestrator always boots (runc checkpointing needs CRIU, which fails on this kernel).
//
// Networking, two modes:
// - "host" (default): the container shares the host's network namespace and the function listens
//   on a free host port handed to it in $PORT (the Knative contract); endpoint 127.0.0.1:<port>.
//   BootRequest.port is not used, since two instances cannot share it in one namespace.
// - "netns": each instance gets its own network namespace joined to the host by a veth pair
//   (network/veth-networks.ts); the function listens on BootRequest.port (vHive's GUEST_PORT, also
//   passed as $PORT), endpoint <namespace address>:<port>. Works for images that ignore $PORT.
import { mkdir, readdir, readFile, rm, rmdir, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { constants as osConstants } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chainId } from "#node-runtime/images/chain-id.js";
import { ImageError } from "#node-runtime/images/errors.js";
import type { LocalImageStore } from "#node-runtime/images/image-store.js";
import { resolveImageUser } from "#node-runtime/images/image-user.js";
import { runCommand } from "#node-runtime/images/run-command.js";
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
import { SandboxError, SandboxNotFoundError, SandboxRequestError, SandboxStateError } from "../errors.js";
import { ContainerdClient, isNotFound, type ContainerRecord, type Mount } from "./client.js";
import { buildContainerSpec, mergeEnv } from "./runtime-spec.js";
import { VethNetworks, type VethNetwork, type VethNetworkOptions } from "#node-runtime/network/veth-networks.js";
import { readProcFile } from "#node-runtime/system/proc-file.js";

export interface ContainerdDriverOptions {
  /** containerd's gRPC socket, e.g. /run/containerd/containerd.sock. */
  address: string;
  /** containerd namespace holding this node's containers and images; default "vhive-node". */
  namespace?: string;
  images: LocalImageStore;
  /** Per-instance files (function stdout/stderr); default /run/vhive-node/containerd. */
  stateDir?: string;
  snapshotter?: string;
  runtime?: string;
  ctrPath?: string;
  /** Grace period between SIGTERM and SIGKILL on stop; default 5 s. */
  stopTimeoutMs?: number;
  /** How functions are reached; default host network with a port per instance. */
  network?: { mode: "host" } | ({ mode: "netns" } & Omit<VethNetworkOptions, "label">);
}

const SPEC_TYPE_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
const INSTANCE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/;

class ContainerdSandbox implements SandboxHandle {
  readonly kind = "containerd" as const;
  constructor(
    readonly instanceId: string,
    readonly endpoint: FunctionEndpoint,
    readonly pid: number | undefined,
    readonly exited: Promise<SandboxExit>,
    readonly containerId: string,
    readonly snapshotKey: string,
    readonly instanceDir: string,
    readonly logPath: string,
    readonly network: VethNetwork | undefined,
  ) {}
}

/** The network namespace path in a container's runtime spec, if it joins one. */
function networkNamespaceOf(container: ContainerRecord): string | undefined {
  try {
    const spec = JSON.parse(Buffer.from(container.spec.value).toString("utf8")) as { linux?: { namespaces?: { type: string; path?: string }[] } };
    return spec.linux?.namespaces?.find((n) => n.type === "network")?.path;
  } catch {
    return undefined;
  }
}

function exitOf(status: number): SandboxExit {
  // The shim reports a process killed by signal N as 128+N.
  if (status > 128 && status < 128 + 65) {
    const name = Object.entries(osConstants.signals).find(([, n]) => n === status - 128)?.[0];
    if (name) return { code: null, signal: name };
  }
  return { code: status, signal: null };
}

function freeHostPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "0.0.0.0", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let clockTicks: number | undefined;
async function clockTicksPerSecond(): Promise<number> {
  clockTicks ??= Number.parseInt((await runCommand("getconf", ["CLK_TCK"])).stdout.trim(), 10) || 100;
  return clockTicks;
}

export class ContainerdDriver implements SandboxDriver {
  readonly kind = "containerd" as const;
  readonly capabilities: DriverCapabilities = { snapshots: false, stopsOnSnapshot: false, needsNetwork: false };
  readonly client: ContainerdClient;
  private readonly snapshotter: string;
  private readonly runtime: string;
  private readonly stateDir: string;
  private readonly imports = new Map<string, Promise<{ name: string; chain: string }>>();
  private readonly networks: VethNetworks | undefined;

  constructor(private readonly options: ContainerdDriverOptions) {
    const network = options.network ?? { mode: "host" };
    this.networks = network.mode === "netns" ? new VethNetworks({ ...network, label: "containerd network" }) : undefined;
    this.client = new ContainerdClient(options.address, options.namespace ?? "vhive-node");
    this.snapshotter = options.snapshotter ?? "overlayfs";
    this.runtime = options.runtime ?? "io.containerd.runc.v2";
    this.stateDir = options.stateDir ?? "/run/vhive-node/containerd";
  }

  /** The name the image store's image gets inside containerd. */
  static imageName(digest: string): string {
    return `localhost/vhive-node/image:sha256-${digest.slice("sha256:".length)}`;
  }

  /** Makes sure containerd has the image unpacked; imports it from the store's OCI archive once. */
  async ensureImage(digest: string): Promise<{ name: string; chain: string }> {
    const record = await this.options.images.record(digest);
    if (!record) throw new ImageError("NOT_FOUND", `image ${digest} is not in the image store at ${this.options.images.root}; load or pull it first`);
    const name = ContainerdDriver.imageName(digest);
    const chain = chainId(record.diffIds);
    const present = await this.client.getImage(name).then(
      (r) => r.image.target.digest === digest,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    if (present && (await this.hasSnapshot(chain))) return { name, chain };
    let running = this.imports.get(digest);
    if (!running) {
      running = (async () => {
        const archive = await this.options.images.ociArchive(digest, name);
        await runCommand(this.options.ctrPath ?? "ctr", [
          "--address",
          this.options.address,
          "--namespace",
          this.client.namespace,
          "images",
          "import",
          "--snapshotter",
          this.snapshotter,
          archive,
        ]).catch((error: Error) => {
          throw new Error(`cannot import image ${digest} into containerd at ${this.options.address}: ${error.message}`);
        });
        if (!(await this.hasSnapshot(chain))) throw new Error(`containerd imported image ${digest} but has no unpacked snapshot ${chain}`);
        return { name, chain };
      })().finally(() => this.imports.delete(digest));
      this.imports.set(digest, running);
    }
    return running;
  }

  private hasSnapshot(key: string): Promise<boolean> {
    return this.client.statSnapshot(this.snapshotter, key).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
  }

  async boot(req: BootRequest, timer: StageTimer): Promise<SandboxHandle> {
    if (!INSTANCE_ID.test(req.instanceId)) throw new SandboxRequestError(`instanceId "${req.instanceId}" must be 1-76 letters, digits, '_', '.' or '-'`);
    if (!(req.vcpus > 0)) throw new SandboxRequestError(`vcpus must be positive (got ${req.vcpus})`);
    if (!(req.memoryMiB >= 16)) throw new SandboxRequestError(`memoryMiB must be at least 16 (got ${req.memoryMiB})`);
    if (this.networks && !(Number.isInteger(req.port) && req.port > 0 && req.port < 65536))
      throw new SandboxRequestError(`port must be a TCP port number (got ${req.port})`);
    const containerId = req.instanceId;
    const undo: (() => Promise<unknown>)[] = [];
    try {
      const { name, chain } = await timer.time("GetImage", () => this.ensureImage(req.imageDigest));
      const user = await resolveImageUser(req.image.user, () => this.options.images.rootfs(req.imageDigest));
      let network: VethNetwork | undefined;
      if (this.networks) {
        const networks = this.networks;
        network = await networks.acquire();
        const acquired = network;
        undo.push(() => networks.release(acquired));
      }
      const port = network ? req.port : await freeHostPort();
      const instanceDir = path.join(this.stateDir, containerId);
      await mkdir(this.stateDir, { recursive: true });
      await this.claimInstanceDir(containerId, instanceDir);
      undo.push(() => rm(instanceDir, { recursive: true, force: true }));
      const logPath = path.join(instanceDir, "function.log");

      const mounts = await timer.time("NewContainer", async () => {
        const spec = buildContainerSpec({
          hostname: containerId,
          args: [...req.image.entrypoint, ...req.image.cmd],
          env: mergeEnv(
            req.image.env,
            Object.entries(req.env ?? {}).map(([k, v]) => `${k}=${v}`),
            [`PORT=${port}`],
          ),
          cwd: req.image.workingDir,
          uid: user.uid,
          gid: user.gid,
          memoryMiB: req.memoryMiB,
          vcpus: req.vcpus,
          cgroupsPath: `/${this.client.namespace}/${containerId}`,
          hostNetwork: !network,
          ...(network ? { networkNamespacePath: network.netnsPath } : {}),
        });
        const prepared = await this.client.prepareSnapshot(this.snapshotter, containerId, chain, {
          "containerd.io/gc.root": new Date().toISOString(),
        });
        undo.push(() => this.client.removeSnapshot(this.snapshotter, containerId));
        await this.client.createContainer({
          id: containerId,
          labels: { "vhive.revision": req.revision, "vhive.instance": req.instanceId },
          image: name,
          runtime: { name: this.runtime, options: null },
          spec: { type_url: SPEC_TYPE_URL, value: Buffer.from(JSON.stringify(spec)) },
          snapshotter: this.snapshotter,
          snapshot_key: containerId,
        });
        undo.push(() => this.client.deleteContainer(containerId));
        return prepared.mounts;
      });

      const created = await timer.time("NewTask", () =>
        this.client.createTask({ container_id: containerId, rootfs: mounts as Mount[], stdout: `file://${logPath}`, stderr: `file://${logPath}` }),
      );
      undo.push(async () => {
        await this.client.killTask(containerId, osConstants.signals.SIGKILL, true).catch(() => undefined);
        await this.deleteTaskWhenStopped(containerId);
      });

      // Wait is registered before Start (as vHive does) so an immediate exit is not missed; the
      // stage times setting it up, the promise settles when the task exits.
      const { exited } = await timer.time("TaskWait", async () => ({
        exited: this.client.waitTask(containerId).then(
          (r) => exitOf(r.exit_status),
          (): SandboxExit => ({ code: null, signal: null }),
        ),
      }));
      await timer.time("TaskStart", () => this.client.startTask(containerId));
      const endpoint: FunctionEndpoint = { kind: "tcp", host: network ? network.containerIp : "127.0.0.1", port };
      return new ContainerdSandbox(req.instanceId, endpoint, created.pid, exited, containerId, containerId, instanceDir, logPath, network);
    } catch (error) {
      for (const step of undo.reverse()) await step().catch(() => undefined);
      throw error instanceof SandboxError ? error : SandboxError.withContext(error, `containerd boot of instance ${req.instanceId} failed`);
    }
  }

  /**
   * Creates the instance's directory. One that exists belongs to a live instance with the same id
   * (refused, and left alone) unless containerd has no such container, when it is a leftover of a
   * node that died, and is replaced.
   */
  private async claimInstanceDir(containerId: string, instanceDir: string): Promise<void> {
    try {
      await mkdir(instanceDir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const live = await this.client.getContainer(containerId).then(
      () => true,
      (error: unknown) => {
        if (isNotFound(error)) return false;
        throw error;
      },
    );
    if (live) throw new SandboxStateError(`instance ${containerId} already exists in containerd namespace ${this.client.namespace}`);
    await rm(instanceDir, { recursive: true, force: true });
    await mkdir(instanceDir);
  }

  private async deleteTaskWhenStopped(containerId: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.client.deleteTask(containerId);
        return;
      } catch (error) {
        if (isNotFound(error)) return;
        // Delete fails while the process is still being reaped.
        if (attempt >= 50) throw error;
        await sleep(100);
      }
    }
  }

  private handleOf(h: SandboxHandle): ContainerdSandbox {
    if (!(h instanceof ContainerdSandbox)) throw new SandboxNotFoundError(`sandbox ${h.instanceId} is a ${h.kind} sandbox, not one of this containerd driver`);
    return h;
  }

  restore(req: RestoreRequest, _timer: StageTimer): Promise<SandboxHandle> {
    return Promise.reject(
      new SandboxStateError(`containerd sandboxes have no snapshots (capabilities.snapshots is false); cannot restore ${req.instanceId}, boot it instead`),
    );
  }

  snapshot(h: SandboxHandle): Promise<SnapshotFiles> {
    return Promise.reject(new SandboxStateError(`containerd sandboxes have no snapshots (capabilities.snapshots is false); cannot snapshot ${h.instanceId}`));
  }

  async pause(h: SandboxHandle): Promise<void> {
    await this.client.pauseTask(this.handleOf(h).containerId);
  }

  async resume(h: SandboxHandle): Promise<void> {
    await this.client.resumeTask(this.handleOf(h).containerId);
  }

  async stop(h: SandboxHandle): Promise<void> {
    const sandbox = this.handleOf(h);
    const id = sandbox.containerId;
    const task = await this.client.getTask(id).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (task && task.process.status !== "STOPPED") {
      if (task.process.status === "PAUSED" || task.process.status === "PAUSING") await this.client.resumeTask(id).catch(() => undefined);
      await this.client.killTask(id, osConstants.signals.SIGTERM).catch((error: unknown) => {
        if (!isNotFound(error)) throw error;
      });
      const timeout = this.options.stopTimeoutMs ?? 5000;
      const stopped = await Promise.race([sandbox.exited.then(() => true), sleep(timeout).then(() => false)]);
      if (!stopped) {
        await this.client.killTask(id, osConstants.signals.SIGKILL, true).catch(() => undefined);
        await Promise.race([sandbox.exited, sleep(10_000)]);
      }
    }
    if (task) await this.deleteTaskWhenStopped(id);
    await this.client.deleteContainer(id).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    await this.client.removeSnapshot(this.snapshotter, sandbox.snapshotKey).catch((error: unknown) => {
      if (!isNotFound(error)) throw error;
    });
    if (sandbox.network) await this.networks?.release(sandbox.network);
    await rm(sandbox.instanceDir, { recursive: true, force: true });
  }

  /**
   * Removes what an earlier runtime process left for `instanceId` (the orchestrator calls it for
   * instances it adopted after a restart, whose handles this driver never made): the task (killed),
   * the container, its snapshot, its network namespace when this driver made one, its files.
   */
  async reclaim(instanceId: string): Promise<void> {
    if (!INSTANCE_ID.test(instanceId)) throw new SandboxRequestError(`instanceId "${instanceId}" is not one this driver makes`);
    const id = instanceId;
    const ignoreNotFound = (error: unknown) => {
      if (!isNotFound(error)) throw error;
    };
    const container = await this.client.getContainer(id).then(
      (r) => r.container,
      (error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      },
    );
    const task = await this.client.getTask(id).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    if (task) {
      if (task.process.status === "PAUSED" || task.process.status === "PAUSING") await this.client.resumeTask(id).catch(() => undefined);
      if (task.process.status !== "STOPPED") await this.client.killTask(id, osConstants.signals.SIGKILL, true).catch(ignoreNotFound);
      await this.deleteTaskWhenStopped(id);
    }
    if (container) {
      await this.client.deleteContainer(id).catch(ignoreNotFound);
      await this.client.removeSnapshot(container.snapshotter, container.snapshot_key).catch(ignoreNotFound);
      const netnsPath = networkNamespaceOf(container);
      if (netnsPath !== undefined) await this.networks?.releaseLeftover(netnsPath);
    }
    await rm(path.join(this.stateDir, id), { recursive: true, force: true });
  }

  async stats(h: SandboxHandle): Promise<SandboxStats> {
    const { processes } = await this.client.listPids(this.handleOf(h).containerId);
    const ticks = await clockTicksPerSecond();
    let rssBytes = 0;
    let cpuTicks = 0;
    for (const { pid } of processes) {
      const status = await readProcFile(`/proc/${pid}/status`).catch(() => "");
      const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
      if (rss?.[1]) rssBytes += Number(rss[1]) * 1024;
      const stat = await readProcFile(`/proc/${pid}/stat`).catch(() => "");
      // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpuTicks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
    }
    return { rssBytes, cpuMicros: Math.round((cpuTicks / ticks) * 1e6) };
  }

  /** The function's stdout and stderr so far (for diagnostics). */
  async logs(h: SandboxHandle): Promise<string> {
    return readFile(this.handleOf(h).logPath, "utf8").catch(() => "");
  }

  /** The cgroup directories runc made for `containerId` (cgroup v1: one per controller; v2: one). */
  async cgroupDirs(containerId?: string): Promise<string[]> {
    const tail = containerId ? path.join(this.client.namespace, containerId) : this.client.namespace;
    const roots = ["/sys/fs/cgroup", ...(await readdir("/sys/fs/cgroup").catch(() => [] as string[])).map((c) => path.join("/sys/fs/cgroup", c))];
    const found: string[] = [];
    for (const root of roots) {
      const dir = path.join(root, tail);
      if (
        await stat(dir).then(
          (s) => s.isDirectory(),
          () => false,
        )
      )
        found.push(dir);
    }
    return found;
  }

  /** Closes the connection and removes the namespace's parent cgroups if no container is left in them. */
  async close(): Promise<void> {
    this.client.close();
    for (const dir of await this.cgroupDirs()) await rmdir(dir).catch(() => undefined);
  }
}
