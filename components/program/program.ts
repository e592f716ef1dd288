// The Pulumi program: read the stack config, validate all of it before creating anything, and
// build the cluster (VhiveCluster) or the node-runtime-only hosts (NodeRuntimeHosts) from it; the
// component's outputs become the stack outputs. index.ts exports it for `pulumi up`;
// cli/pulumi/workspace.ts runs the same function through Pulumi's Automation API.
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/validate.js";
import { NodeRuntimeHosts, VhiveCluster } from "../cluster/index.js";
import { isNodeRuntimeOnly, nodeRuntimeHostsArgs, vhiveClusterArgs } from "./component-args.js";
import { loadStackConfig } from "./load-config.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The component's name: its resources keep the names (and URNs, through aliases) they had before it. */
const COMPONENT_NAME = "vhive";

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
    // Here too, not only in the component: the stack file's own rules (unknown namespaces, secret
    // keys that are not set) need the stack's config keys.
    stack = loadStackConfig(pulumi.runtime.allConfig(), project);
  } catch (error) {
    // One readable list of problems instead of a stack trace.
    if (error instanceof ConfigError) throw new pulumi.RunError(error.message);
    throw error;
  }
  const secret = (key: string) => config.requireSecret(key);
  if (isNodeRuntimeOnly(stack)) {
    const hosts = new NodeRuntimeHosts(COMPONENT_NAME, nodeRuntimeHostsArgs(stack, secret, checksumLockPath()));
    const playground = stack.target === "playground";
    return {
      nodes: hosts.nodeNames,
      nodeRuntimeEndpoints: hosts.nodeRuntimeEndpoints,
      // Where the demo finds the playground's hosts and the runtime's CLI on them.
      ...(playground ? { playgroundHosts: hosts.playgroundHosts, nodeRuntimeInstallDir: hosts.nodeRuntimeInstallDir } : {}),
    };
  }
  const cluster = new VhiveCluster(COMPONENT_NAME, vhiveClusterArgs(stack, secret, checksumLockPath()));
  return {
    nodes: cluster.nodeNames,
    kubeconfig: cluster.kubeconfig,
    apiServerUrl: cluster.apiServerUrl,
    bootstrapToken: cluster.bootstrapToken,
    ingressDomain: cluster.ingressDomain,
    ...(stack.minio.enabled ? { minioEndpoint: cluster.minioEndpoint, minioAccessKey: cluster.minioAccessKey, minioSecretKey: cluster.minioSecretKey } : {}),
    ...(stack.functions.length > 0 || stack.openyurt.enabled ? { endpointsJson: cluster.endpointsJson } : {}),
  };
}
