// The components' arguments go through the stack file's validation: every problem at once, each
// named by the argument's path; secrets stay Inputs and come back as Pulumi secrets.
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../config/validate.js";
import type { Host } from "./args.js";
import { stackConfigOf } from "./stack-config-of.js";

/** Stands in for a host's pinned public key (never connected to). */
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestDoubleHostKeyOfAComponentHost";
const host = (name: string, address: string, extra: Partial<Host> = {}): Host => ({
  name,
  address,
  sshKey: { file: "/nonexistent/test-double-key" },
  hostKey: HOST_KEY,
  role: "worker",
  ...extra,
});
const network = { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" };

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("stackConfigOf", () => {
  it("takes a cluster's arguments with the stack file's defaults", () => {
    const { config } = stackConfigOf("VhiveCluster", { target: "hosts", network, hosts: [host("cp", "192.0.2.10", { role: "control-plane" })] });
    expect(config.kubernetes).toBe(true);
    expect(config.sandbox).toBe("firecracker");
    expect(config.hosts[0]!.sshKey).toEqual({ file: "/nonexistent/test-double-key" });
  });

  it("lists every problem at once, each under the argument's name", () => {
    const problems = problemsOf(() =>
      stackConfigOf("VhiveCluster", {
        target: "hosts",
        network,
        sandbox: "kata" as never,
        hosts: [
          host("cp", "999.1.1.1", { role: "control-plane" }),
          host("w1", "192.0.2.11", { sshKey: { file: "/k", agent: true } }),
          host("w2", "192.0.2.12", { sshKey: {} }),
        ],
        minio: { enabled: true, node: "w1" },
      }),
    );
    expect(problems.some((p) => p.startsWith("sandbox:"))).toBe(true);
    expect(problems.some((p) => p.startsWith("hosts[0].address:"))).toBe(true);
    expect(problems).toContain("hosts[1].sshKey: set exactly one of privateKey, file or agent (file and agent given)");
    expect(problems).toContain("hosts[2].sshKey: set exactly one of privateKey, file or agent (none given)");
    expect(problems.some((p) => p.startsWith("minio.accessKey:"))).toBe(true);
  });

  it("refuses a target the component does not build, saying which component does", () => {
    expect(problemsOf(() => stackConfigOf("NodeRuntimeHosts", { target: "kind" as never }))).toEqual([
      'target: must be "hosts" or "playground" (kind is a Kubernetes node: use VhiveCluster)',
    ]);
    expect(problemsOf(() => stackConfigOf("VhiveCluster", { target: "playground" as never }))[0]).toMatch(/^target: .*use NodeRuntimeHosts/);
  });

  it("without Kubernetes every host is a worker unless it says otherwise", () => {
    const { config } = stackConfigOf("NodeRuntimeHosts", { network, hosts: [{ ...host("a", "192.0.2.20"), role: undefined }] });
    expect(config.kubernetes).toBe(false);
    expect(config.target).toBe("hosts");
    expect(config.hosts[0]!.role).toBe("worker");
  });

  it("refuses an Output where a plain value decides which resources exist", () => {
    const problems = problemsOf(() => stackConfigOf("NodeRuntimeHosts", { network, hosts: [host("a", pulumi.output("192.0.2.20") as never)] }));
    expect(problems).toEqual([
      "hosts[0].address: must be a plain value known when the program runs (it decides which resources exist); only secrets may be Outputs",
    ]);
  });

  it("keeps a private key given as an Input and hands it back as a secret", async () => {
    const { config, secret } = stackConfigOf("NodeRuntimeHosts", {
      network,
      hosts: [host("a", "192.0.2.20", { sshKey: { privateKey: pulumi.output("test-double: stands in for a private key") } })],
    });
    const ref = config.hosts[0]!.sshKey as { secret: string };
    const value = secret(ref.secret);
    expect(await (value as unknown as { isSecret: Promise<boolean> }).isSecret).toBe(true);
    expect(await new Promise((resolve) => value.apply(resolve))).toBe("test-double: stands in for a private key");
  });
});
