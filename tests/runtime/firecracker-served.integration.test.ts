// The served runtime's own Firecracker path, built from a RuntimeConfig by createNodeRuntime (the
// same wiring `node-runtime serve` runs), with the Firecracker API test double as the binary and
// the jailer test double: the config's jailer, Diff snapshots, pool prefix and address blocks reach
// the driver; a predecessor's VM is reclaimed at start; a start through the orchestrator boots the
// VM in its jail and, since the double runs no guest, fails DEADLINE_EXCEEDED with nothing left.
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import type { LocalImageStore } from "#node-runtime/images/image-store.js";
import { createNodeRuntime, RuntimeError } from "#node-runtime/index.js";
import { installFirecrackerDouble } from "../doubles/firecracker/install-double.js";
import { skipReason } from "../requirements.js";
import { firecrackerSpec } from "../upstream-specs.js";
import { ensureHelloworldImage } from "../fixtures/helloworld.js";

// The Firecracker double validates requests against Firecracker's API spec of v1.16.1.
const skip =
  skipReason("firecracker-served.test", { root: "network namespaces and the jailer's uid switch", specs: [firecrackerSpec("1.16.1")] }) !== undefined;
const JAILER_DOUBLE = fileURLToPath(new URL("../doubles/firecracker/jailer-double.sh", import.meta.url));
// This suite's address block: 10.156.<random>.0/24.
const octet = Math.floor(Math.random() * 256);
const tag = Math.random()
  .toString(36)
  .slice(2, 6)
  .replace(/[^a-z0-9]/g, "x");
const work = mkdtempSync(path.join(tmpdir(), "vhfc-served-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skip)("served runtime on Firecracker (API and jailer doubles)", () => {
  it("builds Firecracker from the config, reclaims a predecessor's VM, boots jailed with Diff tracking, and cleans up a start whose function never answers", async () => {
    // The jailed VMM (uid 10000) must reach its chroot below the test's directory.
    chmodSync(work, 0o755);
    const record = path.join(work, "api.jsonl");
    writeFileSync(record, "");
    chmodSync(record, 0o666);
    const kernel = path.join(work, "vmlinux");
    writeFileSync(kernel, "kernel stand-in for the API double");
    const firecrackerBin = installFirecrackerDouble(work, "1.16.1", record);
    const chrootBaseDir = path.join(work, "jail");
    const jails = path.join(chrootBaseDir, path.basename(firecrackerBin));

    // A predecessor's VM: its jail with the VMM's pid, a process whose command line names it.
    const orphanHome = path.join(jails, `orphan-${tag}`);
    mkdirSync(path.join(orphanHome, "root"), { recursive: true });
    // One process (no children to outlive it) whose arguments name the VM, as a VMM's do.
    const orphan = spawn(process.execPath, ["-e", "setInterval(() => undefined, 60_000)", `orphan-${tag}`], { stdio: "ignore" });
    writeFileSync(path.join(orphanHome, "vmm.pid"), `${orphan.pid}\n`);
    const orphanGone = new Promise((ok) => orphan.once("exit", ok));

    const config = parseRuntimeConfig({
      sandbox: "firecracker",
      dataDir: path.join(work, "data"),
      socket: path.join(work, "api.sock"),
      firecrackerBin,
      firecrackerKernel: kernel,
      firecrackerJailer: { bin: JAILER_DOUBLE, uid: 10000, gid: 10000, chrootBaseDir },
      firecrackerSnapshotType: "Diff",
      networkPrefix: `vhns${tag}`,
      networkPoolSize: 2,
      networkCloneCidr: `10.156.${octet}.0/25`,
      networkTransitCidr: `10.156.${octet}.128/25`,
      readyTimeoutMs: 2_000,
    });
    const rt = await createNodeRuntime(config, { logger: pino({ level: "silent" }) });
    try {
      await orphanGone;
      expect(existsSync(orphanHome)).toBe(false);
      expect(rt.orchestrator.sandboxKinds).toEqual(["firecracker"]);
      const hello = await ensureHelloworldImage();
      const image = await (rt.images as LocalImageStore).loadOciLayout(hello.layoutDir, hello.ref);

      const start = rt.orchestrator.start({ image: image.digest, revision: `fc-${tag}`, instanceId: `fcserved-${tag}` });
      await expect(start).rejects.toBeInstanceOf(RuntimeError);
      await expect(start).rejects.toMatchObject({ code: "DEADLINE_EXCEEDED" });
      const sent = readFileSync(record, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { method: string; path: string; body?: Record<string, unknown> });
      expect(sent.find((e) => e.path === "/machine-config")?.body).toMatchObject({ track_dirty_pages: true });
      expect(sent.find((e) => e.path === "/actions")?.body).toEqual({ action_type: "InstanceStart" });
      // Everything of the failed start is gone: the jail and the instance; the pool stays until close.
      expect(readdirSync(jails)).toEqual([]);
      expect(rt.orchestrator.list()).toEqual([]);
      expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).toContain(`vhns${tag}`);
    } finally {
      if (orphan.exitCode === null && orphan.signalCode === null) orphan.kill("SIGKILL");
      await rt.close();
    }
    expect(execFileSync("ip", ["netns", "list"], { encoding: "utf8" })).not.toContain(`vhns${tag}`);
  });
});
