// Where upstream publishes the checksum of a file we download, and how to read it: a sha256sum-style
// listing next to the file (`<hex>  <name>` lines, or the bare hex), or a Helm repository index
// (each chart version's `digest`). The program fetches these over HTTPS at `pulumi up`.
import { parse as parseYaml } from "yaml";
import { artifactEntry, upstreamUrl, VERSION_PLACEHOLDER, type ArtifactName } from "./artifacts.js";

export type PublishedChecksum =
  | {
      readonly kind: "listing";
      /** The checksum file's upstream URL. */
      readonly url: string;
      readonly algorithm: "sha256" | "sha512";
      /** The file's name as the listing names it (a listing with one bare hex needs none). */
      readonly fileName: string;
    }
  | {
      readonly kind: "helm-index";
      /** The Helm repository's index.yaml. */
      readonly url: string;
      readonly chart: string;
      readonly version: string;
    };

const HEX = { sha256: /^[0-9a-f]{64}$/, sha512: /^[0-9a-f]{128}$/ } as const;

/** The checksum the published file states for the artifact, as `<algorithm>:<hex>`; throws naming the file otherwise. */
export function readPublishedChecksum(spec: PublishedChecksum, text: string): string {
  if (spec.kind === "helm-index") {
    const index = parseYaml(text) as { entries?: Record<string, { version?: string; digest?: string }[]> } | null;
    const entry = index?.entries?.[spec.chart]?.find((e) => e.version === spec.version);
    const digest = entry?.digest?.toLowerCase();
    if (!digest || !HEX.sha256.test(digest)) throw new Error(`${spec.url}: no sha256 digest for chart ${spec.chart} ${spec.version}`);
    return `sha256:${digest}`;
  }
  const rows = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .map((line) => {
      const [hex, name] = line.split(/\s+/, 2);
      // sha256sum marks binary mode with a '*' before the name.
      return { hex: (hex ?? "").toLowerCase(), name: name?.replace(/^\*/, "").replace(/^.*\//, "") };
    });
  const row = rows.length === 1 && rows[0]!.name === undefined ? rows[0] : rows.find((r) => r.name === spec.fileName);
  if (!row || !HEX[spec.algorithm].test(row.hex)) throw new Error(`${spec.url}: no ${spec.algorithm} listed for ${spec.fileName}`);
  return `${spec.algorithm}:${row.hex}`;
}

function basename(url: string): string {
  return new URL(url).pathname.split("/").at(-1)!;
}

/**
 * The checksum file upstream publishes for an artifact at a version (its table entry's
 * `checksumFile`), or undefined where it publishes none (then the first download is recorded in
 * the lock).
 */
export function publishedChecksum(name: ArtifactName, version: string): PublishedChecksum | undefined {
  const source = artifactEntry(name).checksumFile;
  if (!source) return undefined;
  if ("helmIndex" in source) return { kind: "helm-index", url: source.helmIndex, chart: source.chart, version };
  const fileUrl = upstreamUrl(name, version);
  const url = "besideFile" in source ? `${fileUrl}${source.besideFile}` : source.releaseListing.replaceAll(VERSION_PLACEHOLDER, version);
  return { kind: "listing", url, algorithm: source.algorithm, fileName: basename(fileUrl) };
}
