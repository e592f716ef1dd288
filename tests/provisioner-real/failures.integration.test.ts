// Failures through the real engine and provider, as a user adding a host to a running stack meets
// them: vht-21 is provisioned; vht-22 is added broken (a step failing halfway, host down, wrong
// user key, changed host key, sudo that wants a password). Each time the error names host and
// step, vht-21's resources are kept unchanged and vht-22's finished steps stay in the state, and
// a re-run after the fix creates only what was missing. vht-22 is then removed from the stack
// again, which leaves it clean for the next case.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downHosts, hostExec, rekeyHost, setSudoPassword, startHost, stopHost, unavailableReason, upHosts, type TestHost } from "../hosts/test-hosts.js";
import { EngineStack, rawStackFor } from "./real-provisioner.js";

const HOSTS = [21, 22];
const skip = unavailableReason();
if (skip) console.log(`real-engine failure tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)("provisioning failures through the real engine", () => {
  let hosts: TestHost[] = [];
  let stack: EngineStack | undefined;
  let keyDir = "";
  const configFor = (view: readonly TestHost[]) => rawStackFor(view, { sandbox: "containerd", kubernetes: false });
  const healthy = () => hosts[0]!;
  const broken = () => hosts[1]!;
  const where = "host vht-22 \\(vhive@10\\.231\\.0\\.122:22\\)";

  /** Adds vht-22 as `view` describes it; the run must fail with `error` on at least one vht-22 step. */
  async function addBroken(view: TestHost[], error: RegExp): Promise<string[]> {
    expect(
      (await stack!.resourceNames()).filter((n) => n.startsWith("vht-22-")),
      "vht-22 not in the stack yet",
    ).toEqual([]);
    const before = await stack!.resourceNames();
    stack!.reconfigure(configFor(view));
    const run = await stack!.upAllowingFailure();
    expect(run.ok, "pulumi up with a broken host must fail").toBe(false);
    const failed = [...run.output.matchAll(new RegExp(`${where}: step (vht-22-[a-z0-9-]+) \\((create)\\)`, "g"))].map((m) => m[1]!);
    expect(failed.length, run.output).toBeGreaterThan(0);
    expect(run.output).toMatch(error);
    // Nothing failed on vht-21, and its resources are all still there.
    expect(run.output).not.toMatch(/host vht-21 \(/);
    const after = await stack!.resourceNames();
    for (const name of before) expect(after, `${name} kept`).toContain(name);
    return after.filter((n) => n.startsWith("vht-22-"));
  }

  /** After the fix: completes, vht-21 and vht-22's finished steps untouched, the rest created. */
  async function rerunAfterFix(finished: readonly string[]): Promise<void> {
    stack!.reconfigure(configFor(hosts));
    const before = await stack!.resourceNames();
    const result = await stack!.up();
    const changes = result.summary.resourceChanges ?? {};
    expect(
      Object.keys(changes).filter((op) => op !== "same" && op !== "create"),
      JSON.stringify(changes),
    ).toEqual([]);
    expect(changes.same).toBe(before.length);
    const created = (await stack!.resourceNames()).filter((n) => !before.includes(n));
    for (const name of created) expect(name.startsWith("vht-22-"), `${name} created by the re-run`).toBe(true);
    for (const name of finished) expect(created).not.toContain(name);
    // Leave vht-22 clean for the next case: removed from the stack, its steps' deletes run.
    stack!.reconfigure(configFor([healthy()]));
    const removal = await stack!.up();
    expect(removal.summary.resourceChanges?.delete).toBeGreaterThan(5);
  }

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
    keyDir = mkdtempSync(join(tmpdir(), "vht-failures-"));
    stack = await EngineStack.open("failures", configFor([hosts[0]!]));
    const result = await stack.up();
    expect(result.summary.result).toBe("succeeded");
  }, 900_000);
  afterAll(async () => {
    if (stack) {
      stack.reconfigure(configFor(hosts));
      await stack.destroy().catch((e: unknown) => console.log(`[failures] cleanup destroy: ${String(e)}`));
      stack.remove();
    }
    await downHosts(HOSTS);
    rmSync(keyDir, { recursive: true, force: true });
  }, 900_000);

  it("a step failing halfway (read-only target) names host and step; what finished is kept; the re-run creates the rest", async () => {
    const target = "/etc/sysctl.d";
    hostExec(broken().index, `mkdir -p ${target} && mount --bind ${target} ${target} && mount -o remount,bind,ro ${target}`);
    let present: string[];
    try {
      present = await addBroken(hosts, new RegExp(`${where}: step vht-22-sysctl \\(create\\) exited with \\d+:[\\s\\S]*Read-only file system`));
    } finally {
      hostExec(broken().index, `umount ${target}`);
    }
    // What sysctl does not need ran on vht-22; what needs it (the node runtime) did not.
    expect(present).toEqual(expect.arrayContaining(["vht-22-packages", "vht-22-containerd", "vht-22-kernel-modules"]));
    expect(present).not.toContain("vht-22-sysctl");
    expect(present).not.toContain("vht-22-node-runtime");
    await rerunAfterFix(present);
  }, 900_000);

  it("host down: the error names host and step; a re-run after boot completes", async () => {
    await stopHost(broken().index);
    let present: string[];
    try {
      present = await addBroken(hosts, new RegExp(`${where}: step vht-22-limits \\(create\\): cannot reach vhive@10\\.231\\.0\\.122:22`));
    } finally {
      hosts[1] = await startHost(broken().index);
    }
    await rerunAfterFix(present);
  }, 900_000);

  it("wrong user key: the host refuses it, naming host and step", async () => {
    const wrongKey = join(keyDir, "wrong_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const present = await addBroken(
      [healthy(), { ...broken(), privateKeyPath: wrongKey }],
      new RegExp(`${where}: step vht-22-limits \\(create\\): vhive@10\\.231\\.0\\.122:22 refused the configured private key`),
    );
    await rerunAfterFix(present);
  }, 600_000);

  it("changed host key: refused against the pinned key, naming host and step; pinning the new key fixes it", async () => {
    const rekeyed = await rekeyHost(broken().index);
    let present: string[];
    try {
      present = await addBroken(
        hosts,
        new RegExp(`${where}: step vht-22-limits \\(create\\): host key of vhive@10\\.231\\.0\\.122:22 is SHA256:\\S+, not the pinned SHA256:`),
      );
    } finally {
      hosts[1] = rekeyed;
    }
    await rerunAfterFix(present);
  }, 600_000);

  it("sudo that wants a password: the error names host and step and says what is needed", async () => {
    setSudoPassword(broken().index, true);
    let present: string[];
    try {
      present = await addBroken(hosts, new RegExp(`${where}: step vht-22-limits \\(create\\): vhive: user vhive on vht-22 needs passwordless sudo`));
    } finally {
      setSudoPassword(broken().index, false);
    }
    await rerunAfterFix(present);
  }, 600_000);
});
