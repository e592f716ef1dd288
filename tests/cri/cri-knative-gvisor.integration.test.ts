import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CriProxy } from "#node-runtime/api/cri/cri-proxy.js";
import { OrchestratorFunctionBackend } from "#node-runtime/api/cri/orchestrator-backend.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { gvisorUnavailable } from "../sandbox/gvisor/helloworld-fixture.js";
import { CriTestClient } from "./cri-test-client.js";
import { KnativeCriPods } from "./knative-cri-pods.js";
import { PAUSE_REF, PrivateContainerd } from "./private-containerd.js";
import { skipReason } from "../requirements.js";
import { CRI_SPEC } from "../upstream-specs.js";

// kubelet's side of a Knative pod, played through the node runtime's CRI socket with a real
// containerd for the stub and queue-proxy containers, and the real orchestrator running vHive's
// helloworld in gVisor. The queue-proxy is a stand-in that calls SayHello at GUEST_ADDR:GUEST_PORT.

// Upstream runsc by default, Debian's with VHIVE_RUNTIMES=debian.
const skip = skipReason("cri-knative-gvisor.test", { specs: [CRI_SPEC], unavailable: gvisorUnavailable() }) !== undefined;

const containerd = new PrivateContainerd(`kn${process.pid}`);
let root: string;
let img: HelloworldImage;
let rt: NodeRuntime;
let proxy: CriProxy;
let cri: CriTestClient;
let pods: KnativeCriPods;

describe.skipIf(skip)("CRI front end with the real orchestrator (gVisor, helloworld)", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "vhcri-kn-"));
    img = await ensureHelloworldImage();
    await containerd.start();
    await containerd.ctr("images", "import", "--base-name", img.ref.replace(/:[^:/]+$/, ""), img.tarball);
    rt = await createNodeRuntime(
      parseRuntimeConfig({ sandbox: "gvisor", dataDir: path.join(root, "data"), snapshotMode: "vanilla", readyTimeoutMs: 60_000, logLevel: "warn" }),
    );
    await rt.images.loadOciLayout(img.layoutDir, img.ref);
    proxy = new CriProxy({
      socketPath: path.join(containerd.state, "vhive-cri.sock"),
      upstream: containerd.socket,
      stateFile: path.join(root, "cri-state.json"),
      backend: new OrchestratorFunctionBackend(rt.orchestrator),
    });
    await proxy.start();
    cri = new CriTestClient(proxy.socketPath);
    pods = new KnativeCriPods(cri, path.join(root, "logs"), img, { instanceCallTimeoutMs: 180_000 });
  });

  afterAll(async () => {
    cri?.close();
    await proxy?.stop();
    await rt?.close();
    await containerd.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("runs the function in gVisor, reachable at the queue-proxy's GUEST_ADDR, and restores the next pod from the snapshot", async () => {
    const first = await pods.run("hello-a", "hello-00001");
    const [booted] = rt.orchestrator.list();
    expect(booted).toMatchObject({ revision: "hello-00001", sandbox: "gvisor", startKind: "boot", state: "running" });
    expect(await pods.queueProxyLog("hello-a", /reply: Hello, queue-proxy!/)).toMatch(/reply: Hello, queue-proxy!/);

    await pods.remove(first);
    expect(rt.orchestrator.list()).toEqual([]);
    const snapshots = await rt.snapshots.list();
    expect(snapshots.map((s) => s.revision)).toEqual(["hello-00001"]);

    const second = await pods.run("hello-b", "hello-00001");
    const [restored] = rt.orchestrator.list();
    expect(restored).toMatchObject({ revision: "hello-00001", startKind: "restore", state: "running" });
    expect(restored!.coldStart.LoadVMM).toBeGreaterThan(0);
    expect(await pods.queueProxyLog("hello-b", /reply: Hello, queue-proxy!/)).toMatch(/reply: Hello, queue-proxy!/);

    // A crash of the sandbox shows as an exited user-container, with the signal's exit code, in
    // ContainerStatus and ListContainers alike.
    process.kill(restored!.pid!, "SIGKILL");
    let status = { state: "", exitCode: 0 };
    for (let i = 0; i < 50 && status.state !== "CONTAINER_EXITED"; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = (await cri.call<{ status: typeof status }>("ContainerStatus", { containerId: second.user })).status;
    }
    expect(status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 128 + 9 });
    const listed = await cri.call<{ containers: { state: string }[] }>("ListContainers", { filter: { id: second.user } });
    expect(listed.containers.map((c) => c.state)).toEqual(["CONTAINER_EXITED"]);
    await pods.remove(second);
    expect(rt.orchestrator.list()).toEqual([]);
  });

  it("fails CreateContainer with NOT_FOUND for an image the node does not have", async () => {
    const sandboxConfig = pods.podConfig("missing");
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
    const err = await cri
      .call("CreateContainer", {
        podSandboxId: pod.podSandboxId,
        config: {
          metadata: { name: "user-container" },
          image: { image: PAUSE_REF },
          envs: [
            { key: "GUEST_IMAGE", value: "localhost/vhive/nothing-here:1" },
            { key: "K_REVISION", value: "nothing-00001" },
          ],
          logPath: "u.log",
        },
        sandboxConfig,
      })
      .then(
        () => undefined,
        (e: { code: number; details: string }) => e,
      );
    expect(err?.code).toBe(5); // NOT_FOUND, as the orchestrator classified it
    expect(err?.details).toMatch(/^function nothing-00001 \(image localhost\/vhive\/nothing-here:1\) did not start: /);
    expect(rt.orchestrator.list()).toEqual([]);
    await cri.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await cri.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
  });
});
