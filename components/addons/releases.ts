import type { AddonVersions } from "./args.js";
import type { PublishedChecksum } from "../config/publishedChecksums.js";

/** One upstream file at a pinned version, and how its checksum is known. */
export interface ReleaseArtifact {
  /** Key in `checksums` (stack config) and in the built-in table. */
  key: string;
  version: string;
  /** Where it is downloaded from (the artifact mirror applied). */
  url: string;
  /** Its upstream URL: the key of its entry in the checksum lock. */
  upstreamUrl: string;
  /** sha256 (hex) from the stack or the built-in table; absent = resolved at run time. */
  sha256?: string;
  /** Upstream's checksum file for it, where upstream publishes one. */
  published?: PublishedChecksum;
}

export type ArtifactKey =
  | "calico"
  | "metallb"
  | "istio-base"
  | "istiod"
  | "istio-gateway"
  | "knative-serving-crds"
  | "knative-serving-core"
  | "net-istio"
  | "net-kourier"
  | "knative-eventing-crds"
  | "knative-eventing-core"
  | "knative-in-memory-channel"
  | "knative-mt-channel-broker"
  | "yurt-manager"
  | "yurthub";

const URLS: Record<ArtifactKey, (v: string) => string> = {
  calico: (v) => `https://raw.githubusercontent.com/projectcalico/calico/v${v}/manifests/calico.yaml`,
  metallb: (v) => `https://raw.githubusercontent.com/metallb/metallb/v${v}/config/manifests/metallb-native.yaml`,
  "istio-base": (v) => `https://istio-release.storage.googleapis.com/charts/base-${v}.tgz`,
  istiod: (v) => `https://istio-release.storage.googleapis.com/charts/istiod-${v}.tgz`,
  "istio-gateway": (v) => `https://istio-release.storage.googleapis.com/charts/gateway-${v}.tgz`,
  "knative-serving-crds": (v) => `https://github.com/knative/serving/releases/download/knative-v${v}/serving-crds.yaml`,
  "knative-serving-core": (v) => `https://github.com/knative/serving/releases/download/knative-v${v}/serving-core.yaml`,
  "net-istio": (v) => `https://github.com/knative-extensions/net-istio/releases/download/knative-v${v}/net-istio.yaml`,
  "net-kourier": (v) => `https://github.com/knative-extensions/net-kourier/releases/download/knative-v${v}/kourier.yaml`,
  "knative-eventing-crds": (v) => `https://github.com/knative/eventing/releases/download/knative-v${v}/eventing-crds.yaml`,
  "knative-eventing-core": (v) => `https://github.com/knative/eventing/releases/download/knative-v${v}/eventing-core.yaml`,
  "knative-in-memory-channel": (v) => `https://github.com/knative/eventing/releases/download/knative-v${v}/in-memory-channel.yaml`,
  "knative-mt-channel-broker": (v) => `https://github.com/knative/eventing/releases/download/knative-v${v}/mt-channel-broker.yaml`,
  "yurt-manager": (v) => `https://github.com/openyurtio/openyurt-helm/releases/download/yurt-manager-${v}/yurt-manager-${v}.tgz`,
  yurthub: (v) => `https://github.com/openyurtio/openyurt-helm/releases/download/yurthub-${v}/yurthub-${v}.tgz`,
};

/**
 * sha256 of release files at their default versions (components/config/artifacts.ts) that upstream
 * publishes no checksum for, found elsewhere: metallb 0.15.3, the SRI hash in a public Nix
 * fetchurl of this exact URL (converted to hex). Files at other versions, and those below that
 * have an upstream checksum file, are resolved at `pulumi up` (components/config/runTimeChecksum.ts).
 */
export const KNOWN_SHA256: Readonly<Record<string, string>> = {
  "metallb@0.15.3": "84b4e102f2b65f5d69085f5816c29362b74641873d8ac3de996e5f86a8219176",
};

const ISTIO_CHARTS = "https://istio-release.storage.googleapis.com/charts/index.yaml";
const OPENYURT_CHARTS = "https://openyurtio.github.io/openyurt-helm/index.yaml";
const ISTIO_CHART_NAMES: Partial<Record<ArtifactKey, string>> = { "istio-base": "base", istiod: "istiod", "istio-gateway": "gateway" };

/**
 * Upstream's checksum file for a release file: Knative's releases list every asset in
 * `checksums.txt` beside it; Istio's and OpenYurt's Helm repositories give each chart's digest in
 * their index. Calico's and MetalLB's manifests are plain repository files without one.
 */
export function publishedAddonChecksum(key: ArtifactKey, version: string, upstreamUrl: string): PublishedChecksum | undefined {
  if (key === "calico" || key === "metallb") return undefined;
  if (key in ISTIO_CHART_NAMES) return { kind: "helm-index", url: ISTIO_CHARTS, chart: ISTIO_CHART_NAMES[key]!, version };
  if (key === "yurt-manager" || key === "yurthub") return { kind: "helm-index", url: OPENYURT_CHARTS, chart: key, version };
  const fileName = upstreamUrl.slice(upstreamUrl.lastIndexOf("/") + 1);
  return { kind: "listing", url: `${upstreamUrl.slice(0, upstreamUrl.lastIndexOf("/"))}/checksums.txt`, algorithm: "sha256", fileName };
}

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

/** A download URL with the upstream host moved under the mirror: `<mirror>/<host>/<path>`. */
export function mirrored(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, "")}/${u.host}${u.pathname}`;
}

/**
 * Resolves the artifacts to URLs and checksums where pinned (stack, then the built-in table);
 * the others carry upstream's checksum file, read at `pulumi up`. Collects every problem (bad
 * version, malformed checksum, unknown key) and throws once, each line naming the config field.
 */
export function resolveArtifacts(
  wanted: { key: ArtifactKey; version: string }[],
  checksums: Partial<Record<string, string>> = {},
  mirror?: string,
): Record<string, ReleaseArtifact> {
  const problems: string[] = [];
  const out: Record<string, ReleaseArtifact> = {};
  for (const key of Object.keys(checksums)) {
    if (!(key in URLS)) problems.push(`checksums.${key}: unknown artifact (known: ${Object.keys(URLS).join(", ")})`);
  }
  for (const { key, version } of wanted) {
    if (!VERSION.test(version)) {
      problems.push(`versions of ${key}: "${version}" is not a plain x.y.z version (no leading "v")`);
      continue;
    }
    const url = URLS[key](version);
    // Accept the stack config's "sha256:<hex>" form as well as bare hex.
    const given = checksums[key]?.toLowerCase().replace(/^sha256:/, "");
    if (given !== undefined && !SHA256.test(given)) {
      problems.push(`checksums.${key}: "${checksums[key]}" is not a sha256 ("sha256:" and 64 hex digits)`);
      continue;
    }
    const sha256 = given ?? KNOWN_SHA256[`${key}@${version}`];
    const published = publishedAddonChecksum(key, version, url);
    out[key] = {
      key,
      version,
      url: mirrored(url, mirror),
      upstreamUrl: url,
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(published ? { published } : {}),
    };
  }
  if (problems.length > 0) throw new Error(`release files cannot be pinned:\n  ${problems.join("\n  ")}`);
  return out;
}

/** The artifacts ClusterAddons downloads for the given choices. */
export function addonArtifacts(v: AddonVersions, opts: { ingress: "istio" | "kourier"; eventing: boolean }) {
  const list: { key: ArtifactKey; version: string }[] = [
    { key: "calico", version: v.calico },
    { key: "metallb", version: v.metallb },
    { key: "knative-serving-crds", version: v.knative },
    { key: "knative-serving-core", version: v.knative },
  ];
  if (opts.ingress === "istio") {
    list.push(
      { key: "istio-base", version: v.istio },
      { key: "istiod", version: v.istio },
      { key: "istio-gateway", version: v.istio },
      { key: "net-istio", version: v.knative },
    );
  } else {
    list.push({ key: "net-kourier", version: v.knative });
  }
  if (opts.eventing) {
    list.push(
      { key: "knative-eventing-crds", version: v.knative },
      { key: "knative-eventing-core", version: v.knative },
      { key: "knative-in-memory-channel", version: v.knative },
      { key: "knative-mt-channel-broker", version: v.knative },
    );
  }
  return list;
}
