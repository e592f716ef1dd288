import { describe, expect, it } from "vitest";
import { buildContainerSpec, mergeEnv } from "./runtime-spec.js";

const input = {
  hostname: "fn-1",
  args: ["/usr/bin/python3", "-u", "/app/server.py"],
  env: ["PATH=/usr/bin:/bin", "PORT=40000"],
  cwd: "/app",
  uid: 0,
  gid: 0,
  memoryMiB: 256,
  vcpus: 1.5,
  cgroupsPath: "/vhive-node/fn-1",
  hostNetwork: true,
};

describe("buildContainerSpec", () => {
  it("produces the runc spec for a host-network function container", () => {
    expect(buildContainerSpec(input)).toMatchSnapshot();
  });

  it("maps limits and namespaces from the request", () => {
    const spec = buildContainerSpec({ ...input, hostNetwork: false }) as {
      linux: { resources: { memory: { limit: number }; cpu: { quota: number; period: number } }; namespaces: { type: string }[] };
      mounts: { destination: string }[];
    };
    expect(spec.linux.resources.memory.limit).toBe(256 * 1024 * 1024);
    expect(spec.linux.resources.cpu).toEqual({ quota: 150_000, period: 100_000 });
    expect(spec.linux.namespaces.map((n) => n.type)).toContain("network");
    expect(spec.mounts.map((m) => m.destination)).not.toContain("/etc/resolv.conf");
  });

  it("joins a given network namespace instead of sharing the host's", () => {
    const spec = buildContainerSpec({ ...input, hostNetwork: false, networkNamespacePath: "/var/run/netns/x-ctr-0" }) as {
      linux: { namespaces: { type: string; path?: string }[] };
    };
    expect(spec.linux.namespaces.find((n) => n.type === "network")).toEqual({ type: "network", path: "/var/run/netns/x-ctr-0" });
  });

  it("refuses an image with nothing to run", () => {
    expect(() => buildContainerSpec({ ...input, args: [] })).toThrow("neither Entrypoint nor Cmd");
  });
});

describe("mergeEnv", () => {
  it("lets later lists replace earlier keys and keeps order of first appearance", () => {
    expect(mergeEnv(["A=1", "PORT=50051"], ["B=2"], ["PORT=40000"])).toEqual(["A=1", "PORT=40000", "B=2"]);
  });
});
