// Pulumi entry point: read the stack config, validate all of it before creating anything, and
// build the cluster. Everything else lives in components/ so tests can run the same program.
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { loadStackConfig } from "./components/program/loadConfig.js";
import { buildCluster } from "./components/program/buildCluster.js";
import { ConfigError } from "./components/config/validate.js";

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
  cluster = buildCluster({
    config: stack,
    secret: (key) => config.requireSecret(key),
    repoRoot: dirname(fileURLToPath(import.meta.url)),
  });
} catch (error) {
  // Errors raised while the resources are declared are about the configuration (a key file
  // that cannot be read, a release file without a checksum): show the message, not a trace.
  throw new pulumi.RunError(error instanceof Error ? error.message : String(error));
}

export const kubeconfig = cluster.kubeconfig;
export const apiServerUrl = cluster.apiServerUrl;
export const nodes = cluster.nodeNames;
export const bootstrapToken = cluster.bootstrapToken;
export const ingressDomain = cluster.ingressDomain;
export const minioEndpoint = cluster.minioEndpoint;
export const minioAccessKey = cluster.minioAccessKey;
export const minioSecretKey = cluster.minioSecretKey;
export const endpointsJson = cluster.endpointsJson;
