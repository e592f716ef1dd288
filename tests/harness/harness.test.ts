// The harness itself, on two real test hosts with a tiny program: scripts run over SSH in
// dependency order, real stdout flows into dependents, downloads are listed not run, destroy
// deletes dependents first, and a wrong pinned host key is refused.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { downHosts, hostExec, privateKey, unavailableReason, upHosts, type TestHost } from "../hosts/testHosts.js";
import { runForReal } from "./realRun.js";
import { tinyProgram, type TinyHost } from "./tinyProgram.js";

const HOSTS = [1, 2];
const skip = unavailableReason();
if (skip) console.log(`harness tests skipped: ${skip}`);

describe.skipIf(skip !== undefined)("real-run harness on test hosts", () => {
  let hosts: TestHost[] = [];
  const tiny = (): TinyHost[] => hosts.map((h) => ({ name: h.name, address: h.address, user: h.user, privateKey: privateKey(h), hostKey: h.hostKey }));
  const hostNames = () => Object.fromEntries(hosts.map((h) => [h.address, h.name]));
  const order = (i: number) =>
    hostExec(i, "cat /tmp/vht-harness-order 2>/dev/null || true")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => l.split(" ").slice(0, 2).join(" "));

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
  });
  afterAll(() => downHosts(HOSTS), 600_000);

  it("runs create scripts in dependency order with real outputs, and destroys in reverse", async () => {
    let second: Record<string, unknown> = {};
    const report = await runForReal(
      () => {
        const out = tinyProgram(tiny());
        for (const [name, o] of Object.entries(out)) o.apply((v) => (second[name] = v));
      },
      { hostNames: hostNames() },
    );
    expect(report.failures).toEqual([]);
    for (const h of hosts) {
      expect(second[h.name]).toBe(`got token-${h.name}\nvhive-step second: changed\n`);
      const rec = report.records.find((r) => r.name === `${h.name}-first`)!;
      expect(rec).toMatchObject({ status: "executed", host: h.name, step: "first", outcome: "changed" });
      expect(report.notExecuted.map((r) => [r.name, r.status])).toEqual(
        expect.arrayContaining([
          [`${h.name}-download`, "not-executed"],
          [`${h.name}-after-download`, "blocked"],
        ]),
      );
      expect(order(h.index)).toEqual(["create first", "create second"]);
    }
    const destroyed = await report.state.destroy();
    expect(destroyed.failures).toEqual([]);
    for (const h of hosts) expect(order(h.index)).toEqual(["create first", "create second", "delete second", "delete first"]);
  });

  it("refuses a host whose key differs from the pinned one, naming host and step", async () => {
    const wrong = tiny().map((h, i) => (i === 0 ? { ...h, hostKey: hosts[1]!.hostKey } : h));
    const report = await runForReal(() => tinyProgram(wrong), { hostNames: hostNames(), continueOnError: true });
    expect(report.failures.map((f) => f.error)).toEqual([expect.stringMatching(/^host vht-1 \(10\.231\.0\.101\), step first: host key of .* is SHA256:.*not the pinned/)]);
    // The other host is unaffected (continue-on-error) and vht-1's later steps never ran.
    expect(report.records.find((r) => r.name === "vht-2-second")?.status).toBe("executed");
    expect(report.records.find((r) => r.name === "vht-1-second")?.status).toBe("blocked");
    await report.state.destroy();
  });
});
