import { describe, expect, it } from "vitest";
import { decide } from "./executionRule.js";
import { stepOutcome, unwrapSecrets } from "./realRun.js";

describe("execution rule", () => {
  it("runs remote commands and copies, not upstream downloads, local commands or cluster objects", () => {
    expect(decide("command:remote:Command", { create: "apt_install x y\n" })).toEqual({ run: "remote-command" });
    expect(decide("command:remote:Command", { create: "set -e\n  fetch_verified 'u' 'sha256:1' /x\n" })).toMatchObject({ run: false });
    expect(decide("command:remote:Command", { create: "missing_checksum 'versions.x'\n" })).toMatchObject({ run: false });
    // The helper library defines these functions in every script; a definition is not a call.
    expect(decide("command:remote:Command", { create: "fetch_verified() {\n  :\n}\nmissing_checksum() {\n :\n}\n" })).toEqual({ run: "remote-command" });
    expect(decide("command:remote:CopyToRemote", {})).toEqual({ run: "copy-to-remote" });
    expect(decide("command:local:Command", {})).toMatchObject({ run: false, reason: expect.stringContaining("Pulumi machine") });
    expect(decide("command:local:Command", {}, { runLocal: true })).toEqual({ run: "local-command" });
    expect(decide("kubernetes:apps/v1:Deployment", {})).toMatchObject({ run: false, reason: "needs a Kubernetes cluster" });
  });

  it("reads a step's own verdict and unwraps secrets", () => {
    expect(stepOutcome("noise\nvhive-step containerd: unchanged\n")).toBe("unchanged");
    expect(stepOutcome("vhive-step sysctl: changed")).toBe("changed");
    expect(stepOutcome("no verdict")).toBeUndefined();
    const wire = { a: { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: "k" }, b: [1] };
    expect(unwrapSecrets(wire)).toEqual({ a: "k", b: [1] });
  });
});
