import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { promisify } from "node:util";
import { join } from "node:path";
import { useRuntimes } from "../fixtures/upstream-runtimes.js";
import { buildPauseImage } from "./pause-image.js";

const run = promisify(execFile);

// A containerd of its own for each test file (root, state and socket under a unique prefix), with
// the CRI plugin set up as this machine needs it: restrict_oom_score_adj (root lacks
// CAP_SYS_RESOURCE here), a locally built pause image (no registry is reachable), host-network pods.
// containerd and runc are the upstream builds by default, Debian's with VHIVE_RUNTIMES=debian
// (tests/fixtures/upstream-runtimes.ts); containerd 2.x reads this version-2 config by migrating it.

export const PAUSE_REF = "localhost/vhcri/pause:1";

/** What a test adds to the CRI plugin's setup: CNI plugins (pods on the network in `root`/cni) and registry hosts. */
export interface PrivateContainerdOptions {
  /** Directory of CNI plugin binaries; conf_dir stays `root`/cni, for the test to fill. */
  cniBinDir?: string;
  /** containerd's registry config_path: one directory per registry host holding a hosts.toml. */
  registryConfigPath?: string;
}

export class PrivateContainerd {
  readonly root: string;
  readonly state: string;
  readonly socket: string;
  private proc: ChildProcess | undefined;
  private readonly config: string;

  constructor(
    readonly id: string,
    private readonly options: PrivateContainerdOptions = {},
  ) {
    this.root = `/var/lib/vhcri-${id}`;
    this.state = `/run/vhcri-${id}`;
    this.socket = `${this.state}/containerd.sock`;
    this.config = `${this.root}.toml`;
  }

  async start(): Promise<void> {
    const unavailable = useRuntimes("containerd", "runc");
    if (unavailable) throw new Error(`containerd ${this.id}: ${unavailable}`);
    await mkdir(this.root, { recursive: true });
    await writeFile(
      this.config,
      [
        "version = 2",
        `root = "${this.root}"`,
        `state = "${this.state}"`,
        "[grpc]",
        `  address = "${this.socket}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        "  restrict_oom_score_adj = true",
        `  sandbox_image = "${PAUSE_REF}"`,
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        `    conf_dir = "${this.root}/cni"`,
        ...(this.options.cniBinDir ? [`    bin_dir = ${JSON.stringify(this.options.cniBinDir)}`] : []),
        ...(this.options.registryConfigPath
          ? ['  [plugins."io.containerd.grpc.v1.cri".registry]', `    config_path = ${JSON.stringify(this.options.registryConfigPath)}`]
          : []),
        "",
      ].join("\n"),
    );
    await this.launch();
    await this.ctr("images", "import", "--base-name", PAUSE_REF.replace(/:1$/, ""), await buildPauseImage());
  }

  /** Starts the daemon (again, after `kill`), and waits for its socket to answer. */
  async launch(): Promise<void> {
    this.proc = spawn("containerd", ["--config", this.config], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    this.proc.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (existsSync(this.socket)) {
        try {
          await this.ctr("version");
          return;
        } catch {
          /* not serving yet */
        }
      }
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`containerd ${this.id} did not come up:\n${log}`);
  }

  ctr(...args: string[]): Promise<{ stdout: string }> {
    return run("ctr", ["--address", this.socket, "-n", "k8s.io", ...args]);
  }

  /** Stops the daemon only; shims and containers keep running, as on a real restart. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (p === undefined || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once("exit", r));
    p.kill("SIGTERM");
    await exited;
  }

  /** Removes the daemon and everything it left: pods, shims, mounts, directories. */
  async destroy(): Promise<void> {
    try {
      const { stdout } = await this.ctr("tasks", "ls", "-q");
      for (const t of stdout.split("\n").filter(Boolean)) await this.ctr("tasks", "kill", "-s", "SIGKILL", t).catch(() => undefined);
    } catch {
      /* daemon already gone */
    }
    await this.kill();
    for (const pid of await shimPids(this.state)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
    const mounts = (await readFile("/proc/mounts", "utf8"))
      .split("\n")
      .map((l) => l.split(" ")[1] ?? "")
      .filter((m) => m.startsWith(this.root) || m.startsWith(this.state))
      .sort()
      .reverse();
    for (const m of mounts) await run("umount", ["-l", m]).catch(() => undefined);
    await rm(this.root, { recursive: true, force: true });
    await rm(this.state, { recursive: true, force: true });
    await rm(this.config, { force: true });
  }
}

/** containerd-shim processes serving this daemon (they carry its socket address on their command line). */
export async function shimPids(state: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = (await readFile(join("/proc", entry, "cmdline"), "utf8")).split("\0");
      if (cmd[0]?.includes("containerd-shim") && cmd.some((a) => a.startsWith(state))) pids.push(Number(entry));
    } catch {
      /* exited meanwhile */
    }
  }
  return pids;
}
