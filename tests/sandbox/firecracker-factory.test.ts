// createFirecrackerSandbox() as the orchestrator calls it, with the Firecracker API test double
// (tests/doubles/firecracker) as the binary and a stand-in image store returning a small ext4:
// builds the guest init, reclaims leftovers, builds the pool, boots and stops a VM, disposes.
import { afterAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFirecrackerSandbox } from "../../node-runtime/sandbox/firecracker/create-firecracker-sandbox.js";
import { StageTimer } from "../../node-runtime/metrics/stages.js";
import { installFirecrackerDouble } from "../doubles/firecracker/install-double.js";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("firecracker-factory.test: skipped, needs root for network namespaces");
// This suite's address block: 10.155.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random().toString(36).slice(2, 6).replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(join(tmpdir(), "vhfc-factory-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(!isRoot)("createFirecrackerSandbox", () => {
  it("wires guest init, pool and driver under <dataDir>/firecracker and tears down cleanly", async () => {
    mkdirSync(join(work, "root/etc"), { recursive: true });
    writeFileSync(join(work, "root/etc/passwd"), "root:x:0:0::/:/bin/sh\n");
    const ext4 = join(work, "image.ext4");
    execFileSync("mkfs.ext4", ["-q", "-F", "-d", join(work, "root"), ext4, "8M"]);
    writeFileSync(join(work, "vmlinux"), "kernel stand-in for the API double");
    const sandbox = await createFirecrackerSandbox({
      // Stands in for the image store: every digest is this small ext4.
      images: { ext4: async () => ext4 },
      dataDir: join(work, "data"),
      firecrackerBin: installFirecrackerDouble(work, "1.16.1", join(work, "api.jsonl")),
      kernelPath: join(work, "vmlinux"),
      network: { namePrefix: `vhnt${tag}`, size: 2, cloneCidr: `10.155.${octet}.0/25`, transitCidr: `10.155.${octet}.128/25` },
    });
    try {
      expect(sandbox.pool.size).toBe(2);
      const slot = await sandbox.pool.acquire();
      const h = await sandbox.driver.boot(
        {
          instanceId: `fac-${tag}`,
          revision: "r1",
          imageDigest: "sha256:" + "0".repeat(64),
          image: { entrypoint: ["/bin/true"], cmd: [], env: [], workingDir: "/", user: "0", exposedPorts: [] },
          port: 8080,
          vcpus: 1,
          memoryMiB: 512,
          network: slot,
        },
        new StageTimer(),
      );
      expect(h.endpoint).toEqual({ kind: "tcp", host: `10.155.${octet}.1`, port: 8080 });
      expect(readdirSync(join(work, "data/firecracker")).sort()).toEqual(["guest-init", "prepared-images", "vms"]);
      await sandbox.driver.stop(h);
      await sandbox.pool.release(slot);
    } finally {
      await sandbox.driver.stopAll();
      await sandbox.dispose();
    }
    expect(readdirSync(join(work, "data/firecracker/vms"))).toEqual([]);
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(`vhnt${tag}`);
  });
});
