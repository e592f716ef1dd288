import { describe, expect, it } from "vitest";
import { methodCodec } from "../../../tests/cri/criTestClient.js";
import { appendContainerEnvs, appendContainerStatus, CONTAINER_STATE, decodeCreateContainer } from "./criMessages.js";
import { extendEmbeddedField } from "./protobufWire.js";

// Messages are built and read back with codecs generated from the upstream CRI spec, so these
// check our field numbers and the in-place extension against the real message definitions.
const create = methodCodec("RuntimeService", "CreateContainer");
const status = methodCodec("RuntimeService", "ContainerStatus");

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

describe("CRI message editing", () => {
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
    expect(decoded.config.envs).toEqual([{ key: "A", value: "1" }, { key: "GUEST_ADDR", value: "10.0.0.2" }]);
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
});
