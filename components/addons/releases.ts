// In-cluster release files (URLs, versions, known checksums and checksum files are in the artifact
// table, components/config/artifacts.ts): resolved to a URL under the mirror and a sha256 where one
// is pinned, else upstream's checksum file to read at `pulumi up`.
import { ADDON_ARTIFACTS, ARTIFACTS, knownChecksum, mirroredUrl, upstreamUrl, type AddonArtifactName } from "../config/artifacts.js";
import { publishedChecksum, type PublishedChecksum } from "../config/published-checksums.js";
import type { AddonVersions } from "./args.js";

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

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;

/**
 * Resolves the artifacts to URLs and checksums where pinned (stack, then the built-in table);
 * the others carry upstream's checksum file, read at `pulumi up`. Collects every problem (bad
 * version, malformed checksum, unknown key) and throws once, each line naming the config field.
 */
export function resolveArtifacts(
  wanted: { key: AddonArtifactName; version: string }[],
  checksums: Partial<Record<string, string>> = {},
  mirror?: string,
): Record<string, ReleaseArtifact> {
  const problems: string[] = [];
  const out: Record<string, ReleaseArtifact> = {};
  for (const key of Object.keys(checksums)) {
    if (!(ADDON_ARTIFACTS as readonly string[]).includes(key)) problems.push(`checksums.${key}: unknown artifact (known: ${ADDON_ARTIFACTS.join(", ")})`);
  }
  for (const { key, version } of wanted) {
    if (!VERSION.test(version)) {
      problems.push(`versions of ${key}: "${version}" is not a plain x.y.z version (no leading "v")`);
      continue;
    }
    const url = upstreamUrl(key, version);
    // Accept the stack config's "sha256:<hex>" form as well as bare hex.
    const given = checksums[key]?.toLowerCase().replace(/^sha256:/, "");
    if (given !== undefined && !SHA256.test(given)) {
      problems.push(`checksums.${key}: "${checksums[key]}" is not a sha256 ("sha256:" and 64 hex digits)`);
      continue;
    }
    const sha256 = given ?? knownChecksum(key, version)?.replace(/^sha256:/, "");
    const published = publishedChecksum(key, version);
    out[key] = {
      key,
      version,
      url: mirroredUrl(url, mirror),
      upstreamUrl: url,
      ...(sha256 !== undefined ? { sha256 } : {}),
      ...(published ? { published } : {}),
    };
  }
  if (problems.length > 0) throw new Error(`release files cannot be pinned:\n  ${problems.join("\n  ")}`);
  return out;
}

/** The release files of the cluster add-ons: those pinned by one of `AddonVersions` (OpenYurt's have their own version). */
type ClusterAddonArtifact = { [K in AddonArtifactName]: (typeof ARTIFACTS)[K]["versionKey"] extends keyof AddonVersions ? K : never }[AddonArtifactName];

/** The artifacts ClusterAddons downloads for the given choices, each at the version its table entry names. */
export function addonArtifacts(v: AddonVersions, opts: { ingress: "istio" | "kourier"; eventing: boolean }) {
  const keys: ClusterAddonArtifact[] = ["calico", "metallb", "knative-serving-crds", "knative-serving-core"];
  if (opts.ingress === "istio") keys.push("istio-base", "istiod", "istio-gateway", "net-istio");
  else keys.push("net-kourier");
  if (opts.eventing) keys.push("knative-eventing-crds", "knative-eventing-core", "knative-in-memory-channel", "knative-mt-channel-broker");
  return keys.map((key) => ({ key, version: v[ARTIFACTS[key].versionKey] }));
}
