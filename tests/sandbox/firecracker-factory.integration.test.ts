// createFirecrackerSandbox(), the factory the served runtime builds Firecracker with
// (orchestrator/sandbox-factories.ts), with the Firecracker API test double
// (tests/doubles/firecracker) as the binary, the jailer test double, and a stand-in image store
// returning a small ext4: checks the files it needs, builds the guest init, reclaims what a
// predecessor left, builds the pool, boots, snapshots (Diff), restores, stops, disposes.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createFirecrackerSandbox } from "#node-runtime/sandbox/firecracker/create-firecracker-sandbox.js";
import { readSnapshotMeta } from "#node-runtime/sandbox/firecracker/snapshot-meta.js";
import { StageTimer } from "#node-runtime/metrics/stages.js";
import type { BootRequest } from "#node-runtime/sandbox/driver.js";
import type { NetworkSlot } from "#node-runtime/network/types.js";
import { installFirecrackerDouble } from "../doubles/firecracker/install-double.js";
import { skipReason } from "../requirements.js";
import { firecrackerSpec } from "../upstream-specs.js";

// The Firecracker double validates requests against Firecracker's API spec of v1.16.1.
const skip =
  skipReason("firecracker-factory.test", { root: "network namespaces and the jailer's uid switch", specs: [firecrackerSpec("1.16.1")] }) !== undefined;
const JAILER_DOUBLE = fileURLToPath(new URL("../doubles/firecracker/jailer-double.sh", import.meta.url));
// This suite's address block: 10.155.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(join(tmpdir(), "vhfc-factory-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function request(instanceId: string, slot: NetworkSlot): BootRequest {
  return {
    instanceId,
    revision: "r1",
    imageDigest: "sha256:" + "0".repeat(64),
    image: { entrypoint: ["/bin/true"], cmd: [], env: [], workingDir: "/", user: "0", exposedPorts: [] },
    port: 8080,
    vcpus: 1,
    memoryMiB: 512,
    network: slot,
  };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip)("createFirecrackerSandbox", () => {
  it("refuses a missing binary, kernel or jailer, and a jail running as root, naming the setting", async () => {
    const base = { images: { ext4: async () => "" }, dataDir: join(work, "refused"), network: { namePrefix: `vhnr${tag}`, size: 1 } };
    await expect(createFirecrackerSandbox({ ...base, firecrackerBin: join(work, "none"), kernelPath: join(work, "none") })).rejects.toThrow(
      /firecrackerBin .*none does not exist or is not executable/,
    );
    await expect(createFirecrackerSandbox({ ...base, firecrackerBin: "/bin/true", kernelPath: join(work, "none") })).rejects.toThrow(
      /firecrackerKernel .*none/,
    );
    await expect(
      createFirecrackerSandbox({
        ...base,
        firecrackerBin: "/bin/true",
        kernelPath: "/bin/true",
        jailer: { jailerBin: join(work, "none"), uid: 10000, gid: 10000, chrootBaseDir: work },
      }),
    ).rejects.toThrow(/jailer.bin .*none does not exist/);
    await expect(
      createFirecrackerSandbox({
        ...base,
        firecrackerBin: "/bin/true",
        kernelPath: "/bin/true",
        jailer: { jailerBin: "/bin/true", uid: 0, gid: 10000, chrootBaseDir: work },
      }),
    ).rejects.toThrow(/jailer.uid and jailer.gid must be ≥ 1/);
    expect(existsSync(base.dataDir)).toBe(false);
  });

  it("wires guest init, jailed driver (Diff snapshots) and pool, reclaims a predecessor's VM, and tears down cleanly", async () => {
    // The jailed VMM (uid 10000) must reach its chroot below the test's directory.
    chmodSync(work, 0o755);
    mkdirSync(join(work, "root/etc"), { recursive: true });
    writeFileSync(join(work, "root/etc/passwd"), "root:x:0:0::/:/bin/sh\n");
    const ext4 = join(work, "image.ext4");
    execFileSync("mkfs.ext4", ["-q", "-F", "-d", join(work, "root"), ext4, "8M"]);
    writeFileSync(join(work, "vmlinux"), "kernel stand-in for the API double");
    const record = join(work, "api.jsonl");
    writeFileSync(record, "");
    chmodSync(record, 0o666);
    const firecrackerBin = installFirecrackerDouble(work, "1.16.1", record);
    const chrootBaseDir = join(work, "jail");
    const jails = join(chrootBaseDir, "firecracker-double-1.16.1");

    // A predecessor's VM: its jail with the VMM's pid, a process whose command line names it.
    const orphanHome = join(jails, `orphan-${tag}`);
    mkdirSync(join(orphanHome, "root"), { recursive: true });
    // One process (no children to outlive it) whose arguments name the VM, as a VMM's do.
    const orphan = spawn(process.execPath, ["-e", "setInterval(() => undefined, 60_000)", `orphan-${tag}`], { stdio: "ignore" });
    writeFileSync(join(orphanHome, "vmm.pid"), `${orphan.pid}\n`);
    const orphanGone = new Promise((ok) => orphan.once("exit", ok));

    const sandbox = await createFirecrackerSandbox({
      // Stands in for the image store: every digest is this small ext4.
      images: { ext4: async () => ext4 },
      dataDir: join(work, "data"),
      firecrackerBin,
      kernelPath: join(work, "vmlinux"),
      jailer: { jailerBin: JAILER_DOUBLE, uid: 10000, gid: 10000, chrootBaseDir },
      snapshotType: "Diff",
      // The double is a Node process compiled on start: slow when the machine is busy.
      apiStartTimeoutMs: 60_000,
      network: { namePrefix: `vhnt${tag}`, size: 2, cloneCidr: `10.155.${octet}.0/25`, transitCidr: `10.155.${octet}.128/25` },
    });
    try {
      await orphanGone;
      expect(existsSync(orphanHome)).toBe(false);
      expect(sandbox.driver.capabilities).toEqual({ snapshots: true, stopsOnSnapshot: false, needsNetwork: true });
      expect(sandbox.pool.size).toBe(2);
      const slot = await sandbox.pool.acquire();
      const h = await sandbox.driver.boot(request(`fac-${tag}`, slot), new StageTimer());
      expect(h.endpoint).toEqual({ kind: "tcp", host: `10.155.${octet}.1`, port: 8080 });
      // Jailed: the VMs live in the chroot base, not under the data dir.
      expect(readdirSync(join(work, "data/firecracker")).sort()).toEqual(["guest-init", "prepared-images"]);
      expect(readdirSync(jails)).toEqual([`fac-${tag}`]);

      const snap = join(work, "snap");
      mkdirSync(snap);
      await sandbox.driver.pause(h);
      await sandbox.driver.snapshot(h, snap);
      expect((await readSnapshotMeta(snap)).snapshotType).toBe("Diff");
      expect(statSync(join(snap, "memory")).uid).toBe(0);
      await sandbox.driver.stop(h);
      const clone = await sandbox.driver.restore({ ...request(`facr-${tag}`, slot), snapshotDir: snap, memory: { kind: "file" } }, new StageTimer());
      expect(alive(clone.pid)).toBe(true);
      await sandbox.driver.stop(clone);
      await sandbox.pool.release(slot);
    } finally {
      if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill("SIGKILL");
      await sandbox.driver.stopAll();
      await sandbox.dispose();
    }
    expect(readdirSync(jails)).toEqual([]);
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(`vhnt${tag}`);
  });
});
