import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as grpc from "@grpc/grpc-js";
import { CriProxy } from "#node-runtime/api/cri/cri-proxy.js";
import { RawCriClient } from "#node-runtime/api/cri/raw-grpc.js";
import { methodPath } from "#node-runtime/api/cri/cri-methods.js";
import { RecordingFunctionBackend } from "../doubles/function-backend/recording-function-backend.js";
import { CriTestClient, methodCodec } from "./cri-test-client.js";
import { PAUSE_REF, PrivateContainerd } from "./private-containerd.js";
import { skipReason } from "../requirements.js";
import { CRI_SPEC } from "../upstream-specs.js";

// Pass-through: every CRI call that is not about a function container reaches containerd as sent
// and comes back as containerd answered, byte for byte.

// The file-level hooks start containerd only when a test runs (vitest skips them with every test).
const skip = skipReason("cri-passthrough.test", { root: "a private containerd", specs: [CRI_SPEC] });
const id = `pt${process.pid}`;
const containerd = new PrivateContainerd(id);
const backend = new RecordingFunctionBackend();
let proxy: CriProxy;
let direct: RawCriClient;
let viaProxy: RawCriClient;
let cri: CriTestClient;

const hostNetworkPod = (name: string) => ({
  metadata: { name, uid: `${name}-uid`, namespace: "default", attempt: 0 },
  logDirectory: `${containerd.root}/logs/${name}`,
  labels: { app: name },
  linux: { securityContext: { namespaceOptions: { network: "NODE" } } },
});

function encode(service: "RuntimeService" | "ImageService", method: string, req: object): Buffer {
  return methodCodec(service, method).requestSerialize(req);
}

async function both(service: "RuntimeService" | "ImageService", method: string, req: object) {
  const bytes = encode(service, method, req);
  const path = methodPath({ service, name: method });
  return { direct: await direct.unary(path, bytes), proxied: await viaProxy.unary(path, bytes) };
}

beforeAll(async () => {
  await containerd.start();
  proxy = new CriProxy({
    socketPath: `${containerd.state}/proxy/cri.sock`,
    upstream: containerd.socket,
    stateFile: `${containerd.root}/proxy-state.json`,
    backend,
  });
  await proxy.start();
  direct = new RawCriClient(`unix://${containerd.socket}`);
  viaProxy = new RawCriClient(`unix://${proxy.socketPath}`);
  cri = new CriTestClient(proxy.socketPath);
});

afterAll(async () => {
  cri?.close();
  direct?.close();
  viaProxy?.close();
  await proxy?.stop();
  await containerd.destroy();
});

describe.skipIf(skip !== undefined)("CRI proxy pass-through", () => {
  it("answers Version, Status and image calls with containerd's exact bytes", async () => {
    for (const [service, method, req] of [
      ["RuntimeService", "Version", { version: "v1" }],
      ["RuntimeService", "Status", { verbose: false }],
      ["ImageService", "ListImages", {}],
      ["ImageService", "ImageStatus", { image: { image: PAUSE_REF } }],
    ] as const) {
      const r = await both(service, method, req);
      expect(r.proxied.length, method).toBeGreaterThan(0);
      expect(r.proxied.equals(r.direct), method).toBe(true);
    }
  });

  it("forwards pod and container lifecycles, and their listings match byte for byte", async () => {
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: hostNetworkPod("plain") });
    const created = await cri.call<{ containerId: string }>("CreateContainer", {
      podSandboxId: pod.podSandboxId,
      config: {
        metadata: { name: "sleeper", attempt: 0 },
        image: { image: PAUSE_REF },
        labels: { role: "plain" },
        logPath: "sleeper.log",
        // A field the proxy's own message subset does not know: it must still reach containerd.
        linux: { resources: { memoryLimitInBytes: String(64 * 1024 * 1024) } },
      },
      sandboxConfig: hostNetworkPod("plain"),
    });
    await cri.call("StartContainer", { containerId: created.containerId });

    for (const [method, req] of [
      ["PodSandboxStatus", { podSandboxId: pod.podSandboxId }],
      ["ListPodSandbox", {}],
      ["ListContainers", {}],
      ["ContainerStatus", { containerId: created.containerId, verbose: true }],
    ] as const) {
      const r = await both("RuntimeService", method, req);
      expect(r.proxied.equals(r.direct), method).toBe(true);
    }

    const status = await cri.call<{ status: { state: string; labels: Record<string, string> }; info: Record<string, string> }>("ContainerStatus", {
      containerId: created.containerId,
      verbose: true,
    });
    expect(status.status.state).toBe("CONTAINER_RUNNING");
    expect(status.status.labels.role).toBe("plain");
    expect(status.info.info).toContain(String(64 * 1024 * 1024));

    await cri.call("StopContainer", { containerId: created.containerId, timeout: 5 });
    await cri.call("RemoveContainer", { containerId: created.containerId });
    await cri.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await cri.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
    expect(backend.started).toEqual([]);
  });

  it("passes containerd's errors through with their code and message", async () => {
    const bytes = encode("RuntimeService", "ContainerStatus", { containerId: "no-such-container" });
    const path = methodPath({ service: "RuntimeService", name: "ContainerStatus" });
    const errOf = (c: RawCriClient) =>
      c.unary(path, bytes).then(
        () => undefined,
        (e: grpc.ServiceError) => e,
      );
    const [d, p] = [await errOf(direct), await errOf(viaProxy)];
    expect(d?.code).toBe(grpc.status.NOT_FOUND);
    expect(p?.code).toBe(d?.code);
    expect(p?.details).toBe(d?.details);
  });

  it("streams GetContainerEvents through: containerd's events, ending as containerd ends it", async () => {
    // containerd 1.6 (Debian 12) has no evented PLEG: its stream ends with a status at once, and the
    // proxy's must end the same way. containerd 2.x sends an event for every change of a pod or
    // container, and the proxy must pass the same ones on. Both streams watch while warm-up pods come
    // and go until each has seen one (so both are subscribed); then one more pod's events are compared.
    const path = methodPath({ service: "RuntimeService", name: "GetContainerEvents" });
    const codec = methodCodec("RuntimeService", "GetContainerEvents");
    const watch = (socket: string) => {
      const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
      const events: { id: string; type: string }[] = [];
      let code: number | undefined;
      const stream = client.makeServerStreamRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        new grpc.Metadata(),
        {},
      );
      stream.on("data", (b: Buffer) => {
        const e = codec.responseDeserialize(b) as { containerId: string; containerEventType: string };
        events.push({ id: e.containerId, type: e.containerEventType });
      });
      stream.on("error", () => undefined);
      const ended = new Promise<void>((resolve) =>
        stream.on("status", (s: grpc.StatusObject) => {
          code = s.code;
          client.close();
          resolve();
        }),
      );
      return { events, ended, code: () => code, cancel: () => stream.cancel() };
    };
    const typesFor = (w: ReturnType<typeof watch>, id: string) => w.events.filter((e) => e.id === id).map((e) => e.type);
    const deleted = (w: ReturnType<typeof watch>, id: string) => typesFor(w, id).includes("CONTAINER_DELETED_EVENT");
    const podComesAndGoes = async (name: string) => {
      const { podSandboxId } = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: hostNetworkPod(name) });
      await cri.call("StopPodSandbox", { podSandboxId });
      await cri.call("RemovePodSandbox", { podSandboxId });
      return podSandboxId;
    };
    const waitFor = async (done: () => boolean, ms: number) => {
      for (const deadline = Date.now() + ms; !done() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      return done();
    };

    const d = watch(containerd.socket);
    const p = watch(proxy.socketPath);
    const bothEnded = () => d.code() !== undefined && p.code() !== undefined;
    let subscribed = false;
    for (let i = 0; i < 5 && !subscribed && !bothEnded(); i++) {
      const id = await podComesAndGoes(`events-warmup-${i}`);
      subscribed = (await waitFor(() => bothEnded() || (deleted(d, id) && deleted(p, id)), 10_000)) && !bothEnded();
    }
    expect(subscribed || bothEnded(), "neither did both streams end nor did both see a pod's events").toBe(true);
    if (subscribed) {
      const id = await podComesAndGoes("events-compared");
      expect(await waitFor(() => deleted(d, id) && deleted(p, id), 20_000), "both streams see the pod removed").toBe(true);
      expect(typesFor(d, id)).toContain("CONTAINER_CREATED_EVENT");
      expect(typesFor(p, id)).toEqual(typesFor(d, id));
      d.cancel();
      p.cancel();
    }
    await Promise.all([d.ended, p.ended]);
    expect(p.code()).toBe(d.code());
  });

  it("carries messages over 4 MiB both ways, up to containerd's and kubelet's 16 MiB", async () => {
    // An ExecSync answer of 4.5 MB: a pause container with the host's /usr, read-only, for `head`.
    const cfg = hostNetworkPod("big");
    const pod = await cri.call<{ podSandboxId: string }>("RunPodSandbox", { config: cfg });
    const created = await cri.call<{ containerId: string }>("CreateContainer", {
      podSandboxId: pod.podSandboxId,
      config: {
        metadata: { name: "big" },
        image: { image: PAUSE_REF },
        logPath: "big.log",
        mounts: [
          { containerPath: "/usr", hostPath: "/usr", readonly: true },
          { containerPath: "/lib", hostPath: "/usr/lib", readonly: true },
          { containerPath: "/lib64", hostPath: "/usr/lib64", readonly: true },
        ],
      },
      sandboxConfig: cfg,
    });
    await cri.call("StartContainer", { containerId: created.containerId });
    const bytes = 4_500_005;
    const exec = await both("RuntimeService", "ExecSync", {
      containerId: created.containerId,
      cmd: ["/usr/bin/head", "-c", String(bytes), "/dev/zero"],
      timeout: 60,
    });
    expect(exec.proxied.equals(exec.direct)).toBe(true);
    const decoded = methodCodec("RuntimeService", "ExecSync").responseDeserialize(exec.proxied) as { stdout: Buffer; exitCode: number };
    expect([decoded.stdout.length, decoded.exitCode]).toEqual([bytes, 0]);

    // A 5 MB request: a label selector no container matches.
    const list = await both("RuntimeService", "ListContainers", { filter: { labelSelector: { big: "x".repeat(5_000_000) } } });
    expect(list.proxied.equals(list.direct)).toBe(true);

    await cri.call("StopContainer", { containerId: created.containerId, timeout: 1 });
    await cri.call("RemoveContainer", { containerId: created.containerId });
    await cri.call("StopPodSandbox", { podSandboxId: pod.podSandboxId });
    await cri.call("RemovePodSandbox", { podSandboxId: pod.podSandboxId });
  });

  it("answers the gRPC health service as containerd does", async () => {
    // HealthCheckRequest{service: ""} is the empty message; SERVING is field 1 = 1.
    const check = "/grpc.health.v1.Health/Check";
    const [d, p] = [await direct.unary(check, Buffer.alloc(0)), await viaProxy.unary(check, Buffer.alloc(0))];
    expect(p.equals(d)).toBe(true);
    expect([...p]).toEqual([0x08, 0x01]);
  });
});
