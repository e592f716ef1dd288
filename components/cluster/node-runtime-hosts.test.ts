// NodeRuntimeHosts under Pulumi's mocks (a preview: nothing is downloaded), on the playground's
// local hosts: the machines and every host step belong to it, nothing of Kubernetes is declared,
// and it outputs each node runtime's API.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { commandStdout } from "#tests/program/mocked-program.js";
import { NodeRuntimeHosts } from "./index.js";

async function outputValue<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise<T>((resolve) => output.apply((v) => resolve(v)));
}

describe("NodeRuntimeHosts under mocks", () => {
  const registered: { type: string; name: string; parent?: pulumi.Resource; aliases: unknown[] }[] = [];
  let hosts: NodeRuntimeHosts;

  beforeAll(async () => {
    // The playground's hosts report the user's key file (~/.ssh/id_ed25519), which the connections
    // read: a home with a test-double key file stands in for the user's.
    const home = mkdtempSync(join(tmpdir(), "vhive-component-home-"));
    mkdirSync(join(home, ".ssh"));
    writeFileSync(join(home, ".ssh", "id_ed25519"), "test-double: stands in for an SSH private key file\n", { mode: 0o600 });
    process.env.HOME = home;
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const state: Record<string, unknown> = { ...args.inputs };
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
        });
        return undefined;
      });
      hosts = new NodeRuntimeHosts("lab", {
        target: "playground",
        sandbox: "gvisor",
        checksumLockFile: join(mkdtempSync(join(tmpdir(), "vhive-component-test-")), "checksums.lock.json"),
      });
      await outputValue(hosts.nodeRuntimeEndpoints);
      return {};
    });
  });

  it("declares the machines, the host bootstrap and the node runtime under itself, aliased to the stack's top level", () => {
    const direct = registered.filter((r) => r.parent === hosts);
    expect(direct.map((r) => `${r.type}::${r.name}`).sort()).toEqual([
      "vhive:nodes:HostBootstrap::hosts",
      "vhive:nodes:NodeRuntime::node-runtime",
      "vhive:playground:PlaygroundHosts::playground",
    ]);
    for (const r of direct) expect(r.aliases).toEqual([{ parent: pulumi.rootStackResource }]);
    expect(registered.filter((r) => r.type.startsWith("kubernetes:"))).toEqual([]);
  });

  it("outputs each node runtime's API, the hosts and where the runtime is installed", async () => {
    expect(await outputValue(hosts.nodeNames)).toEqual(["vht-61", "vht-62"]);
    expect(await outputValue(hosts.nodeRuntimeEndpoints)).toEqual({ "vht-61": "10.231.0.161:10991", "vht-62": "10.231.0.162:10991" });
    expect((await outputValue(hosts.playgroundHosts))?.map((h) => h.name)).toEqual(["vht-61", "vht-62"]);
    expect(await outputValue(hosts.nodeRuntimeInstallDir)).toBe("/opt/vhive-node-runtime");
  });
});
