// Added latency of the CRI proxy on pass-through calls, against containerd directly, in one run.
// Calls alternate between the two paths so drift on this shared machine hits both alike.
// Writes bench/results/cri.json as {"calls": {NAME: {"directMs", "proxyMs"}}} (medians), and
// "kubeletPodStartMs": {"ours", "containerd"}: pod start through a real kubelet (bench/cri-kubelet.ts).
import { mkdir, writeFile } from "node:fs/promises";
import { CriProxy } from "../node-runtime/api/cri/cri-proxy.js";
import { measureKubeletPodStart } from "./cri-kubelet.js";
import { RecordingFunctionBackend } from "../tests/doubles/function-backend/recording-function-backend.js";
import { CriTestClient } from "../tests/cri/cri-test-client.js";
import { PAUSE_REF, PrivateContainerd } from "../tests/cri/private-containerd.js";

// 100 rounds: with 30, medians of calls that touch the disk (CreateContainer) moved by ±2 ms between runs.
const ITERATIONS = Number(process.env.CRI_BENCH_ITERATIONS ?? 100);
const LIST_SIZE = 100;
const KUBELET_ROUNDS = Number(process.env.CRI_BENCH_KUBELET_ROUNDS ?? 5);

type Path = "direct" | "proxy";
/** Alternates which path goes first, so neither always runs on a warmer cache. */
const order = (i: number): Path[] => (i % 2 ? ["proxy", "direct"] : ["direct", "proxy"]);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function timed<T>(f: () => Promise<T>): Promise<[number, T]> {
  const t0 = process.hrtime.bigint();
  const r = await f();
  return [Number(process.hrtime.bigint() - t0) / 1e6, r];
}

const containerd = new PrivateContainerd(`bench${process.pid}`);
const podConfig = (name: string) => ({
  metadata: { name, uid: `${name}-uid`, namespace: "bench", attempt: 0 },
  logDirectory: `${containerd.root}/logs/${name}`,
  linux: { securityContext: { namespaceOptions: { network: "NODE" } } },
});

async function main() {
  await containerd.start();
  const proxy = new CriProxy({
    socketPath: `${containerd.state}/proxy/cri.sock`,
    upstream: containerd.socket,
    stateFile: `${containerd.root}/proxy-state.json`,
    backend: new RecordingFunctionBackend(),
  });
  await proxy.start();
  const clients = { direct: new CriTestClient(containerd.socket), proxy: new CriTestClient(proxy.socketPath) };
  const samples: Record<string, { direct: number[]; proxy: number[] }> = {};
  const record = (call: string, path: Path, ms: number) => {
    samples[call] ??= { direct: [], proxy: [] };
    samples[call][path].push(ms);
  };

  try {
    // Warm both connections and containerd's caches.
    for (const c of Object.values(clients)) await c.call("Version", {});

    let n = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      for (const path of order(i)) {
        const c = clients[path];
        const cfg = podConfig(`b${n++}`);
        const [runMs, pod] = await timed(() => c.call<{ podSandboxId: string }>("RunPodSandbox", { config: cfg }));
        record("RunPodSandbox", path, runMs);
        const [createMs, ctr] = await timed(() =>
          c.call<{ containerId: string }>("CreateContainer", {
            podSandboxId: pod.podSandboxId,
            config: { metadata: { name: "plain" }, image: { image: PAUSE_REF }, logPath: "plain.log" },
            sandboxConfig: cfg,
          }),
        );
        record("CreateContainer", path, createMs);
        await c.call("RemoveContainer", { containerId: ctr.containerId });
        await c.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
        await c.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
      }
    }

    // ListContainers with 100 containers present (created, not started: listing cost is the point).
    const cfg = podConfig("list");
    const pod = await clients.direct.call<{ podSandboxId: string }>("RunPodSandbox", { config: cfg });
    for (let i = 0; i < LIST_SIZE; i++) {
      await clients.direct.call("CreateContainer", {
        podSandboxId: pod.podSandboxId,
        config: { metadata: { name: `c${i}` }, image: { image: PAUSE_REF }, logPath: `c${i}.log` },
        sandboxConfig: cfg,
      });
    }
    for (let i = 0; i < ITERATIONS * 4; i++) {
      for (const path of order(i)) {
        const [ms, res] = await timed(() => clients[path].call<{ containers: unknown[] }>("ListContainers", {}));
        if (res.containers.length !== LIST_SIZE) throw new Error(`ListContainers returned ${res.containers.length}, not ${LIST_SIZE}`);
        record("ListContainers100", path, ms);
      }
    }
    await clients.direct.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await clients.direct.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
  } finally {
    for (const c of Object.values(clients)) c.close();
    await proxy.stop();
    await containerd.destroy();
  }

  const calls: Record<string, { directMs: number; proxyMs: number }> = {};
  const rows: string[] = [];
  for (const [call, s] of Object.entries(samples)) {
    const directMs = median(s.direct);
    const proxyMs = median(s.proxy);
    calls[call] = { directMs: Number(directMs.toFixed(3)), proxyMs: Number(proxyMs.toFixed(3)) };
    const added = proxyMs - directMs;
    const allowed = Math.max(0.05 * directMs, 1);
    rows.push(
      [
        call.padEnd(18),
        directMs.toFixed(2).padStart(9),
        proxyMs.toFixed(2).padStart(9),
        added.toFixed(2).padStart(9),
        (proxyMs / directMs).toFixed(3).padStart(7),
        added <= allowed ? "  met" : "  MISSED",
      ].join(" "),
    );
  }
  const kubelet = await measureKubeletPodStart(KUBELET_ROUNDS);
  const kubeletPodStartMs =
    "skipped" in kubelet ? { skipped: kubelet.skipped } : { ours: Number(kubelet.ours.toFixed(1)), containerd: Number(kubelet.containerd.toFixed(1)) };
  const kubeletDetail =
    "skipped" in kubelet ? undefined : { rounds: KUBELET_ROUNDS, oursFirstBootMs: Number(kubelet.oursFirstBootMs.toFixed(1)), samples: kubelet.samples };
  await mkdir(new URL("./results/", import.meta.url), { recursive: true });
  await writeFile(
    new URL("./results/cri.json", import.meta.url),
    JSON.stringify({ iterations: ITERATIONS, calls, kubeletPodStartMs, kubeletPodStart: kubeletDetail }, null, 2) + "\n",
  );
  console.log(`CRI proxy overhead, medians of ${ITERATIONS} (ListContainers: ${ITERATIONS * 4}) calls per path`);
  console.log(
    `${"call".padEnd(18)} ${"direct ms".padStart(9)} ${"proxy ms".padStart(9)} ${"added ms".padStart(9)} ${"ratio".padStart(7)}  goal (≤ max(5%, 1 ms) added)`,
  );
  for (const r of rows) console.log(r);
  if (!("skipped" in kubelet)) {
    console.log(
      `pod start through kubelet, manifest to first answer (medians of ${KUBELET_ROUNDS}): ours ${kubelet.ours.toFixed(0)} ms ` +
        `(Knative-shaped pod, gVisor restore; first pod's boot ${kubelet.oursFirstBootMs.toFixed(0)} ms), containerd ${kubelet.containerd.toFixed(0)} ms (runc pod)`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
