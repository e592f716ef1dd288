// kubelet's side of a Knative pod, played through the node runtime's CRI socket, with a real
// containerd for the pod sandbox and the queue-proxy stand-in, and the real orchestrator (built by
// createNodeRuntime, as `node-runtime serve` builds it) running vHive's helloworld in a REAL
// Firecracker microVM. The queue-proxy stand-in calls SayHello at GUEST_ADDR:GUEST_PORT.
// Needs KVM, FIRECRACKER_BIN, FIRECRACKER_KERNEL and the upstream containerd and runc;
// tests/sandbox/firecracker-nested.integration.test.ts runs it inside the nested-KVM machine.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CriProxy } from "#node-runtime/api/cri/cri-proxy.js";
import { OrchestratorFunctionBackend } from "#node-runtime/api/cri/orchestrator-backend.js";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime, type NodeRuntime } from "#node-runtime/index.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { skipReason } from "../requirements.js";
import { hostLeftovers, settle } from "../runtime/leak-check.js";
import { CRI_SPEC } from "../upstream-specs.js";
import { CriTestClient } from "./cri-test-client.js";
import { KnativeCriPods } from "./knative-cri-pods.js";
import { PrivateContainerd } from "./private-containerd.js";

const skip =
  skipReason("cri-knative-firecracker.kvm.test", {
    specs: [CRI_SPEC],
    env: ["FIRECRACKER_BIN", "FIRECRACKER_KERNEL"],
    root: "containerd and the network pool's namespaces",
    unavailable: existsSync("/dev/kvm") ? undefined : "no /dev/kvm",
  }) !== undefined;

const REVISION = "hello-00001";
const REPLY = /reply: Hello, queue-proxy!/;
// Nested KVM under software emulation: a boot, a snapshot or a restore takes tens of seconds.
const INSTANCE_CALL_MS = 600_000;
const QUEUE_PROXY_WAIT_MS = 300_000;

const octet = Math.floor(Math.random() * 255);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const networkPrefix = `vhcf${tag}`;
const containerd = new PrivateContainerd(`knfc${process.pid}`);
let root: string;
let img: HelloworldImage;
let rt: NodeRuntime | undefined;
let proxy: CriProxy | undefined;
let cri: CriTestClient | undefined;
let pods: KnativeCriPods;

/**
 * What the pods left behind: instances, containerd tasks and containers, VMMs and mounts under the
 * test's directory; with `poolClosed`, also the network pool's namespaces and host links.
 */
async function leftovers(poolClosed: boolean): Promise<string[]> {
  const ctrList = async (what: string) => (await containerd.ctr(what, "ls", "-q")).stdout.split("\n").filter(Boolean);
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(":")[1]?.trim().split("@")[0] ?? "")
    .filter((name) => name.startsWith(networkPrefix));
  return [
    ...(rt?.orchestrator.list() ?? []).map((i) => `instance: ${i.instanceId} (${i.state})`),
    ...(await ctrList("tasks")).map((t) => `containerd task: ${t}`),
    ...(await ctrList("containers")).map((c) => `containerd container: ${c}`),
    ...(await hostLeftovers(root, poolClosed ? networkPrefix : undefined)),
    ...(poolClosed ? links.map((l) => `host link: ${l}`) : []),
  ];
}

describe.skipIf(skip)("CRI front end with the real orchestrator on a real Firecracker (helloworld)", () => {
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), "vhcri-fc-"));
    img = await ensureHelloworldImage();
    await containerd.start();
    await containerd.ctr("images", "import", "--base-name", img.ref.replace(/:[^:/]+$/, ""), img.tarball);
    rt = await createNodeRuntime(
      parseRuntimeConfig({
        sandbox: "firecracker",
        dataDir: path.join(root, "data"),
        // The suite's files share one image store (its ext4 conversion takes minutes under nested KVM).
        ...(process.env.KVM_TEST_IMAGE_DIR ? { imageDir: process.env.KVM_TEST_IMAGE_DIR } : {}),
        firecrackerBin: process.env.FIRECRACKER_BIN,
        firecrackerKernel: process.env.FIRECRACKER_KERNEL,
        networkPrefix,
        networkPoolSize: 2,
        networkCloneCidr: `10.158.${octet}.0/25`,
        networkTransitCidr: `10.158.${octet}.128/25`,
        readyTimeoutMs: 300_000,
        logLevel: "warn",
      }),
      { logger: pino({ level: "warn" }, pino.destination(2)) },
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
    pods = new KnativeCriPods(cri, path.join(root, "logs"), img, { instanceCallTimeoutMs: INSTANCE_CALL_MS });
  });

  afterAll(async () => {
    cri?.close();
    await proxy?.stop();
    await rt?.close();
    await containerd.destroy();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it("boots the function in Firecracker, reachable at the queue-proxy's GUEST_ADDR; removing the pod snapshots it and the next pod is restored", async () => {
    const runtime = rt!;
    const first = await pods.run("hello-a", REVISION);
    const [booted] = runtime.orchestrator.list();
    expect(booted).toMatchObject({ revision: REVISION, sandbox: "firecracker", startKind: "boot", state: "running" });
    expect(Object.keys(booted!.coldStart)).toContain("FcCreateVM");
    expect(await pods.queueProxyLog("hello-a", REPLY, QUEUE_PROXY_WAIT_MS)).toMatch(REPLY);

    await pods.remove(first);
    expect(runtime.orchestrator.list()).toEqual([]);
    expect((await runtime.snapshots.list()).map((s) => s.revision)).toEqual([REVISION]);

    const second = await pods.run("hello-b", REVISION);
    const [restored] = runtime.orchestrator.list();
    expect(restored).toMatchObject({ revision: REVISION, sandbox: "firecracker", startKind: "restore", state: "running" });
    expect(restored!.coldStart.LoadVMM).toBeGreaterThan(0);
    expect(Object.keys(restored!.coldStart)).not.toContain("FcCreateVM");
    expect(await pods.queueProxyLog("hello-b", REPLY, QUEUE_PROXY_WAIT_MS)).toMatch(REPLY);
    console.log(`cold-start stages (µs): boot ${JSON.stringify(booted!.coldStart)}; restore ${JSON.stringify(restored!.coldStart)}`);

    // A VMM that dies shows as an exited user-container, with the signal's exit code.
    process.kill(restored!.pid!, "SIGKILL");
    let status = { state: "", exitCode: 0 };
    for (let i = 0; i < 300 && status.state !== "CONTAINER_EXITED"; i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = (await cri!.call<{ status: typeof status }>("ContainerStatus", { containerId: second.user })).status;
    }
    expect(status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 128 + 9 });
    await pods.remove(second);
    expect(runtime.orchestrator.list()).toEqual([]);
    // The dead instance's teardown keeps the snapshot the first pod left.
    expect((await runtime.snapshots.list()).map((s) => s.revision)).toEqual([REVISION]);
  });

  it("leaves nothing behind: no instance, containerd task or container, VMM, mount, or (once the runtime is closed) pool namespace or link", async () => {
    expect(await settle(() => leftovers(false), 60_000)).toEqual([]);
    await rt!.close();
    rt = undefined;
    expect(await settle(() => leftovers(true), 60_000)).toEqual([]);
  });
});
