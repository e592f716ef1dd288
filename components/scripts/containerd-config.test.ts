import { describe, expect, it } from "vitest";
import { containerdConfig, STARGZ_SOCKET } from "./containerd-config.js";

const base = { cniBinDir: "/opt/cni/bin", pauseImage: "registry.k8s.io/pause:3.10.1" } as const;

/** Table headers of a TOML text, in order. */
function tables(toml: string): string[] {
  return toml
    .split("\n")
    .filter((l) => l.startsWith("["))
    .map((l) => l.slice(1, -1));
}

describe("containerd configuration", () => {
  it("with eStargz keeps the runtimes and adds the snapshotter (merged, not replaced)", () => {
    const withStargz = containerdConfig({ ...base, configVersion: 3, sandbox: "gvisor", estargz: true });
    const without = containerdConfig({ ...base, configVersion: 3, sandbox: "gvisor", estargz: false });
    // Every table of the plain config is still there; stargz only adds.
    expect(tables(withStargz)).toEqual([...tables(without), "proxy_plugins.stargz"]);
    expect(withStargz).toContain(`address = "${STARGZ_SOCKET}"`);
    expect(withStargz).toContain('snapshotter = "stargz"');
    expect(withStargz).toContain('runtime_type = "io.containerd.runsc.v1"');
    expect(withStargz).toContain("SystemdCgroup = true");
  });

  it("writes version 2 for Debian's containerd 1.6, with gVisor through the runc shim when no runsc shim exists", () => {
    const v2 = containerdConfig({
      ...base,
      configVersion: 2,
      sandbox: "gvisor",
      estargz: false,
      cniBinDir: "/usr/lib/cni",
      runscViaRuncShim: "/usr/bin/runsc",
    });
    expect(v2.split("\n")[1]).toBe("version = 2");
    expect(v2).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runsc.options]\n  BinaryName = "/usr/bin/runsc"');
    expect(v2).toContain('bin_dir = "/usr/lib/cni"');
    expect(v2).toContain('sandbox_image = "registry.k8s.io/pause:3.10.1"');
  });

  it("adds no gVisor runtime for the other sandboxes", () => {
    for (const sandbox of ["containerd", "firecracker"] as const)
      expect(containerdConfig({ ...base, configVersion: 3, sandbox, estargz: false })).not.toContain("runsc");
  });
});
