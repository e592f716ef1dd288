// The Pulumi program: read the stack config, validate all of it before creating anything, build
// the cluster (or the node-runtime-only hosts) and return the stack outputs. index.ts exports it
// for `pulumi up`; scripts/pulumi.ts runs the same function through Pulumi's Automation API.
import { fileURLToPath } from "node:url";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError } from "../config/validate.js";
import { buildCluster } from "./buildCluster.js";
import { loadStackConfig } from "./loadConfig.js";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

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
    cluster = buildCluster({ config: stack, secret: (key) => config.requireSecret(key), repoRoot: REPO_ROOT.replace(/\/$/, "") });
  } catch (error) {
    // Errors raised while the resources are declared are about the configuration (a key file
    // that cannot be read, a release file without a checksum): show the message, not a trace.
    throw new pulumi.RunError(error instanceof Error ? error.message : String(error));
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
