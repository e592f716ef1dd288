// The program for stacks/Pulumi.playground.yaml under Pulumi's mocks: the hosts are a resource of
// the stack, every host gets the node runtime, nothing of Kubernetes is declared, and the outputs
// name each node runtime's API and the hosts the demo uses.
import { beforeAll, describe, expect, it } from "vitest";
import { HOSTS_SCRIPT } from "#components/playground/playground-hosts.js";
import { runStack, type StackRun } from "./mocked-program.js";

describe("stack playground under mocks", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack("playground");
  });

  it("makes its hosts with hosts.sh and removes them at destroy", () => {
    const machines = run.resources.find((r) => r.name === "playground-machines")!;
    expect(machines.type).toBe("vhive:index:LocalCommand");
    expect(machines.inputs.create).toContain(`bash '${HOSTS_SCRIPT}' up 61 62`);
    expect(machines.inputs.delete).toContain(`bash '${HOSTS_SCRIPT}' down 61 62`);
  });

  it("provisions every host node-runtime-only and declares nothing of Kubernetes", () => {
    const steps = run.resources.filter((r) => r.type === "vhive:index:HostCommand");
    expect(steps.map((s) => s.name)).toEqual(expect.arrayContaining(["vht-61-packages", "vht-62-packages", "vht-61-node-runtime", "vht-62-node-runtime"]));
    expect(steps.some((s) => s.name.endsWith("-kubernetes"))).toBe(false);
    expect(run.resources.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
  });

  it("outputs each node runtime's API and what the demo needs", () => {
    expect(run.outputs.nodeRuntimeEndpoints).toEqual({ "vht-61": "10.231.0.161:10991", "vht-62": "10.231.0.162:10991" });
    expect((run.outputs.playgroundHosts as { name: string }[]).map((h) => h.name)).toEqual(["vht-61", "vht-62"]);
    expect(run.outputs.kubeconfig).toBeUndefined();
  });
});
