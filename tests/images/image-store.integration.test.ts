// The image store against the real helloworld image (built by tests/fixtures/helloworld.ts):
// OCI layout and tarball loading, digest verification, rootfs unpacking and concurrent use.
import { execFileSync } from "node:child_process";
import { cp, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import { ensureHelloworldImage, type HelloworldImage } from "../fixtures/helloworld.js";
import { buildTestImage } from "./oci-test-image.js";
import { imageTestsSkipReason } from "./requirements.js";

const skipReason = imageTestsSkipReason();
if (skipReason) console.log(`image tests skipped: ${skipReason}`);

let image: HelloworldImage;
let root: string;
const scratch: string[] = [];

beforeAll(async () => {
  if (skipReason) return;
  image = await ensureHelloworldImage();
  root = await mkdtemp("/var/tmp/vhimg-store-");
  scratch.push(root);
});

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== undefined)("LocalImageStore with the helloworld image", () => {
  it("loads the OCI layout: digest from index.json, config and three layers", async () => {
    const store = new LocalImageStore({ root });
    const stored = await store.loadOciLayout(image.layoutDir);
    const index = JSON.parse(await readFile(path.join(image.layoutDir, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    expect(stored.digest).toBe(index.manifests[0]?.digest);
    expect(stored.references).toContain(image.ref);
    expect(stored.layers).toHaveLength(3);
    expect(stored.config).toEqual({
      entrypoint: ["/usr/bin/python3", "-u"],
      cmd: ["/app/server.py"],
      env: expect.arrayContaining(["PORT=50051"]) as string[],
      workingDir: "/app",
      user: "",
      exposedPorts: [50051],
    });
    expect(await store.get(image.ref)).toEqual(stored);
    expect(await store.get(stored.digest)).toEqual(stored);
  });

  it("loads the tarball to the same digest, in a fresh store, under an extra name", async () => {
    const fresh = await mkdtemp("/var/tmp/vhimg-store-");
    scratch.push(fresh);
    const store = new LocalImageStore({ root: fresh });
    const fromTar = await store.loadTarball(image.tarball, "localhost/test/hello:v1");
    const fromLayout = await new LocalImageStore({ root }).loadOciLayout(image.layoutDir);
    expect(fromTar.digest).toBe(fromLayout.digest);
    expect(fromTar.references).toEqual(expect.arrayContaining(["localhost/test/hello:v1", image.ref]));
    expect((await store.get("localhost/test/hello:v1")).digest).toBe(fromTar.digest);
  });

  it("unpacks a rootfs in which the function's Python and gRPC import", async () => {
    const store = new LocalImageStore({ root });
    const { digest } = await store.loadOciLayout(image.layoutDir);
    const rootfs = await store.rootfs(digest);
    expect((await stat(path.join(rootfs, "app/server.py"))).mode & 0o777).toBe(0o755);
    expect((await stat(path.dirname(rootfs))).mode & 0o777).toBe(0o755);
    const out = execFileSync("/usr/sbin/chroot", [rootfs, "/usr/bin/python3", "-c", "import grpc, google.protobuf; print(grpc.__version__)"], {
      env: { PATH: "/usr/bin:/bin" },
    }).toString();
    expect(out.trim()).toMatch(/^\d+\.\d+/);
    // Cached: the second call returns the same directory without rebuilding.
    expect(await store.rootfs(digest)).toBe(rootfs);
  });

  it("shares work between concurrent callers and processes (two stores, one root)", async () => {
    const shared = await mkdtemp("/var/tmp/vhimg-store-");
    scratch.push(shared);
    const a = new LocalImageStore({ root: shared });
    const b = new LocalImageStore({ root: shared });
    const [x, y] = await Promise.all([a.loadOciLayout(image.layoutDir), b.loadTarball(image.tarball)]);
    expect(x.digest).toBe(y.digest);
    const [r1, r2, r3] = await Promise.all([a.rootfs(x.digest), b.rootfs(x.digest), a.rootfs(x.digest)]);
    expect(r1).toBe(r2);
    expect(r1).toBe(r3);
    // Nothing half-written is left behind.
    expect(await readdir(path.join(shared, "tmp"))).toEqual([]);
  });

  it("rejects a layout whose layer blob does not match its digest", async () => {
    const bad = await mkdtemp("/var/tmp/vhimg-bad-");
    scratch.push(bad);
    await cp(image.layoutDir, bad, { recursive: true });
    const index = JSON.parse(await readFile(path.join(bad, "index.json"), "utf8")) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(await readFile(path.join(bad, "blobs/sha256", index.manifests[0]!.digest.slice(7)), "utf8")) as {
      layers: { digest: string }[];
    };
    const appLayer = path.join(bad, "blobs/sha256", manifest.layers[2]!.digest.slice(7));
    const bytes = await readFile(appLayer);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    await writeFile(appLayer, bytes);
    const store = new LocalImageStore({ root: await mkdtemp("/var/tmp/vhimg-store-") });
    scratch.push(store.root);
    await expect(store.loadOciLayout(bad)).rejects.toThrow(`digest mismatch for blob from ${appLayer}`);
  });

  it("refuses a tarball holding a symlink before extracting anything", async () => {
    const dir = await mkdtemp("/var/tmp/vhimg-bad-");
    scratch.push(dir);
    await cp(image.layoutDir, path.join(dir, "layout"), { recursive: true });
    await symlink("/etc", path.join(dir, "layout", "escape"));
    const tarball = path.join(dir, "evil.tar");
    execFileSync("tar", ["-C", path.join(dir, "layout"), "-cf", tarball, "."]);
    const store = new LocalImageStore({ root });
    await expect(store.loadTarball(tarball)).rejects.toThrow(`image tarball ${tarball} contains symlink "escape"`);
    await writeFile(path.join(dir, "not.tar"), "plain text, not a tar archive at all".repeat(20));
    await expect(store.loadTarball(path.join(dir, "not.tar"))).rejects.toThrow("is not a readable tar archive");
  });

  it("keeps every name given by concurrent loads, and moves a name to the image it was last given", async () => {
    const shared = await mkdtemp("/var/tmp/vhimg-store-");
    scratch.push(shared);
    const names = ["localhost/a/one:v1", "localhost/a/two:v1", "localhost/a/three:v1", "localhost/a/four:v1"];
    await Promise.all(names.map((name) => new LocalImageStore({ root: shared }).loadOciLayout(image.layoutDir, name)));
    const stored = await new LocalImageStore({ root: shared }).get(names[0]!);
    expect([...stored.references].sort()).toEqual([...names, image.ref].sort());

    const otherLayout = await mkdtemp("/var/tmp/vhimg-layout-");
    scratch.push(otherLayout);
    const other = await buildTestImage(otherLayout, [{ fill: (d) => writeFile(path.join(d, "f"), "f\n") }]);
    const store = new LocalImageStore({ root: shared });
    await store.loadOciLayout(otherLayout, names[1]);
    expect((await store.get(names[1]!)).digest).toBe(other.manifestDigest);
    expect((await store.get(names[0]!)).references).not.toContain(names[1]);
    expect((await store.list()).map((i) => i.digest).sort()).toEqual([stored.digest, other.manifestDigest].sort());
  });

  it("names the problem for unknown images and bad input", async () => {
    const store = new LocalImageStore({ root });
    const missing = `sha256:${"0".repeat(64)}`;
    await expect(store.get(missing)).rejects.toThrow(`image ${missing} is not in the image store`);
    await expect(store.get(missing)).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(store.get("helloworld:latest")).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    expect(await store.lookup("localhost/never/loaded:v1")).toBeUndefined();
    await expect(store.rootfs(missing)).rejects.toThrow(`image ${missing} is not in the image store`);
    await expect(store.ext4("not-a-digest")).rejects.toThrow(`image digest "not-a-digest" is not a sha256 digest`);
    await expect(store.get("helloworld:latest")).rejects.toThrow(`image reference "helloworld:latest" names no registry host`);
    await expect(store.loadOciLayout("/nonexistent/vhimg")).rejects.toThrow("/nonexistent/vhimg is not an OCI image layout");
    await expect(store.loadTarball("/nonexistent/vhimg.tar")).rejects.toThrow("image tarball /nonexistent/vhimg.tar does not exist");
  });
});
