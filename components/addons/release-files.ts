import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ChecksumLock } from "../config/checksum-lock.js";
import { hasChecksum, lockedChecksum, resolveRunTimeChecksum } from "../config/run-time-checksum.js";
import { parseManifest } from "../manifests/yaml.js";
import type { K8sObject } from "../manifests/types.js";
import { fetchVerified, type ManifestFetcher } from "./fetch.js";
import type { ReleaseArtifact } from "./releases.js";

/** Where verified release files are kept by checksum, so previews and re-runs need no download. */
export function defaultReleaseCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "vhive", "release-files");
}

export interface ReleaseFilesOptions {
  /** How files (and upstream's checksum files) are downloaded. */
  readonly fetcher: ManifestFetcher;
  /**
   * Where checksums resolved at `pulumi up` are recorded (components/config/checksum-lock.ts).
   * Without it, only files pinned by the stack or the built-in table can be used.
   */
  readonly lock?: ChecksumLock;
  /** Directory of verified files (default: defaultReleaseCacheDir()). */
  readonly cacheDir?: string;
  /** Base URL replacing upstream hosts, for upstream's checksum files too. */
  readonly artifactMirror?: string;
  /** A preview: nothing is downloaded (default: whether the engine runs a preview). */
  readonly dryRun?: boolean;
}

/**
 * Hands out the pinned release files, verified: YAML manifests as parsed objects, Helm chart
 * archives as a local file path. At `pulumi up` each file is downloaded at most once per run (and
 * kept in the cache by its checksum); a file without a pinned checksum first gets one from the lock,
 * upstream's checksum file, or its first download (recorded in the lock). A preview downloads
 * nothing: a file it has no verified copy of shows as unknown ("preview is incomplete").
 */
export class ReleaseFiles {
  private readonly files = new Map<string, Promise<{ path: string; bytes: Uint8Array }>>();
  private readonly cacheDir: string;
  private readonly dryRun: boolean;

  constructor(
    private readonly artifacts: Record<string, ReleaseArtifact>,
    private readonly options: ReleaseFilesOptions,
  ) {
    this.cacheDir = options.cacheDir ?? defaultReleaseCacheDir();
    this.dryRun = options.dryRun ?? pulumi.runtime.isDryRun();
  }

  private artifact(key: string): ReleaseArtifact {
    const a = this.artifacts[key];
    if (!a) throw new Error(`release file ${key} was not resolved (internal: add it to the artifact list)`);
    return a;
  }

  /** The checksum known without downloading anything: pinned, else recorded in the lock. */
  private knownChecksum(a: ReleaseArtifact): string | undefined {
    return a.sha256 !== undefined ? `sha256:${a.sha256}` : lockedChecksum(this.options.lock, a.upstreamUrl);
  }

  private cachePath(a: ReleaseArtifact, checksum: string): string {
    return join(this.cacheDir, checksum.replace(":", "-"), `${a.key}-${a.version}${a.upstreamUrl.endsWith(".tgz") ? ".tgz" : ".yaml"}`);
  }

  /** The cached copy, if present and still matching its checksum. */
  private cached(a: ReleaseArtifact, checksum: string): { path: string; bytes: Uint8Array } | undefined {
    const path = this.cachePath(a, checksum);
    if (!existsSync(path)) return undefined;
    const bytes = new Uint8Array(readFileSync(path));
    return hasChecksum(bytes, checksum) ? { path, bytes } : undefined;
  }

  private keep(a: ReleaseArtifact, checksum: string, bytes: Uint8Array): string {
    const path = this.cachePath(a, checksum);
    mkdirSync(join(path, ".."), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, bytes);
    renameSync(temporary, path);
    return path;
  }

  /** At `pulumi up`: the verified file, kept in the cache, with its path there. */
  private async download(a: ReleaseArtifact): Promise<{ path: string; bytes: Uint8Array }> {
    let checksum = this.knownChecksum(a);
    let firstDownload: Uint8Array | undefined;
    if (checksum === undefined) {
      if (!this.options.lock)
        throw new Error(
          `checksums.${a.key}: no checksum is pinned for ${a.key} ${a.version} (${a.upstreamUrl}) and there is no checksum lock to record one in`,
        );
      const resolved = await resolveRunTimeChecksum(
        {
          setting: `checksums.${a.key}`,
          url: a.upstreamUrl,
          ...(a.published ? { published: a.published } : {}),
          ...(this.options.artifactMirror ? { artifactMirror: this.options.artifactMirror } : {}),
        },
        this.options.lock,
        this.options.fetcher,
      );
      checksum = resolved.checksum;
      firstDownload = resolved.bytes;
      if (!a.published)
        pulumi.log.warn(
          `${a.key} ${a.version}: upstream publishes no checksum; recorded the first download's (${checksum}) in ${this.options.lock.path}: commit it`,
        );
    }
    const hit = this.cached(a, checksum);
    if (hit) return hit;
    const bytes = firstDownload ?? (await fetchVerified(this.options.fetcher, a.url, checksum, a.key));
    return { path: this.keep(a, checksum, bytes), bytes };
  }

  /** The file's bytes and path, or undefined in a preview that has no verified copy. */
  private load(key: string): Promise<{ path: string; bytes: Uint8Array }> | undefined {
    const a = this.artifact(key);
    if (this.dryRun) {
      const checksum = this.knownChecksum(a);
      const hit = checksum === undefined ? undefined : this.cached(a, checksum);
      return hit ? Promise.resolve(hit) : undefined;
    }
    let p = this.files.get(key);
    if (!p) {
      p = this.download(a);
      this.files.set(key, p);
    }
    return p;
  }

  /** The release manifest's objects, after the checksum matched; unknown in a preview without a verified copy. */
  objects(key: string): pulumi.Output<K8sObject[]> {
    const a = this.artifact(key);
    const loaded = this.load(key);
    if (!loaded) return pulumi.output(pulumi.unknown) as unknown as pulumi.Output<K8sObject[]>;
    const parsed = loaded.then((f) => parseManifest(Buffer.from(f.bytes).toString("utf8"), a.url));
    // Plain JSON objects: unwrapping changes nothing but the static type.
    return pulumi.output(parsed) as unknown as pulumi.Output<K8sObject[]>;
  }

  /**
   * Path of the verified chart archive on the machine running Pulumi (for helm.v4.Chart), in the
   * cache by checksum, so re-runs pass Helm the same input (no spurious diff).
   */
  chartPath(key: string): pulumi.Output<string> {
    const loaded = this.load(key);
    if (!loaded) return pulumi.output(pulumi.unknown) as unknown as pulumi.Output<string>;
    return pulumi.output(loaded.then((f) => f.path));
  }
}
