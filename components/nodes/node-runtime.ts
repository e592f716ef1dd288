// NodeRuntime: ships the node runtime built from this repository to every worker and runs it as
// a systemd service. The bundle (the runtime compiled to JavaScript, with its production
// dependencies) is packed once on the Pulumi machine, copied to each worker, and installed by a
// step that checks its sha256 and waits for the service's health endpoint.
import * as pulumi from "@pulumi/pulumi";
import { CopyToHost, type HostCommand, LocalCommand, type ConnectionArgs } from "../provider/index.js";
import type { StackConfig } from "../config/schema.js";
import { nodeRuntimeStep } from "../host-steps/index.js";
import { remoteStep } from "./step-commands.js";
import { warnMissingChecksums } from "./missing-checksums.js";
import { bundleDeleteScript, bundleOwner, bundleScript, sourceDigest } from "./runtime-bundle.js";

export interface NodeRuntimeWorker {
  readonly name: string;
  readonly connection: pulumi.Input<ConnectionArgs>;
  readonly criSocket: string;
  /** The worker's bootstrap steps after which sandboxes can run (containerd, kernel settings). */
  readonly after: readonly pulumi.Resource[];
}

export interface NodeRuntimeArgs {
  readonly config: StackConfig;
  readonly workers: readonly NodeRuntimeWorker[];
  /** Repository root (where package.json and node-runtime/ are). */
  readonly repoRoot: string;
  /** Serve each runtime's gRPC API on this TCP port (node-runtime-only hosts). */
  readonly apiPort?: number;
}

export class NodeRuntime extends pulumi.ComponentResource {
  /** The install step per worker; kubelet on a firecracker worker must wait for it. */
  readonly ready: Readonly<Record<string, HostCommand>>;
  readonly bundleSha256: pulumi.Output<string>;

  constructor(name: string, args: NodeRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:nodes:NodeRuntime", name, {}, opts);
    const digest = sourceDigest(args.repoRoot);
    if (args.workers.length > 0)
      warnMissingChecksums([nodeRuntimeStep(args.config, { bundlePath: "", bundleSha256: "", criSocket: args.workers[0]!.criSocket })], this);
    const bundle = new LocalCommand(
      `${name}-bundle`,
      { create: bundleScript(args.repoRoot, digest, bundleOwner()), delete: bundleDeleteScript(digest, bundleOwner()), triggers: [digest] },
      { parent: this },
    );
    const parsed = bundle.stdout.apply((stdout) => {
      const [path = "", sha = ""] = stdout.trim().split(/\s+/);
      return { path, sha };
    });
    this.bundleSha256 = parsed.apply((b) => b.sha);
    const remotePath = `/tmp/vhive-node-runtime-${digest.slice(0, 16)}.tgz`;
    const ready: Record<string, HostCommand> = {};
    for (const worker of args.workers) {
      const copy = new CopyToHost(
        `${worker.name}-node-runtime-copy`,
        {
          connection: worker.connection,
          hostName: worker.name,
          source: parsed.apply((b) => b.path),
          remotePath,
          triggers: [parsed.apply((b) => b.sha)],
        },
        // A file into /tmp needs nothing set up on the host: it travels while the host is bootstrapped.
        { parent: this },
      );
      const step = parsed.apply((b) =>
        nodeRuntimeStep(args.config, {
          bundlePath: remotePath,
          bundleSha256: b.sha,
          criSocket: worker.criSocket,
          ...(args.apiPort ? { apiPort: args.apiPort } : {}),
        }),
      );
      ready[worker.name] = remoteStep(worker.name, step, { connection: worker.connection, parent: this, dependsOn: [copy, ...worker.after] }, "node-runtime");
    }
    this.ready = ready;
    this.registerOutputs({ bundleSha256: this.bundleSha256 });
  }
}
