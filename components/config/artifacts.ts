// Every file the provisioner downloads: where upstream publishes it, which version is pinned by
// default, and the checksum we found published for that exact default. A checksum is tied to a
// version: overriding a version drops the known checksum, and the user must then supply one.

export type ArtifactName =
  | "containerd"
  | "runc"
  | "cniPlugins"
  | "runsc"
  | "runscShim"
  | "crictl"
  | "kubeadm"
  | "kubelet"
  | "kubectl"
  | "firecracker"
  | "guestKernel"
  | "stargz"
  | "kind"
  | "node";

/** Which entry of `versions` pins an artifact (several files share one version). */
export const ARTIFACT_VERSION_KEY: Record<ArtifactName, VersionKey> = {
  containerd: "containerd",
  runc: "runc",
  cniPlugins: "cni",
  runsc: "runsc",
  runscShim: "runsc",
  crictl: "crictl",
  kubeadm: "kubernetes",
  kubelet: "kubernetes",
  kubectl: "kubernetes",
  firecracker: "firecracker",
  guestKernel: "guestKernel",
  stargz: "stargz",
  kind: "kind",
  node: "node",
};

export type VersionKey =
  | "kubernetes"
  | "containerd"
  | "runc"
  | "runsc"
  | "cni"
  | "crictl"
  | "calico"
  | "knative"
  | "istio"
  | "metallb"
  | "stargz"
  | "firecracker"
  | "guestKernel"
  | "kind"
  | "node";

/** Defaults as vHive main pins them (issue 2); guestKernel is Firecracker's CI kernel for 1.13. */
export const DEFAULT_VERSIONS: Record<VersionKey, string> = {
  kubernetes: "1.35.3",
  containerd: "2.2.3",
  runc: "1.3.5",
  // gVisor names its releases <date>.<patch>; release 20260420 is published as 20260420.0.
  runsc: "20260420.0",
  cni: "1.7.1",
  crictl: "1.35.0",
  calico: "3.31.5",
  knative: "1.21.2",
  istio: "1.29.2",
  metallb: "0.15.3",
  stargz: "0.15.1",
  firecracker: "1.13.1",
  guestKernel: "6.1.141",
  kind: "0.30.0",
  // Node.js for the node runtime on workers (release package source).
  node: "20.20.2",
};

/**
 * Checksums published for the default versions, `<algorithm>:<hex>`. Only values found in
 * published release checksum lists are recorded; every other artifact must be given a checksum
 * in the stack config (`checksums.<artifact>`) before it is downloaded.
 */
export const KNOWN_CHECKSUMS: Partial<Record<ArtifactName, { version: string; checksum: string }>> = {
  containerd: { version: "2.2.3", checksum: "sha256:ca26ef5138f17b847bbeeec36d4bf5e002b54d25858197a870c125d57f44d32f" },
  runc: { version: "1.3.5", checksum: "sha256:66fa8390be8fb3b23dfbb60c767368bb5b51f1acfa88692bbff1a82953d4d9e9" },
  cniPlugins: { version: "1.7.1", checksum: "sha256:1a28a0506bfe5bcdc981caf1a49eeab7e72da8321f1119b7be85f22621013098" },
  // gVisor publishes SHA-512 sums beside each binary.
  runsc: {
    version: "20260420.0",
    checksum:
      "sha512:9efeefada7b9a7bcc21dc3a1ad3531d11dfac267808cced45d047aab742f15ecb91b2bb635dea78a4ae36817f76e5ed223b7ad80f3165f15dd24de9b0c95726f",
  },
  kind: { version: "0.30.0", checksum: "sha256:517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889" },
  // From Node.js's SHASUMS256.txt for v20.20.2 (quoted identically by independent projects).
  node: { version: "20.20.2", checksum: "sha256:19e56f0825510207dd904f087fe52faa0a4eb6b2aab5f0ea7a33830d04888b8b" },
};

/** The upstream URL of an artifact for linux/amd64 (x86_64). */
export function upstreamUrl(artifact: ArtifactName, version: string): string {
  switch (artifact) {
    case "containerd":
      return `https://github.com/containerd/containerd/releases/download/v${version}/containerd-${version}-linux-amd64.tar.gz`;
    case "runc":
      return `https://github.com/opencontainers/runc/releases/download/v${version}/runc.amd64`;
    case "cniPlugins":
      return `https://github.com/containernetworking/plugins/releases/download/v${version}/cni-plugins-linux-amd64-v${version}.tgz`;
    case "runsc":
      return `https://storage.googleapis.com/gvisor/releases/release/${version}/x86_64/runsc`;
    case "runscShim":
      return `https://storage.googleapis.com/gvisor/releases/release/${version}/x86_64/containerd-shim-runsc-v1`;
    case "crictl":
      return `https://github.com/kubernetes-sigs/cri-tools/releases/download/v${version}/crictl-v${version}-linux-amd64.tar.gz`;
    case "kubeadm":
    case "kubelet":
    case "kubectl":
      return `https://dl.k8s.io/release/v${version}/bin/linux/amd64/${artifact}`;
    case "firecracker":
      return `https://github.com/firecracker-microvm/firecracker/releases/download/v${version}/firecracker-v${version}-x86_64.tgz`;
    case "guestKernel": {
      return `https://s3.amazonaws.com/spec.ccfc.min/firecracker-ci/v1.13/x86_64/vmlinux-${version}`;
    }
    case "stargz":
      return `https://github.com/containerd/stargz-snapshotter/releases/download/v${version}/stargz-snapshotter-v${version}-linux-amd64.tar.gz`;
    case "kind":
      return `https://github.com/kubernetes-sigs/kind/releases/download/v${version}/kind-linux-amd64`;
    case "node":
      return `https://nodejs.org/dist/v${version}/node-v${version}-linux-x64.tar.gz`;
  }
}

/**
 * Rewrites an upstream URL to the artifact mirror: `<mirror>/<upstream host>/<upstream path>`,
 * so one mirror can serve every upstream without name clashes.
 */
export function mirroredUrl(url: string, artifactMirror: string | undefined): string {
  if (!artifactMirror) return url;
  const parsed = new URL(url);
  return `${artifactMirror.replace(/\/+$/, "")}/${parsed.host}${parsed.pathname}`;
}

/** A download, resolved: URL (mirror applied) and the checksum it must match. */
export interface ResolvedArtifact {
  readonly name: ArtifactName;
  readonly version: string;
  readonly url: string;
  readonly checksum: string;
}

export class MissingChecksumError extends Error {
  constructor(readonly artifact: ArtifactName, readonly version: string) {
    super(
      `checksums.${artifact}: ${artifact} ${version} has no checksum in the stack, the built-in table or the checksum lock yet; ` +
        `pulumi up reads upstream's checksum file (or, where upstream publishes none, hashes the first download) and records it in the lock`,
    );
    this.name = "MissingChecksumError";
  }
}

/**
 * Resolves an artifact for download. The checksum comes from the stack config if given, else
 * from KNOWN_CHECKSUMS when the version is the one it was published for; otherwise this throws,
 * because downloading an unverified binary is not an option.
 */
export function resolveArtifact(
  artifact: ArtifactName,
  versions: Record<VersionKey, string>,
  checksums: Partial<Record<ArtifactName, string>>,
  artifactMirror: string | undefined,
): ResolvedArtifact {
  const version = versions[ARTIFACT_VERSION_KEY[artifact]];
  const known = KNOWN_CHECKSUMS[artifact];
  const checksum = checksums[artifact] ?? (known && known.version === version ? known.checksum : undefined);
  if (!checksum) throw new MissingChecksumError(artifact, version);
  return { name: artifact, version, url: mirroredUrl(upstreamUrl(artifact, version), artifactMirror), checksum };
}

export const ARTIFACT_NAMES = Object.keys(ARTIFACT_VERSION_KEY) as ArtifactName[];

/**
 * Resolves an artifact, or returns the reason it cannot be downloaded yet. Scripts turn the
 * reason into a failing step (the error names the setting to add), so a preview still works
 * and the problem surfaces where the file is needed.
 */
export function artifactOrMissing(
  artifact: ArtifactName,
  versions: Record<VersionKey, string>,
  checksums: Partial<Record<ArtifactName, string>>,
  artifactMirror: string | undefined,
): ResolvedArtifact | MissingChecksumError {
  try {
    return resolveArtifact(artifact, versions, checksums, artifactMirror);
  } catch (error) {
    if (error instanceof MissingChecksumError) return error;
    throw error;
  }
}
