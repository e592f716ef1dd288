// Release files through the real engine (the pinned CLI, a program run by the Automation API): a
// preview downloads nothing and shows the file's objects as unknown; `pulumi up` downloads it from a
// local mirror the test starts (a real small file), records its first download in the lock and
// keeps it in the cache; the next preview reads the cache and expects no change.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReleaseFiles } from "#components/addons/release-files.js";
import { resolveArtifacts } from "#components/addons/releases.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";
import { HttpFileFetcher } from "#components/config/run-time-checksum.js";
import { LocalMirror } from "../program/local-mirror.js";
import { EngineStack } from "./real-provisioner.js";

const CALICO = "https://raw.githubusercontent.com/projectcalico/calico/v3.31.5/manifests/calico.yaml";
// Stands in for Calico's calico.yaml: two objects in its shape.
const calicoYaml = [
  { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "calico-config", namespace: "kube-system" } },
  { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "calico-node", namespace: "kube-system" } },
]
  .map((o) => stringify(o))
  .join("---\n");

const dir = mkdtempSync(join(tmpdir(), "vhive-engine-release-files-"));
const lockPath = join(dir, "checksums.lock.json");
let mirror: LocalMirror;
let stack: EngineStack;
let sha = "";

beforeAll(async () => {
  mirror = await LocalMirror.start();
  sha = mirror.serve(CALICO, calicoYaml);
  stack = await EngineStack.open("release-files", {}, {}, async () => {
    const artifacts = resolveArtifacts([{ key: "calico", version: "3.31.5" }], {}, mirror.url);
    const files = new ReleaseFiles(artifacts, {
      fetcher: new HttpFileFetcher(10_000),
      lock: new ChecksumLock(lockPath),
      cacheDir: join(dir, "cache"),
      artifactMirror: mirror.url,
    });
    return { names: files.objects("calico").apply((objects) => objects.map((o) => `${o.kind}/${o.metadata?.name}`)) };
  });
}, 600_000);

afterAll(async () => {
  await stack?.destroy().catch(() => undefined);
  stack?.remove();
  await mirror?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("release files through the real engine", () => {
  it("preview: nothing downloaded, the objects unknown", async () => {
    const result = await stack.preview();
    expect(result.stdout).toMatch(/names\s*:\s*\[unknown\]/);
    expect(mirror.requests).toEqual([]);
    expect(existsSync(lockPath)).toBe(false);
  });

  it("up: downloaded once, its first download recorded in the lock", async () => {
    const result = await stack.up();
    expect(result.outputs.names?.value).toEqual(["ConfigMap/calico-config", "ServiceAccount/calico-node"]);
    expect(mirror.requested(CALICO)).toBe(1);
    expect(new ChecksumLock(lockPath).get(CALICO)).toEqual({ checksum: `sha256:${sha}`, source: "first download" });
  });

  it("a later preview reads the verified copy: no download, no change", async () => {
    const before = mirror.requests.length;
    const result = await stack.preview({ expectNoChanges: true });
    expect(result.stdout).not.toContain("[unknown]");
    expect(mirror.requests.length).toBe(before);
  });
});
