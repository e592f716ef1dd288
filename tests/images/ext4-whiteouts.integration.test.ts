// A three-layer image with whiteouts, opaque directories, type changes, links, owners, modes and
// an xattr, built here; unpacked by the store and turned into ext4, whose contents debugfs reads.
import { execFileSync } from "node:child_process";
import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ext4Sizing } from "#node-runtime/images/ext4-image.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import { buildTestImage, rawTar, type TestImage } from "./oci-test-image.js";
import { imageTestsSkipReason } from "./requirements.js";

const skipReason = imageTestsSkipReason();
if (skipReason) console.log(`image tests skipped: ${skipReason}`);

const scratch: string[] = [];
let store: LocalImageStore;
let image: TestImage;

async function put(root: string, rel: string, content: string, mode = 0o644): Promise<void> {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
  await chmod(path.join(root, rel), mode);
}

function debugfs(image: string, request: string): string {
  return execFileSync("debugfs", ["-R", request, image], { stdio: ["ignore", "pipe", "pipe"] }).toString();
}

/** Mode, owner, link target and inode of a path inside an ext4 image, or undefined if absent. */
function ext4Stat(image: string, file: string): { mode: number; uid: number; gid: number; type: string; inode: number; linkTarget?: string } | undefined {
  let out: string;
  try {
    out = execFileSync("debugfs", ["-R", `stat ${file}`, image], { stdio: ["ignore", "pipe", "pipe"] }).toString();
  } catch {
    return undefined;
  }
  const head = /Inode:\s+(\d+)\s+Type:\s+(\S+)\s+Mode:\s+(\d+)/.exec(out);
  if (!head) return undefined;
  const owner = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
  const fast = /Fast link dest: "([^"]*)"/.exec(out);
  return {
    inode: Number(head[1]),
    type: head[2]!,
    mode: Number.parseInt(head[3]!, 8),
    uid: Number(owner?.[1]),
    gid: Number(owner?.[2]),
    ...(fast ? { linkTarget: fast[1] } : {}),
  };
}

beforeAll(async () => {
  if (skipReason) return;
  const root = await mkdtemp("/var/tmp/vhimg-store-");
  const layoutDir = await mkdtemp("/var/tmp/vhimg-layout-");
  scratch.push(root, layoutDir);
  store = new LocalImageStore({ root });
  image = await buildTestImage(layoutDir, [
    {
      fill: async (d) => {
        await put(d, "etc/gone", "deleted by layer 2\n");
        await put(d, "etc/keep", "kept\n");
        await put(d, "data/x/file1", "x1\n");
        await put(d, "data/y/file2", "y2\n");
        await put(d, "opq/lower1", "hidden by the opaque dir\n");
        await put(d, "opq/lowerdir/f", "hidden too\n");
        await put(d, "bin/tool", "#!/bin/sh\n", 0o755);
        await put(d, "usr/bin/passwd-like", "setuid\n", 0o4755);
        await put(d, "home/user/profile", "owned by 1000\n", 0o600);
        await chown(path.join(d, "home/user"), 1000, 1000);
        await chown(path.join(d, "home/user/profile"), 1000, 1001);
        await symlink("etc/keep", path.join(d, "relative-link"));
        await put(d, "hard/one", "shared inode\n");
        await link(path.join(d, "hard/one"), path.join(d, "hard/two"));
        await put(d, "tagged", "has an xattr\n");
        execFileSync("setfattr", ["-n", "user.vhimg", "-v", "layer1", path.join(d, "tagged")]);
        await put(d, "dir-becomes-file/child", "child\n");
        await put(d, "file-becomes-dir", "file\n");
        await chmod(path.join(d, "etc"), 0o755);
      },
    },
    {
      fill: async (d) => {
        await put(d, "etc/.wh.gone", "");
        await put(d, "data/.wh.x", "");
        await put(d, "opq/.wh..wh..opq", "");
        await put(d, "opq/upper", "from layer 2\n");
        await put(d, "dir-becomes-file", "now a file\n");
        await put(d, "file-becomes-dir/child", "now a dir\n");
        await symlink("/etc/keep", path.join(d, "absolute-link"));
        await mkdir(path.join(d, "modes"), { recursive: true });
        await chmod(path.join(d, "modes"), 0o1777);
      },
    },
    {
      fill: async (d) => {
        // Layer 3 brings back a name layer 2 removed.
        await put(d, "data/x/reborn", "back again\n");
      },
    },
  ]);
  await store.loadOciLayout(layoutDir, "localhost/test/whiteouts:v1");
});

afterAll(async () => {
  for (const dir of scratch) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipReason !== undefined)("layer application with whiteouts", () => {
  it("unpacks the rootfs with lower files deleted, opaque dirs emptied and types replaced", async () => {
    const rootfs = await store.rootfs(image.manifestDigest);
    const exists = (rel: string) =>
      lstat(path.join(rootfs, rel)).then(
        () => true,
        () => false,
      );
    expect(await exists("etc/gone")).toBe(false);
    expect(await exists(".wh.gone")).toBe(false);
    expect(await exists("etc/.wh.gone")).toBe(false);
    expect(await exists("etc/keep")).toBe(true);
    expect(await exists("data/x/file1")).toBe(false);
    expect(await readFile(path.join(rootfs, "data/x/reborn"), "utf8")).toBe("back again\n");
    expect(await exists("data/y/file2")).toBe(true);
    expect(await exists("opq/lower1")).toBe(false);
    expect(await exists("opq/lowerdir")).toBe(false);
    expect(await exists("opq/.wh..wh..opq")).toBe(false);
    expect(await exists("opq/upper")).toBe(true);
    expect((await lstat(path.join(rootfs, "dir-becomes-file"))).isFile()).toBe(true);
    expect((await lstat(path.join(rootfs, "file-becomes-dir"))).isDirectory()).toBe(true);
    expect(await readlink(path.join(rootfs, "relative-link"))).toBe("etc/keep");
    expect(execFileSync("getfattr", ["--only-values", "-n", "user.vhimg", path.join(rootfs, "tagged")]).toString()).toBe("layer1");
  });

  it("converts to ext4 whose contents debugfs confirms", async () => {
    const ext4 = await store.ext4(image.manifestDigest);
    expect(ext4Stat(ext4, "/etc/gone")).toBeUndefined();
    expect(ext4Stat(ext4, "/data/x/file1")).toBeUndefined();
    expect(ext4Stat(ext4, "/opq/lower1")).toBeUndefined();
    expect(ext4Stat(ext4, "/opq/lowerdir")).toBeUndefined();
    expect(ext4Stat(ext4, "/etc/.wh.gone")).toBeUndefined();
    expect(ext4Stat(ext4, "/opq/upper")?.type).toBe("regular");
    expect(ext4Stat(ext4, "/data/x/reborn")?.type).toBe("regular");
    expect(ext4Stat(ext4, "/dir-becomes-file")?.type).toBe("regular");
    expect(ext4Stat(ext4, "/file-becomes-dir")?.type).toBe("directory");
    expect(ext4Stat(ext4, "/bin/tool")?.mode).toBe(0o755);
    expect(ext4Stat(ext4, "/usr/bin/passwd-like")?.mode).toBe(0o4755);
    expect(ext4Stat(ext4, "/modes")?.mode).toBe(0o1777);
    expect(ext4Stat(ext4, "/home/user/profile")).toMatchObject({ mode: 0o600, uid: 1000, gid: 1001 });
    expect(ext4Stat(ext4, "/home/user")).toMatchObject({ uid: 1000, gid: 1000 });
    expect(ext4Stat(ext4, "/relative-link")).toMatchObject({ type: "symlink", linkTarget: "etc/keep" });
    expect(ext4Stat(ext4, "/absolute-link")).toMatchObject({ type: "symlink", linkTarget: "/etc/keep" });
    expect(ext4Stat(ext4, "/hard/one")?.inode).toBe(ext4Stat(ext4, "/hard/two")?.inode);
    expect(debugfs(ext4, "cat /etc/keep")).toBe("kept\n");
    expect(debugfs(ext4, "ea_list /tagged")).toContain("user.vhimg");
    // Built once per digest.
    expect(await store.ext4(image.manifestDigest)).toBe(ext4);
    execFileSync("e2fsck", ["-fn", ext4], { stdio: "ignore" });
  });

  it("refuses a layer that writes through a symlink leading out of the root", async () => {
    const layoutDir = await mkdtemp("/var/tmp/vhimg-layout-");
    scratch.push(layoutDir);
    const escaping = await buildTestImage(layoutDir, [
      { fill: async (d) => void (await symlink("/tmp", path.join(d, "escape"))) },
      // Only the file, no directory entry for "escape": tar would follow the lower layer's link.
      { fill: async (d) => put(d, "escape/vhimg-should-not-exist", "outside\n"), members: ["escape/vhimg-should-not-exist"] },
    ]);
    await store.loadOciLayout(layoutDir);
    await expect(store.rootfs(escaping.manifestDigest)).rejects.toThrow("is written through symlink /escape");
    expect(
      await lstat("/tmp/vhimg-should-not-exist").then(
        () => true,
        () => false,
      ),
    ).toBe(false);
  });

  it("refuses members and hard links that climb out of the root with ..", async () => {
    for (const [i, member] of [
      { name: "ok/../../escape", type: "file" as const, content: "x" },
      { name: "innocent", type: "hardlink" as const, linkName: "../../etc/passwd" },
    ].entries()) {
      const layoutDir = await mkdtemp("/var/tmp/vhimg-layout-");
      scratch.push(layoutDir);
      const bad = await buildTestImage(layoutDir, [{ fill: async () => undefined, rawTar: rawTar([member]) }]);
      await store.loadOciLayout(layoutDir, `localhost/test/climb:v${i}`);
      await expect(store.rootfs(bad.manifestDigest)).rejects.toThrow('contains ".." and would escape the root');
    }
  });

  it("rejects a layer whose content does not match the config's diff_id", async () => {
    const layoutDir = await mkdtemp("/var/tmp/vhimg-layout-");
    scratch.push(layoutDir);
    const built = await buildTestImage(layoutDir, [{ fill: (d) => put(d, "a", "a\n") }]);
    // Rewrite the config with a wrong diff_id, keeping every blob digest consistent.
    const { LocalImageStore: Store } = await import("#node-runtime/images/image-store.js");
    const other = new Store({ root: await mkdtemp("/var/tmp/vhimg-store-") });
    scratch.push(other.root);
    const manifest = JSON.parse(built.blobs.get(built.manifestDigest)!.bytes.toString()) as { config: { digest: string; size: number } };
    const config = JSON.parse(built.blobs.get(manifest.config.digest)!.bytes.toString()) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids = [`sha256:${"1".repeat(64)}`];
    const { createHash } = await import("node:crypto");
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = `sha256:${createHash("sha256").update(configBytes).digest("hex")}`;
    const newManifest = Buffer.from(
      JSON.stringify({
        ...JSON.parse(built.blobs.get(built.manifestDigest)!.bytes.toString()),
        config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: configBytes.length },
      }),
    );
    const manifestDigest = `sha256:${createHash("sha256").update(newManifest).digest("hex")}`;
    await writeFile(path.join(layoutDir, "blobs/sha256", configDigest.slice(7)), configBytes);
    await writeFile(path.join(layoutDir, "blobs/sha256", manifestDigest.slice(7)), newManifest);
    await writeFile(
      path.join(layoutDir, "index.json"),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: manifestDigest, size: newManifest.length }],
      }),
    );
    await other.loadOciLayout(layoutDir);
    await expect(other.rootfs(manifestDigest)).rejects.toThrow("but the image config's diff_id says sha256:1111");
  });

  it("applies uncompressed, gzip and zstd layers in one image", async () => {
    const layoutDir = await mkdtemp("/var/tmp/vhimg-layout-");
    scratch.push(layoutDir);
    const mixed = await buildTestImage(layoutDir, [
      { fill: (d) => put(d, "plain", "none\n"), compression: "none" },
      { fill: (d) => put(d, "zipped", "gzip\n"), compression: "gzip" },
      {
        fill: async (d) => {
          await put(d, "zst", "zstd\n");
          await put(d, ".wh.plain", "");
        },
        compression: "zstd",
      },
    ]);
    await store.loadOciLayout(layoutDir);
    const rootfs = await store.rootfs(mixed.manifestDigest);
    expect(await readFile(path.join(rootfs, "zipped"), "utf8")).toBe("gzip\n");
    expect(await readFile(path.join(rootfs, "zst"), "utf8")).toBe("zstd\n");
    expect(
      await lstat(path.join(rootfs, "plain")).then(
        () => true,
        () => false,
      ),
    ).toBe(false);
  });

  it("sizes ext4 images with headroom", () => {
    const MiB = 1024 * 1024;
    const small = ext4Sizing(10 * MiB, 100);
    expect(small.bytes).toBeGreaterThanOrEqual(10 * MiB * 1.25 + 64 * MiB);
    expect(small.bytes % MiB).toBe(0);
    expect(small.inodes).toBe(4096);
    expect(ext4Sizing(100 * MiB, 10_000).inodes).toBe(20_000);
  });
});
