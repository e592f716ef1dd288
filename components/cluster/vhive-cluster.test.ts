// VhiveCluster under Pulumi's mocks (a preview: nothing is downloaded): every resource it declares
// belongs to it, the resources it declares directly are aliased to where the stack program had
// them, a transformation given to it reaches resources deep inside, its outputs and their secrecy,
// and the Kubernetes provider users get is the one the add-ons use.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { commandStdout } from "#tests/program/mocked-program.js";
import { VhiveCluster } from "./index.js";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly parent?: pulumi.Resource;
  readonly aliases: unknown[];
  readonly provider?: pulumi.ProviderResource;
}

/** Stands in for a secret the user sets with `pulumi config set --secret`. */
const TEST_DOUBLE_KEY = "test-double: stands in for an SSH private key";
/** Stands in for a host's pinned public key (never connected to). */
const TEST_DOUBLE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestDoubleHostKeyOfAComponentHost";

async function outputValue<T>(output: pulumi.Output<T>): Promise<{ value: T; secret: boolean }> {
  const value = await new Promise<T>((resolve) => output.apply((v) => resolve(v)));
  return { value, secret: await (output as unknown as { isSecret: Promise<boolean> }).isSecret };
}

describe("VhiveCluster under mocks", () => {
  const registered: Registered[] = [];
  const transformed: string[] = [];
  let cluster: VhiveCluster;

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const state: Record<string, unknown> = { ...args.inputs };
          if (args.type === "vhive:index:BootstrapToken") state.token = "abc123.0123456789abcdef";
          if (args.type === "vhive:index:HostCommand" || args.type === "vhive:index:LocalCommand") state.stdout = commandStdout(args.name);
          return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
      },
      "vhive",
      "component-test",
      true,
    );
    await pulumi.runtime.runInPulumiStack(async () => {
      pulumi.runtime.registerStackTransformation((args) => {
        registered.push({
          type: args.type,
          name: args.name,
          ...(args.opts.parent ? { parent: args.opts.parent } : {}),
          aliases: [...(args.opts.aliases ?? [])],
          ...((args.opts as pulumi.CustomResourceOptions).provider ? { provider: (args.opts as pulumi.CustomResourceOptions).provider! } : {}),
        });
        return undefined;
      });
      cluster = new VhiveCluster(
        "lab",
        {
          target: "hosts",
          sandbox: "gvisor",
          network: { hostCidr: "192.0.2.0/24", metallbPool: "192.0.2.240-192.0.2.250" },
          hosts: [
            { name: "cp", address: "192.0.2.10", sshKey: { privateKey: pulumi.secret(TEST_DOUBLE_KEY) }, hostKey: TEST_DOUBLE_HOST_KEY, role: "control-plane" },
            { name: "w1", address: "192.0.2.11", sshKey: { privateKey: pulumi.secret(TEST_DOUBLE_KEY) }, hostKey: TEST_DOUBLE_HOST_KEY, role: "worker" },
          ],
          minio: { enabled: true, node: "w1", accessKey: pulumi.secret("test-double-minio-user"), secretKey: pulumi.secret("test-double-minio-password") },
          checksumLockFile: join(mkdtempSync(join(tmpdir(), "vhive-component-test-")), "checksums.lock.json"),
        },
        {
          transformations: [
            (args) => {
              transformed.push(`${args.type}::${args.name}`);
              return undefined;
            },
          ],
        },
      );
      // Let the declaration (after the checksum lookup) finish before the stack completes.
      await outputValue(cluster.nodeNames);
      return {};
    });
  });

  const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;
  const keyOf = (resource: pulumi.Resource) => {
    const r = resource as unknown as { __pulumiType: string; __name: string };
    return `${r.__pulumiType}::${r.__name}`;
  };
  /** Every component a resource is inside, nearest first, by type and name. */
  const ancestors = (r: Registered): string[] => {
    const chain: string[] = [];
    for (let parent = r.parent; parent && chain.length < 20; ) {
      chain.push(keyOf(parent));
      parent = registered.find((x) => key(x) === keyOf(parent!))?.parent;
    }
    return chain;
  };

  it("is one component that every resource it declares belongs to", () => {
    const inside = registered.filter((r) => r.type !== "vhive-cluster:index:VhiveCluster");
    expect(inside.length).toBeGreaterThan(20);
    const direct = inside.filter((r) => r.parent === cluster).map((r) => r.name);
    expect(direct).toEqual(expect.arrayContaining(["addons", "cluster", "control-plane", "hosts", "minio", "node-runtime", "workers"]));
    const outside = inside.filter((r) => !ancestors(r).includes("vhive-cluster:index:VhiveCluster::lab")).map(key);
    expect(outside).toEqual([]);
  });

  it("aliases every resource it declares directly to the stack's top level, where the stack program had it", () => {
    const direct = registered.filter((r) => r.parent === cluster);
    for (const r of direct) expect(r.aliases, `${r.type}::${r.name}`).toEqual([{ parent: pulumi.rootStackResource }]);
  });

  it("applies a transformation given to it to resources deep inside (a host step of a host bootstrap)", () => {
    expect(transformed).toContain("vhive:nodes:HostBootstrap::hosts");
    expect(transformed).toContain("vhive:index:HostCommand::w1-containerd");
    expect(transformed).toContain("kubernetes:apps/v1:Deployment::minio-deployment");
  });

  it("outputs the kubeconfig, the bootstrap token and MinIO's credentials as secrets", async () => {
    const kubeconfig = await outputValue(cluster.kubeconfig);
    expect(kubeconfig.secret).toBe(true);
    expect(kubeconfig.value).toContain("server: https://");
    expect((await outputValue(cluster.bootstrapToken)).secret).toBe(true);
    expect(await outputValue(cluster.minioAccessKey)).toEqual({ value: "test-double-minio-user", secret: true });
    expect((await outputValue(cluster.minioSecretKey)).secret).toBe(true);
    expect((await outputValue(cluster.nodeNames)).value).toEqual(["cp", "w1"]);
  });

  it("hands out the Kubernetes provider the in-cluster components use", () => {
    expect(cluster.provider).toBeInstanceOf(k8s.Provider);
    const deployment = registered.find((r) => key(r) === "kubernetes:apps/v1:Deployment::minio-deployment");
    expect(deployment).toBeDefined();
    expect(ancestors(deployment!)).toEqual(["vhive:storage:Minio::minio", "vhive-cluster:index:VhiveCluster::lab"]);
    expect(deployment!.provider).toBe(cluster.provider);
  });
});
