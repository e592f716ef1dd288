// Writes small OCI image layouts for tests: each layer is a directory the test fills (whiteout
// files included, as plain empty files named .wh.<name>), packed with GNU tar and gzip.
import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { runCommand } from "#node-runtime/images/run-command.js";

export interface TestLayer {
  /** Fills the layer's directory. */
  fill: (dir: string) => Promise<void>;
  /** A hand-made tar used instead of packing the directory (for members GNU tar would not write). */
  rawTar?: Buffer;
  /** Only these paths go into the tar (no parent directory entries); default: everything. */
  members?: string[];
  /** Layer encoding; default gzip. */
  compression?: "gzip" | "zstd" | "none";
}

export interface TestImage {
  layoutDir: string;
  manifestDigest: string;
  layerDigests: string[];
  /** Layer blobs by digest, for tests that serve or corrupt them. */
  blobs: Map<string, { bytes: Buffer; mediaType: string }>;
}

function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

export async function buildTestImage(
  layoutDir: string,
  layers: TestLayer[],
  options: { name?: string; entrypoint?: string[]; platform?: { os: string; architecture: string } } = {},
): Promise<TestImage> {
  const blobs = new Map<string, { bytes: Buffer; mediaType: string }>();
  const work = await mkdtemp("/var/tmp/vhimg-layers-");
  const layerDescriptors: { mediaType: string; digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  try {
    for (const [i, layer] of layers.entries()) {
      const dir = path.join(work, `layer${i}`);
      await mkdir(dir, { recursive: true });
      await layer.fill(dir);
      const tarFile = path.join(work, `layer${i}.tar`);
      const what = layer.members ? ["--no-recursion", ...layer.members] : ["."];
      await runCommand("tar", ["--create", "--file", tarFile, "--directory", dir, "--numeric-owner", "--xattrs", "--xattrs-include=*", "--sort=name", ...what]);
      if (layer.rawTar) await writeFile(tarFile, layer.rawTar);
      const tar = await readFile(tarFile);
      diffIds.push(sha256(tar));
      let blob = tar;
      let mediaType = "application/vnd.oci.image.layer.v1.tar";
      if ((layer.compression ?? "gzip") === "gzip") {
        blob = gzipSync(tar);
        mediaType += "+gzip";
      } else if (layer.compression === "zstd") {
        await runCommand("zstd", ["-q", "-f", tarFile, "-o", `${tarFile}.zst`]);
        blob = await readFile(`${tarFile}.zst`);
        mediaType += "+zstd";
      }
      const digest = sha256(blob);
      blobs.set(digest, { bytes: blob, mediaType });
      layerDescriptors.push({ mediaType, digest, size: blob.length });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const platform = options.platform ?? { os: "linux", architecture: "amd64" };
  const config = Buffer.from(
    JSON.stringify({
      ...platform,
      config: { Entrypoint: options.entrypoint ?? ["/bin/true"], Env: ["PATH=/bin"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: diffIds },
    }),
  );
  const configDigest = sha256(config);
  blobs.set(configDigest, { bytes: config, mediaType: "application/vnd.oci.image.config.v1+json" });
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: layerDescriptors,
    }),
  );
  const manifestDigest = sha256(manifest);
  blobs.set(manifestDigest, { bytes: manifest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
  await mkdir(path.join(layoutDir, "blobs", "sha256"), { recursive: true });
  for (const [digest, blob] of blobs) await writeFile(path.join(layoutDir, "blobs", "sha256", digest.slice(7)), blob.bytes);
  await writeFile(path.join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    path.join(layoutDir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          digest: manifestDigest,
          size: manifest.length,
          ...(options.name ? { annotations: { "org.opencontainers.image.ref.name": options.name } } : {}),
        },
      ],
    }),
  );
  return { layoutDir, manifestDigest, layerDigests: layerDescriptors.map((l) => l.digest), blobs };
}

/** A ustar archive of the given members, written byte by byte (no checks on names). */
export function rawTar(members: { name: string; type: "file" | "hardlink" | "symlink" | "directory"; linkName?: string; content?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const member of members) {
    const header = Buffer.alloc(512);
    const content = Buffer.from(member.content ?? "");
    const octal = (value: number, length: number) => value.toString(8).padStart(length - 1, "0") + "\0";
    header.write(member.name, 0, 100, "utf8");
    header.write(octal(member.type === "directory" ? 0o755 : 0o644, 8), 100, "ascii");
    header.write(octal(0, 8), 108, "ascii");
    header.write(octal(0, 8), 116, "ascii");
    header.write(octal(member.type === "file" ? content.length : 0, 12), 124, "ascii");
    header.write(octal(0, 12), 136, "ascii");
    header.write({ file: "0", hardlink: "1", symlink: "2", directory: "5" }[member.type], 156, "ascii");
    header.write(member.linkName ?? "", 157, 100, "utf8");
    header.write("ustar\0", 257, "ascii");
    header.write("00", 263, "ascii");
    header.fill(" ", 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "ascii");
    blocks.push(header);
    if (member.type === "file" && content.length > 0) {
      blocks.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
