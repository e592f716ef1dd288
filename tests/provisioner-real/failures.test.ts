// Failures on real hosts, each with an error naming the host and the step, the other host's
// progress kept, and a re-run after the fix that completes without redoing finished steps:
// a step failing halfway (read-only target path), host down, wrong user key, changed host key,
// sudo that wants a password.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downHosts, hostExec, rekeyHost, setSudoPassword, startHost, stopHost, unavailableReason, upHosts, type TestHost } from "../hosts/testHosts.js";
import { RecordedState } from "../harness/recordedState.js";
import type { RunReport } from "../harness/realRun.js";
import { hostBootstrapSteps } from "../../components/scripts/hostSteps.js";
import { executedSteps, provisionForReal, stackFor } from "./realProvisioner.js";

const HOSTS = [21, 22];
const skip = unavailableReason();
if (skip) console.log(`real-host failure tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)("provisioning failures on real hosts", () => {
  let hosts: TestHost[] = [];
  const state = new RecordedState();
  let keyDir = "";
  const log = (line: string) => console.log(`[failures] ${line}`);

  /** Runs the bootstrap with `pulumi up --continue-on-error` semantics; records what ran. */
  async function run(view: TestHost[], dialAttempts?: number): Promise<RunReport> {
    const report = await provisionForReal(stackFor(view, { sandbox: "containerd" }), view, {
      log,
      // Its own stack name: the node runtime bundle on this machine is kept per stack, and the
      // bootstrap tests, running at the same time, destroy theirs.
      stack: "real-hosts-failures",
      continueOnError: true,
      ...(dialAttempts ? { dialAttempts } : {}),
    });
    state.merge(report.state);
    return report;
  }
  const healthy = () => hosts[0]!;
  const broken = () => hosts[1]!;
  /**
   * The steps that need no other step: the ones that reach a host first, side by side (with the
   * copy of the node runtime, which needs nothing on the host), so the ones a host that cannot be
   * reached fails, each naming host and step; the rest are blocked.
   */
  const firstSteps = (withCopy: boolean) => [
    ...hostBootstrapSteps(stackFor(hosts, { sandbox: "containerd" }), { name: broken().name, runsSandbox: true })
      .filter((s) => s.after?.length === 0)
      .map((s) => s.name),
    ...(withCopy ? ["node-runtime-copy"] : []),
  ].sort();
  /** Every failure is on vht-22, one per first step, each with the message that matches. */
  function expectFirstStepsFailed(report: RunReport, message: RegExp, withCopy = true): void {
    const failed = report.failures.map((f) => {
      const error = f.error ?? "(no error)";
      const m = /^host vht-22 \(10\.231\.0\.122\), step (\S+): /.exec(error);
      expect(m, error).not.toBeNull();
      expect(error.slice(m![0].length), error).toMatch(message);
      return m![1]!;
    });
    expect(failed.sort()).toEqual(firstSteps(withCopy));
    expect(failed).toContain("limits");
  }

  const stepsOf = (report: RunReport, host: TestHost) => executedSteps(report).filter((s) => s.startsWith(`${host.name} `));

  /** After a fix: the run completes, and everything that had finished reports unchanged. */
  async function rerunAfterFix(finished: string[]): Promise<RunReport> {
    const report = await run(hosts);
    expect(report.failures.map((f) => f.error)).toEqual([]);
    const steps = executedSteps(report);
    for (const done of finished) expect(steps).toContain(done.replace(/ changed$/, " unchanged"));
    return report;
  }

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
    keyDir = mkdtempSync(join(tmpdir(), "vht-failures-"));
  }, 600_000);
  afterAll(async () => {
    await state.destroy().catch(() => undefined);
    await downHosts(HOSTS);
    rmSync(keyDir, { recursive: true, force: true });
  }, 600_000);

  it("a step failing halfway (read-only target path) names host and step; the rest is kept and a re-run finishes it", async () => {
    const target = "/etc/sysctl.d";
    hostExec(broken().index, `mkdir -p ${target} && mount --bind ${target} ${target} && mount -o remount,bind,ro ${target}`);
    const report = await run(hosts);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]!.error).toMatch(/^host vht-22 \(10\.231\.0\.122\), step sysctl: exit status \d+/);
    expect(report.failures[0]!.error).toMatch(/Read-only file system/);
    // What it needs, and what needs nothing of it, really ran on vht-22; what needs it (the node
    // runtime) did not; all of vht-21 ran.
    expect(stepsOf(report, broken())).toEqual(expect.arrayContaining(["vht-22 kernel-modules changed", "vht-22 limits changed", "vht-22 containerd changed"]));
    expect(stepsOf(report, broken()).some((s) => s.startsWith("vht-22 node-runtime "))).toBe(false);
    expect(report.notExecuted.some((r) => r.host === "vht-22" && r.step === "node-runtime" && r.status === "blocked")).toBe(true);
    expect(stepsOf(report, healthy())).toContain("vht-21 containerd changed");
    const finished = executedSteps(report);
    hostExec(broken().index, `umount ${target}`);
    const rerun = await rerunAfterFix(finished);
    expect(executedSteps(rerun)).toEqual(expect.arrayContaining(["vht-22 sysctl changed", "vht-22 node-runtime changed"]));
  }, 900_000);

  it("host down: error names the host and step; the other host is unaffected; a re-run after boot changes nothing", async () => {
    await stopHost(broken().index);
    const report = await run(hosts, 2);
    expectFirstStepsFailed(report, /^cannot reach vhive@10\.231\.0\.122:22/);
    expect(stepsOf(report, healthy()).every((s) => s.endsWith(" unchanged"))).toBe(true);
    expect(report.notExecuted.filter((r) => r.host === "vht-22" && r.status === "blocked").length).toBeGreaterThan(0);
    hosts[1] = await startHost(broken().index);
    const rerun = await rerunAfterFix([]);
    expect(executedSteps(rerun).filter((s) => !s.endsWith(" unchanged"))).toEqual([]);
  }, 900_000);

  it("wrong user key: the host refuses it, naming host and step", async () => {
    const wrongKey = join(keyDir, "wrong_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const report = await run([healthy(), { ...broken(), privateKeyPath: wrongKey }]);
    expectFirstStepsFailed(report, /^vhive@10\.231\.0\.122:22 refused the configured private key/);
    await rerunAfterFix([]);
  }, 600_000);

  it("changed host key: refused against the pinned key, naming host and step; pinning the new key fixes it", async () => {
    const rekeyed = await rekeyHost(broken().index);
    const report = await run(hosts);
    expectFirstStepsFailed(report, /^host key of vhive@10\.231\.0\.122:22 is SHA256:\S+, not the pinned SHA256:/);
    hosts[1] = rekeyed;
    await rerunAfterFix([]);
  }, 600_000);

  it("sudo that wants a password: error names host and step and says what is needed", async () => {
    setSudoPassword(broken().index, true);
    const report = await run(hosts);
    // The copy goes to /tmp as the user, without sudo: it is not what fails.
    expectFirstStepsFailed(report, /^exit status 1\n.*vhive-step \S+: user vhive on vht-22 needs passwordless sudo/s, false);
    setSudoPassword(broken().index, false);
    await rerunAfterFix([]);
  }, 600_000);
});
