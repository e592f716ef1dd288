// index.ts itself (Pulumi's entry point) under mocks with a broken stack config: it must stop
// before declaring any resource, with every problem listed, as a RunError (no stack trace).
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { PROJECT } from "./mocked-program.js";

describe("index.ts with a bad stack config", () => {
  it("throws one RunError listing every problem and registers nothing", async () => {
    const registered: string[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          registered.push(args.name);
          return { id: `${args.name}-id`, state: args.inputs };
        },
        call: (args) => args.inputs,
      },
      PROJECT,
      "bad",
      false,
    );
    pulumi.runtime.setAllConfig({
      [`${PROJECT}:target`]: "hosts",
      [`${PROJECT}:sandbox`]: "kata",
      [`${PROJECT}:hosts`]: JSON.stringify([{ name: "Bad_Name", address: "192.0.2.1", role: "worker", sshKey: "agent" }]),
    });
    const program = (await import("../../index.js")).default;
    const error = await program().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(pulumi.RunError);
    expect((error as Error).message).toBe(
      [
        "invalid stack configuration (6 problems):",
        "  hosts[0].name: must be a lowercase DNS label (a-z, 0-9 and '-', at most 63 characters)",
        '  sandbox: must be one of "firecracker", "gvisor", "containerd" (got "kata")',
        '  hosts: exactly one host must have role "control-plane" (found none)',
        "  hosts[0].hostKey: required: pin the host's public key (ssh-keyscan -t ed25519 <address>), or set allowUnknownHostKey: true to accept any key",
        `  network.hostCidr: required when target is "hosts" (the subnet the nodes' IPs are on, e.g. 192.0.2.0/24)`,
        '  network.metallbPool: required when target is "hosts" (free addresses in network.hostCidr, e.g. 192.0.2.240-192.0.2.250)',
      ].join("\n"),
    );
    expect(registered).toEqual([]);
  });
});
