import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { SandboxKind } from "../manifests/types.js";

/** One function as vHive/vSwarm deploy it: a Knative Service running a workload image. */
export interface FunctionSpec {
  /** Knative Service name (DNS label). */
  name: string;
  /** Workload container image (pinned tag or digest). */
  image: string;
  /** Port the workload listens on. */
  port: number;
  /** "h2c" for gRPC workloads (vSwarm's default), "http1" for plain HTTP. */
  protocol?: "h2c" | "http1";
  /** Extra environment for the workload. */
  env?: Record<string, string>;
  /** Knative autoscaling bounds (annotations); defaults Knative's. */
  minScale?: number;
  maxScale?: number;
  /** How many copies ("<name>-0", "<name>-1", …), as vSwarm's deployer counts them; default 1. */
  count?: number;
  /** Event matchers for endpoints.json when the function is triggered by eventing. */
  eventing?: { matchers: Record<string, string> };
}

export interface FunctionsArgs {
  /** Provider built from the control plane's admin kubeconfig. */
  provider: k8s.Provider;
  sandbox: SandboxKind;
  /**
   * Functions to deploy: catalog names ("helloworld", "pyaes", … see catalog.ts) or full specs.
   */
  functions: (string | FunctionSpec)[];
  /** Namespace (default "default"). */
  namespace?: string;
  /** Knative domain, e.g. "192.168.1.240.sslip.io"; hostnames are "<name>.<namespace>.<domain>". */
  domain: pulumi.Input<string>;
  /** Stub container image the firecracker sandbox is handed instead of the workload (default built-in). */
  stubImage?: string;
  /** Pin the functions to nodes with these labels (OpenYurt pools). */
  nodeSelector?: Record<string, string>;
  /** Suffix appended to every Service name (e.g. "-edge" for per-pool copies). */
  nameSuffix?: string;
}
