import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseByteSize } from "./byte-size.js";
import { DEFAULT_API_SOCKET, loadRuntimeConfig, parseRuntimeConfig } from "./runtime-config.js";

describe("runtime config", () => {
  it("has defaults for everything", () => {
    const cfg = parseRuntimeConfig({});
    expect(cfg).toMatchObject({ sandbox: "gvisor", snapshotMode: "vanilla", socket: DEFAULT_API_SOCKET, vcpus: 1, memoryMiB: 512, diskBudget: 20 * 1024 ** 3 });
  });

  it("reads sizes with units", () => {
    expect(parseByteSize("10GiB", "x")).toBe(10 * 1024 ** 3);
    expect(parseByteSize("512 MB", "x")).toBe(512e6);
    expect(parseByteSize(4096, "x")).toBe(4096);
    expect(() => parseByteSize("ten gigs", "diskBudget")).toThrow(/diskBudget: cannot read "ten gigs"/);
  });

  it("names every bad field", () => {
    expect(() => parseRuntimeConfig({ sandbox: "qemu", diskBudget: "lots", port: 0, extra: 1 })).toThrow(
      /sandbox: .*\n.*diskBudget: diskBudget: cannot read "lots"[\s\S]*port: [\s\S]*Unrecognized key/,
    );
  });

  it("reads Firecracker's jailer, snapshot type, REAP threshold and registry credentials, refusing what cannot work", () => {
    const cfg = parseRuntimeConfig({
      firecrackerJailer: { uid: 10000, gid: 10000 },
      firecrackerSnapshotType: "Diff",
      reapRerecordThreshold: 0.4,
      registryCredentials: { "registry.example:5000": { username: "bot", passwordFile: "/etc/vhive/registry-token" } },
    });
    expect(cfg).toMatchObject({
      firecrackerJailer: { uid: 10000, gid: 10000, chrootBaseDir: "/srv/jailer" },
      firecrackerSnapshotType: "Diff",
      reapRerecordThreshold: 0.4,
    });
    expect(parseRuntimeConfig({})).toMatchObject({ firecrackerSnapshotType: "Full", reapRerecordThreshold: 0.25 });
    expect(parseRuntimeConfig({}).firecrackerJailer).toBeUndefined();
    expect(() =>
      parseRuntimeConfig({
        firecrackerJailer: { uid: 0, gid: 10000 },
        firecrackerSnapshotType: "Incremental",
        reapRerecordThreshold: 1.5,
        registryCredentials: { "https://registry.example": { username: "bot", password: "inline" } },
      }),
    ).toThrow(/firecrackerJailer\.uid: [\s\S]*firecrackerSnapshotType: [\s\S]*reapRerecordThreshold: [\s\S]*registryCredentials\.https:\/\/registry\.example/);
    // A password cannot be written into the config itself, only a file naming it.
    expect(() => parseRuntimeConfig({ registryCredentials: { "r.example": { username: "bot", password: "inline" } } })).toThrow(
      /registryCredentials\.r\.example: Unrecognized key.*password/,
    );
  });

  it("overlays flags on a YAML file", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "vhor-cfg-"));
    try {
      const file = path.join(dir, "runtime.yaml");
      await writeFile(file, "sandbox: containerd\nsnapshotMode: off\ndiskBudget: 1GiB\nport: 9090\n");
      const cfg = await loadRuntimeConfig(file, { snapshotMode: "reap", port: undefined });
      expect(cfg).toMatchObject({ sandbox: "containerd", snapshotMode: "reap", diskBudget: 1024 ** 3, port: 9090 });
      expect(cfg.socket).toBeUndefined();
      await expect(loadRuntimeConfig(path.join(dir, "missing.yaml"))).rejects.toThrow(/cannot read config file .*missing.yaml/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
