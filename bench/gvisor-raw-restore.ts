// The peer of the gVisor restore in bench/coldstart.ts: the same checkpoint restored by runsc alone,
// with the flags the driver uses, into a bundle made ready beforehand (not timed). What the node
// runtime adds on top of this (bundle, reaper, readiness, gRPC connect, snapshot lease) is its
// overhead. The bundle is built the way the driver builds it (same spec input), since runsc
// restores a checkpoint only into a spec that matches the one it was taken with.
import { chmod, chown, mkdir, open, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { RuntimeConfig } from "../node-runtime/config/runtime-config.js";
import type { ImageStore } from "../node-runtime/images/types.js";
import { FunctionClient } from "../node-runtime/orchestrator/function-client.js";
import { resolveImageUser } from "../node-runtime/sandbox/gvisor/image-user.js";
import { mountInstanceRootfs, unmountInstanceRootfs } from "../node-runtime/sandbox/gvisor/instance-rootfs.js";
import { buildSandboxSpec, SOCKET_NAME } from "../node-runtime/sandbox/gvisor/oci-spec.js";
import { ensureRelayBinary } from "../node-runtime/sandbox/gvisor/relay-binary.js";
import { RunscCli } from "../node-runtime/sandbox/gvisor/runsc-cli.js";
import { findGoferPids, isAlive } from "../node-runtime/sandbox/gvisor/sandbox-processes.js";
import { waitForSocket } from "../node-runtime/sandbox/gvisor/unix-socket-wait.js";

export interface RawRestoreSample {
  /** `runsc restore --detach` from spawn to exit: the sandbox runs, pages may still be loading. */
  restoreMs: number;
  /** restore, the relay's socket accepting, and one SayHello answered: the peer of our start + invoke. */
  firstAnswerMs: number;
}

export interface RawRestoreInput {
  config: RuntimeConfig;
  images: ImageStore;
  imageDigest: string;
  port: number;
  /** Scratch directory of the peer (its runsc root and bundles); removed by `dispose`. */
  workDir: string;
}

/** Restores one checkpoint with runsc alone, as many times as asked, each into a fresh bundle. */
export class RawRunscRestorer {
  private readonly cli: RunscCli;
  private n = 0;

  constructor(private readonly input: RawRestoreInput) {
    if (input.config.gvisorNetwork !== "none")
      throw new Error('the raw runsc peer measures gvisorNetwork "none" only (a netns peer would need a namespace per restore)');
    // The driver's global flags and snapshot options ("auto": the measured ones).
    this.cli = new RunscCli({ binary: "runsc", root: path.join(input.workDir, "runsc"), platform: "auto", network: "none", snapshot: "auto" });
  }

  /** Builds a bundle as the driver does (mount, spec, socket directory); not part of the timing. */
  private async bundle(): Promise<{ id: string; dir: string; bundleDir: string; socketPath: string; pidFile: string }> {
    const id = `vhraw-${process.pid}-${this.n++}`;
    const dir = path.join(this.input.workDir, "instances", id);
    await mkdir(dir, { recursive: true });
    const record = await this.input.images.get(this.input.imageDigest);
    const lower = await this.input.images.rootfs(this.input.imageDigest);
    const user = await resolveImageUser(record.config.user, lower);
    const rootfs = await mountInstanceRootfs(lower, dir);
    const socketDir = path.join(dir, "sock");
    const spec = buildSandboxSpec({
      image: record.config,
      user,
      rootfs: rootfs.mountPoint,
      relayBinary: await ensureRelayBinary(path.join(this.input.config.dataDir, "gvisor-relay")),
      socketDir,
      port: this.input.port,
      driverEnv: { GRPC_POLL_STRATEGY: "poll" },
      vcpus: this.input.config.vcpus,
      memoryMiB: this.input.config.memoryMiB,
    });
    const bundleDir = path.join(dir, "bundle");
    await mkdir(bundleDir);
    await writeFile(path.join(bundleDir, "config.json"), JSON.stringify(spec, null, 2));
    await mkdir(socketDir, { mode: 0o700 });
    await chown(socketDir, user.uid, user.gid);
    await chmod(socketDir, 0o700);
    return { id, dir, bundleDir, socketPath: path.join(socketDir, SOCKET_NAME), pidFile: path.join(dir, "sandbox.pid") };
  }

  /** One restore of the checkpoint in `snapshotDir`, timed; the sandbox is removed afterwards. */
  async restoreOnce(snapshotDir: string): Promise<RawRestoreSample> {
    const b = await this.bundle();
    const logPath = path.join(b.dir, "runsc.log");
    const log = await open(logPath, "a");
    const flags = (await this.cli.snapshotFlags()).restore;
    // The first call reads runsc's version (for the platform and flags); not part of a restore.
    await this.cli.platform();
    let client: FunctionClient | undefined;
    try {
      const t0 = performance.now();
      await this.cli.run(["restore", "--detach", ...flags, `--image-path=${snapshotDir}`, `--bundle=${b.bundleDir}`, `--pid-file=${b.pidFile}`, b.id], {
        fd: log.fd,
        path: logPath,
      });
      const restoreMs = performance.now() - t0;
      await waitForSocket(b.socketPath, { timeoutMs: 10_000 });
      client = new FunctionClient({ kind: "unix", path: b.socketPath });
      await client.sayHello("raw", 10_000);
      const firstAnswerMs = performance.now() - t0;
      return { restoreMs, firstAnswerMs };
    } finally {
      client?.close();
      await log.close();
      const pids = [
        ...(await readFile(b.pidFile, "utf8").then(
          (t) => [Number(t.trim())],
          () => [],
        )),
        ...(await findGoferPids(b.bundleDir)),
      ];
      await this.cli.run(["delete", "--force", b.id]).catch(() => undefined);
      // As the driver's stop does: the next restore (ours or this peer's) must not share the CPU with
      // this sandbox's teardown, which goes on in the kernel after runsc delete returned.
      for (const pid of pids) {
        if (await isAlive(pid)) process.kill(pid, "SIGKILL");
        for (let i = 0; i < 250 && (await isAlive(pid)); i++) await sleep(20);
      }
      await unmountInstanceRootfs(b.dir);
      await rm(b.dir, { recursive: true, force: true });
    }
  }

  async dispose(): Promise<void> {
    await rm(this.input.workDir, { recursive: true, force: true });
  }
}
