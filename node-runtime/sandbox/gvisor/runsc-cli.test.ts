import { describe, expect, it } from "vitest";
import { RunscCli, summariseRunscError } from "./runsc-cli.js";

describe("RunscCli", () => {
  it("repeats the same global flags on every call (runsc does not remember create's)", () => {
    const cli = new RunscCli({ binary: "runsc", root: "/run/vhgv-gvisor/runsc", platform: "ptrace", network: "none" });
    expect(cli.globalFlags()).toEqual(["--root=/run/vhgv-gvisor/runsc", "--platform=ptrace", "--network=none", "--host-uds=create", "--overlay2=root:memory"]);
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
