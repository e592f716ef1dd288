// The components (components/cluster) through the real Pulumi engine:
// - `transforms` given to NodeRuntimeHosts reach the resources inside it (the engine runs them, so
//   Pulumi's mocks cannot show it), and so does its `dependsOn` (handed on by such a transform): a
//   preview, no host needed;
// - a stack made by the program as it was before the components (every resource at the stack's top
//   level) previews with no change at all under the program that builds NodeRuntimeHosts: the
//   aliases keep every URN's state, so a re-run does not reinstall the hosts. Needs one SSH test host.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStack } from "#cli/pulumi/workspace.js";
import { NodeRuntimeHosts } from "#components/cluster/index.js";
import { LocalCommand } from "#components/provider/index.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";
import { HttpFileFetcher } from "#components/config/run-time-checksum.js";
import { buildCluster } from "#components/program/build-cluster.js";
import { withHostChecksums } from "#components/program/host-checksums.js";
import { loadStackConfig } from "#components/program/load-config.js";
import { checksumLockPath, vhiveProgram } from "#components/program/program.js";
import { downHosts, unavailableReason, upHosts, type TestHost } from "../hosts/test-hosts.js";
import { EngineStack, rawStackFor, REPO_ROOT } from "./real-provisioner.js";

/** Stands in for a host's pinned public key (the preview never connects). */
const TEST_DOUBLE_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITestDoubleHostKeyOfAComponentHost";

describe("transforms given to a component, through the real engine", () => {
  const work = mkdtempSync(join(tmpdir(), "vhive-component-transforms-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("reach a host step two components deep (NodeRuntimeHosts → HostBootstrap → HostCommand), and so does the component's dependsOn", async () => {
    const keyFile = join(work, "id_ed25519");
    writeFileSync(keyFile, "test-double: stands in for a private key file (never used: a preview does not connect)\n", { mode: 0o600 });
    const seen: string[] = [];
    const dependenciesOf: Record<string, string[]> = {};
    const stack = await EngineStack.open("transforms", {}, {}, async () => {
      // Stands in for what a user's program makes the hosts wait for (a VM); a preview runs nothing.
      const gate = new LocalCommand("gate", { create: "true", delete: "true" });
      const hosts = new NodeRuntimeHosts(
        "lab",
        {
          sandbox: "containerd",
          packages: { source: "debian" },
          network: { hostCidr: "192.0.2.0/24" },
          hosts: [{ name: "a", address: "192.0.2.10", sshKey: { file: keyFile }, hostKey: TEST_DOUBLE_HOST_KEY, role: "worker" }],
          checksumLockFile: join(work, "checksums.lock.json"),
        },
        {
          dependsOn: [gate],
          transforms: [
            async (args) => {
              seen.push(`${args.type}::${args.name}`);
              const deps = args.opts.dependsOn;
              const list = (Array.isArray(deps) ? deps : deps ? [deps] : []) as pulumi.Resource[];
              dependenciesOf[args.name] = await Promise.all(list.map((d) => new Promise<string>((resolve) => d.urn.apply(resolve))));
              return undefined;
            },
          ],
        },
      );
      return { nodes: hosts.nodeNames };
    });
    try {
      const result = await stack.preview();
      expect(result.changeSummary.create).toBeGreaterThan(5);
    } finally {
      stack.remove();
    }
    expect(seen).toContain("vhive:nodes:HostBootstrap::hosts");
    expect(seen).toContain("vhive:index:HostCommand::a-containerd");
    expect(seen).toContain("vhive:index:HostCommand::a-node-runtime");
    // As Pulumi documents: the resource itself and every child.
    expect(seen).toContain("vhive-cluster:index:NodeRuntimeHosts::lab");
    // The first step of the host waits for nothing of its own, but for what the component waits for.
    const firstStep = seen.find((s) => s.startsWith("vhive:index:HostCommand::a-"))!.split("::")[1]!;
    expect(dependenciesOf[firstStep]).toEqual([expect.stringMatching(/::gate$/)]);
    expect(dependenciesOf["a-node-runtime"]).toEqual(expect.arrayContaining([expect.stringMatching(/::gate$/)]));
  }, 900_000);

  it("a failure while declaring (a key file that cannot be read) fails the run with the field named, no stack trace", async () => {
    const stack = await EngineStack.open("unreadable-key", {}, {}, async () => {
      const hosts = new NodeRuntimeHosts("lab", {
        sandbox: "containerd",
        network: { hostCidr: "192.0.2.0/24" },
        hosts: [{ name: "a", address: "192.0.2.10", sshKey: { file: join(work, "no-such-key") }, hostKey: TEST_DOUBLE_HOST_KEY }],
        checksumLockFile: join(work, "checksums.lock.json"),
      });
      return { nodes: hosts.nodeNames };
    });
    try {
      const error = await stack.preview().then(
        () => undefined,
        (e: unknown) => String(e),
      );
      expect(error).toBeDefined();
      expect(stack.output).toContain(`NodeRuntimeHosts: hosts[0].sshKey.file: cannot read ${join(work, "no-such-key")} (ENOENT)`);
      expect(stack.output).not.toMatch(/^\s+at /m);
    } finally {
      stack.remove();
    }
  }, 900_000);
});

describe("a provider moved under a component, through the real engine", () => {
  it("keeps its resources: aliased as VhiveCluster's Kubernetes provider is, nothing is replaced", async () => {
    // The project's own provider stands in for the Kubernetes one (no cluster needed): the engine
    // treats provider resources alike. Before: provider and resource at the top level, as the stack
    // program declared the Kubernetes provider; after: both under a component, with the aliases
    // buildCluster and VhiveCluster give them.
    class VhiveProvider extends pulumi.ProviderResource {
      constructor(name: string, opts?: pulumi.ResourceOptions) {
        super("vhive", name, {}, opts);
      }
    }
    class Moved extends pulumi.ComponentResource {
      constructor(name: string) {
        super("vhive-cluster:index:VhiveCluster", name, {}, {});
        const provider = new VhiveProvider("cluster", { parent: this, aliases: [{ parent: pulumi.rootStackResource }] });
        new LocalCommand("uses-provider", { create: "true", delete: "true" }, { parent: this, provider, aliases: [{ parent: pulumi.rootStackResource }] });
        this.registerOutputs({});
      }
    }
    const before = await EngineStack.open("moved-provider", {}, {}, async () => {
      const provider = new VhiveProvider("cluster");
      new LocalCommand("uses-provider", { create: "true", delete: "true" }, { provider });
      return {};
    });
    try {
      expect((await before.up()).summary.result).toBe("succeeded");
      const after = await openStack({
        stack: before.name,
        workDir: before.dir,
        backendUrl: `file://${join(before.dir, "state")}`,
        env: { PULUMI_CONFIG_PASSPHRASE_FILE: join(before.dir, "passphrase"), PULUMI_HOME: join(before.dir, "pulumi-home") },
        program: async () => {
          new Moved("vhive");
          return {};
        },
      });
      let output = "";
      const rerun = await after.up({ onOutput: (text) => (output += text) });
      expect(rerun.summary.resourceChanges, output).toEqual({ create: 1, same: 3 });
      await after.destroy();
    } finally {
      before.remove();
    }
  }, 900_000);
});

const HOST = 37;
const skip = unavailableReason();
if (skip) console.log(`stack made before the components: skipped: ${skip}`);

/**
 * The program as it was before the components, for node-runtime-only hosts: every resource at the
 * stack's top level (buildCluster without a parent is that program's body).
 */
async function programBeforeComponents(): Promise<Record<string, unknown>> {
  const project = pulumi.getProject();
  const config = new pulumi.Config(project);
  const lock = new ChecksumLock(checksumLockPath());
  const stack = await withHostChecksums(loadStackConfig(pulumi.runtime.allConfig(), project), {
    lock,
    fetcher: new HttpFileFetcher(),
    dryRun: pulumi.runtime.isDryRun(),
  });
  const cluster = buildCluster({ config: stack, secret: (key) => config.requireSecret(key), repoRoot: REPO_ROOT, checksumLock: lock });
  return { nodes: cluster.nodeNames, nodeRuntimeEndpoints: cluster.nodeRuntimeEndpoints };
}

describe.skipIf(skip !== undefined)("a stack made before the components, under the program that builds them", () => {
  let host: TestHost;
  let before: EngineStack | undefined;

  beforeAll(async () => {
    host = (await upHosts([HOST]))[0]!;
  }, 900_000);
  afterAll(async () => {
    await before?.destroy().catch((e: unknown) => console.log(`cleanup destroy: ${String(e)}`));
    before?.remove();
    await downHosts([HOST]);
  }, 900_000);

  it("moves every resource under the component: only the component is created, nothing deleted or replaced, so no host is reinstalled", async () => {
    before = await EngineStack.open("aliases", rawStackFor([host], { sandbox: "containerd", kubernetes: false }), {}, programBeforeComponents);
    const up = await before.up();
    expect(up.summary.result).toBe("succeeded");
    const names = await before.resourceNames();
    expect(names).toContain(`${host.name}-node-runtime`);

    // The same project directory, state and passphrase, now with the project's program.
    const after = await openStack({
      stack: before.name,
      workDir: before.dir,
      backendUrl: `file://${join(before.dir, "state")}`,
      env: { PULUMI_CONFIG_PASSPHRASE_FILE: join(before.dir, "passphrase"), PULUMI_HOME: join(before.dir, "pulumi-home") },
      program: vhiveProgram,
    });
    let output = "";
    const preview = await after.preview({ onOutput: (text) => (output += text), diff: true });
    // The only new resource is the component itself; nothing is deleted or replaced. (Updates may
    // appear: the node runtime's bundle follows its sources, which can change in the working tree
    // between the two runs; that is the runtime's own update, not the move.)
    const REMOVALS = ["delete", "replace", "create-replacement", "delete-replaced", "discard"];
    expect(preview.changeSummary.create, output).toBe(1);
    expect(
      Object.entries(preview.changeSummary).filter(([op, n]) => REMOVALS.includes(op) && n > 0),
      output,
    ).toEqual([]);
    expect(output).toContain("vhive-cluster:index:NodeRuntimeHosts");

    // And `up` keeps it that way: the hosts' resources are moved under the component, not replaced.
    const rerun = await after.up({ onOutput: (text) => (output += text) });
    expect(rerun.summary.resourceChanges?.create, output).toBe(1);
    expect(
      Object.entries(rerun.summary.resourceChanges ?? {}).filter(([op, n]) => REMOVALS.includes(op) && n > 0),
      output,
    ).toEqual([]);
    expect(await before.resourceNames()).toEqual([...names, "vhive"].sort());
  }, 1_800_000);
});
