// A worker that joins after the bootstrap token expired (added to the stack later) still joins: the
// baremetal program under mocks makes the token valid again on the control plane right before
// each worker's join, with the token only inside the (secret) script.
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./mocked-program.js";

describe("bootstrap token before each join (baremetal under mocks)", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack("baremetal");
  }, 120_000);

  it("one step per worker on the control plane, after kubeadm init, before that worker's join", async () => {
    for (const worker of ["worker-1", "worker-2"]) {
      const refresh = run.resources.find((r) => r.name === `cp-bootstrap-token-for-${worker}`);
      expect(refresh?.type).toBe("vhive:index:HostCommand");
      expect(refresh!.inputs.hostName).toBe("cp");
      expect(run.dependsOn(`cp-bootstrap-token-for-${worker}`).has("cp-kubeadm-init")).toBe(true);
      expect(run.dependsOn(`${worker}-kubeadm-join`).has(`cp-bootstrap-token-for-${worker}`)).toBe(true);
      const create = refresh!.inputs.create as unknown as { isSecret: Promise<boolean>; apply: (f: (v: string) => void) => void };
      expect(await create.isSecret).toBe(true);
      const script = await new Promise<string>((resolve) => create.apply(resolve));
      expect(script).toContain(`description: "vhive: lets ${worker} join"`);
    }
  });
});
