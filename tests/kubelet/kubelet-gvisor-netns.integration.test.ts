import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runningKnativePod, throughQueueProxy } from "./knative-pod.js";
import { KubeletNode, kubeletNodeUnavailable, waitFor } from "./kubelet-node.js";

// A real kubelet on the node runtime's CRI socket with gVisor in "netns" mode: every function
// sandbox in a network namespace of its own (issue 11, item 2). The queue-proxy, in the pod's
// network namespace on the CNI bridge, reaches the function through the CRI relay, which reaches
// the sandbox at its own address; the revision's next pod is restored into a fresh namespace, which
// a node-runtime restart keeps; pod removal leaves no namespace behind.

const unavailable = kubeletNodeUnavailable();
if (unavailable) console.warn(`kubelet gVisor netns tests skipped: ${unavailable}`);

const node = new KubeletNode(`n${process.pid % 100000}`, "ours", 62, { gvisorNetwork: "netns" });
let kernelBefore: Record<string, string>;

/** The function sandboxes' own namespaces (the node's prefix). */
function functionNamespaces(): string[] {
  return execFileSync("ip", ["netns", "list"], { encoding: "utf8" })
    .split("\n")
    .map((l) => l.split(" ")[0]!)
    .filter((n) => n.startsWith(`${node.gvisorNetworkPrefix}-`));
}

async function endpointOf(instanceId: string): Promise<unknown> {
  const { instances } = await node.api!.runtimeCall<{ instances: { instance_id: string; endpoint: unknown }[] }>("ListInstances", {});
  return instances.find((i) => i.instance_id === instanceId)?.endpoint;
}

describe.skipIf(unavailable !== undefined)("kubelet on the node runtime's CRI socket, gVisor sandboxes in namespaces of their own", () => {
  beforeAll(async () => {
    kernelBefore = await KubeletNode.kernelSettings();
    await node.start();
  }, 900_000);

  afterAll(async () => {
    await node.destroy();
    expect(await KubeletNode.kernelSettings()).toEqual(kernelBefore);
    expect(functionNamespaces()).toEqual([]);
  }, 600_000);

  it("runs a Knative-shaped pod whose function has its own namespace; the queue-proxy reaches it; the next pod of the revision is restored into a new one, which outlives a node-runtime restart", async () => {
    await node.putPod("hello", node.knativePod("hello", "hello-00001"));
    const { sandbox } = await runningKnativePod(node, "hello");
    expect(await throughQueueProxy(sandbox.ip, "netns")).toBe("Hello, netns!");
    const [first] = await node.instances();
    expect(first).toMatchObject({ revision: "hello-00001", sandbox: "gvisor", startKind: "boot", state: "running" });
    const subnet = node.gvisorNetworkSubnet.replace(/\.0\/24$/, ".");
    expect(JSON.stringify(await endpointOf(first!.instanceId))).toContain(subnet);
    expect(functionNamespaces()).toHaveLength(1);

    await node.deletePod("hello");
    await waitFor("the instance to stop", async () => ((await node.instances()).length === 0 ? true : undefined), 180_000);
    expect(functionNamespaces()).toEqual([]);

    await node.putPod("hello2", node.knativePod("hello2", "hello-00001"));
    const { sandbox: second } = await runningKnativePod(node, "hello2");
    expect(await throughQueueProxy(second.ip, "restored")).toBe("Hello, restored!");
    const [restored] = await node.instances();
    expect(restored).toMatchObject({ revision: "hello-00001", startKind: "restore", state: "running" });
    expect(restored!.coldStartUs.LoadVMM).toBeGreaterThan(0);
    expect(JSON.stringify(await endpointOf(restored!.instanceId))).toContain(subnet);
    expect(functionNamespaces()).toHaveLength(1);

    // A restart of the node runtime: the instance is adopted with its namespace (the new driver's
    // sweep keeps namespaces that instances' bundles name), and the queue-proxy still reaches it.
    expect(await node.stopNodeRuntime()).toBe(0);
    await node.startNodeRuntime();
    expect(await throughQueueProxy(second.ip, "after restart")).toBe("Hello, after restart!");
    expect(functionNamespaces()).toHaveLength(1);

    await node.deletePod("hello2");
    await waitFor("no instance left", async () => ((await node.instances()).length === 0 ? true : undefined), 180_000);
    const left = await node.leftoversWhenSettled();
    expect(left).toEqual({
      processes: [],
      shims: [],
      mounts: [],
      namespaces: [],
      ipAllocations: [],
      instanceFiles: [],
      gvisorInstances: [],
      criContainers: [],
      criRelays: [],
    });
  }, 900_000);
});
