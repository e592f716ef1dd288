import { beforeAll, describe, expect, it } from "vitest";
import { methodCodec } from "../../../tests/cri/cri-test-client.js";
import { skipReason } from "../../../tests/requirements.js";
import { CRI_SPEC } from "../../../tests/upstream-specs.js";
import {
  appendContainerEnvs,
  appendContainerStatus,
  CONTAINER_STATE,
  decodeCreateContainer,
  decodeListContainersStateFilter,
  decodePodSandboxId,
  decodePodSandboxStatus,
  markContainersExited,
} from "./cri-messages.js";
import { editEmbeddedFields, extendEmbeddedField } from "./protobuf-wire.js";

// Messages are built and read back with codecs generated from the upstream CRI spec, so these
// check our field numbers and the in-place extension against the real message definitions.
const skip = skipReason("cri-messages.test", { specs: [CRI_SPEC] });
type Codec = ReturnType<typeof methodCodec>;
let create: Codec;
let status: Codec;
let list: Codec;
let podStatus: Codec;

const request = {
  podSandboxId: "pod-1",
  config: {
    metadata: { name: "queue-proxy", attempt: 3 },
    image: { image: "queue:1" },
    envs: [{ key: "A", value: "1" }],
    labels: { l: "v" },
    linux: { resources: { memoryLimitInBytes: "1048576", cpuShares: "512" } },
    mounts: [{ containerPath: "/data", hostPath: "/srv/data", readonly: true }],
  },
  sandboxConfig: { metadata: { name: "p", uid: "u", namespace: "ns" }, annotations: { an: "x" } },
};

describe.skipIf(skip !== undefined)("CRI message editing", () => {
  beforeAll(() => {
    create = methodCodec("RuntimeService", "CreateContainer");
    status = methodCodec("RuntimeService", "ContainerStatus");
    list = methodCodec("RuntimeService", "ListContainers");
    podStatus = methodCodec("RuntimeService", "PodSandboxStatus");
  });

  it("decodes what the proxy needs from CreateContainer", () => {
    const info = decodeCreateContainer(create.requestSerialize(request));
    expect(info).toMatchObject({
      podSandboxId: "pod-1",
      containerName: "queue-proxy",
      attempt: 3,
      image: "queue:1",
      envs: [{ key: "A", value: "1" }],
      podName: "p",
      podNamespace: "ns",
      podUid: "u",
      podAnnotations: { an: "x" },
    });
  });

  it("adds envs inside the container config and keeps every other field", () => {
    const out = appendContainerEnvs(create.requestSerialize(request), [{ key: "GUEST_ADDR", value: "10.0.0.2" }]);
    const decoded = create.requestDeserialize(out) as typeof request & { config: { envs: { key: string; value: string }[] } };
    expect(decoded.config.envs).toEqual([
      { key: "A", value: "1" },
      { key: "GUEST_ADDR", value: "10.0.0.2" },
    ]);
    expect(decoded.config.linux.resources).toMatchObject({ memoryLimitInBytes: "1048576", cpuShares: "512" });
    expect(decoded.config.mounts[0]).toMatchObject({ containerPath: "/data", hostPath: "/srv/data", readonly: true });
    expect(decoded.config.labels).toEqual({ l: "v" });
    expect(decoded.sandboxConfig.annotations).toEqual({ an: "x" });
  });

  it("overrides status fields and keeps the rest", () => {
    const original = status.responseSerialize({
      status: { id: "c1", state: "CONTAINER_RUNNING", labels: { a: "b" }, imageRef: "sha256:abc", startedAt: "5" },
      info: { k: "v" },
    });
    const out = appendContainerStatus(original, {
      state: CONTAINER_STATE.exited,
      exitCode: 137,
      finishedAtNs: 1_767_323_045_678_000_001n,
      reason: "SandboxCrashed",
      message: "killed",
    });
    expect(status.responseDeserialize(out)).toMatchObject({
      status: {
        id: "c1",
        state: "CONTAINER_EXITED",
        exitCode: 137,
        finishedAt: "1767323045678000001",
        reason: "SandboxCrashed",
        message: "killed",
        labels: { a: "b" },
        imageRef: "sha256:abc",
        startedAt: "5",
      },
      info: { k: "v" },
    });
  });

  it("adds the embedded field when the message has none", () => {
    const bare = create.requestSerialize({ podSandboxId: "p" });
    const out = appendContainerEnvs(bare, [{ key: "K", value: "V" }]);
    expect(create.requestDeserialize(out)).toMatchObject({ podSandboxId: "p", config: { envs: [{ key: "K", value: "V" }] } });
  });

  it("rejects malformed input instead of corrupting it", () => {
    expect(() => extendEmbeddedField(Buffer.from([0x12, 0x05, 0x01]), 2, Buffer.alloc(0))).toThrow(/runs past the end/);
    expect(() => extendEmbeddedField(Buffer.from([0x0b]), 2, Buffer.alloc(0))).toThrow(/wire type 3/);
  });

  it("reads the pod sandbox id of StopPodSandbox and RemovePodSandbox", () => {
    for (const method of ["StopPodSandbox", "RemovePodSandbox"]) {
      expect(decodePodSandboxId(methodCodec("RuntimeService", method).requestSerialize({ podSandboxId: "pod-9" }))).toBe("pod-9");
    }
  });

  it("reads a pod's state, IPs and network namespace mode from PodSandboxStatus", () => {
    const onCni = podStatus.responseSerialize({
      status: {
        id: "p",
        state: "SANDBOX_READY",
        network: { ip: "10.88.0.7", additionalIps: [{ ip: "fd00::7" }] },
        linux: { namespaces: { options: { network: "POD" } } },
      },
      info: { k: "v" },
    });
    expect(decodePodSandboxStatus(onCni)).toEqual({ ready: true, hostNetwork: false, ips: ["10.88.0.7", "fd00::7"] });
    const host = podStatus.responseSerialize({ status: { id: "h", state: "SANDBOX_NOTREADY", linux: { namespaces: { options: { network: "NODE" } } } } });
    expect(decodePodSandboxStatus(host)).toEqual({ ready: false, hostNetwork: true, ips: [] });
  });

  it("reads the state a ListContainers request filters on", () => {
    expect(decodeListContainersStateFilter(list.requestSerialize({}))).toBeUndefined();
    expect(decodeListContainersStateFilter(list.requestSerialize({ filter: { podSandboxId: "p" } }))).toBeUndefined();
    expect(decodeListContainersStateFilter(list.requestSerialize({ filter: { state: { state: "CONTAINER_RUNNING" } } }))).toBe(CONTAINER_STATE.running);
    // CONTAINER_CREATED is 0: a filter on it is still a filter.
    expect(decodeListContainersStateFilter(list.requestSerialize({ filter: { state: { state: "CONTAINER_CREATED" } } }))).toBe(CONTAINER_STATE.created);
  });

  it("lists dead functions as exited and keeps every other byte of the listing", () => {
    const containers = [
      { id: "fn", podSandboxId: "p", metadata: { name: "user-container", attempt: 1 }, state: "CONTAINER_RUNNING", labels: { a: "b" }, createdAt: "7" },
      { id: "queue", podSandboxId: "p", metadata: { name: "queue-proxy" }, state: "CONTAINER_RUNNING" },
      { id: "old", podSandboxId: "p", metadata: { name: "user-container" }, state: "CONTAINER_EXITED" },
    ];
    const response = list.responseSerialize({ containers });
    const out = markContainersExited(response, new Set(["fn", "old"]), undefined);
    expect(list.responseDeserialize(out)).toMatchObject({
      containers: [{ ...containers[0], state: "CONTAINER_EXITED" }, containers[1], containers[2]],
    });
    expect(markContainersExited(response, new Set(["old"]), undefined).equals(response)).toBe(true);
    // Listed by state: a dead function is not running, so it leaves a list of running containers.
    const running = markContainersExited(response, new Set(["fn"]), CONTAINER_STATE.running);
    expect((list.responseDeserialize(running) as { containers: { id: string }[] }).containers.map((c) => c.id)).toEqual(["queue", "old"]);
  });

  it("edits, drops and keeps repeated embedded fields in place", () => {
    const response = list.responseSerialize({ containers: [{ id: "a" }, { id: "b" }, { id: "c" }] });
    const out = editEmbeddedFields(response, 1, (p) => (p.includes(Buffer.from("b")) ? undefined : p));
    expect((list.responseDeserialize(out) as { containers: { id: string }[] }).containers.map((c) => c.id)).toEqual(["a", "c"]);
    expect(editEmbeddedFields(response, 1, (p) => p)).toBe(response);
  });
});
