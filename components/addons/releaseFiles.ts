import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parseManifest } from "../manifests/yaml.js";
import type { K8sObject } from "../manifests/types.js";
import { fetchVerified, type ManifestFetcher } from "./fetch.js";
import type { ReleaseArtifact } from "./releases.js";

/**
 * Downloads each pinned release file at most once per program run and hands it out verified:
 * YAML manifests as parsed objects, Helm chart archives as a local file path.
 */
export class ReleaseFiles {
  private readonly bytes = new Map<string, Promise<Uint8Array>>();
  private readonly written = new Set<string>();

  constructor(
    private readonly artifacts: Record<string, ReleaseArtifact>,
    private readonly fetcher: ManifestFetcher,
  ) {}

  private artifact(key: string): ReleaseArtifact {
    const a = this.artifacts[key];
    if (!a) throw new Error(`release file ${key} was not resolved (internal: add it to the artifact list)`);
    return a;
  }

  private load(key: string): Promise<Uint8Array> {
    const a = this.artifact(key);
    let p = this.bytes.get(key);
    if (!p) {
      p = fetchVerified(this.fetcher, a.url, a.sha256, key);
      this.bytes.set(key, p);
    }
    return p;
  }

  /** The release manifest's objects, after the checksum matched. */
  objects(key: string): pulumi.Output<K8sObject[]> {
    const a = this.artifact(key);
    const parsed = this.load(key).then((b) => parseManifest(Buffer.from(b).toString("utf8"), a.url));
    // Plain JSON objects: unwrapping changes nothing but the static type.
    return pulumi.output(parsed) as unknown as pulumi.Output<K8sObject[]>;
  }

  /**
   * Path of the verified chart archive on the machine running Pulumi (for helm.v4.Chart). The
   * path depends only on the content, so re-runs pass Helm the same input (no spurious diff).
   */
  chartPath(key: string): pulumi.Output<string> {
    const a = this.artifact(key);
    return pulumi.output(
      this.load(key).then((b) => {
        const dir = join(tmpdir(), `vhive-chart-${a.sha256.slice(0, 16)}`);
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `${key}-${a.version}.tgz`);
        writeFileSync(file, b);
        if (!this.written.has(dir)) {
          this.written.add(dir);
          // Helm reads the archive during this program run only; leave nothing behind.
          process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
        }
        return file;
      }),
    );
  }
}
