// Registry pulls against tests/images/test-registry.ts (a stand-in for a real registry with a
// token service, since none is reachable here): multi-platform index resolution, bearer and basic
// auth with configured credentials, and digest verification of manifests and blobs.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { parseRuntimeConfig } from "#node-runtime/config/runtime-config.js";
import { createNodeRuntime } from "#node-runtime/index.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import { parseReference } from "#node-runtime/images/reference.js";
import { ensureHelloworldImage } from "../fixtures/helloworld.js";
import { buildTestImage, type TestImage } from "./oci-test-image.js";
import { TestRegistry, type RegistryBlob } from "./test-registry.js";
import { imageTestsSkipReason } from "./requirements.js";
import { ProcessDriver } from "../doubles/driver/process-driver.js";

const skipReason = imageTestsSkipReason();
if (skipReason) console.log(`image tests skipped: ${skipReason}`);

const scratch: string[] = [];
const registries: TestRegistry[] = [];
let helloworldBlobs: Map<string, RegistryBlob>;
let helloworldManifest: string;
let armImage: TestImage;
let indexDigest: string;

async function layoutBlobs(layoutDir: string): Promise<{ blobs: Map<string, RegistryBlob>; manifest: string }> {
  const index = JSON.parse(await readFile(path.join(layoutDir, "index.json"), "utf8")) as { manifests: { digest: string; mediaType: string }[] };
  const manifestDigest = index.manifests[0]!.digest;
  const blobs = new Map<string, RegistryBlob>();
  const read = async (digest: string, mediaType: string) =>
    blobs.set(digest, { bytes: await readFile(path.join(layoutDir, "blobs/sha256", digest.slice(7))), mediaType });
  await read(manifestDigest, index.manifests[0]!.mediaType);
  const manifest = JSON.parse(blobs.get(manifestDigest)!.bytes.toString()) as {
    config: { digest: string; mediaType: string };
    layers: { digest: string; mediaType: string }[];
  };
  await read(manifest.config.digest, manifest.config.mediaType);
  for (const layer of manifest.layers) await read(layer.digest, layer.mediaType);
  return { blobs, manifest: manifestDigest };
}

async function freshStore(options: ConstructorParameters<typeof LocalImageStore>[0] = {}): Promise<LocalImageStore> {
  const root = await mkdtemp("/var/tmp/vhimg-store-");
  scratch.push(root);
  return new LocalImageStore({ ...options, root });
}

async function startRegistry(auth: "none" | "bearer" | "basic"): Promise<TestRegistry> {
  const registry = new TestRegistry({ auth, username: "puller", password: "s3cret-for-tests" });
  await registry.start();
  registries.push(registry);
  // vhive/helloworld:latest is a two-platform index: the real helloworld for linux/amd64 and a
  // one-file image for linux/arm64 that must not be chosen on this node.
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: armImage.manifestDigest,
          size: armImage.blobs.get(armImage.manifestDigest)!.bytes.length,
          platform: { os: "linux", architecture: "arm64" },
        },
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: helloworldManifest,
          size: helloworldBlobs.get(helloworldManifest)!.bytes.length,
          platform: { os: "linux", architecture: "amd64" },
        },
      ],
    }),
  );
  indexDigest = TestRegistry.digestOf(index);
  registry.add(
    "vhive/helloworld",
    new Map([...helloworldBlobs, ...armImage.blobs, [indexDigest, { bytes: index, mediaType: "application/vnd.oci.image.index.v1+json" }]]),
    { latest: indexDigest },
  );
  return registry;
}

beforeAll(async () => {
  if (skipReason) return;
  const hello = await ensureHelloworldImage();
  ({ blobs: helloworldBlobs, manifest: helloworldManifest } = await layoutBlobs(hello.layoutDir));
  const armLayout = await mkdtemp("/var/tmp/vhimg-layout-");
  scratch.push(armLayout);
  armImage = await buildTestImage(armLayout, [{ fill: (d) => writeFile(path.join(d, "arm"), "arm64\n") }], {
    platform: { os: "linux", architecture: "arm64" },
  });
});

afterAll(async () => {
  for (const registry of registries) await registry.stop();
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== undefined)("registry pulls", () => {
  it("pulls the linux/amd64 image of an index with a bearer token obtained with the configured credentials", async () => {
    const registry = await startRegistry("bearer");
    const store = await freshStore({ registry: { credentials: { [registry.host]: { username: "puller", password: "s3cret-for-tests" } } } });
    const ref = `${registry.host}/vhive/helloworld:latest`;
    const image = await store.get(ref);
    expect(image.digest).toBe(helloworldManifest);
    expect(image.references).toEqual([ref]);
    expect(image.config.exposedPorts).toEqual([50051]);
    expect(registry.tokenRequests[0]).toEqual({ scope: "repository:vhive/helloworld:pull", service: "vhimg-test-registry", user: "puller" });
    // One token for the whole pull: every request after the first challenge carries it.
    expect(registry.tokenRequests).toHaveLength(1);
    expect(registry.requests.filter((r) => r.auth === "none")).toHaveLength(1);
    // The arm64 image was never fetched.
    expect(registry.requests.some((r) => r.path.endsWith(armImage.manifestDigest))).toBe(false);
    // Cached: a second get does not go back to the registry.
    const before = registry.requests.length;
    expect((await store.get(ref)).digest).toBe(helloworldManifest);
    expect(registry.requests.length).toBe(before);
    // And by digest, pinned.
    const pinned = await (await freshStore({ registry: { credentials: { [registry.host]: { username: "puller", password: "s3cret-for-tests" } } } })).get(
      `${registry.host}/vhive/helloworld@${helloworldManifest}`,
    );
    expect(pinned.digest).toBe(helloworldManifest);
  });

  it("takes basic-auth credentials from a Docker-style config file", async () => {
    const registry = await startRegistry("basic");
    const dir = await mkdtemp("/var/tmp/vhimg-auth-");
    scratch.push(dir);
    const configPath = path.join(dir, "config.json");
    await writeFile(configPath, JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from("puller:s3cret-for-tests").toString("base64") } } }));
    const store = await freshStore({ registry: { dockerConfigPath: configPath } });
    expect((await store.get(`${registry.host}/vhive/helloworld:latest`)).digest).toBe(helloworldManifest);
  });

  it("the served runtime pulls with its config's credentials: a password file, never the password itself in the config", async () => {
    const registry = await startRegistry("basic");
    const dir = await mkdtemp("/var/tmp/vhimg-runtime-");
    scratch.push(dir);
    const passwordFile = path.join(dir, "registry-password");
    await writeFile(passwordFile, "s3cret-for-tests\n", { mode: 0o600 });
    const config = parseRuntimeConfig({
      dataDir: path.join(dir, "runtime"),
      socket: path.join(dir, "api.sock"),
      registryCredentials: { [registry.host]: { username: "puller", passwordFile } },
    });
    // Stands in for the sandbox drivers, which this test does not use.
    const rt = await createNodeRuntime(config, { drivers: [new ProcessDriver("gvisor", path.join(dir, "sandboxes"))], logger: pino({ level: "silent" }) });
    try {
      const image = await rt.images.get(`${registry.host}/vhive/helloworld:latest`);
      expect(image.digest).toBe(helloworldManifest);
      expect(registry.requests.some((r) => r.auth === "Basic")).toBe(true);
    } finally {
      await rt.close();
    }
  });

  it("fails with a clear error without credentials, with wrong ones, and for unknown images", async () => {
    const registry = await startRegistry("bearer");
    const ref = `${registry.host}/vhive/helloworld:latest`;
    await expect((await freshStore()).get(ref)).rejects.toThrow(`token service of registry ${registry.host} refused anonymous access (HTTP 401)`);
    const wrong = await freshStore({ registry: { credentials: { [registry.host]: { username: "puller", password: "wrong" } } } });
    await expect(wrong.get(ref)).rejects.toThrow(`token service of registry ${registry.host} refused the configured credentials`);
    await expect(wrong.get(ref)).rejects.toMatchObject({ code: "PERMISSION_DENIED" });
    const open = await startRegistry("none");
    await expect((await freshStore()).get(`${open.host}/vhive/nothing:latest`)).rejects.toThrow(
      `image ${open.host}/vhive/nothing:latest not found in registry ${open.host}`,
    );
    await expect((await freshStore()).get(`${open.host}/vhive/helloworld:v9`)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect((await freshStore()).get("127.0.0.1:1/vhive/helloworld:latest")).rejects.toThrow("registry 127.0.0.1:1 unreachable");
    await expect((await freshStore()).get("127.0.0.1:1/vhive/helloworld:latest")).rejects.toMatchObject({ code: "UNAVAILABLE" });
  });

  it("rejects a blob whose bytes do not match its digest, and stores nothing for that image", async () => {
    const registry = await startRegistry("none");
    const manifest = JSON.parse(helloworldBlobs.get(helloworldManifest)!.bytes.toString()) as { layers: { digest: string }[] };
    const appLayer = manifest.layers[2]!.digest;
    registry.corrupt.add(appLayer);
    const store = await freshStore();
    const ref = `${registry.host}/vhive/helloworld:latest`;
    await expect(store.get(ref)).rejects.toThrow(`digest mismatch for blob from registry ${registry.host} (vhive/helloworld): expected ${appLayer}`);
    await expect(store.get(ref)).rejects.toMatchObject({ code: "DATA_LOSS" });
    expect(await store.lookup(ref)).toBeUndefined();
    expect(await store.blobs.has(appLayer)).toBe(false);
    expect(await store.blobs.has(helloworldManifest)).toBe(false);
  });

  it("rejects a manifest whose bytes do not match the digest asked for", async () => {
    const registry = await startRegistry("none");
    registry.corrupt.add(helloworldManifest);
    const store = await freshStore();
    await expect(store.get(`${registry.host}/vhive/helloworld@${helloworldManifest}`)).rejects.toThrow(`digest mismatch for manifest ${helloworldManifest}`);
    registry.corrupt.delete(helloworldManifest);
    registry.corrupt.add(indexDigest);
    await expect(store.get(`${registry.host}/vhive/helloworld:latest`)).rejects.toThrow(
      `digest mismatch for manifest latest of ${registry.host}/vhive/helloworld: expected ${indexDigest}`,
    );
  });

  it("parses references and refuses ones without a registry host", () => {
    expect(parseReference("localhost:5000/a/b:v1")).toEqual({ registry: "localhost:5000", repository: "a/b", tag: "v1" });
    expect(parseReference("registry.example/a")).toEqual({ registry: "registry.example", repository: "a", tag: "latest" });
    expect(parseReference("a/b", "mirror.internal")).toEqual({ registry: "mirror.internal", repository: "a/b", tag: "latest" });
    expect(() => parseReference("a/b:latest")).toThrow(`image reference "a/b:latest" names no registry host`);
    expect(() => parseReference("localhost/A:v1")).toThrow(`invalid repository part "A"`);
    expect(() => parseReference("localhost/a@sha256:xyz")).toThrow("invalid digest");
  });
});
