// Every file the provisioner downloads, in one table: who downloads it (the host steps or the
// in-cluster add-ons), which version setting pins it, where upstream publishes it and its
// checksum file, and the checksums we found published for exact versions. The checksum settings the stack accepts, the
// URLs (mirror applied) and the cache file names on the hosts all derive from it. A checksum is
// tied to a version: overriding a version drops the known checksum, and one must come from the
// stack, the checksum lock or upstream's checksum file instead.

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

/** A checksum found published for one exact version, `<algorithm>:<hex>`. */
export interface KnownChecksum {
  readonly version: string;
  readonly checksum: string;
}

/** The placeholder of a URL template, replaced by the pinned version. */
export const VERSION_PLACEHOLDER = "{version}";

/**
 * Where upstream publishes an artifact's checksum, read at `pulumi up` for a version without a
 * known one (no entry: nowhere; the first download is then recorded in the checksum lock).
 */
export type ChecksumFile =
  /** A sha256sum-style file at `<file URL><suffix>` (or the bare hex). */
  | { readonly besideFile: string; readonly algorithm: "sha256" | "sha512" }
  /** One sha256sum-style listing for every file of the release, a URL template. */
  | { readonly releaseListing: string; readonly algorithm: "sha256" }
  /** A Helm repository's index.yaml, giving each chart version's digest. */
  | { readonly helmIndex: string; readonly chart: string };

export type ArtifactEntry =
  | {
      /** Downloaded by a host step, verified with sha256 or sha512. */
      readonly scope: "host";
      readonly versionKey: VersionKey;
      /** The upstream URL for linux/amd64 (x86_64). */
      readonly urlTemplate: string;
      readonly knownChecksums: readonly KnownChecksum[];
      readonly checksumFile?: ChecksumFile;
    }
  | {
      /** Applied in the cluster by the add-ons or OpenYurt, verified with sha256. */
      readonly scope: "addon";
      /** "openyurt": the OpenYurt version (`openyurt.version`, else the component's pin). */
      readonly versionKey: VersionKey | "openyurt";
      readonly urlTemplate: string;
      readonly knownChecksums: readonly KnownChecksum[];
      readonly checksumFile?: ChecksumFile;
    };

const GITHUB = "https://github.com";
const KNATIVE_SERVING = `${GITHUB}/knative/serving/releases/download/knative-v{version}`;
const KNATIVE_EVENTING = `${GITHUB}/knative/eventing/releases/download/knative-v{version}`;
const NET_ISTIO = `${GITHUB}/knative-extensions/net-istio/releases/download/knative-v{version}`;
const NET_KOURIER = `${GITHUB}/knative-extensions/net-kourier/releases/download/knative-v{version}`;
const ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts";
const OPENYURT_CHARTS = "https://openyurtio.github.io/openyurt-helm";
const OPENYURT_RELEASES = `${GITHUB}/openyurtio/openyurt-helm/releases/download`;
const GVISOR = "https://storage.googleapis.com/gvisor/releases/release/{version}/x86_64";
const K8S = "https://dl.k8s.io/release/v{version}/bin/linux/amd64";

const SHA256_BESIDE = { besideFile: ".sha256", algorithm: "sha256" } as const;
const SHA256SUM_BESIDE = { besideFile: ".sha256sum", algorithm: "sha256" } as const;
// gVisor publishes SHA-512 sums beside each binary.
const GVISOR_SHA512 = { besideFile: ".sha512", algorithm: "sha512" } as const;
// Knative's releases list every asset in `checksums.txt`.
const knativeListing = (release: string) => ({ releaseListing: `${release}/checksums.txt`, algorithm: "sha256" }) as const;

/**
 * The table. Known checksums are only values found in published release checksum lists (or, where
 * upstream publishes none, a public record of that exact URL's hash, as noted); the order of the
 * add-on entries is the order error messages list them in.
 */
export const ARTIFACTS = {
  containerd: {
    scope: "host",
    versionKey: "containerd",
    urlTemplate: `${GITHUB}/containerd/containerd/releases/download/v{version}/containerd-{version}-linux-amd64.tar.gz`,
    knownChecksums: [{ version: "2.2.3", checksum: "sha256:ca26ef5138f17b847bbeeec36d4bf5e002b54d25858197a870c125d57f44d32f" }],
    checksumFile: SHA256SUM_BESIDE,
  },
  runc: {
    scope: "host",
    versionKey: "runc",
    urlTemplate: `${GITHUB}/opencontainers/runc/releases/download/v{version}/runc.amd64`,
    knownChecksums: [{ version: "1.3.5", checksum: "sha256:66fa8390be8fb3b23dfbb60c767368bb5b51f1acfa88692bbff1a82953d4d9e9" }],
    checksumFile: { releaseListing: `${GITHUB}/opencontainers/runc/releases/download/v{version}/runc.sha256sum`, algorithm: "sha256" },
  },
  cniPlugins: {
    scope: "host",
    versionKey: "cni",
    urlTemplate: `${GITHUB}/containernetworking/plugins/releases/download/v{version}/cni-plugins-linux-amd64-v{version}.tgz`,
    knownChecksums: [{ version: "1.7.1", checksum: "sha256:1a28a0506bfe5bcdc981caf1a49eeab7e72da8321f1119b7be85f22621013098" }],
    checksumFile: SHA256_BESIDE,
  },
  runsc: {
    scope: "host",
    versionKey: "runsc",
    urlTemplate: `${GVISOR}/runsc`,
    knownChecksums: [
      {
        version: "20260420.0",
        checksum: "sha512:9efeefada7b9a7bcc21dc3a1ad3531d11dfac267808cced45d047aab742f15ecb91b2bb635dea78a4ae36817f76e5ed223b7ad80f3165f15dd24de9b0c95726f",
      },
    ],
    checksumFile: GVISOR_SHA512,
  },
  runscShim: { scope: "host", versionKey: "runsc", urlTemplate: `${GVISOR}/containerd-shim-runsc-v1`, knownChecksums: [], checksumFile: GVISOR_SHA512 },
  crictl: {
    scope: "host",
    versionKey: "crictl",
    urlTemplate: `${GITHUB}/kubernetes-sigs/cri-tools/releases/download/v{version}/crictl-v{version}-linux-amd64.tar.gz`,
    knownChecksums: [],
    checksumFile: SHA256_BESIDE,
  },
  // dl.k8s.io publishes `<binary>.sha256` (the bare hex) beside each binary.
  kubeadm: { scope: "host", versionKey: "kubernetes", urlTemplate: `${K8S}/kubeadm`, knownChecksums: [], checksumFile: SHA256_BESIDE },
  kubelet: { scope: "host", versionKey: "kubernetes", urlTemplate: `${K8S}/kubelet`, knownChecksums: [], checksumFile: SHA256_BESIDE },
  kubectl: { scope: "host", versionKey: "kubernetes", urlTemplate: `${K8S}/kubectl`, knownChecksums: [], checksumFile: SHA256_BESIDE },
  firecracker: {
    scope: "host",
    versionKey: "firecracker",
    urlTemplate: `${GITHUB}/firecracker-microvm/firecracker/releases/download/v{version}/firecracker-v{version}-x86_64.tgz`,
    knownChecksums: [],
    checksumFile: { besideFile: ".sha256.txt", algorithm: "sha256" },
  },
  // Firecracker's CI kernels are plain objects in a bucket, with no checksum beside them.
  guestKernel: {
    scope: "host",
    versionKey: "guestKernel",
    urlTemplate: "https://s3.amazonaws.com/spec.ccfc.min/firecracker-ci/v1.13/x86_64/vmlinux-{version}",
    knownChecksums: [],
  },
  stargz: {
    scope: "host",
    versionKey: "stargz",
    urlTemplate: `${GITHUB}/containerd/stargz-snapshotter/releases/download/v{version}/stargz-snapshotter-v{version}-linux-amd64.tar.gz`,
    knownChecksums: [],
    checksumFile: SHA256SUM_BESIDE,
  },
  kind: {
    scope: "host",
    versionKey: "kind",
    urlTemplate: `${GITHUB}/kubernetes-sigs/kind/releases/download/v{version}/kind-linux-amd64`,
    knownChecksums: [{ version: "0.30.0", checksum: "sha256:517ab7fc89ddeed5fa65abf71530d90648d9638ef0c4cde22c2c11f8097b8889" }],
    checksumFile: SHA256SUM_BESIDE,
  },
  node: {
    scope: "host",
    versionKey: "node",
    urlTemplate: "https://nodejs.org/dist/v{version}/node-v{version}-linux-x64.tar.gz",
    // From Node.js's SHASUMS256.txt for v20.20.2 (quoted identically by independent projects).
    knownChecksums: [{ version: "20.20.2", checksum: "sha256:19e56f0825510207dd904f087fe52faa0a4eb6b2aab5f0ea7a33830d04888b8b" }],
    checksumFile: { releaseListing: "https://nodejs.org/dist/v{version}/SHASUMS256.txt", algorithm: "sha256" },
  },
  // Calico's and MetalLB's manifests are plain repository files, with no checksum published.
  calico: {
    scope: "addon",
    versionKey: "calico",
    urlTemplate: "https://raw.githubusercontent.com/projectcalico/calico/v{version}/manifests/calico.yaml",
    knownChecksums: [],
  },
  metallb: {
    scope: "addon",
    versionKey: "metallb",
    urlTemplate: "https://raw.githubusercontent.com/metallb/metallb/v{version}/config/manifests/metallb-native.yaml",
    // The SRI hash in a public Nix fetchurl of this exact URL (as hex).
    knownChecksums: [{ version: "0.15.3", checksum: "sha256:84b4e102f2b65f5d69085f5816c29362b74641873d8ac3de996e5f86a8219176" }],
  },
  "istio-base": {
    scope: "addon",
    versionKey: "istio",
    urlTemplate: `${ISTIO_CHARTS}/base-{version}.tgz`,
    knownChecksums: [],
    checksumFile: { helmIndex: `${ISTIO_CHARTS}/index.yaml`, chart: "base" },
  },
  istiod: {
    scope: "addon",
    versionKey: "istio",
    urlTemplate: `${ISTIO_CHARTS}/istiod-{version}.tgz`,
    knownChecksums: [],
    checksumFile: { helmIndex: `${ISTIO_CHARTS}/index.yaml`, chart: "istiod" },
  },
  "istio-gateway": {
    scope: "addon",
    versionKey: "istio",
    urlTemplate: `${ISTIO_CHARTS}/gateway-{version}.tgz`,
    knownChecksums: [],
    checksumFile: { helmIndex: `${ISTIO_CHARTS}/index.yaml`, chart: "gateway" },
  },
  "knative-serving-crds": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_SERVING}/serving-crds.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_SERVING),
  },
  "knative-serving-core": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_SERVING}/serving-core.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_SERVING),
  },
  "net-istio": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${NET_ISTIO}/net-istio.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(NET_ISTIO),
  },
  "net-kourier": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${NET_KOURIER}/kourier.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(NET_KOURIER),
  },
  "knative-eventing-crds": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_EVENTING}/eventing-crds.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_EVENTING),
  },
  "knative-eventing-core": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_EVENTING}/eventing-core.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_EVENTING),
  },
  "knative-in-memory-channel": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_EVENTING}/in-memory-channel.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_EVENTING),
  },
  "knative-mt-channel-broker": {
    scope: "addon",
    versionKey: "knative",
    urlTemplate: `${KNATIVE_EVENTING}/mt-channel-broker.yaml`,
    knownChecksums: [],
    checksumFile: knativeListing(KNATIVE_EVENTING),
  },
  "yurt-manager": {
    scope: "addon",
    versionKey: "openyurt",
    urlTemplate: `${OPENYURT_RELEASES}/yurt-manager-{version}/yurt-manager-{version}.tgz`,
    knownChecksums: [],
    checksumFile: { helmIndex: `${OPENYURT_CHARTS}/index.yaml`, chart: "yurt-manager" },
  },
  yurthub: {
    scope: "addon",
    versionKey: "openyurt",
    urlTemplate: `${OPENYURT_RELEASES}/yurthub-{version}/yurthub-{version}.tgz`,
    knownChecksums: [],
    checksumFile: { helmIndex: `${OPENYURT_CHARTS}/index.yaml`, chart: "yurthub" },
  },
} as const satisfies Record<string, ArtifactEntry>;

type Table = typeof ARTIFACTS;
export type ArtifactName = keyof Table;
/** Files the host steps download. */
export type HostArtifactName = { [K in ArtifactName]: Table[K]["scope"] extends "host" ? K : never }[ArtifactName];
/** Release files the add-ons and OpenYurt apply in the cluster. */
export type AddonArtifactName = Exclude<ArtifactName, HostArtifactName>;

const NAMES = Object.keys(ARTIFACTS) as ArtifactName[];
export const HOST_ARTIFACTS: readonly HostArtifactName[] = NAMES.filter((n): n is HostArtifactName => ARTIFACTS[n].scope === "host");
export const ADDON_ARTIFACTS: readonly AddonArtifactName[] = NAMES.filter((n): n is AddonArtifactName => ARTIFACTS[n].scope === "addon");

/** The version a host artifact is pinned at, from the entry of `versions` that pins it. */
export function artifactVersion(name: HostArtifactName, versions: Readonly<Record<VersionKey, string>>): string {
  return versions[ARTIFACTS[name].versionKey];
}

/** The name a host keeps a download under in its cache: a new version is a new file. */
export function artifactCacheName(name: HostArtifactName, versions: Readonly<Record<VersionKey, string>>): string {
  return `${name}-${artifactVersion(name, versions)}`;
}

/** The upstream URL of an artifact at a version: its template with the version filled in. */
export function upstreamUrl(name: ArtifactName, version: string): string {
  return ARTIFACTS[name].urlTemplate.replaceAll(VERSION_PLACEHOLDER, version);
}

/** An artifact's table entry, as the general entry type (the table's own type is per entry). */
export function artifactEntry(name: ArtifactName): ArtifactEntry {
  return ARTIFACTS[name];
}

/** The checksum found published for exactly this version of the artifact, if any. */
export function knownChecksum(name: ArtifactName, version: string): string | undefined {
  return artifactEntry(name).knownChecksums.find((k) => k.version === version)?.checksum;
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

/** A host download, resolved: URL (mirror applied) and the checksum it must match. */
export interface ResolvedArtifact {
  readonly name: HostArtifactName;
  readonly version: string;
  readonly url: string;
  readonly checksum: string;
}

export class MissingChecksumError extends Error {
  constructor(
    readonly artifact: HostArtifactName,
    readonly version: string,
  ) {
    super(
      `checksums.${artifact}: ${artifact} ${version} has no checksum in the stack, the built-in table or the checksum lock yet; ` +
        `pulumi up reads upstream's checksum file (or, where upstream publishes none, hashes the first download) and records it in the lock`,
    );
    this.name = "MissingChecksumError";
  }
}

/**
 * Resolves a host artifact for download. The checksum comes from the stack config if given, else
 * from the table when the version is the one it was published for; otherwise this throws,
 * because downloading an unverified binary is not an option.
 */
export function resolveArtifact(
  artifact: HostArtifactName,
  versions: Readonly<Record<VersionKey, string>>,
  checksums: Partial<Record<HostArtifactName, string>>,
  artifactMirror: string | undefined,
): ResolvedArtifact {
  const version = artifactVersion(artifact, versions);
  const checksum = checksums[artifact] ?? knownChecksum(artifact, version);
  if (!checksum) throw new MissingChecksumError(artifact, version);
  return { name: artifact, version, url: mirroredUrl(upstreamUrl(artifact, version), artifactMirror), checksum };
}

/**
 * Resolves a host artifact, or returns the reason it cannot be downloaded yet. Scripts turn the
 * reason into a failing step (the error names the setting to add), so a preview still works
 * and the problem surfaces where the file is needed.
 */
export function artifactOrMissing(
  artifact: HostArtifactName,
  versions: Readonly<Record<VersionKey, string>>,
  checksums: Partial<Record<HostArtifactName, string>>,
  artifactMirror: string | undefined,
): ResolvedArtifact | MissingChecksumError {
  try {
    return resolveArtifact(artifact, versions, checksums, artifactMirror);
  } catch (error) {
    if (error instanceof MissingChecksumError) return error;
    throw error;
  }
}
