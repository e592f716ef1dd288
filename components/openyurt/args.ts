import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { PoolKind, SandboxKind } from "../manifests/types.js";
import type { ManifestFetcher } from "../addons/fetch.js";
import type { ChecksumLock } from "../config/checksum-lock.js";
import type { FunctionSpec } from "../functions/args.js";

/** One node of the cluster and the OpenYurt pool it is placed in. */
export interface OpenYurtNodeArgs {
  /** Kubernetes node name (as kubelet registered it). */
  name: pulumi.Input<string>;
  pool: PoolKind;
}

export interface OpenYurtArgs {
  /** Provider built from the control plane's admin kubeconfig. */
  provider: k8s.Provider;
  sandbox: SandboxKind;
  /** Every node with its pool; at least one cloud node. */
  nodes: OpenYurtNodeArgs[];
  /** Pinned OpenYurt release (no leading "v"; default the built-in one). */
  version?: string;
  /** sha256 of the OpenYurt Helm chart archives, keyed "yurt-manager" / "yurthub" (overrides the chart index's digests). */
  checksums?: Partial<Record<string, string>>;
  /** Pool names (default "cloud" and "edge"). */
  poolNames?: { cloud?: string; edge?: string };
  /** API server address yurthub proxies to, "https://host:6443". */
  apiServerUrl: pulumi.Input<string>;
  /** Bootstrap token yurthub uses to obtain its certificate; a Pulumi secret. */
  bootstrapToken: pulumi.Input<string>;
  /** Demo functions deployed once per pool (pinned to it by node selector); default helloworld. */
  demoFunctions?: FunctionSpec[];
  /**
   * endpoints.json of the stack's own functions (the Functions component's `endpointsJson`):
   * OpenYurt's `endpointsJson` lists them first, then the demo functions of both pools, so one
   * output never replaces the other.
   */
  functionsEndpointsJson?: pulumi.Input<string>;
  /** Knative domain the demo functions are reached under (ClusterAddons' `domain` output). */
  domain: pulumi.Input<string>;
  /** Base URL replacing upstream hosts of release files. */
  artifactMirror?: string;
  fetcher?: ManifestFetcher;
  /** Where checksums resolved at `pulumi up` are recorded (the charts' digests from the Helm index). */
  checksumLock?: ChecksumLock;
}
