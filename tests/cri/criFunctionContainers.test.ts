import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { readFile } from "node:fs/promises";
import { CriProxy } from "../../node-runtime/api/cri/criProxy.js";
import { FUNCTION_ANNOTATIONS } from "../../node-runtime/api/cri/functionContainers.js";
import { RecordingFunctionBackend } from "../doubles/functionBackend/recordingFunctionBackend.js";
import { CriTestClient } from "./criTestClient.js";
import { PAUSE_REF, PrivateContainerd } from "./privateContainerd.js";

// How the proxy handles function containers, against a real containerd: what it starts, what it
// injects into the queue-proxy, what status kubelet sees, and what it keeps across restarts. The
// orchestrator behind it is a recording double here; tests/cri/criKnativeGvisor.test.ts runs the real one.

const containerd = new PrivateContainerd(`fn${process.pid}`);
const backend = new RecordingFunctionBackend();
const stateFile = `${containerd.root}/proxy-state.json`;
const socketPath = `${containerd.state}/proxy/cri.sock`;
let proxy: CriProxy;
let cri: CriTestClient;

const podConfig = (name: string, annotations: Record<string, string> = {}) => ({
  metadata: { name, uid: `${name}-uid`, namespace: "default", attempt: 0 },
  logDirectory: `${containerd.root}/logs/${name}`,
  annotations,
  linux: { securityContext: { namespaceOptions: { network: "NODE" } } },
});

const env = (o: Record<string, string>) => Object.entries(o).map(([key, value]) => ({ key, value }));

async function knativePod(name: string, revision: string, extraEnv: Record<string, string> = {}) {
  const sandboxConfig = podConfig(name);
  const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
  const user = await cri.call<{ containerId: string }>("CreateContainer", {
    podSandboxId: pod.podSandboxId,
    config: {
      metadata: { name: "user-container", attempt: 0 },
      image: { image: PAUSE_REF },
      envs: env({ GUEST_IMAGE: "helloworld:latest", GUEST_PORT: "50051", K_REVISION: revision, ...extraEnv }),
      labels: { "serving.knative.dev/revision": revision },
      logPath: "user.log",
    },
    sandboxConfig,
  });
  const queue = await cri.call<{ containerId: string }>("CreateContainer", {
    podSandboxId: pod.podSandboxId,
    config: {
      metadata: { name: "queue-proxy", attempt: 0 },
      image: { image: PAUSE_REF },
      envs: env({ SERVING_REVISION: revision }),
      labels: { role: "queue" },
      logPath: "queue.log",
    },
    sandboxConfig,
  });
  for (const c of [user, queue]) await cri.call("StartContainer", { containerId: c.containerId });
  return { pod: pod.podSandboxId, user: user.containerId, queue: queue.containerId };
}

async function deletePod(p: { pod: string; user: string; queue: string }) {
  for (const c of [p.user, p.queue]) {
    await cri.call("StopContainer", { containerId: c, timeout: 2 });
    await cri.call("RemoveContainer", { containerId: c });
  }
  await cri.call("StopPodSandbox", { podSandboxId: p.pod });
  await cri.call("RemovePodSandbox", { podSandboxId: p.pod });
}

async function processEnv(containerId: string): Promise<string[]> {
  const s = await cri.call<{ info: { info: string } }>("ContainerStatus", { containerId, verbose: true });
  return (JSON.parse(s.info.info) as { runtimeSpec: { process: { env: string[] } } }).runtimeSpec.process.env;
}

async function startProxy() {
  proxy = new CriProxy({ socketPath, upstream: containerd.socket, stateFile, backend });
  await proxy.start();
  cri = new CriTestClient(socketPath);
}

async function stopProxy() {
  cri.close();
  await proxy.stop();
}

beforeAll(async () => {
  await containerd.start();
  await startProxy();
});

afterAll(async () => {
  await stopProxy().catch(() => undefined);
  await containerd.destroy();
});

describe("CRI proxy: function containers", () => {
  it("starts the function from GUEST_IMAGE and gives the queue-proxy its address", async () => {
    const p = await knativePod("hello-1", "hello-00001", { TARGET: "world" });
    const started = backend.started.at(-1)!;
    expect(started).toMatchObject({ revision: "hello-00001", image: "helloworld:latest", port: 50051 });
    expect(started.env).toMatchObject({ K_REVISION: "hello-00001", TARGET: "world" });
    expect(started.env).not.toHaveProperty("GUEST_IMAGE");

    const queueEnv = await processEnv(p.queue);
    expect(queueEnv).toContain(`GUEST_ADDR=127.0.0.1`);
    expect(queueEnv).toContain(`GUEST_PORT=${40000 + backend.started.length}`);
    expect(queueEnv).toContain("SERVING_REVISION=hello-00001");
    expect(await processEnv(p.user)).not.toContain("GUEST_ADDR=127.0.0.1");

    const persisted = JSON.parse(await readFile(stateFile, "utf8")) as { containers: { containerId: string }[] };
    expect(persisted.containers.map((c) => c.containerId)).toContain(p.user);

    await deletePod(p);
    expect(backend.stopped).toContain(started.instanceId);
    const after = JSON.parse(await readFile(stateFile, "utf8")) as { containers: unknown[] };
    expect(after.containers).toEqual([]);
  });

  it("reports a dead function instance as an exited container, other fields as containerd has them", async () => {
    const p = await knativePod("hello-2", "hello-00002");
    const instance = backend.started.at(-1)!.instanceId;
    type Status = { status: { state: string; exitCode: number; reason: string; message: string; labels: Record<string, string>; finishedAt: string } };
    const running = await cri.call<Status>("ContainerStatus", { containerId: p.user });
    expect(running.status.state).toBe("CONTAINER_RUNNING");

    const finishedAt = new Date("2026-01-02T03:04:05.678Z");
    backend.healthOf.set(instance, { state: "exited", exitCode: 137, reason: "SandboxCrashed", message: "VMM killed by SIGKILL", finishedAt });
    const dead = await cri.call<Status>("ContainerStatus", { containerId: p.user });
    expect(dead.status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 137, reason: "SandboxCrashed", message: "VMM killed by SIGKILL" });
    expect(dead.status.finishedAt).toBe(String(BigInt(finishedAt.getTime()) * 1_000_000n));
    expect(dead.status.labels["serving.knative.dev/revision"]).toBe("hello-00002");
    // The queue-proxy is an ordinary container: its status is containerd's.
    const queue = await cri.call<Status>("ContainerStatus", { containerId: p.queue });
    expect(queue.status.state).toBe("CONTAINER_RUNNING");
    await deletePod(p);
  });

  it("fails CreateContainer with the orchestrator's reason and leaves no stub behind", async () => {
    const sandboxConfig = podConfig("broken");
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
    backend.failNextStart = Object.assign(new Error("image helloworld:missing not found"), { code: grpc.status.NOT_FOUND });
    const err = await cri
      .call("CreateContainer", {
        podSandboxId: pod.podSandboxId,
        config: { metadata: { name: "user-container" }, image: { image: PAUSE_REF }, envs: env({ GUEST_IMAGE: "helloworld:missing", K_REVISION: "broken-1" }), logPath: "u.log" },
        sandboxConfig,
      })
      .catch((e: grpc.ServiceError) => e);
    expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
    expect((err as grpc.ServiceError).details).toBe("function broken-1 (image helloworld:missing) did not start: image helloworld:missing not found");
    const list = await cri.call<{ containers: unknown[] }>("ListContainers", { filter: { podSandboxId: pod.podSandboxId } });
    expect(list.containers).toEqual([]);

    const badPort = await cri
      .call("CreateContainer", {
        podSandboxId: pod.podSandboxId,
        config: { metadata: { name: "user-container" }, image: { image: PAUSE_REF }, envs: env({ GUEST_IMAGE: "x", GUEST_PORT: "http" }), logPath: "u.log" },
        sandboxConfig,
      })
      .catch((e: grpc.ServiceError) => e);
    expect((badPort as grpc.ServiceError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((badPort as grpc.ServiceError).details).toBe('env GUEST_PORT: "http" is not a TCP port (1-65535)');
    await cri.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await cri.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
  });

  it("recognises a function by our pod annotations too", async () => {
    const sandboxConfig = podConfig("annotated", {
      [FUNCTION_ANNOTATIONS.image]: "pyaes:1",
      [FUNCTION_ANNOTATIONS.port]: "8080",
      [FUNCTION_ANNOTATIONS.revision]: "pyaes-r1",
      [FUNCTION_ANNOTATIONS.container]: "fn",
    });
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
    const c = await cri.call<{ containerId: string }>("CreateContainer", {
      podSandboxId: pod.podSandboxId,
      config: { metadata: { name: "fn" }, image: { image: PAUSE_REF }, logPath: "fn.log" },
      sandboxConfig,
    });
    expect(backend.started.at(-1)).toMatchObject({ image: "pyaes:1", port: 8080, revision: "pyaes-r1" });
    await cri.call("RemoveContainer", { containerId: c.containerId });
    expect(backend.stopped).toContain(backend.started.at(-1)!.instanceId);
    await cri.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await cri.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
  });

  it("handles many pods at once", async () => {
    const before = backend.started.length;
    const pods = await Promise.all(Array.from({ length: 8 }, (_, i) => knativePod(`many-${i}`, `many-0000${i}`)));
    expect(backend.started.length - before).toBe(8);
    const ports = new Set<string>();
    for (const p of pods) {
      const e = (await processEnv(p.queue)).find((x) => x.startsWith("GUEST_PORT="));
      ports.add(e!);
    }
    expect(ports.size).toBe(8); // each queue-proxy got its own pod's function
    await Promise.all(pods.map(deletePod));
    const after = JSON.parse(await readFile(stateFile, "utf8")) as { containers: unknown[] };
    expect(after.containers).toEqual([]);
  });

  it("keeps track of function containers across containerd and proxy restarts", async () => {
    const p = await knativePod("survivor", "survivor-1");
    const gone = await knativePod("gone", "gone-1");
    const goneInstance = backend.started.at(-1)!.instanceId;

    // containerd restarts under a running proxy: calls go on once it is back.
    await containerd.kill();
    await containerd.launch();
    const s = await cri.call<{ status: { state: string } }>("ContainerStatus", { containerId: p.user });
    expect(s.status.state).toBe("CONTAINER_RUNNING");

    // The proxy restarts; meanwhile one stub container disappears from containerd.
    await stopProxy();
    const direct = new CriTestClient(containerd.socket);
    await direct.call("StopContainer", { containerId: gone.user, timeout: 1 });
    await direct.call("RemoveContainer", { containerId: gone.user });
    direct.close();
    await startProxy();
    expect(backend.stopped).toContain(goneInstance);
    const persisted = JSON.parse(await readFile(stateFile, "utf8")) as { containers: { containerId: string }[] };
    expect(persisted.containers.map((c) => c.containerId)).toEqual([p.user]);

    // The surviving function is still known: its removal stops its instance.
    const survivorInstance = backend.started.find((x) => x.revision === "survivor-1")!.instanceId;
    await deletePod(p);
    expect(backend.stopped).toContain(survivorInstance);
    await cri.call("StopContainer", { containerId: gone.queue, timeout: 1 });
    await cri.call("RemoveContainer", { containerId: gone.queue });
    await cri.call("StopPodSandbox", { podSandboxId: gone.pod });
    await cri.call("RemovePodSandbox", { podSandboxId: gone.pod });
  });

  it("leaves no function instance running once every pod is gone", () => {
    expect([...backend.healthOf.keys()]).toEqual([]);
    expect(new Set(backend.stopped)).toEqual(new Set(backend.started.map((s) => s.instanceId)));
  });
});
