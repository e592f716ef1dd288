import { describe, expect, it } from "vitest";
import { buildSandboxSpec, mergeEnv, type SandboxSpecInput } from "./oci-spec.js";

const input: SandboxSpecInput = {
  image: {
    entrypoint: ["/usr/bin/python3", "-u"],
    cmd: ["/app/server.py"],
    env: ["PATH=/usr/bin:/bin", "PORT=50051", "MODE=image"],
    workingDir: "/app",
    user: "",
    exposedPorts: [50051],
  },
  user: { uid: 0, gid: 0 },
  rootfs: "/run/vhgv-gvisor/instances/a/rootfs",
  relayBinary: "/var/cache/vhgv-relay/vhgv-relay-0123456789abcdef",
  socketDir: "/run/vhgv-gvisor/instances/a/sock",
  port: 50051,
  driverEnv: { GRPC_POLL_STRATEGY: "poll", MODE: "driver" },
  requestEnv: { MODE: "request" },
  vcpus: 2,
  memoryMiB: 512,
};

describe("buildSandboxSpec", () => {
  it("starts the image's program behind the relay, with bind mounts for relay and socket dir", () => {
    expect(buildSandboxSpec(input)).toMatchSnapshot();
  });

  it("joins a named network namespace in netns mode", () => {
    const spec = buildSandboxSpec({ ...input, netnsPath: "/var/run/netns/vhnet-3" }) as { linux: { namespaces: unknown[] } };
    expect(spec.linux.namespaces).toContainEqual({ type: "network", path: "/var/run/netns/vhnet-3" });
  });

  it("differs between instances only in host paths", () => {
    const a = JSON.stringify(buildSandboxSpec(input));
    const b = JSON.stringify(buildSandboxSpec({ ...input, rootfs: "/run/vhgv-gvisor/instances/b/rootfs", socketDir: "/run/vhgv-gvisor/instances/b/sock" }));
    expect(a.replaceAll("/instances/a/", "/instances/b/")).toBe(b);
  });

  it("names the field that is wrong", () => {
    expect(() => buildSandboxSpec({ ...input, image: { ...input.image, entrypoint: [], cmd: [] } })).toThrow("image config has neither entrypoint nor cmd");
    expect(() => buildSandboxSpec({ ...input, port: 70000 })).toThrow("port 70000 is not a TCP port");
    expect(() => buildSandboxSpec({ ...input, vcpus: 0 })).toThrow("vcpus 0 must be a positive integer");
    expect(() => buildSandboxSpec({ ...input, memoryMiB: 1.5 })).toThrow("memoryMiB 1.5 must be an integer of at least 16");
  });
});

describe("mergeEnv", () => {
  it("lets later sources win, keeps order, and supplies PATH when the image has none", () => {
    expect(mergeEnv(["A=1", "B=2"], { B: "3" }, { C: "4" })).toEqual([
      "A=1",
      "B=3",
      "C=4",
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]);
    expect(mergeEnv(["PATH=/x", "EMPTY="], undefined)).toEqual(["PATH=/x", "EMPTY="]);
  });
});
