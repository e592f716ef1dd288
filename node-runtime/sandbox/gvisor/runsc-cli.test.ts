import { describe, expect, it } from "vitest";
import {
  MEASURED_SNAPSHOT_OPTIONS,
  platformForRelease,
  RunscCli,
  runscReleaseDate,
  snapshotFlags,
  snapshotOptionsFor,
  summariseRunscError,
} from "./runsc-cli.js";

describe("RunscCli", () => {
  it("repeats the same global flags on every call (runsc does not remember create's)", async () => {
    const cli = new RunscCli({ binary: "runsc", root: "/run/vhgv-gvisor/runsc", platform: "ptrace", network: "none" });
    expect(cli.globalFlags(await cli.platform())).toEqual([
      "--root=/run/vhgv-gvisor/runsc",
      "--platform=ptrace",
      "--network=none",
      "--host-uds=create",
      "--overlay2=root:memory",
    ]);
  });

  it("says which binary it could not ask for its version when the platform is auto", async () => {
    const cli = new RunscCli({ binary: "/nonexistent/runsc", root: "/tmp/x", platform: "auto", network: "none" });
    await expect(cli.platform()).rejects.toThrow(/^cannot run \/nonexistent\/runsc --version: /);
  });
});

describe("platform for a runsc release", () => {
  it("reads the release from upstream's and Debian's version lines", () => {
    expect(runscReleaseDate("runsc version release-20260420.0-go.3278e925778d\nspec: 1.1.0-rc.1\n")).toBe(20260420);
    expect(runscReleaseDate("runsc version release-20230621.0\n")).toBe(20230621);
    expect(runscReleaseDate("runsc version 0.0~20221219.0\nspec: 1.0.2\n")).toBe(20221219);
    expect(runscReleaseDate("runsc version VERSION_MISSING\n")).toBeUndefined();
  });

  it("takes systrap from the release that made it runsc's default, ptrace before and when unknown", () => {
    expect(platformForRelease(20260420)).toBe("systrap");
    expect(platformForRelease(20230621)).toBe("systrap");
    expect(platformForRelease(20230613)).toBe("ptrace");
    expect(platformForRelease(20221219)).toBe("ptrace");
    expect(platformForRelease(undefined)).toBe("ptrace");
  });
});

describe("summariseRunscError", () => {
  it("keeps runsc's message and drops Go stack traces", () => {
    const stderr = [
      'checkpoint failed: checkpointing container "x": encoding error: endpoint still has waiters upon save:',
      "goroutine 320 [running]:",
      "gvisor.dev/gvisor/pkg/state.safely.func1()",
      "\tgvisor.dev/gvisor/pkg/state/state.go:308 +0x17d",
      "panic({0xe7f040, 0x1235dd8})",
      "",
    ].join("\n");
    expect(summariseRunscError(stderr)).toBe('checkpoint failed: checkpointing container "x": encoding error: endpoint still has waiters upon save:');
  });

  it("caps very long messages", () => {
    expect(summariseRunscError("x".repeat(5000)).length).toBeLessThanOrEqual(601);
  });
});

describe("snapshotFlags", () => {
  it("maps each option to runsc's flag, checkpoint's and restore's", () => {
    expect(snapshotFlags({}, undefined)).toEqual({ checkpoint: [], restore: [] });
    expect(snapshotFlags({ uncompressed: true, excludeZeroPages: true, backgroundRestore: true, directIo: true }, 20260420)).toEqual({
      checkpoint: ["--compression=none", "--exclude-committed-zero-pages", "--direct"],
      restore: ["--background", "--direct"],
    });
    expect(snapshotFlags({ uncompressed: true, directIo: false }, 20260420)).toEqual({ checkpoint: ["--compression=none"], restore: [] });
  });

  it("refuses options an older runsc lacks, and background restore of compressed pages", () => {
    expect(() => snapshotFlags({ uncompressed: true }, 20221219)).toThrow(
      "runsc snapshot options uncompressed need runsc release 20240930 or later; this runsc is 20221219",
    );
    expect(() => snapshotFlags({ directIo: true }, undefined)).toThrow(/this runsc is of no known release/);
    expect(() => snapshotFlags({ backgroundRestore: true }, 20260420)).toThrow(/backgroundRestore needs uncompressed/);
  });
});

describe("snapshotOptionsFor", () => {
  it("takes the measured options for auto on a runsc that has them, none on an older or unknown one", () => {
    expect(snapshotOptionsFor("auto", 20260420)).toEqual({ uncompressed: true, backgroundRestore: true });
    expect(snapshotOptionsFor("auto", 20260420)).toEqual(MEASURED_SNAPSHOT_OPTIONS);
    expect(snapshotOptionsFor("auto", 20240930)).toEqual(MEASURED_SNAPSHOT_OPTIONS);
    expect(snapshotOptionsFor("auto", 20221219)).toEqual({});
    expect(snapshotOptionsFor("auto", undefined)).toEqual({});
    expect(snapshotOptionsFor({ directIo: true }, 20221219)).toEqual({ directIo: true });
  });
});
