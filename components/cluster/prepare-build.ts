// What VhiveCluster and NodeRuntimeHosts share: validate the arguments before anything is created,
// then declare the resources under the component once every host download has its checksum (at
// `pulumi up` a file without one gets it from upstream's checksum file, which takes a request, so
// the resources are declared from a promise; the component's outputs follow it).
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ChecksumLock } from "../config/checksum-lock.js";
import { HttpFileFetcher } from "../config/run-time-checksum.js";
import { ConfigError } from "../config/validate.js";
import type { StackConfig } from "../config/schema.js";
import { buildCluster, type ClusterOutputs } from "../program/build-cluster.js";
import { withHostChecksums } from "../program/host-checksums.js";
import { errorMessage } from "#node-runtime/system/error-message.js";
import type { NodeRuntimeHostsArgs, VhiveClusterArgs } from "./args.js";
import { stackConfigOf, type ComponentKind } from "./stack-config-of.js";

/** The package root: the node runtime bundle is built from it. */
const PACKAGE_ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The lock file used when the arguments name none: beside the program (Pulumi runs it in its project directory). */
export const DEFAULT_CHECKSUM_LOCK = "checksums.lock.json";

export interface PreparedBuild {
  readonly config: StackConfig;
  /**
   * Declares the resources under `parent` (with the given Kubernetes provider, if any); the
   * promise holds their outputs, or rejects with a RunError when declaring failed.
   */
  declare(parent: pulumi.ComponentResource, provider?: k8s.Provider): Promise<ClusterOutputs>;
}

/** Validates `args` before anything is created: throws a RunError that lists every problem. */
export function prepareBuild(component: ComponentKind, args: VhiveClusterArgs | NodeRuntimeHostsArgs): PreparedBuild {
  let validated;
  let lock: ChecksumLock;
  try {
    validated = stackConfigOf(component, args);
    lock = new ChecksumLock(resolve(args.checksumLockFile ?? DEFAULT_CHECKSUM_LOCK));
  } catch (error) {
    // One readable list of problems instead of a stack trace.
    if (error instanceof ConfigError) throw new pulumi.RunError(`${component}: ${error.message}`);
    throw new pulumi.RunError(`${component}: ${errorMessage(error)}`);
  }
  const { config, secret } = validated;
  return {
    config,
    async declare(parent, provider) {
      try {
        const complete = await withHostChecksums(config, { lock, fetcher: new HttpFileFetcher(), dryRun: pulumi.runtime.isDryRun() });
        return buildCluster({ config: complete, secret, repoRoot: PACKAGE_ROOT, checksumLock: lock, parent, ...(provider ? { provider } : {}) });
      } catch (error) {
        // A key file that cannot be read, a checksum that cannot be resolved: the message, not a trace.
        throw new pulumi.RunError(`${component}: ${errorMessage(error)}`);
      }
    },
  };
}

/** One output of the build: known as soon as that output is, and failing when the build failed. */
export function outputOf<T>(built: Promise<ClusterOutputs>, pick: (outputs: ClusterOutputs) => pulumi.Input<T> | undefined): pulumi.Output<T | undefined> {
  return pulumi.output(built.then(pick)) as pulumi.Output<T | undefined>;
}
