// The provisioner's host bootstrap executed for real (H1's program through the harness) on three
// test hosts in parallel, for sandboxes gvisor and containerd, from Debian packages through the
// apt proxy: units running, a second run changes nothing, destroy leaves the hosts as before.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downHosts, hostExec, unavailableReason, upHosts, type TestHost } from "../hosts/testHosts.js";
import { diffSnapshots, snapshot, type HostSnapshot } from "./hostSnapshot.js";
import { executedSteps, notExecutedList, provisionForReal, stackFor } from "./realProvisioner.js";
import type { RecordedState } from "../harness/recordedState.js";

const HOSTS = [11, 12, 13];
const skip = unavailableReason();
if (skip) console.log(`real-host bootstrap tests skipped: ${skip}`);

describe.skipIf(skip !== undefined).each(["gvisor", "containerd"] as const)("host bootstrap for %s on 3 real hosts", (sandbox) => {
  let hosts: TestHost[] = [];
  let before: HostSnapshot[] = [];
  let state: RecordedState | undefined;
  let firstRunS = 0;
  const log = (line: string) => console.log(`[${sandbox}] ${line}`);

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
    before = HOSTS.map(snapshot);
  }, 600_000);
  afterAll(async () => {
    // Undo whatever a failed test left, then remove the hosts.
    if (state) await state.destroy().catch(() => undefined);
    await downHosts(HOSTS);
  }, 600_000);

  it("completes on all hosts in parallel; containerd runs as a systemd unit", async () => {
    const report = await provisionForReal(stackFor(hosts, { sandbox }), hosts, { log, stack: `real-hosts-${sandbox}` });
    state = report.state;
    firstRunS = report.elapsedMs / 1000;
    console.log(`[${sandbox}] first run ${firstRunS.toFixed(1)} s; not executed:\n  ${notExecutedList(report).join("\n  ")}`);
    expect(report.failures.map((f) => f.error)).toEqual([]);
    const steps = executedSteps(report);
    for (const h of hosts) {
      expect(steps).toContain(`${h.name} containerd changed`);
      expect(hostExec(h.index, "systemctl is-active containerd.service").trim()).toBe("active");
      expect(hostExec(h.index, "systemctl is-enabled containerd.service").trim()).toBe("enabled");
    }
    // Debian's runsc comes with each worker's packages step; the control plane runs no sandbox.
    // The runtime as shipped builds its in-sandbox relay on the worker (static, with the worker's
    // compiler), under its data directory.
    if (sandbox === "gvisor") {
      for (const h of hosts.slice(1)) {
        expect(hostExec(h.index, "command -v runsc").trim()).toBe("/usr/bin/runsc");
        const relay = hostExec(
          h.index,
          `cd /opt/vhive-node-runtime && node --input-type=module -e "const m = await import('./node-runtime/sandbox/gvisor/relay-binary.js'); console.log(await m.ensureRelayBinary('/var/lib/vhive-node/runtime/gvisor-relay'))"`,
        ).trim();
        expect(relay).toMatch(/^\/var\/lib\/vhive-node\/runtime\/gvisor-relay\/vhgv-relay-[0-9a-f]{16}$/);
        expect(hostExec(h.index, `ldd ${relay} 2>&1 || true`)).toMatch(/not a dynamic executable|statically linked/);
      }
      expect(hostExec(hosts[0]!.index, "command -v runsc || echo absent").trim()).toBe("absent");
    }
    // The hosts really ran side by side: each host's packages step started before any other
    // host's finished.
    const bases = report.records.filter((r) => r.step === "packages" && r.status === "executed");
    expect(bases).toHaveLength(3);
    expect(Math.max(...bases.map((r) => r.startedMs!))).toBeLessThan(Math.min(...bases.map((r) => r.endedMs!)));
    // Steps needing what this workplace lacks are listed by name, never run.
    const skipped = report.notExecuted.map((r) => r.name);
    for (const h of hosts) expect(skipped).toContain(`${h.name}-kubernetes`);
    // The node runtime on each worker: either it ran, and then it is an active systemd unit, or
    // it is listed by name with the reason it could not run here (a dependency not executed).
    for (const h of hosts.slice(1)) {
      const step = report.records.find((r) => r.name === `${h.name}-node-runtime`);
      if (step?.status === "executed") {
        expect(hostExec(h.index, "systemctl is-active vhive-node-runtime.service").trim()).toBe("active");
      } else {
        console.log(`[${sandbox}] ${h.name}-node-runtime not executed: ${step?.reason ?? "never registered"}`);
        expect(skipped).toContain(`${h.name}-node-runtime`);
      }
    }
  }, 900_000);

  it("a second run reports every step unchanged", async () => {
    const report = await provisionForReal(stackFor(hosts, { sandbox }), hosts, { log, stack: `real-hosts-${sandbox}` });
    state!.merge(report.state);
    const rerunS = report.elapsedMs / 1000;
    console.log(`[${sandbox}] re-run ${rerunS.toFixed(1)} s (${((100 * rerunS) / firstRunS).toFixed(0)}% of the first run; goal ≤ 15%, measured by bench/provision.ts)`);
    expect(report.failures.map((f) => f.error)).toEqual([]);
    const steps = executedSteps(report);
    expect(steps.length).toBeGreaterThanOrEqual(3 * 7);
    expect(steps.filter((s) => !s.endsWith(" unchanged"))).toEqual([]);
  }, 600_000);

  it("destroy leaves every host as it was: files, packages and units", async () => {
    const result = await state!.destroy(log);
    expect(result.failures).toEqual([]);
    state = undefined;
    for (const [i, index] of HOSTS.entries()) {
      const diff = diffSnapshots(before[i]!, snapshot(index));
      expect({ host: `vht-${index}`, ...diff }).toEqual({
        host: `vht-${index}`,
        files: { added: [], removed: [] },
        packages: { added: [], removed: [] },
        units: { added: [], removed: [] },
      });
    }
  }, 600_000);
});
