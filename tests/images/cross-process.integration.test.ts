// Several OS processes sharing one image-store root (as several node-runtime processes or test
// files would), and the lock file the helloworld fixture relies on.
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { withFileLock } from "#node-runtime/images/file-lock.js";
import { ensureHelloworldImage } from "../fixtures/helloworld.js";
import { imageTestsSkipReason } from "./requirements.js";

const skipReason = imageTestsSkipReason();
if (skipReason) console.log(`image tests skipped: ${skipReason}`);

const run = promisify(execFile);
const worker = path.resolve("tests/images/store-worker.ts");
const scratch: string[] = [];
afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

function tsx(...args: string[]): Promise<string> {
  return run(process.execPath, ["--import", "tsx", worker, ...args], { maxBuffer: 1 << 20 }).then((r) => r.stdout);
}

describe.skipIf(skipReason !== undefined)("image store across processes", () => {
  it("two processes loading, unpacking and converting the same image end with one consistent copy", async () => {
    const hello = await ensureHelloworldImage();
    const root = await mkdtemp("/var/tmp/vhimg-store-");
    scratch.push(root);
    const results = (await Promise.all([tsx("store", root, hello.tarball), tsx("store", root, hello.tarball)])).map(
      (out) => JSON.parse(out) as { digest: string; rootfs: string; ext4: string },
    );
    expect(results[0]).toEqual(results[1]);
    expect(await readdir(path.join(root, "tmp"))).toEqual([]);
    expect(await readdir(path.join(root, "rootfs"))).toHaveLength(1);
    execFileSync("e2fsck", ["-fn", results[0]!.ext4], { stdio: "ignore" });
    expect(execFileSync("debugfs", ["-R", "cat /app/server.py", results[0]!.ext4], { stdio: ["ignore", "pipe", "ignore"] }).toString()).toContain(
      "helloworld.Greeter",
    );
  });
});

describe("withFileLock", () => {
  it("lets one process at a time hold the lock", async () => {
    const dir = await mkdtemp("/var/tmp/vhimg-lock-");
    scratch.push(dir);
    const lock = path.join(dir, "lock");
    const log = path.join(dir, "log");
    await Promise.all([1, 2, 3].map(() => tsx("lock", lock, log)));
    const events = (await readFile(log, "utf8"))
      .trim()
      .split("\n")
      .map((line) => line.split(" "));
    expect(events).toHaveLength(6);
    // Strictly alternating start/end of the same process: no two holders overlapped.
    for (let i = 0; i < events.length; i += 2) {
      expect(events[i]![0]).toBe("start");
      expect(events[i + 1]![0]).toBe("end");
      expect(events[i + 1]![1]).toBe(events[i]![1]);
    }
  });

  it("takes over a lock left by a process that died", async () => {
    const dir = await mkdtemp("/var/tmp/vhimg-lock-");
    scratch.push(dir);
    const lock = path.join(dir, "lock");
    const dead = spawn("true");
    await new Promise((resolve) => dead.on("exit", resolve));
    await writeFile(lock, String(dead.pid));
    expect(await withFileLock(lock, async () => "acquired", { timeoutMs: 5000 })).toBe("acquired");
    await expect(readFile(lock)).rejects.toThrow();
  });

  it("times out with the holder's PID when the lock stays held", async () => {
    const dir = await mkdtemp("/var/tmp/vhimg-lock-");
    scratch.push(dir);
    const lock = path.join(dir, "lock");
    await writeFile(lock, String(process.ppid));
    await expect(withFileLock(lock, async () => "never", { timeoutMs: 300, pollMs: 50 })).rejects.toThrow(`held by PID ${process.ppid}`);
  });
});
