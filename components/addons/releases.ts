import type { AddonVersions } from "./args.js";

/** One upstream file at a pinned version, and the sha256 it must have. */
export interface ReleaseArtifact {
  /** Key in `checksums` (stack config) and in the built-in table. */
  key: string;
  version: string;
  url: string;
  sha256: string;
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
 * sha256 of release files whose hash we could find published, by "key@version". Sources:
 * - metallb 0.15.3: the SRI hash in a public Nix fetchurl of this exact URL (converted to hex);
 * - calico 3.32.2: a public Nix fetchurl of this exact URL;
 * - yurt-manager / yurthub 1.5.0: the `digest` fields of the openyurt-helm chart repository index.
 * Upstream Calico, Knative and Istio publish no checksum for these files that we could find, so
 * their hashes must come from the stack (`checksums`), after the user verified the download.
 */
export const KNOWN_SHA256: Readonly<Record<string, string>> = {
  "metallb@0.15.3": "84b4e102f2b65f5d69085f5816c29362b74641873d8ac3de996e5f86a8219176",
  "calico@3.32.2": "a8c828a06a87c629a282ebbc424895b77f3a030251993e41ea400a743675bb02",
  "yurt-manager@1.5.0": "81c39cb8a51b8828a56ef33537cc221d883c5eb4e0c562cdf1f53a33314c5a64",
  "yurthub@1.5.0": "81ffb57278c99fcff6b305cbb326199d543be5dc309bd448dd9f18c9083ed4db",
};

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

/** A download URL with the upstream host moved under the mirror: `<mirror>/<host>/<path>`. */
export function mirrored(url: string, mirror: string | undefined): string {
  if (!mirror) return url;
  const u = new URL(url);
  return `${mirror.replace(/\/+$/, "")}/${u.host}${u.pathname}`;
}

/**
 * Resolves the artifacts to URLs and checksums. Collects every problem (bad version, missing or
 * malformed checksum) and throws once, each line naming the config field to set.
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
    const sha256 = given ?? KNOWN_SHA256[`${key}@${version}`];
    if (given !== undefined && !SHA256.test(given)) {
      problems.push(`checksums.${key}: "${checksums[key]}" is not a sha256 ("sha256:" and 64 hex digits)`);
      continue;
    }
    if (sha256 === undefined) {
      problems.push(
        `checksums.${key}: no published sha256 is known for ${key} ${version} (${url}); ` +
          `download it, review it, and set checksums.${key} to the output of sha256sum`,
      );
      continue;
    }
    out[key] = { key, version, url: mirrored(url, mirror), sha256 };
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
