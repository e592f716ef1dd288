// Release files through a local mirror serving real small files: a preview downloads nothing (a file
// not in the cache is unknown), `pulumi up` resolves a missing checksum (Helm index digest, or the
// first download where upstream publishes none), keeps the verified file in the cache, and refuses
// a file that no longer matches the lock.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReleaseFiles } from "#components/addons/release-files.js";
import { resolveArtifacts } from "#components/addons/releases.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";
import { HttpFileFetcher } from "#components/config/run-time-checksum.js";
import { LocalMirror } from "../program/local-mirror.js";

const CALICO = "https://raw.githubusercontent.com/projectcalico/calico/v3.31.5/manifests/calico.yaml";
const ISTIOD = "https://istio-release.storage.googleapis.com/charts/istiod-1.29.2.tgz";
const ISTIO_INDEX = "https://istio-release.storage.googleapis.com/charts/index.yaml";
// Stands in for Calico's calico.yaml (one object in its shape).
const calicoYaml = stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "calico-config", namespace: "kube-system" } });
const istiodChart = "stands in for the istiod chart archive";

let mirror: LocalMirror;
const dir = mkdtempSync(join(tmpdir(), "vhive-release-files-"));
const cacheDir = join(dir, "cache");
const lockPath = join(dir, "checksums.lock.json");
let calicoSha = "";
let istiodSha = "";

function files(dryRun: boolean, lock = new ChecksumLock(lockPath)): ReleaseFiles {
  const artifacts = resolveArtifacts(
    [
      { key: "calico", version: "3.31.5" },
      { key: "istiod", version: "1.29.2" },
    ],
    {},
    mirror.url,
  );
  return new ReleaseFiles(artifacts, { fetcher: new HttpFileFetcher(10_000), lock, cacheDir, artifactMirror: mirror.url, dryRun });
}

const isKnown = (o: pulumi.Output<unknown>) => (o as unknown as { isKnown: Promise<boolean> }).isKnown;
const outputValue = <T>(o: pulumi.Output<T>) => (o as unknown as { promise(): Promise<T> }).promise();

beforeAll(async () => {
  mirror = await LocalMirror.start();
  calicoSha = mirror.serve(CALICO, calicoYaml);
  istiodSha = mirror.serve(ISTIOD, istiodChart);
  // Istio's Helm repository index, giving the chart's digest.
  mirror.serve(ISTIO_INDEX, stringify({ apiVersion: "v1", entries: { istiod: [{ name: "istiod", version: "1.29.2", digest: istiodSha }] } }));
});

afterAll(async () => {
  await mirror.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("release files", () => {
  it("a preview without a verified copy downloads nothing: the objects and the chart path are unknown", async () => {
    const preview = files(true);
    expect(await isKnown(preview.objects("calico"))).toBe(false);
    expect(await isKnown(preview.chartPath("istiod"))).toBe(false);
    expect(mirror.requests).toEqual([]);
  });

  it("up: the chart's digest from the Helm index, Calico's first download recorded; both verified and cached", async () => {
    const up = files(false);
    const objects = await outputValue(up.objects("calico"));
    expect(objects.map((o) => o.metadata?.name)).toEqual(["calico-config"]);
    const chart = await outputValue(up.chartPath("istiod"));
    expect(readFileSync(chart, "utf8")).toBe(istiodChart);
    expect(chart.startsWith(cacheDir)).toBe(true);
    const lock = new ChecksumLock(lockPath);
    expect(lock.get(CALICO)).toEqual({ checksum: `sha256:${calicoSha}`, source: "first download" });
    expect(lock.get(ISTIOD)).toEqual({ checksum: `sha256:${istiodSha}`, source: ISTIO_INDEX });
    // Calico was downloaded once (its first download is the file used), istiod once after its digest.
    expect(mirror.requested(CALICO)).toBe(1);
    expect(mirror.requested(ISTIOD)).toBe(1);
  });

  it("a later preview uses the lock and the cache: the objects are known, nothing is downloaded", async () => {
    const before = mirror.requests.length;
    const preview = files(true);
    expect((await outputValue(preview.objects("calico"))).map((o) => o.metadata?.name)).toEqual(["calico-config"]);
    expect(await isKnown(preview.chartPath("istiod"))).toBe(true);
    expect(mirror.requests.length).toBe(before);
  });

  it("a file that changed upstream after it was recorded is refused", async () => {
    rmSync(cacheDir, { recursive: true, force: true });
    mirror.serve(CALICO, `${calicoYaml}# changed upstream\n`);
    const objects = files(false).objects("calico");
    // The Output's own bookkeeping promises reject as well: the engine reports that once; here, catch them.
    for (const p of [(objects as unknown as { isKnown: Promise<boolean> }).isKnown, (objects as unknown as { isSecret: Promise<boolean> }).isSecret])
      p.catch(() => undefined);
    await expect(outputValue(objects)).rejects.toThrow(
      `checksums.calico: ${mirror.url}/raw.githubusercontent.com/projectcalico/calico/v3.31.5/manifests/calico.yaml has sha256 `,
    );
    expect(existsSync(join(cacheDir, `sha256-${calicoSha}`))).toBe(false);
  });
});
