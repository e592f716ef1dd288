import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { exitFromLog } from "./driver.js";
import { overlayOptions } from "./instance-rootfs.js";

const dir = await mkdtemp(path.join(tmpdir(), "vhgv-exitlog-"));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("exitFromLog", () => {
  it("reads the relay's last status line", async () => {
    const log = path.join(dir, "a.log");
    await writeFile(log, "serving\nvhgv-relay: function exited with status 3\nrestored\nvhgv-relay: function exited with status 7\n");
    expect(await exitFromLog(log)).toEqual({ code: 7, signal: null });
    await writeFile(log, "vhgv-relay: function killed by signal 9\n");
    expect(await exitFromLog(log)).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("reads how the sandbox process ended from the reaper's line when the relay said nothing", async () => {
    const log = path.join(dir, "c.log");
    await writeFile(log, "serving\nvhgv-reaper: process 41 killed by signal 15\nvhgv-reaper: process 40 killed by signal 9\n");
    expect(await exitFromLog(log, 40)).toEqual({ code: null, signal: "SIGKILL" });
    expect(await exitFromLog(log, 41)).toEqual({ code: null, signal: "SIGTERM" });
    expect(await exitFromLog(log, 42)).toEqual({ code: null, signal: null }); // the gofer's line is not the sandbox's
    // The function's own status, when the relay logged it, says more than the sandbox's.
    await writeFile(log, "vhgv-relay: function exited with status 3\nvhgv-reaper: process 40 exited with status 3\n");
    expect(await exitFromLog(log, 40)).toEqual({ code: 3, signal: null });
  });

  it("reports an unknown exit when the sandbox died without the relay saying anything", async () => {
    const log = path.join(dir, "b.log");
    await writeFile(log, "serving\n");
    expect(await exitFromLog(log)).toEqual({ code: null, signal: null });
    expect(await exitFromLog(path.join(dir, "missing.log"))).toEqual({ code: null, signal: null });
  });
});

describe("overlayOptions", () => {
  const layout = { mountPoint: "/i/rootfs", upper: "/i/upper", work: "/i/work" };
  it("layers the image rootfs under the instance's upper dir", () => {
    expect(overlayOptions("/images/rootfs/abc", layout)).toBe("lowerdir=/images/rootfs/abc,upperdir=/i/upper,workdir=/i/work");
  });
  it("refuses paths that would break the option string", () => {
    expect(() => overlayOptions("/images/a,b", layout)).toThrow(/cannot be used in an overlay mount/);
  });
});
