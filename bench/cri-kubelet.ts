// Pod start through a real kubelet: the time from a static pod's manifest appearing to the
// function's first answer, for a Knative-shaped pod through kubelet + the node runtime's CRI +
// gVisor (the queue-proxy answering on the pod's port with the function's reply), against a plain
// runc pod of the same image through kubelet + containerd directly (the function answering on its
// own port). Both kubelet nodes run at once and pods alternate between them, so load on this
// shared machine hits both alike.
import { FunctionClient } from "../node-runtime/orchestrator/function-client.js";
import { KubeletNode, kubeletNodeUnavailable, QUEUE_PROXY_PORT } from "../tests/kubelet/kubelet-node.js";

export interface KubeletPodStart {
  /** Medians, ms: ours with the revision's snapshot in place (the usual case), containerd's runc pod. */
  ours: number;
  containerd: number;
  /** Ours for the revision's very first pod (a boot, no snapshot yet). */
  oursFirstBootMs: number;
  samples: { ours: number[]; containerd: number[] };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Polls SayHello at the address until it answers; resolves with the elapsed ms since `t0`. */
async function firstAnswer(host: () => Promise<string | undefined>, port: number, t0: bigint, timeoutMs = 300_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ip = await host().catch(() => undefined);
    if (ip) {
      const client = new FunctionClient({ kind: "tcp", host: ip, port });
      try {
        await client.sayHello("bench", 2_000);
        return Number((Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1));
      } catch {
        /* not answering yet */
      } finally {
        client.close();
      }
    }
    if (Date.now() > deadline) throw new Error(`no answer at port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function podStart(node: KubeletNode, name: string, manifest: object, port: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await node.putPod(name, manifest);
  const ms = await firstAnswer(async () => (await node.podSandbox(name))?.ip, port, t0);
  await node.deletePod(name);
  // The next pod starts once this one is gone (and, for ours, its instance stopped).
  for (let i = 0; i < 1500 && (await node.podSandbox(name)) !== undefined; i++) await new Promise((r) => setTimeout(r, 200));
  if (node.runtime === "ours") {
    for (let i = 0; i < 1500 && (await node.instances()).length > 0; i++) await new Promise((r) => setTimeout(r, 200));
  }
  return ms;
}

/** Measures kubelet pod starts; where no kubelet can run here, says why (and prints it). */
export async function measureKubeletPodStart(rounds: number): Promise<KubeletPodStart | { skipped: string }> {
  const unavailable = kubeletNodeUnavailable();
  if (unavailable) {
    console.log(`kubeletPodStartMs skipped: ${unavailable}`);
    return { skipped: unavailable };
  }
  const ours = new KubeletNode(`bo${process.pid % 100000}`, "ours", 71);
  const plain = new KubeletNode(`bc${process.pid % 100000}`, "containerd", 72);
  try {
    await ours.start();
    await plain.start();
    // The revision's first pod boots and leaves the snapshot the later ones restore from.
    const oursFirstBootMs = await podStart(ours, "first", ours.knativePod("first", "bench-00001"), QUEUE_PROXY_PORT);
    const samples = { ours: [] as number[], containerd: [] as number[] };
    for (let i = 0; i < rounds; i++) {
      const runOurs = () => podStart(ours, `kn${i}`, ours.knativePod(`kn${i}`, "bench-00001"), QUEUE_PROXY_PORT).then((ms) => samples.ours.push(ms));
      const runPlain = () => podStart(plain, `rc${i}`, plain.plainFunctionPod(`rc${i}`), plain.img.port).then((ms) => samples.containerd.push(ms));
      for (const step of i % 2 ? [runOurs, runPlain] : [runPlain, runOurs]) await step();
    }
    return { ours: median(samples.ours), containerd: median(samples.containerd), oursFirstBootMs, samples };
  } finally {
    await ours.destroy();
    await plain.destroy();
  }
}
