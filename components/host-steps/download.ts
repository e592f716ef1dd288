// Pinned downloads in a step: the cache file an artifact goes to, and the line that fetches it
// and checks its checksum (or fails the step naming the checksum setting it lacks).
import { artifactCacheName, artifactOrMissing, MissingChecksumError, type HostArtifactName } from "../config/artifacts.js";
import type { StackConfig } from "../config/schema.js";
import { q } from "../scripts/shell.js";

/** Downloads an artifact to `dest` and verifies it, or fails the step naming the missing checksum. */
export function downloadArtifact(config: StackConfig, name: HostArtifactName, dest: string): string {
  const resolved = artifactOrMissing(name, config.versions, config.checksums, config.artifactMirror);
  if (resolved instanceof MissingChecksumError) return `missing_checksum ${q(resolved.message)}`;
  return `fetch_verified ${q(resolved.url)} ${q(resolved.checksum)} "${dest}"`;
}

/** Where an artifact is kept on the host, by name and pinned version (a new version, a new file). */
export function cachedArtifactPath(config: StackConfig, name: HostArtifactName): string {
  return `$cache_dir/${artifactCacheName(name, config.versions)}`;
}
