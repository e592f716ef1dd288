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
  const stepsOf = (report: RunReport, host: TestHost) => executedSteps(report).filter((s) => s.startsWith(`${host.name} `));

  /** After a fix: the run completes, and everything that had finished reports unchanged. */
  async function rerunAfterFix(finished: string[]): Promise<RunReport> {
    const report = await run(hosts);
    expect(report.failures.map((f) => f.error)).toEqual([]);
    const steps = executedSteps(report);
    for (const done of finished) expect(steps).toContain(done.replace(/ changed$/, " unchanged"));
    return report;
  }

  beforeAll(() => {
    hosts = upHosts(HOSTS);
    keyDir = mkdtempSync(join(tmpdir(), "vht-failures-"));
  }, 600_000);
  afterAll(async () => {
    await state.destroy().catch(() => undefined);
    downHosts(HOSTS);
    rmSync(keyDir, { recursive: true, force: true });
  }, 600_000);

  it("a step failing halfway (read-only target path) names host and step; the rest is kept and a re-run finishes it", async () => {
    const target = "/etc/security/limits.d";
    hostExec(broken().index, `mkdir -p ${target} && mount --bind ${target} ${target} && mount -o remount,bind,ro ${target}`);
    const report = await run(hosts);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]!.error).toMatch(/^host vht-22 \(10\.231\.0\.122\), step limits: exit status \d+/);
    expect(report.failures[0]!.error).toMatch(/Read-only file system/);
    // Everything before it on vht-22, and all of vht-21, really ran; nothing after it on vht-22.
    expect(stepsOf(report, broken())).toEqual(expect.arrayContaining(["vht-22 base-packages changed", "vht-22 sysctl changed"]));
    expect(stepsOf(report, broken()).some((s) => s.startsWith("vht-22 containerd"))).toBe(false);
    expect(stepsOf(report, healthy())).toContain("vht-21 containerd changed");
    const finished = executedSteps(report);
    hostExec(broken().index, `umount ${target}`);
    const rerun = await rerunAfterFix(finished);
    expect(executedSteps(rerun)).toEqual(expect.arrayContaining(["vht-22 limits changed", "vht-22 containerd changed"]));
  }, 900_000);

  it("host down: error names the host and step; the other host is unaffected; a re-run after boot changes nothing", async () => {
    stopHost(broken().index);
    const report = await run(hosts, 2);
    expect(report.failures.map((f) => f.error)).toEqual([expect.stringMatching(/^host vht-22 \(10\.231\.0\.122\), step apt-proxy: cannot reach vhive@10\.231\.0\.122:22/)]);
    expect(stepsOf(report, healthy()).every((s) => s.endsWith(" unchanged"))).toBe(true);
    expect(report.notExecuted.filter((r) => r.host === "vht-22" && r.status === "blocked").length).toBeGreaterThan(0);
    hosts[1] = startHost(broken().index);
    const rerun = await rerunAfterFix([]);
    expect(executedSteps(rerun).filter((s) => !s.endsWith(" unchanged"))).toEqual([]);
  }, 900_000);

  it("wrong user key: the host refuses it, naming host and step", async () => {
    const wrongKey = join(keyDir, "wrong_ed25519");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", wrongKey]);
    const report = await run([healthy(), { ...broken(), privateKeyPath: wrongKey }]);
    expect(report.failures.map((f) => f.error)).toEqual([expect.stringMatching(/^host vht-22 \(10\.231\.0\.122\), step apt-proxy: vhive@10\.231\.0\.122:22 refused the configured private key/)]);
    await rerunAfterFix([]);
  }, 600_000);

  it("changed host key: refused against the pinned key, naming host and step; pinning the new key fixes it", async () => {
    const rekeyed = rekeyHost(broken().index);
    const report = await run(hosts);
    expect(report.failures.map((f) => f.error)).toEqual([expect.stringMatching(/^host vht-22 \(10\.231\.0\.122\), step apt-proxy: host key of vhive@10\.231\.0\.122:22 is SHA256:\S+, not the pinned SHA256:/)]);
    hosts[1] = rekeyed;
    await rerunAfterFix([]);
  }, 600_000);

  it("sudo that wants a password: error names host and step and says what is needed", async () => {
    setSudoPassword(broken().index, true);
    const report = await run(hosts);
    expect(report.failures).toHaveLength(1);
    expect(report.failures[0]!.error).toMatch(/^host vht-22 \(10\.231\.0\.122\), step apt-proxy: exit status 1\n.*vhive-step apt-proxy: user vhive on vht-22 needs passwordless sudo/s);
    setSudoPassword(broken().index, false);
    await rerunAfterFix([]);
  }, 600_000);
});
