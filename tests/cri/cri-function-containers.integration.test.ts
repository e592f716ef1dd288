import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { createConnection } from "node:net";
import { readFile } from "node:fs/promises";
import { CriProxy } from "#node-runtime/api/cri/cri-proxy.js";
import { FUNCTION_ANNOTATIONS } from "#node-runtime/api/cri/function-containers.js";
import { RecordingFunctionBackend } from "../doubles/function-backend/recording-function-backend.js";
import { CriTestClient } from "./cri-test-client.js";
import { PAUSE_REF, PrivateContainerd } from "./private-containerd.js";
import { skipReason } from "../requirements.js";
import { CRI_SPEC } from "../upstream-specs.js";

// How the proxy handles function containers, against a real containerd: what it starts, where it
// points the queue-proxy (a relay per pod that outlives restarts of the function), what kubelet's
// calls report once an instance dies, how pods are removed, and what it keeps across restarts.
// The orchestrator behind it is a recording double here (each instance a TCP listener that names
// itself); tests/cri/cri-knative-gvisor.integration.test.ts and tests/kubelet/ run the real one.

// The file-level hooks start containerd only when a test runs (vitest skips them with every test).
const skip = skipReason("cri-function-containers.test", { root: "a private containerd", specs: [CRI_SPEC] });
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

interface Pod {
  pod: string;
  user: string;
  queue: string;
  revision: string;
  sandboxConfig: ReturnType<typeof podConfig>;
}

function createUserContainer(pod: string, revision: string, sandboxConfig: ReturnType<typeof podConfig>, attempt = 0, extraEnv: Record<string, string> = {}) {
  return cri.call<{ containerId: string }>("CreateContainer", {
    podSandboxId: pod,
    config: {
      metadata: { name: "user-container", attempt },
      image: { image: PAUSE_REF },
      envs: env({ GUEST_IMAGE: "helloworld:latest", GUEST_PORT: "50051", K_REVISION: revision, ...extraEnv }),
      labels: { "serving.knative.dev/revision": revision },
      logPath: `user-${attempt}.log`,
    },
    sandboxConfig,
  });
}

async function knativePod(name: string, revision: string, extraEnv: Record<string, string> = {}): Promise<Pod> {
  const sandboxConfig = podConfig(name);
  const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
  const user = await createUserContainer(pod.podSandboxId, revision, sandboxConfig, 0, extraEnv);
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
  return { pod: pod.podSandboxId, user: user.containerId, queue: queue.containerId, revision, sandboxConfig };
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

/** GUEST_ADDR and GUEST_PORT as the queue-proxy's process sees them. */
async function guestAddress(queue: string): Promise<{ host: string; port: number }> {
  const e = await processEnv(queue);
  const value = (k: string) => e.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1);
  return { host: value("GUEST_ADDR")!, port: Number(value("GUEST_PORT")) };
}

/** What answers at the queue-proxy's address ("closed" when nothing does). */
function ask(a: { host: string; port: number }, payload: string): Promise<string> {
  return new Promise((resolve) => {
    const s = createConnection(a.port, a.host);
    let got = "";
    s.on("data", (d) => (got += d.toString()));
    s.on("end", () => resolve(got || "closed"));
    s.on("error", () => resolve("closed"));
    s.end(payload);
  });
}

async function persisted(): Promise<{ containers: { containerId: string }[]; relays: { podSandboxId: string; port: number }[] }> {
  return JSON.parse(await readFile(stateFile, "utf8")) as never;
}

type Status = { status: { state: string; exitCode: number; reason: string; message: string; labels: Record<string, string>; finishedAt: string } };
type Listing = { containers: { id: string; state: string }[] };

async function startProxy() {
  // Deaths are found by kubelet's own calls here; the periodic check would race the assertions.
  proxy = new CriProxy({ socketPath, upstream: containerd.socket, stateFile, backend, healthCheckIntervalMs: 3_600_000 });
  await proxy.start();
  cri = new CriTestClient(socketPath);
}

async function stopProxy() {
  cri.close();
  await proxy.stop();
}

/** Polls containerd itself (not the proxy) until the container is in `state`; returns the last state seen. */
async function containerdState(containerId: string, state: string): Promise<string> {
  const direct = new CriTestClient(containerd.socket);
  try {
    let seen = "";
    for (let i = 0; i < 100 && seen !== state; i++) {
      seen = (await direct.call<Status>("ContainerStatus", { containerId })).status.state;
      if (seen !== state) await new Promise((r) => setTimeout(r, 100));
    }
    return seen;
  } finally {
    direct.close();
  }
}

beforeAll(async () => {
  await containerd.start();
  await startProxy();
});

afterAll(async () => {
  await stopProxy().catch(() => undefined);
  await containerd.destroy();
});

describe.skipIf(skip !== undefined)("CRI proxy: function containers", () => {
  it("starts the function from GUEST_IMAGE and gives the queue-proxy an address that reaches it", async () => {
    const p = await knativePod("hello-1", "hello-00001", { TARGET: "world" });
    const started = backend.started.at(-1)!;
    expect(started).toMatchObject({ revision: "hello-00001", image: "helloworld:latest", port: 50051 });
    expect(started.env).toMatchObject({ K_REVISION: "hello-00001", TARGET: "world" });
    expect(started.env).not.toHaveProperty("GUEST_IMAGE");

    const queueEnv = await processEnv(p.queue);
    expect(queueEnv).toContain("GUEST_ADDR=127.0.0.1"); // a hostNetwork pod: the node's loopback
    expect(queueEnv).toContain("SERVING_REVISION=hello-00001");
    expect((await processEnv(p.user)).some((e) => e.startsWith("GUEST_ADDR="))).toBe(false);
    const address = await guestAddress(p.queue);
    expect(await ask(address, "hi")).toBe(`instance ${started.instanceId}: hi`);

    const state = await persisted();
    expect(state.containers.map((c) => c.containerId)).toContain(p.user);
    expect(state.relays).toEqual([expect.objectContaining({ podSandboxId: p.pod, port: address.port })]);

    await deletePod(p);
    expect(backend.stopped).toContain(started.instanceId);
    expect(await ask(address, "hi")).toBe("closed");
    expect(await persisted()).toMatchObject({ containers: [], relays: [] });
  });

  it("reports a dead function as exited in ContainerStatus and ListContainers alike, and reaches its successor at the same address", async () => {
    const p = await knativePod("hello-2", "hello-00002");
    const first = backend.started.at(-1)!.instanceId;
    const address = await guestAddress(p.queue);
    expect((await cri.call<Status>("ContainerStatus", { containerId: p.user })).status.state).toBe("CONTAINER_RUNNING");

    const finishedAt = new Date("2026-01-02T03:04:05.678Z");
    await backend.crash(first, { state: "exited", exitCode: 137, reason: "SandboxExited", message: "gvisor sandbox killed by signal SIGKILL", finishedAt });
    // kubelet's PLEG relists first: the stub still runs in containerd, the function does not.
    const running = await cri.call<Listing>("ListContainers", { filter: { state: { state: "CONTAINER_RUNNING" } } });
    expect(running.containers.map((c) => c.id)).not.toContain(p.user);
    expect(running.containers.map((c) => c.id)).toContain(p.queue);
    const all = await cri.call<Listing>("ListContainers", {});
    expect(all.containers.find((c) => c.id === p.user)?.state).toBe("CONTAINER_EXITED");
    const dead = await cri.call<Status>("ContainerStatus", { containerId: p.user });
    expect(dead.status).toMatchObject({
      state: "CONTAINER_EXITED",
      exitCode: 137,
      reason: "SandboxExited",
      message: "gvisor sandbox killed by signal SIGKILL",
    });
    expect(dead.status.finishedAt).toBe(String(BigInt(finishedAt.getTime()) * 1_000_000n));
    expect(dead.status.labels["serving.knative.dev/revision"]).toBe("hello-00002");
    // The dead function's instance is released and its stub stopped, so containerd agrees.
    expect(backend.stopped).toContain(first);
    expect(await containerdState(p.user, "CONTAINER_EXITED")).toBe("CONTAINER_EXITED");
    expect((await cri.call<Status>("ContainerStatus", { containerId: p.user })).status).toMatchObject({ state: "CONTAINER_EXITED", exitCode: 137 });
    // The queue-proxy is an ordinary container: its status is containerd's.
    expect((await cri.call<Status>("ContainerStatus", { containerId: p.queue })).status.state).toBe("CONTAINER_RUNNING");
    expect(await ask(address, "meanwhile")).toBe("closed");

    // kubelet restarts the container in the same pod; the queue-proxy is not restarted.
    const again = await createUserContainer(p.pod, p.revision, p.sandboxConfig, 1);
    await cri.call("StartContainer", { containerId: again.containerId });
    const second = backend.started.at(-1)!.instanceId;
    expect(second).not.toBe(first);
    expect(await ask(address, "again")).toBe(`instance ${second}: again`);
    // kubelet's garbage collection of the dead container leaves the new instance alone.
    await cri.call("RemoveContainer", { containerId: p.user });
    expect(await ask(address, "still")).toBe(`instance ${second}: still`);
    await deletePod({ ...p, user: again.containerId });
    expect(backend.stopped).toContain(second);
  });

  it("stops the function when the pod is force-removed (crictl rmp -f: StopPodSandbox, RemovePodSandbox)", async () => {
    const p = await knativePod("forced", "forced-00001");
    const instance = backend.started.at(-1)!.instanceId;
    const address = await guestAddress(p.queue);
    expect(await ask(address, "x")).toBe(`instance ${instance}: x`);
    await cri.call("StopPodSandbox", { podSandboxId: p.pod });
    expect(backend.stopped).toContain(instance);
    expect(await ask(address, "x")).toBe("closed");
    // A stopped function is not a dead one: containerd's own status of the stub holds.
    expect((await cri.call<Status>("ContainerStatus", { containerId: p.user })).status.reason).not.toBe("FunctionInstanceLost");
    await cri.call("RemovePodSandbox", { podSandboxId: p.pod });
    expect(await persisted()).toMatchObject({ containers: [], relays: [] });
  });

  it("fails CreateContainer with the orchestrator's reason and leaves no stub behind", async () => {
    const sandboxConfig = podConfig("broken");
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: sandboxConfig });
    backend.failNextStart = Object.assign(new Error("image helloworld:missing not found"), { code: grpc.status.NOT_FOUND });
    const err = await cri
      .call("CreateContainer", {
        podSandboxId: pod.podSandboxId,
        config: {
          metadata: { name: "user-container" },
          image: { image: PAUSE_REF },
          envs: env({ GUEST_IMAGE: "helloworld:missing", K_REVISION: "broken-1" }),
          logPath: "u.log",
        },
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

  it("handles many pods at once, each queue-proxy reaching its own pod's function", async () => {
    const before = backend.started.length;
    const pods = await Promise.all(Array.from({ length: 8 }, (_, i) => knativePod(`many-${i}`, `many-0000${i}`)));
    expect(backend.started.length - before).toBe(8);
    const answers = new Set<string>();
    for (const p of pods) answers.add(await ask(await guestAddress(p.queue), "who"));
    expect(answers.size).toBe(8);
    await Promise.all(pods.map(deletePod));
    expect(await persisted()).toMatchObject({ containers: [], relays: [] });
  });

  it("keeps function containers and relays across containerd and proxy restarts", async () => {
    const p = await knativePod("survivor", "survivor-1");
    const survivorInstance = backend.started.at(-1)!.instanceId;
    const address = await guestAddress(p.queue);
    const gone = await knativePod("gone", "gone-1");
    const goneInstance = backend.started.at(-1)!.instanceId;

    // containerd restarts under a running proxy: calls go on once it is back.
    await containerd.kill();
    await containerd.launch();
    const s = await cri.call<Status>("ContainerStatus", { containerId: p.user });
    expect(s.status.state).toBe("CONTAINER_RUNNING");

    // The proxy stops (its relays close with it) and starts again; meanwhile one stub container
    // disappears from containerd.
    await stopProxy();
    expect(await ask(address, "down")).toBe("closed");
    const direct = new CriTestClient(containerd.socket);
    await direct.call("StopContainer", { containerId: gone.user, timeout: 1 });
    await direct.call("RemoveContainer", { containerId: gone.user });
    direct.close();
    await startProxy();
    expect(backend.stopped).toContain(goneInstance);
    expect((await persisted()).containers.map((c) => c.containerId)).toEqual([p.user]);
    // The survivor's queue-proxy reaches its function at the address it was given.
    expect(await ask(address, "back")).toBe(`instance ${survivorInstance}: back`);

    // The surviving function is still known: its removal stops its instance.
    await deletePod(p);
    expect(backend.stopped).toContain(survivorInstance);
    await cri.call("StopContainer", { containerId: gone.queue, timeout: 1 });
    await cri.call("RemoveContainer", { containerId: gone.queue });
    await cri.call("StopPodSandbox", { podSandboxId: gone.pod });
    await cri.call("RemovePodSandbox", { podSandboxId: gone.pod });
    expect(await persisted()).toMatchObject({ containers: [], relays: [] });
  });

  it("leaves no function instance running once every pod is gone", () => {
    expect([...backend.healthOf.keys()]).toEqual([]);
    expect(new Set(backend.stopped)).toEqual(new Set(backend.started.map((s) => s.instanceId)));
  });
});
