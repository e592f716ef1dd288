// The Pulumi program: read the stack config, validate all of it before creating anything, build
// the cluster (or the node-runtime-only hosts) and return the stack outputs. index.ts exports it
// for `pulumi up`; scripts/pulumi.ts runs the same function through Pulumi's Automation API.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { ChecksumLock } from "../config/checksumLock.js";
import { HttpFileFetcher } from "../config/runTimeChecksum.js";
import { ConfigError } from "../config/validate.js";
import { buildCluster } from "./buildCluster.js";
import { withHostChecksums } from "./hostChecksums.js";
import { loadStackConfig } from "./loadConfig.js";
import { errorMessage } from "../../node-runtime/system/error-message.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * The checksum lock the user commits (one for every stack: it is keyed by upstream URL);
 * VHIVE_CHECKSUM_LOCK names another file.
 */
export function checksumLockPath(): string {
  return process.env.VHIVE_CHECKSUM_LOCK ?? join(REPO_ROOT, "stacks", "checksums.lock.json");
}

export async function vhiveProgram(): Promise<Record<string, unknown>> {
  const project = pulumi.getProject();
  const config = new pulumi.Config(project);
  let stack;
  try {
    stack = loadStackConfig(pulumi.runtime.allConfig(), project);
  } catch (error) {
    // One readable list of problems instead of a stack trace.
    if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
  let cluster;
  try {
    const checksumLock = new ChecksumLock(checksumLockPath());
    // At `pulumi up`, files without a pinned checksum get one (upstream's checksum file, or the
    // first download) before any step is declared; a preview reads only the lock.
    stack = await withHostChecksums(stack, { lock: checksumLock, fetcher: new HttpFileFetcher(), dryRun: pulumi.runtime.isDryRun() });
    cluster = buildCluster({ config: stack, secret: (key) => config.requireSecret(key), repoRoot: REPO_ROOT.replace(/\/$/, ""), checksumLock });
  } catch (error) {
    // Errors raised while the resources are declared are about the configuration (a key file
    // that cannot be read, a checksum that cannot be resolved): show the message, not a trace.
    throw new pulumi.RunError(errorMessage(error));
  }
  const outputs: Record<string, unknown> = {
    nodes: cluster.nodeNames,
    kubeconfig: cluster.kubeconfig,
    apiServerUrl: cluster.apiServerUrl,
    bootstrapToken: cluster.bootstrapToken,
    ingressDomain: cluster.ingressDomain,
    minioEndpoint: cluster.minioEndpoint,
    minioAccessKey: cluster.minioAccessKey,
    minioSecretKey: cluster.minioSecretKey,
    endpointsJson: cluster.endpointsJson,
    nodeRuntimeEndpoints: cluster.nodeRuntimeEndpoints,
    playgroundHosts: cluster.playgroundHosts,
    // Where the demo finds the runtime's CLI on a playground host.
    nodeRuntimeInstallDir: cluster.playgroundHosts ? stack.nodeRuntime.installDir : undefined,
  };
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}
