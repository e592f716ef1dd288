// kubelet's calls for a Knative-shaped pod, played through the node runtime's CRI socket: a pod
// sandbox (host network) with the user-container (the function, named by GUEST_IMAGE, GUEST_PORT
// and K_REVISION, which the CRI front end turns into a function instance) and a queue-proxy
// stand-in (queue-proxy-standin.py, run from the function's own image) that calls SayHello at the
// GUEST_ADDR:GUEST_PORT the front end gives it and logs each reply. Shared by the CRI tests that
// run the real orchestrator (gVisor on the host, Firecracker in the nested-KVM machine).
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { CriTestClient } from "./cri-test-client.js";
import { PAUSE_REF } from "./private-containerd.js";

const STANDIN = fileURLToPath(new URL("./queue-proxy-standin.py", import.meta.url));

/** What the pod runs: the function's image (already in the node runtime's store and in containerd) and its port. */
export interface KnativeFunction {
  ref: string;
  port: number;
}

/** The CRI ids of one pod. */
export interface KnativeCriPod {
  name: string;
  pod: string;
  user: string;
  queue: string;
}

export interface KnativeCriPodsOptions {
  /** Deadline of the calls that start or stop the function instance (CreateContainer, StopContainer). */
  instanceCallTimeoutMs: number;
}

export class KnativeCriPods {
  constructor(
    private readonly cri: CriTestClient,
    /** Each pod logs under `<logRoot>/<pod name>/`. */
    private readonly logRoot: string,
    private readonly fn: KnativeFunction,
    private readonly opts: KnativeCriPodsOptions,
  ) {}

  /** kubelet's PodSandboxConfig for a host-network pod. */
  podConfig(name: string) {
    return {
      metadata: { name, uid: `${name}-uid`, namespace: "default", attempt: 0 },
      logDirectory: path.join(this.logRoot, name),
      linux: { securityContext: { namespaceOptions: { network: "NODE" } } },
    };
  }

  /** RunPodSandbox, then CreateContainer and StartContainer for the user-container and the queue-proxy. */
  async run(name: string, revision: string): Promise<KnativeCriPod> {
    const sandboxConfig = this.podConfig(name);
    const pod = await this.cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
    const user = await this.cri.call<{ containerId: string }>(
      "CreateContainer",
      {
        podSandboxId: pod.podSandboxId,
        config: {
          metadata: { name: "user-container" },
          image: { image: PAUSE_REF },
          envs: [
            { key: "GUEST_IMAGE", value: this.fn.ref },
            { key: "GUEST_PORT", value: String(this.fn.port) },
            { key: "K_REVISION", value: revision },
          ],
          logPath: "user-container.log",
        },
        sandboxConfig,
      },
      this.opts.instanceCallTimeoutMs,
    );
    const queue = await this.cri.call<{ containerId: string }>("CreateContainer", {
      podSandboxId: pod.podSandboxId,
      config: {
        metadata: { name: "queue-proxy" },
        image: { image: this.fn.ref },
        command: ["/usr/bin/python3", "-u", "/standin.py"],
        mounts: [{ containerPath: "/standin.py", hostPath: STANDIN, readonly: true }],
        logPath: "queue-proxy.log",
      },
      sandboxConfig,
    });
    for (const c of [user, queue]) await this.cri.call("StartContainer", { containerId: c.containerId });
    return { name, pod: pod.podSandboxId, user: user.containerId, queue: queue.containerId };
  }

  /** The pod's queue-proxy log once it matches `until`, or as it is when the time is up. */
  async queueProxyLog(name: string, until: RegExp, timeoutMs = 30_000): Promise<string> {
    const file = path.join(this.logRoot, name, "queue-proxy.log");
    const deadline = Date.now() + timeoutMs;
    let text = "";
    while (Date.now() < deadline) {
      text = await readFile(file, "utf8").catch(() => "");
      if (until.test(text)) return text;
      await new Promise((r) => setTimeout(r, 200));
    }
    return text;
  }

  /** What kubelet does when the pod goes: stop and remove both containers, then the sandbox. */
  async remove(p: KnativeCriPod): Promise<void> {
    for (const c of [p.queue, p.user]) {
      await this.cri.call("StopContainer", { containerId: c, timeout: 2 }, this.opts.instanceCallTimeoutMs);
      await this.cri.call("RemoveContainer", { containerId: c });
    }
    await this.cri.call("StopPodSandbox", { podSandboxId: p.pod });
    await this.cri.call("RemovePodSandbox", { podSandboxId: p.pod });
  }
}
