import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { DEFAULT_CRI_SOCKET } from "#node-runtime/api/cri/cri-proxy.js";
import { runStack } from "../program/mocked-program.js";

// The provisioner and the node runtime must agree on where the CRI socket is: kubelet on a
// firecracker worker is pointed at it by kubeadm's JoinConfiguration, and the node runtime's
// systemd unit tells `node-runtime serve` to listen there. Read both from the real program's
// output for the firecracker stack, and compare with the runtime's own default.

function resolved(value: unknown): Promise<string> {
  if (pulumi.Output.isInstance(value)) return new Promise((r) => (value as pulumi.Output<string>).apply((v) => r(v)));
  return Promise.resolve(String(value));
}

describe("CRI socket: provisioner and node runtime agree", () => {
  it("kubelet joins with, and the node runtime serves on, the runtime's default CRI socket (firecracker stack)", async () => {
    const run = await runStack("baremetal");
    const byName = (name: string) => {
      const r = run.resources.find((x) => x.name === name);
      if (!r) throw new Error(`the baremetal stack has no resource ${name}`);
      return r;
    };
    for (const worker of ["worker-1", "worker-2"]) {
      const join = await resolved(byName(`${worker}-kubeadm-join`).inputs.create);
      const sockets = [...join.matchAll(/criSocket: (\S+)/g)].map((m) => m[1]);
      expect(sockets, `${worker} JoinConfiguration`).toEqual([`unix://${DEFAULT_CRI_SOCKET}`]);

      const install = await resolved(byName(`${worker}-node-runtime`).inputs.create);
      const execStart = install.split("\n").find((l) => l.startsWith("ExecStart="));
      expect(execStart, `${worker} node runtime unit`).toBeDefined();
      const args = execStart!.split(/\s+/);
      expect(args).toContain("serve");
      expect(args[args.indexOf("--cri-socket") + 1]).toBe(DEFAULT_CRI_SOCKET);
    }
  });
});
