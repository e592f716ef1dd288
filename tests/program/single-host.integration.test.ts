// A cluster of one SSH host (no stack file has this shape): the control plane is also the
// worker, so it gets the node runtime, kubelet uses its CRI socket, and nothing joins.
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, PROJECT, type StackRun } from "./mocked-program.js";

const config: Record<string, string> = {
  [`${PROJECT}:target`]: "hosts",
  [`${PROJECT}:sandbox`]: "firecracker",
  [`${PROJECT}:hosts`]: JSON.stringify([
    { name: "solo", address: "192.0.2.50", user: "vhive", sshKey: "agent", allowUnknownHostKey: true, role: "control-plane" },
  ]),
  [`${PROJECT}:network`]: JSON.stringify({ hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" }),
};

describe("a single-host cluster under mocks", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack("single", config);
  }, 120_000);

  it("runs the node runtime on the control plane before kubeadm init, and joins nobody", async () => {
    const names = run.resources.map((r) => r.name);
    expect(names).toContain("solo-firecracker");
    expect(names).toContain("solo-node-runtime");
    expect(names.filter((n) => n.endsWith("-kubeadm-join"))).toEqual([]);
    expect(run.dependsOn("solo-kubeadm-init").has("solo-node-runtime")).toBe(true);
    const init = run.resources.find((r) => r.name === "solo-kubeadm-init")!;
    const create = await new Promise<string>((resolve) => (init.inputs.create as { apply: (f: (v: string) => void) => void }).apply(resolve));
    expect(create).toContain("criSocket: unix:///etc/vhive-cri/vhive-cri.sock");
    expect(create).toContain("taints: []");
  });
});
