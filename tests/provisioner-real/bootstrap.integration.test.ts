// The provisioner through the real Pulumi engine on three SSH test hosts in parallel, node-runtime-
// only (`kubernetes: false`), for sandboxes gvisor and containerd, from Debian packages through the
// apt proxy: up, a function started through each node runtime's API answers, no-change preview
// and re-run, an input change updates exactly the affected steps, drift is repaired, and destroy
// leaves the hosts as they were.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiClient } from "#node-runtime/api/api-client.js";
import { loadHelloworld } from "#cli/playground/demo.js";
import { HELLOWORLD_REF } from "#components/playground/images/helloworld.js";
import { downHosts, hostExec, unavailableReason, upHosts, type TestHost } from "../hosts/test-hosts.js";
import { diffSnapshots, snapshot, type HostSnapshot } from "./host-snapshot.js";
import { EngineStack, rawStackFor } from "./real-provisioner.js";

const HOSTS = [11, 12, 13];
const INSTALL_DIR = "/opt/vhive-node-runtime";
const skip = unavailableReason();
if (skip) console.log(`real-engine provisioner tests skipped: ${skip}`);

/** Resource operations of an update, as "op name" for everything that was not left the same. */
function changes(summary: { resourceChanges?: Record<string, number> }): Record<string, number> {
  return Object.fromEntries(Object.entries(summary.resourceChanges ?? {}).filter(([op]) => op !== "same"));
}

describe.skipIf(skip !== undefined).each(["gvisor", "containerd"] as const)("pulumi up on 3 real hosts, %s", (sandbox) => {
  let hosts: TestHost[] = [];
  let before: HostSnapshot[] = [];
  let stack: EngineStack | undefined;
  let destroyed = false;
  const snapshots = sandbox === "gvisor" ? "vanilla" : "off";
  const config = () => rawStackFor(hosts, { sandbox, kubernetes: false, snapshots });

  beforeAll(async () => {
    hosts = await upHosts(HOSTS);
    before = HOSTS.map(snapshot);
    stack = await EngineStack.open(`real-${sandbox}`, config());
  }, 900_000);
  afterAll(async () => {
    // Undo whatever a failed test left, then remove the hosts.
    if (stack && !destroyed) await stack.destroy().catch((e: unknown) => console.log(`[${sandbox}] cleanup destroy: ${String(e)}`));
    stack?.remove();
    await downHosts(HOSTS);
  }, 900_000);

  it("completes; every node runtime serves its API on the network", async () => {
    const started = Date.now();
    const result = await stack!.up();
    console.log(`[${sandbox}] pulumi up ${((Date.now() - started) / 1000).toFixed(1)} s: ${JSON.stringify(result.summary.resourceChanges)}`);
    expect(result.summary.result).toBe("succeeded");
    const endpoints = result.outputs.nodeRuntimeEndpoints!.value as Record<string, string>;
    expect(Object.keys(endpoints).sort()).toEqual(hosts.map((h) => h.name).sort());
    for (const h of hosts) {
      expect(hostExec(h.index, "systemctl is-active containerd.service vhive-node-runtime.service").trim().split("\n")).toEqual(["active", "active"]);
      expect(endpoints[h.name]).toBe(`${h.address}:10991`);
      const api = new ApiClient(endpoints[h.name]!, 60_000);
      try {
        expect(await api.runtimeCall<{ instances?: unknown[] }>("ListInstances", {})).toBeDefined();
      } finally {
        api.close();
      }
    }
  }, 1_800_000);

  it("a function started through each host's node runtime answers", async () => {
    const endpoints = (await stack!.stack.outputs()).nodeRuntimeEndpoints!.value as Record<string, string>;
    for (const h of hosts) {
      // No registry is reachable from the hosts: the image is loaded into the runtime's store,
      // as the playground's demo does it (over SSH).
      const ssh = { host: h.address, port: h.port, user: h.user, privateKey: readFileSync(h.privateKeyPath, "utf8"), hostKey: h.hostKey };
      await loadHelloworld({ name: h.name, ssh, installDir: INSTALL_DIR });
      const api = new ApiClient(endpoints[h.name]!, 180_000);
      try {
        const instance = await api.runtimeCall<{ instance_id: string; sandbox: string }>("StartInstance", { image: HELLOWORLD_REF, revision: "hello-00001" });
        expect(instance.sandbox).toBe(sandbox);
        const reply = await api.runtimeCall<{ message: string }>("Invoke", { instance_id: instance.instance_id, name: h.name });
        expect(reply.message).toBe(`Hello, ${h.name}!`);
        // Left running: destroy must stop it and release its mounts (checked by the destroy test).
      } finally {
        api.close();
      }
    }
  }, 900_000);

  it("/run/netns, which `ip netns` mounts while the runtime runs (gVisor netns sandboxes, Firecracker's slots), is left for destroy to undo", async () => {
    // Debian's runsc cannot run netstack in a namespace, so these hosts' sandboxes make none: the
    // namespace the runtime would make is made here, with the same command, and removed again.
    const h = hosts[0]!;
    hostExec(h.index, "ip netns add vhtest-ns && ip netns del vhtest-ns");
    expect(hostExec(h.index, "mountpoint /run/netns").trim()).toBe("/run/netns is a mountpoint");
  }, 60_000);

  it("previews no changes right after, and a second up changes nothing", async () => {
    await stack!.preview({ expectNoChanges: true });
    const started = Date.now();
    const result = await stack!.up();
    console.log(`[${sandbox}] no-change up ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(changes(result.summary)).toEqual({});
  }, 600_000);

  it("a changed input updates exactly the affected steps, in place, and the hosts end in the new state", async () => {
    stack!.reconfigure(rawStackFor(hosts, { sandbox, kubernetes: false, snapshots, nodeRuntime: { healthPort: 10992 } }));
    const preview = await stack!.preview();
    // One node-runtime step per host: updated, never replaced (so no old delete can undo it).
    expect(changes({ resourceChanges: preview.changeSummary })).toEqual({ update: 3 });
    const result = await stack!.up();
    expect(changes(result.summary)).toEqual({ update: 3 });
    for (const h of hosts) expect(hostExec(h.index, "systemctl cat vhive-node-runtime.service")).toContain("--metrics-port 10992");
    for (const h of hosts) expect(hostExec(h.index, "systemctl is-active vhive-node-runtime.service").trim()).toBe("active");
  }, 900_000);

  it("repairs drift: a step's file removed on a host comes back with up --refresh", async () => {
    const file = "/etc/sysctl.d/90-vhive.conf";
    hostExec(hosts[1]!.index, `rm ${file}`);
    const result = await stack!.up({ refresh: true });
    expect(changes(result.summary)).toEqual({ update: 1 });
    expect(hostExec(hosts[1]!.index, `test -f ${file} && echo present`).trim()).toBe("present");
  }, 600_000);

  it("destroy leaves every host as it was", async () => {
    const result = await stack!.destroy();
    destroyed = true;
    expect(result.summary.result).toBe("succeeded");
    for (const [i, index] of HOSTS.entries()) {
      const diff = diffSnapshots(before[i]!, snapshot(index));
      const empty = { added: [], removed: [] };
      expect({ host: `vht-${index}`, ...diff }).toEqual({
        host: `vht-${index}`,
        ...Object.fromEntries(Object.keys(diff).map((k) => [k, empty])),
      });
    }
  }, 900_000);
});
