import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readProcFile } from "./proc-file.js";

describe("readProcFile", () => {
  it("reads a /proc file whole, as a synchronous read does", async () => {
    // mountinfo of this process: long on any machine with containers or test hosts.
    const whole = readFileSync("/proc/self/mountinfo", "utf8");
    expect(await readProcFile("/proc/self/mountinfo")).toBe(whole);
  });

  it("reads more than one chunk", async () => {
    // /proc/self/maps of a Node process is well over 64 KiB.
    const text = await readProcFile("/proc/self/maps");
    expect(text.length).toBeGreaterThan(64 * 1024);
    expect(text.endsWith("\n")).toBe(true);
  });
});
