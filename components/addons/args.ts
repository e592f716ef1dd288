import type * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import type { IngressKind, SandboxKind } from "../manifests/types.js";
import type { ChecksumLock } from "../config/checksum-lock.js";
import type { ManifestFetcher } from "./fetch.js";

/** Pinned upstream versions (no leading "v"). */
export interface AddonVersions {
  calico: string;
  metallb: string;
  istio: string;
  knative: string;
}

/**
 * sha256 (64 hex digits) of upstream release files, keyed by artifact name
 * (see `addonArtifacts()` in releases.ts: "calico", "metallb", "istio-base", "istiod",
 * "istio-gateway", "knative-serving-crds", "knative-serving-core", "net-istio", "net-kourier",
 * "knative-eventing-crds", "knative-eventing-core"). Overrides the built-in table and the lock.
 */
export type AddonChecksums = Partial<Record<string, string>>;

/** The address range MetalLB hands to LoadBalancer Services (must lie outside pod/service CIDRs). */
export interface MetalLbPoolArgs {
  /** Pool name (default "vhive-pool"). */
  name?: string;
  /** Ranges "a.b.c.d-a.b.c.e" or CIDRs "a.b.c.d/nn"; at least one. */
  addresses: string[];
}

/** In-cluster image registry (vHive's docker-registry deployment). */
export interface RegistryArgs {
  /** NodePort the registry listens on at every node (default 30500). */
  nodePort?: number;
  /** Pinned registry image (default the built-in `registry:` tag with digest). */
  image?: string;
}

export interface ClusterAddonsArgs {
  /** Provider built from the control plane's admin kubeconfig. Every object goes through it. */
  provider: k8s.Provider;
  sandbox: SandboxKind;
  versions: AddonVersions;
  /** Checksums for release files the built-in table does not pin (or to override it). */
  checksums?: AddonChecksums;
  /** Pod CIDR (as given to kubeadm); Calico's IP pool. */
  podCidr: string;
  /** MetalLB IPAddressPool (+ an L2Advertisement for it). */
  metallbPool: MetalLbPoolArgs;
  /** Names of every node that must be Ready before Knative is installed. */
  nodeNames: pulumi.Input<string>[];
  /** Knative ingress (default "istio"). */
  ingress?: IngressKind;
  /** Install Knative Eventing too (default false). */
  eventing?: boolean;
  /** Local registry; omitted = no registry. */
  registry?: RegistryArgs;
  /**
   * Knative default domain. Omitted = magic DNS: "<ingress LoadBalancer IP>.sslip.io" once MetalLB
   * assigned the ingress address.
   */
  domain?: string;
  /**
   * Queue-proxy image for Knative Serving; default: vHive's patched queue-proxy for firecracker,
   * Knative's own for the other sandboxes.
   */
  queueProxyImage?: string;
  /**
   * Base URL that replaces the upstream hosts of release files (sites without direct internet);
   * checksums still apply.
   */
  artifactMirror?: string;
  /** How release files are obtained; default HTTPS download verified against the checksum. */
  fetcher?: ManifestFetcher;
  /**
   * Where checksums resolved at `pulumi up` are recorded (upstream's checksum file, or the first
   * download where upstream publishes none); without it only pinned files can be used.
   */
  checksumLock?: ChecksumLock;
  /** Directory of verified release files (default ~/.cache/vhive/release-files). */
  releaseCacheDir?: string;
}
