import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readProcFile } from "./proc-file.js";

describe("readProcFile", () => {
  it("reads a /proc file whole, as a synchronous read does", async () => {
    // mountinfo of this process: long on any machine with containers or test hosts.
    const whole = readFileSync("/proc/self/mountinfo", "utf8");
    expect(await readProcFile("/proc/self/mountinfo")).toBe(whole);
  });

  it("puts several reads together", async () => {
    const whole = readFileSync("/proc/self/mountinfo", "utf8");
    expect(whole.length).toBeGreaterThan(3 * 256);
    expect(await readProcFile("/proc/self/mountinfo", 256)).toBe(whole);
  });
});
