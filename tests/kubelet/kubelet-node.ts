import { execFile, execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { runtimeSource, upstreamBinDir, useRuntimes } from "../fixtures/upstream-runtimes.js";
import { CriTestClient } from "../cri/cri-test-client.js";
import { buildPauseImage } from "../cri/pause-image.js";
import { PAUSE_REF, shimPids } from "../cri/private-containerd.js";
import { unmetNeeds } from "../requirements.js";
import { CRI_SPEC } from "../upstream-specs.js";

const run = promisify(execFile);

// One Kubernetes node on this machine, for the kubelet tests and bench:cri: a real kubelet
// (standalone, static pods) whose runtime endpoint is the node runtime's CRI socket (`ours`), or
// containerd's directly (`containerd`, the baseline), with pods on a CNI bridge network of their
// own. Everything it starts lives under /var/lib/vhkl-<id> and /run/vhkl-<id>.
//
// What kubelet 1.35 needs on this machine (hybrid cgroups, v1 controllers; root without
// CAP_SYS_RESOURCE; PID 1 not systemd): failCgroupV1 false (1.35 refuses cgroup v1 by default),
// cgroupDriver cgroupfs, failSwapOn false, oomScoreAdj 0 (root cannot lower its own score),
// maxOpenFiles at the current hard limit (it cannot raise it), cgroupsPerQOS false with no node
// allocatable enforcement (no kubepods hierarchy left behind in the machine's cgroups), low
// eviction thresholds (a shared disk). It sets vm.overcommit_memory, kernel.panic and
// kernel.panic_on_oops: those are restored when the node is destroyed.

export const QUEUE_PROXY_PORT = 8012;
const FORWARDER = fileURLToPath(new URL("./queue-proxy-forwarder.py", import.meta.url));
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSX = path.join(REPO, "node_modules/.bin/tsx");
const MAIN = path.join(REPO, "node-runtime/cli/main.ts");
const KUBELET_SYSCTLS = ["vm.overcommit_memory", "kernel.panic", "kernel.panic_on_oops"];

export type NodeRuntimeKind = "ours" | "containerd";

/** The tool cache's directory of a built tool (no build started), or undefined. */
function cachedTool(tool: string, binary: string): string | undefined {
  const cache = process.env.VHIVE_TOOLS_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), ".cache"), "vhive-tools");
  if (!existsSync(cache)) return undefined;
  const entry = readdirSync(cache).find((e) => e.startsWith(`${tool}-`) && !e.endsWith(".partial") && existsSync(path.join(cache, e, "bin", binary)));
  return entry && path.join(cache, entry, "bin");
}

/**
 * Why a kubelet node cannot run here, or undefined. kubelet and the CNI plugins come from the tool
 * cache only (a Kubernetes build takes long: `bash scripts/tools/build.sh kubernetes cni-plugins`);
 * containerd, runc and runsc as the other integration tests take them (VHIVE_RUNTIMES).
 */
export function kubeletNodeUnavailable(): string | undefined {
  const unmet = unmetNeeds({ root: "kubelet, containerd and the CNI bridge", specs: [CRI_SPEC] });
  if (unmet.length > 0) return unmet.join("; ");
  if (!cachedTool("kubernetes", "kubelet")) return "kubelet is not in the tool cache (bash scripts/tools/build.sh kubernetes)";
  if (!cachedTool("cni-plugins", "bridge")) return "the CNI plugins are not in the tool cache (bash scripts/tools/build.sh cni-plugins)";
  for (const tool of ["kubernetes", "cni-plugins"] as const) {
    const found = upstreamBinDir(tool);
    if ("skip" in found) return found.skip;
  }
  const unavailable = useRuntimes("containerd", "runc", "runsc");
  if (unavailable) return unavailable;
  for (const [cmd, why] of [
    ["runsc", `${runtimeSource()} runsc is not installed`],
    ["cc", "no C compiler to build the gVisor relay"],
    ["umoci", "umoci (to pack the pause image) is not installed"],
  ] as const) {
    try {
      execFileSync(cmd, ["--version"], { stdio: "ignore" });
    } catch {
      return why;
    }
  }
  return undefined;
}

function binDir(tool: "kubernetes" | "cni-plugins"): string {
  const found = upstreamBinDir(tool);
  if ("skip" in found) throw new Error(found.skip);
  return found.dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes; the error names `what`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
    await sleep(everyMs);
  }
}

/** A daemon this node runs, with the tail of its output for error messages. */
class Daemon {
  private proc: ChildProcess | undefined;
  log = "";

  constructor(
    readonly name: string,
    private readonly logFile: string,
  ) {}

  start(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
    const proc = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env });
    this.proc = proc;
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-20_000);
      void writeFile(this.logFile, d, { flag: "a" }).catch(() => undefined);
    };
    proc.stdout?.on("data", keep);
    proc.stderr?.on("data", keep);
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by a signal). */
  async stop(signal: NodeJS.Signals = "SIGTERM", timeoutMs = 60_000): Promise<number | null> {
    const p = this.proc;
    if (p === undefined) return null;
    if (p.exitCode !== null || p.signalCode !== null) return p.exitCode;
    const exited = new Promise<number | null>((r) => p.once("exit", (code) => r(code)));
    p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  tail(lines = 30): string {
    return this.log.trim().split("\n").slice(-lines).join("\n");
  }
}

export interface PodSandbox {
  id: string;
  ip: string;
}

export interface ContainerInfo {
  id: string;
  state: string;
  attempt: number;
  exitCode: number;
  reason: string;
}

export class KubeletNode {
  readonly root: string;
  readonly state: string;
  readonly nodeName: string;
  readonly containerdSocket: string;
  readonly criSocket: string;
  readonly apiSocket: string;
  readonly manifests: string;
  readonly gvisorBaseDir: string;
  readonly criStateFile: string;
  readonly dataDir: string;
  private readonly bridge: string;
  /** Where function sandboxes' own namespaces get their addresses, and their names' prefix ("netns"). */
  readonly gvisorNetworkSubnet: string;
  readonly gvisorNetworkPrefix: string;
  readonly subnet: string;
  private readonly containerd: Daemon;
  private readonly nodeRuntime: Daemon;
  private readonly kubelet: Daemon;
  private savedSysctls: Record<string, string> = {};
  private netnsBefore = new Set<string>();
  img!: HelloworldImage;
  cri!: CriTestClient;
  direct!: CriTestClient;
  api: ApiClient | undefined;

  /**
   * `slot` (1-200) keeps bridges and subnets of nodes in one run apart. `gvisorNetwork` "netns" runs
   * every function sandbox in a network namespace of its own (on 10.248.<slot>.0/24, prefix vhkn<slot>).
   */
  constructor(
    readonly id: string,
    readonly runtime: NodeRuntimeKind,
    slot: number,
    readonly options: { gvisorNetwork?: "none" | "netns" } = {},
  ) {
    if (!/^[a-z0-9]{1,10}$/.test(id)) throw new Error(`kubelet node id ${JSON.stringify(id)}: 1-10 lowercase letters or digits`);
    if (!Number.isInteger(slot) || slot < 1 || slot > 200) throw new Error(`kubelet node slot ${slot}: an integer 1-200`);
    this.root = `/var/lib/vhkl-${id}`;
    this.state = `/run/vhkl-${id}`;
    this.nodeName = `vhkl-${id}`;
    this.containerdSocket = path.join(this.state, "containerd.sock");
    this.criSocket = runtime === "ours" ? path.join(this.state, "vhive-cri.sock") : this.containerdSocket;
    this.apiSocket = path.join(this.state, "node-runtime.sock");
    this.manifests = path.join(this.root, "manifests");
    this.gvisorBaseDir = path.join(this.state, "gvisor");
    this.criStateFile = path.join(this.root, "cri-state.json");
    this.dataDir = path.join(this.root, "node-runtime", "data");
    this.bridge = `vhkl${slot}`;
    this.gvisorNetworkSubnet = `10.248.${slot}.0/24`;
    this.gvisorNetworkPrefix = `vhkn${slot}`;
    this.subnet = `10.247.${slot}.0/24`;
    this.containerd = new Daemon("containerd", path.join(this.root, "containerd.log"));
    this.nodeRuntime = new Daemon("node runtime", path.join(this.root, "node-runtime.log"));
    this.kubelet = new Daemon("kubelet", path.join(this.root, "kubelet.log"));
  }

  async start(): Promise<void> {
    for (const s of KUBELET_SYSCTLS) this.savedSysctls[s] = (await readFile(`/proc/sys/${s.replaceAll(".", "/")}`, "utf8")).trim();
    this.netnsBefore = new Set(await netnsList());
    await mkdir(this.manifests, { recursive: true });
    await mkdir(this.state, { recursive: true });
    this.img = await ensureHelloworldImage();
    await this.startContainerd();
    if (this.runtime === "ours") await this.startNodeRuntime();
    this.cri = new CriTestClient(this.criSocket);
    this.direct = new CriTestClient(this.containerdSocket);
    await this.startKubelet();
  }

  private async startContainerd(): Promise<void> {
    const cniConf = path.join(this.root, "cni", "conf");
    await mkdir(cniConf, { recursive: true });
    await writeFile(
      path.join(cniConf, "10-vhkl.conflist"),
      JSON.stringify({
        cniVersion: "1.0.0",
        name: `vhkl-${this.id}`,
        plugins: [
          {
            type: "bridge",
            bridge: this.bridge,
            isGateway: true,
            ipMasq: false,
            ipam: { type: "host-local", ranges: [[{ subnet: this.subnet }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: path.join(this.root, "cni", "ipam") },
          },
          { type: "portmap", capabilities: { portMappings: true } },
        ],
      }),
    );
    const config = path.join(this.root, "containerd.toml");
    await writeFile(
      config,
      [
        "version = 2",
        `root = "${path.join(this.root, "containerd")}"`,
        `state = "${path.join(this.state, "containerd")}"`,
        "[grpc]",
        `  address = "${this.containerdSocket}"`,
        '[plugins."io.containerd.grpc.v1.cri"]',
        "  restrict_oom_score_adj = true",
        `  sandbox_image = "${PAUSE_REF}"`,
        '  [plugins."io.containerd.grpc.v1.cri".cni]',
        `    bin_dir = "${binDir("cni-plugins")}"`,
        `    conf_dir = "${cniConf}"`,
        "",
      ].join("\n"),
    );
    this.containerd.start("containerd", ["--config", config]);
    await waitFor(
      `containerd of kubelet node ${this.id}`,
      async () =>
        (await this.ctr("version").then(
          () => true,
          () => false,
        ))
          ? true
          : undefined,
      30_000,
    );
    await this.ctr("images", "import", "--base-name", PAUSE_REF.replace(/:1$/, ""), await buildPauseImage());
    await this.ctr("images", "import", "--base-name", this.img.ref.replace(/:[^:/]+$/, ""), this.img.tarball);
  }

  ctr(...args: string[]): Promise<{ stdout: string }> {
    return run("ctr", ["--address", this.containerdSocket, "-n", "k8s.io", ...args]);
  }

  /** `node-runtime serve` with its CRI front end, as the provisioner runs it (gVisor, snapshots on). */
  async startNodeRuntime(): Promise<void> {
    const config = path.join(this.root, "node-runtime.yaml");
    await writeFile(
      config,
      [
        `dataDir: ${JSON.stringify(this.dataDir)}`,
        `imageDir: ${JSON.stringify(path.join(this.root, "node-runtime", "images"))}`,
        `gvisorBaseDir: ${JSON.stringify(this.gvisorBaseDir)}`,
        `criSocket: ${JSON.stringify(this.criSocket)}`,
        `criUpstream: ${JSON.stringify(this.containerdSocket)}`,
        `criStateFile: ${JSON.stringify(this.criStateFile)}`,
        "snapshotMode: vanilla",
        "sandbox: gvisor",
        ...(this.options.gvisorNetwork === "netns"
          ? [
              "gvisorNetwork: netns",
              `gvisorNetworkSubnet: ${JSON.stringify(this.gvisorNetworkSubnet)}`,
              `gvisorNetworkPrefix: ${JSON.stringify(this.gvisorNetworkPrefix)}`,
            ]
          : []),
        "",
      ].join("\n"),
    );
    if (!existsSync(path.join(this.root, "node-runtime", "images"))) {
      await run(TSX, [MAIN, "image", "load", this.img.layoutDir, "--ref", this.img.ref, "--image-dir", path.join(this.root, "node-runtime", "images")]);
    }
    this.nodeRuntime.start(TSX, [MAIN, "serve", "--config", config, "--socket", this.apiSocket, "--log-level", "info"]);
    await waitFor(
      `the node runtime's CRI socket ${this.criSocket}`,
      async () => {
        if (!this.nodeRuntime.running) throw new Error(`node runtime exited:\n${this.nodeRuntime.tail()}`);
        return existsSync(this.criSocket) && existsSync(this.apiSocket) ? true : undefined;
      },
      60_000,
    );
    this.api = new ApiClient(`unix:${this.apiSocket}`, 60_000);
  }

  /** SIGTERM, as systemd stops the unit; returns the exit code. */
  async stopNodeRuntime(): Promise<number | null> {
    this.api?.close();
    this.api = undefined;
    return this.nodeRuntime.stop("SIGTERM", 120_000);
  }

  get nodeRuntimeLog(): string {
    return this.nodeRuntime.log;
  }

  async startKubelet(): Promise<void> {
    const [port, healthzPort] = [await freePort(), await freePort()];
    const hardNofile = Number(execFileSync("bash", ["-c", "ulimit -Hn"], { encoding: "utf8" }).trim());
    const config = path.join(this.root, "kubelet.yaml");
    const kubeletRoot = path.join(this.root, "kubelet");
    await writeFile(
      config,
      JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        staticPodPath: this.manifests,
        fileCheckFrequency: "1s",
        syncFrequency: "10s",
        containerRuntimeEndpoint: `unix://${this.criSocket}`,
        imageServiceEndpoint: `unix://${this.criSocket}`,
        cgroupDriver: "cgroupfs",
        failCgroupV1: false,
        failSwapOn: false,
        oomScoreAdj: 0,
        maxOpenFiles: Number.isFinite(hardNofile) ? hardNofile : 1_048_576,
        cgroupsPerQOS: false,
        enforceNodeAllocatable: [],
        evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%", "nodefs.inodesFree": "1%" },
        localStorageCapacityIsolation: false,
        podLogsDir: path.join(this.root, "pod-logs"),
        address: "127.0.0.1",
        port,
        readOnlyPort: 0,
        healthzBindAddress: "127.0.0.1",
        healthzPort,
        authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
        authorization: { mode: "AlwaysAllow" },
        volumePluginDir: path.join(kubeletRoot, "volume-plugins"),
        resolvConf: "",
      }),
    );
    this.kubelet.start(path.join(binDir("kubernetes"), "kubelet"), [
      `--config=${config}`,
      `--root-dir=${kubeletRoot}`,
      `--hostname-override=${this.nodeName}`,
      `--cert-dir=${path.join(kubeletRoot, "pki")}`,
      "--v=1",
    ]);
    await waitFor(
      `kubelet of node ${this.id} to be healthy`,
      async () => {
        if (!this.kubelet.running) throw new Error(`kubelet exited:\n${this.kubelet.tail()}`);
        const res = await fetch(`http://127.0.0.1:${healthzPort}/healthz`).catch(() => undefined);
        return res?.ok ? true : undefined;
      },
      120_000,
    );
  }

  async stopKubelet(): Promise<void> {
    await this.kubelet.stop("SIGTERM");
  }

  get kubeletLog(): string {
    return this.kubelet.log;
  }

  /** Writes a static pod manifest (JSON is YAML); kubelet picks it up at once. */
  async putPod(name: string, manifest: object): Promise<void> {
    const tmp = path.join(this.root, `.${name}.json`);
    await writeFile(tmp, JSON.stringify(manifest, null, 2));
    await run("mv", [tmp, path.join(this.manifests, `${name}.json`)]);
  }

  async deletePod(name: string): Promise<void> {
    await rm(path.join(this.manifests, `${name}.json`), { force: true });
  }

  /** A Knative-shaped pod: a stub `user-container` naming the function, and a queue-proxy stand-in. */
  knativePod(name: string, revision: string): object {
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default", labels: { "serving.knative.dev/revision": revision } },
      spec: {
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 2,
        containers: [
          {
            name: "user-container",
            image: PAUSE_REF,
            imagePullPolicy: "Never",
            env: [
              { name: "GUEST_IMAGE", value: this.img.ref },
              { name: "GUEST_PORT", value: String(this.img.port) },
              { name: "K_REVISION", value: revision },
            ],
          },
          this.queueProxyContainer(),
        ],
        volumes: [{ name: "standin", hostPath: { path: path.dirname(FORWARDER), type: "Directory" } }],
      },
    };
  }

  /** The same function as a plain runc container, for the containerd baseline. */
  plainFunctionPod(name: string): object {
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: "default" },
      spec: {
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 2,
        containers: [{ name: "user-container", image: this.img.ref, imagePullPolicy: "Never" }],
      },
    };
  }

  private queueProxyContainer(): object {
    return {
      name: "queue-proxy",
      image: this.img.ref,
      imagePullPolicy: "Never",
      command: ["/usr/bin/python3", "-u", `/standin/${path.basename(FORWARDER)}`],
      volumeMounts: [{ name: "standin", mountPath: "/standin", readOnly: true }],
    };
  }

  /** kubelet names a static pod <name>-<node name>. */
  podName(name: string): string {
    return `${name}-${this.nodeName}`;
  }

  /** The pod's ready sandbox, once kubelet has one. */
  async podSandbox(name: string): Promise<PodSandbox | undefined> {
    const { items } = await this.cri.call<{ items: { id: string; state: string; metadata: { name: string } }[] }>("ListPodSandbox", {
      filter: { labelSelector: { "io.kubernetes.pod.name": this.podName(name) } },
    });
    const ready = items.find((s) => s.state === "SANDBOX_READY");
    if (!ready) return undefined;
    const s = await this.cri.call<{ status: { network: { ip: string } } }>("PodSandboxStatus", { podSandboxId: ready.id });
    return { id: ready.id, ip: s.status.network.ip };
  }

  /** Containers named `container` of the pod, newest attempt first, as seen through kubelet's endpoint. */
  async containers(name: string, container: string, via: CriTestClient = this.cri): Promise<ContainerInfo[]> {
    const { containers } = await via.call<{ containers: { id: string; state: string; metadata: { attempt: number } }[] }>("ListContainers", {
      filter: { labelSelector: { "io.kubernetes.pod.name": this.podName(name), "io.kubernetes.container.name": container } },
    });
    const out: ContainerInfo[] = [];
    for (const c of containers) {
      const s = await via.call<{ status: { state: string; exitCode: number; reason: string } }>("ContainerStatus", { containerId: c.id });
      out.push({ id: c.id, state: s.status.state, attempt: c.metadata.attempt, exitCode: s.status.exitCode, reason: s.status.reason });
    }
    return out.sort((a, b) => b.attempt - a.attempt);
  }

  /** The listing's state of one container (what kubelet's PLEG relists). */
  async listedState(containerId: string): Promise<string | undefined> {
    const { containers } = await this.cri.call<{ containers: { id: string; state: string }[] }>("ListContainers", { filter: { id: containerId } });
    return containers[0]?.state;
  }

  /** Pods kubelet still has sandboxes for on this node. */
  async sandboxes(): Promise<string[]> {
    const { items } = await this.direct.call<{ items: { id: string }[] }>("ListPodSandbox", {});
    return items.map((s) => s.id);
  }

  async instances(): Promise<
    { instanceId: string; revision: string; sandbox: string; startKind: string; state: string; pid: number; coldStartUs: Record<string, number> }[]
  > {
    if (!this.api) throw new Error("the node runtime is not running");
    type Wire = {
      instance_id: string;
      revision: string;
      sandbox: string;
      start_kind: string;
      state: string;
      pid: number;
      cold_start_us: Record<string, number>;
    };
    const { instances } = await this.api.runtimeCall<{ instances: Wire[] }>("ListInstances", {});
    return instances.map((i) => ({
      instanceId: i.instance_id,
      revision: i.revision,
      sandbox: i.sandbox,
      startKind: i.start_kind,
      state: i.state,
      pid: i.pid,
      coldStartUs: i.cold_start_us,
    }));
  }

  /** What pods of this node may leave behind: empty lists once every pod is gone. */
  async leftovers(): Promise<Record<string, string[]>> {
    const processes: string[] = [];
    for (const name of (await readdir("/proc")).filter((n) => /^\d+$/.test(n))) {
      const cmd = (await readFile(`/proc/${name}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
      if (cmd.includes(this.gvisorBaseDir) || /\brunsc\b.*vhgv-/.test(cmd)) processes.push(`${name}: ${cmd.slice(0, 160)}`);
    }
    const shims = await shimPids(path.join(this.state, "containerd"));
    const mounts = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .filter((l) => l.includes(this.gvisorBaseDir) || l.includes(path.join(this.state, "containerd", "io.containerd.runtime")) || l.includes(this.dataDir));
    const namespaces = (await netnsList()).filter((n) => !this.netnsBefore.has(n));
    const ipam = await readdir(path.join(this.root, "cni", "ipam", `vhkl-${this.id}`)).catch(() => [] as string[]);
    const instanceFiles = await readdir(path.join(this.dataDir, "instances")).catch(() => [] as string[]);
    const gvisorInstances = await readdir(path.join(this.gvisorBaseDir, "instances")).catch(() => [] as string[]);
    const criState = existsSync(this.criStateFile)
      ? (JSON.parse(await readFile(this.criStateFile, "utf8")) as { containers: unknown[]; relays: unknown[] })
      : { containers: [], relays: [] };
    return {
      processes,
      shims: shims.map(String),
      mounts,
      namespaces,
      ipAllocations: ipam.filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f)),
      instanceFiles,
      gvisorInstances,
      criContainers: criState.containers.map((c) => JSON.stringify(c)),
      criRelays: criState.relays.map((r) => JSON.stringify(r)),
    };
  }

  /**
   * The leftovers once cleanup had up to a minute to finish: empty lists as soon as nothing is left,
   * else what is still there at the end (so a failing assertion shows it).
   */
  async leftoversWhenSettled(): Promise<Record<string, string[]>> {
    return waitFor(
      "nothing left behind",
      async () => {
        const l = await this.leftovers();
        return Object.values(l).every((v) => v.length === 0) ? l : undefined;
      },
      60_000,
      1_000,
    ).catch(async () => this.leftovers());
  }

  /** Removes every pod, stops the daemons and leaves the machine as it was (sysctls included). */
  async destroy(): Promise<void> {
    for (const f of await readdir(this.manifests).catch(() => [] as string[])) await rm(path.join(this.manifests, f), { force: true });
    if (this.kubelet.running) {
      await waitFor("kubelet to remove its pods", async () => ((await this.sandboxes().catch(() => [])).length === 0 ? true : undefined), 120_000).catch(
        () => undefined,
      );
    }
    await this.kubelet.stop("SIGTERM");
    // Whatever kubelet left: removed through our CRI socket, so function instances go too.
    if (this.runtime === "ours" && this.nodeRuntime.running) {
      for (const id of await this.sandboxes().catch(() => [] as string[])) {
        await this.cri.call("StopPodSandbox", { podSandboxId: id }).catch(() => undefined);
        await this.cri.call("RemovePodSandbox", { podSandboxId: id }).catch(() => undefined);
      }
    }
    this.cri?.close();
    this.direct?.close();
    await this.stopNodeRuntime();
    for (const id of await new CriTestClient(this.containerdSocket).call<{ items: { id: string }[] }>("ListPodSandbox", {}).then(
      (r) => r.items.map((s) => s.id),
      () => [] as string[],
    )) {
      const c = new CriTestClient(this.containerdSocket);
      await c.call("StopPodSandbox", { podSandboxId: id }).catch(() => undefined);
      await c.call("RemovePodSandbox", { podSandboxId: id }).catch(() => undefined);
      c.close();
    }
    await this.containerd.stop("SIGTERM");
    for (const pid of await shimPids(path.join(this.state, "containerd"))) {
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
    await run("ip", ["link", "delete", this.bridge]).catch(() => undefined);
    for (const [name, value] of Object.entries(this.savedSysctls)) {
      await writeFile(`/proc/sys/${name.replaceAll(".", "/")}`, value).catch(() => undefined);
    }
    await rm(this.root, { recursive: true, force: true });
    await rm(this.state, { recursive: true, force: true });
  }

  /** The sysctls kubelet changes, as they are now. */
  static async kernelSettings(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const s of KUBELET_SYSCTLS) out[s] = (await readFile(`/proc/sys/${s.replaceAll(".", "/")}`, "utf8")).trim();
    return out;
  }
}

async function netnsList(): Promise<string[]> {
  return readdir("/var/run/netns").catch(() => [] as string[]);
}
