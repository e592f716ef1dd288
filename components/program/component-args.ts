// A validated stack file as the components' arguments: the same settings, with each secret the
// stack refers to by config key (`{ secret: key }`) read as a Pulumi secret.
import type { SecretLookup } from "../nodes/connection.js";
import type { HostConfig, StackConfig } from "../config/schema.js";
import type { Host, NodeRuntimeHostsArgs, SshKey, VhiveClusterArgs } from "../cluster/args.js";

function sshKeyArgs(key: HostConfig["sshKey"], secret: SecretLookup): SshKey {
  if (key === "agent") return { agent: true };
  if ("secret" in key) return { privateKey: secret(key.secret) };
  return { file: key.file };
}

function hostArgs(host: HostConfig, secret: SecretLookup): Host {
  return { ...host, sshKey: sshKeyArgs(host.sshKey, secret) };
}

/** What both components take: the hosts' software and the checksum lock. */
function commonArgs(stack: StackConfig, secret: SecretLookup, checksumLockFile: string) {
  return {
    hosts: stack.hosts.map((h) => hostArgs(h, secret)),
    sandbox: stack.sandbox,
    snapshots: stack.snapshots,
    packages: stack.packages,
    versions: stack.versions,
    checksums: stack.checksums,
    network: stack.network,
    estargz: stack.estargz,
    artifactMirror: stack.artifactMirror,
    aptProxy: stack.aptProxy,
    nodeRuntime: stack.nodeRuntime,
    checksumLockFile,
  };
}

/** Whether the stack is node-runtime-only hosts (NodeRuntimeHosts) rather than a cluster (VhiveCluster). */
export function isNodeRuntimeOnly(stack: StackConfig): boolean {
  return stack.target === "playground" || !stack.kubernetes;
}

export function vhiveClusterArgs(stack: StackConfig, secret: SecretLookup, checksumLockFile: string): VhiveClusterArgs {
  if (stack.target === "playground") throw new Error("internal: the playground is NodeRuntimeHosts");
  const { accessKey, secretKey, ...minio } = stack.minio;
  return {
    ...commonArgs(stack, secret, checksumLockFile),
    target: stack.target,
    kind: stack.kind,
    ingress: stack.ingress,
    eventing: stack.eventing,
    registry: stack.registry,
    domain: stack.domain,
    minio: { ...minio, ...(accessKey ? { accessKey: secret(accessKey.secret) } : {}), ...(secretKey ? { secretKey: secret(secretKey.secret) } : {}) },
    openyurt: stack.openyurt,
    functions: stack.functions,
  };
}

export function nodeRuntimeHostsArgs(stack: StackConfig, secret: SecretLookup, checksumLockFile: string): NodeRuntimeHostsArgs {
  if (stack.target === "kind") throw new Error("internal: kind is a VhiveCluster");
  return { ...commonArgs(stack, secret, checksumLockFile), target: stack.target, playground: stack.playground };
}
