// The node's image store: OCI layouts, OCI tarballs and registry pulls land as verified blobs in
// one content-addressed cache; unpacked root filesystems and ext4 images are derived per digest.
import { ImageError } from "./errors.js";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, link, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import path from "node:path";
import { BlobStore } from "./blob-store.js";
import { digestHex, isDigest } from "./digest.js";
import { buildExt4Image } from "./ext4-image.js";
import { applyLayer } from "./layer-apply.js";
import {
  documentKind,
  imageConfigOf,
  layerCompression,
  LINUX_AMD64,
  parseConfigFile,
  parseIndex,
  parseJson,
  parseManifest,
  selectPlatform,
  type Descriptor,
  type ImageManifest,
  type Platform,
} from "./oci.js";
import { RegistryClient, type RegistryOptions } from "./registry-client.js";
import { runCommand } from "./run-command.js";
import { readTarEntries } from "./tar-entries.js";
import type { ImageStore, StoredImage } from "./types.js";

export const DEFAULT_IMAGE_ROOT = "/var/lib/vhive-node/images";

export interface LocalImageStoreOptions {
  /** Cache root; default /var/lib/vhive-node/images. */
  root?: string;
  /** Platform picked from multi-platform indexes; default linux/amd64. */
  platform?: Platform;
  /** Registry access for `get()` of references not loaded yet. */
  registry?: RegistryOptions;
}

/** What the store keeps per image, beyond the public StoredImage fields. */
export interface ImageRecord extends StoredImage {
  manifestMediaType: string;
  configDigest: string;
  diffIds: string[];
  layerMediaTypes: string[];
}

const REF_ANNOTATIONS = ["io.containerd.image.name", "org.opencontainers.image.ref.name"];

export class LocalImageStore implements ImageStore {
  readonly root: string;
  readonly blobs: BlobStore;
  private readonly platform: Platform;
  private readonly registry: RegistryClient;
  private readonly inFlight = new Map<string, Promise<unknown>>();

  constructor(options: LocalImageStoreOptions = {}) {
    this.root = path.resolve(options.root ?? DEFAULT_IMAGE_ROOT);
    this.platform = options.platform ?? LINUX_AMD64;
    this.blobs = new BlobStore(this.root, this.tmpDir());
    this.registry = new RegistryClient(options.registry ?? {});
  }

  private tmpDir(): string {
    return path.join(this.root, "tmp");
  }

  private recordPath(digest: string): string {
    return path.join(this.root, "images", `${digestHex(digest)}.json`);
  }

  private refPath(ref: string): string {
    return this.refPathByHash(createHash("sha256").update(ref).digest("hex"));
  }

  private refPathByHash(hash: string): string {
    return path.join(this.root, "refs", hash);
  }

  /** Runs `work` once per key at a time within this process; concurrent callers share it. */
  private once<T>(key: string, work: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const started = work().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  private async writeAtomically(file: string, content: string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    const partial = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(partial, content);
    await rename(partial, file);
  }

  /** The record of a stored image, or undefined. */
  async record(digest: string): Promise<ImageRecord | undefined> {
    if (!isDigest(digest)) return undefined;
    const text = await readFile(this.recordPath(digest), "utf8").catch(() => undefined);
    if (text === undefined) return undefined;
    return { ...(JSON.parse(text) as ImageRecord), references: await this.referencesOf(digest) };
  }

  private namesDir(digest: string): string {
    return path.join(this.root, "names", digestHex(digest));
  }

  /**
   * References that currently resolve to `digest`. Each name is its own file (written by rename),
   * so processes adding names concurrently never overwrite each other; a name that has since
   * moved to another digest is skipped.
   */
  private async referencesOf(digest: string): Promise<string[]> {
    const entries = await readdir(this.namesDir(digest)).catch(() => [] as string[]);
    const found: { ref: string; at: number }[] = [];
    for (const entry of entries.filter((e) => !e.endsWith(".tmp"))) {
      const text = await readFile(this.refPathByHash(entry), "utf8").catch(() => undefined);
      if (!text) continue;
      const { ref, digest: target, at } = JSON.parse(text) as { ref: string; digest: string; at?: number };
      if (target === digest) found.push({ ref, at: at ?? 0 });
    }
    return found.sort((a, b) => a.at - b.at || a.ref.localeCompare(b.ref)).map((f) => f.ref);
  }

  private async requireRecord(digest: string): Promise<ImageRecord> {
    digestHex(digest, "image digest");
    const record = await this.record(digest);
    if (!record) throw new ImageError("NOT_FOUND", `image ${digest} is not in the image store at ${this.root}; load or pull it first`);
    return record;
  }

  private publicView(record: ImageRecord): StoredImage {
    return { digest: record.digest, references: record.references, config: record.config, layers: record.layers };
  }

  /** Records `ref` as a name of `digest` (a ref moves to the digest it was last given). */
  private async addReference(record: ImageRecord, ref: string): Promise<ImageRecord> {
    const hash = createHash("sha256").update(ref).digest("hex");
    await this.writeAtomically(path.join(this.namesDir(record.digest), hash), ref);
    await this.writeAtomically(this.refPath(ref), JSON.stringify({ ref, digest: record.digest, at: Date.now() }));
    return { ...record, references: await this.referencesOf(record.digest) };
  }

  /** Looks a reference or digest up without pulling. */
  async lookup(ref: string): Promise<StoredImage | undefined> {
    if (isDigest(ref)) {
      const record = await this.record(ref);
      return record && this.publicView(record);
    }
    const text = await readFile(this.refPath(ref), "utf8").catch(() => undefined);
    if (text === undefined) return undefined;
    const { digest } = JSON.parse(text) as { digest: string };
    const record = await this.record(digest);
    return record && this.publicView(record);
  }

  async get(ref: string): Promise<StoredImage> {
    if (typeof ref !== "string" || ref.trim() === "") throw new ImageError("INVALID_ARGUMENT", "image reference is empty");
    const found = await this.lookup(ref);
    if (found) return found;
    if (isDigest(ref))
      throw new ImageError("NOT_FOUND", `image ${ref} is not in the image store at ${this.root}, and a bare digest names no registry to pull from`);
    return this.once(`pull:${ref}`, async () => {
      const pulled = await this.registry.pull(ref, this.platform, this.blobs);
      const record = await this.registerManifest(pulled.manifestDigest, pulled.manifestMediaType, `registry image ${ref}`);
      return this.publicView(await this.addReference(record, ref));
    });
  }

  async loadOciLayout(dir: string, ref?: string): Promise<StoredImage> {
    const layoutFile = await readFile(path.join(dir, "oci-layout"), "utf8").catch(() => undefined);
    if (layoutFile === undefined) throw new ImageError("INVALID_ARGUMENT", `${dir} is not an OCI image layout (no oci-layout file)`);
    const indexBytes = await readFile(path.join(dir, "index.json")).catch(() => undefined);
    if (!indexBytes) throw new ImageError("INVALID_ARGUMENT", `${dir} is not an OCI image layout (no index.json)`);
    const index = parseIndex(parseJson(indexBytes, `${dir}/index.json`), `${dir}/index.json`);
    const chosen = this.chooseFromLayoutIndex(index.manifests, dir, ref);
    const blobFile = (d: Descriptor) => path.join(dir, "blobs", "sha256", digestHex(d.digest, `${dir} descriptor digest`));
    const importBlob = async (d: Descriptor) => {
      const file = blobFile(d);
      if (
        !(await this.blobs.has(d.digest)) &&
        !(await stat(file).then(
          () => true,
          () => false,
        ))
      ) {
        throw new ImageError("INVALID_ARGUMENT", `OCI layout ${dir} lacks blob ${d.digest} (${d.mediaType})`);
      }
      await this.blobs.writeFile(d.digest, file, d.size);
    };
    // Follow nested indexes (multi-platform layouts) down to one manifest.
    let descriptor = chosen;
    for (let depth = 0; documentKindOfMediaType(descriptor.mediaType) === "index"; depth++) {
      if (depth > 4) throw new Error(`${dir}: image indexes nested too deeply`);
      await importBlob(descriptor);
      const nested = parseIndex(parseJson(await this.blobs.read(descriptor.digest), `index ${descriptor.digest}`), `index ${descriptor.digest}`);
      descriptor = selectPlatform(nested, this.platform, `index ${descriptor.digest} in ${dir}`);
    }
    await importBlob(descriptor);
    const manifest = this.readManifest(await this.blobs.read(descriptor.digest), descriptor.digest);
    await importBlob(manifest.config);
    for (const layer of manifest.layers) await importBlob(layer);
    let record = await this.registerManifest(descriptor.digest, manifest.mediaType ?? descriptor.mediaType, `OCI layout ${dir}`);
    const names = new Set<string>();
    if (ref) names.add(ref);
    for (const key of REF_ANNOTATIONS) {
      const name = chosen.annotations?.[key];
      if (name && (key !== "org.opencontainers.image.ref.name" || name.includes(":") || name.includes("/"))) names.add(name);
    }
    for (const name of names) record = await this.addReference(record, name);
    return this.publicView(record);
  }

  private chooseFromLayoutIndex(manifests: Descriptor[], dir: string, ref?: string): Descriptor {
    if (manifests.length === 0) throw new ImageError("INVALID_ARGUMENT", `OCI layout ${dir} has an empty index.json`);
    if (ref !== undefined) {
      const tag = ref.includes(":") ? ref.slice(ref.lastIndexOf(":") + 1) : ref;
      const named = manifests.filter((m) =>
        REF_ANNOTATIONS.some((key) => m.annotations?.[key] === ref || (key === "org.opencontainers.image.ref.name" && m.annotations?.[key] === tag)),
      );
      if (named.length >= 1) return named[0]!;
      if (manifests.length === 1) return manifests[0]!;
      const offered = manifests.map((m) => m.annotations?.["org.opencontainers.image.ref.name"] ?? m.digest).join(", ");
      throw new ImageError("NOT_FOUND", `OCI layout ${dir} has no image named "${ref}" (it has: ${offered})`);
    }
    if (manifests.length === 1) return manifests[0]!;
    return selectPlatform({ schemaVersion: 2, manifests }, this.platform, `OCI layout ${dir} (give a ref to choose among ${manifests.length} images)`);
  }

  private readManifest(bytes: Buffer, digest: string): ImageManifest {
    const value = parseJson(bytes, `manifest ${digest}`);
    if (documentKind(value, `manifest ${digest}`) !== "manifest") throw new Error(`${digest} is an index, not an image manifest`);
    return parseManifest(value, `manifest ${digest}`);
  }

  /** Checks that manifest, config and layers are all stored, then writes the image record. */
  private async registerManifest(manifestDigest: string, mediaType: string, source: string): Promise<ImageRecord> {
    const existing = await this.record(manifestDigest);
    if (existing) return existing;
    const manifest = this.readManifest(await this.blobs.read(manifestDigest), manifestDigest);
    const configFile = parseConfigFile(
      parseJson(await this.blobs.read(manifest.config.digest), `config ${manifest.config.digest}`),
      `config ${manifest.config.digest} of ${source}`,
    );
    if (configFile.rootfs.diff_ids.length !== manifest.layers.length) {
      throw new Error(`${source}: manifest has ${manifest.layers.length} layers but config lists ${configFile.rootfs.diff_ids.length} diff_ids`);
    }
    for (const layer of manifest.layers) {
      if (!(await this.blobs.has(layer.digest))) throw new Error(`${source}: layer ${layer.digest} is missing`);
    }
    // references are not stored in the record; record() reads them from names/.
    const record: ImageRecord = {
      digest: manifestDigest,
      references: [],
      config: imageConfigOf(configFile),
      layers: manifest.layers.map((l) => l.digest),
      manifestMediaType: mediaType,
      configDigest: manifest.config.digest,
      diffIds: configFile.rootfs.diff_ids,
      layerMediaTypes: manifest.layers.map((l) => l.mediaType),
    };
    await this.writeAtomically(this.recordPath(manifestDigest), JSON.stringify(record, null, 2));
    return record;
  }

  async loadTarball(file: string, ref?: string): Promise<StoredImage> {
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) throw new ImageError("INVALID_ARGUMENT", `image tarball ${file} does not exist or is not a file`);
    await mkdir(this.tmpDir(), { recursive: true });
    await assertOnlyFilesAndDirectories(file);
    const dir = await mkdtemp(path.join(this.tmpDir(), "tarball-"));
    try {
      // GNU tar detects gzip/zstd by itself, strips leading "/" and refuses ".." members.
      await runCommand("tar", ["--extract", "--file", file, "--directory", dir, "--no-same-owner", "--no-same-permissions"]).catch((error: Error) => {
        throw new Error(`cannot unpack image tarball ${file}: ${error.message}`);
      });
      if (
        !(await stat(path.join(dir, "oci-layout")).then(
          () => true,
          () => false,
        ))
      ) {
        throw new ImageError("INVALID_ARGUMENT", `image tarball ${file} is not an OCI image layout archive (no oci-layout file at its top)`);
      }
      return await this.loadOciLayout(dir, ref);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async rootfs(digest: string): Promise<string> {
    const record = await this.requireRecord(digest);
    const final = path.join(this.root, "rootfs", digestHex(digest));
    if (
      await stat(path.join(final, ".vhimg-complete")).then(
        () => true,
        () => false,
      )
    )
      return path.join(final, "rootfs");
    return this.once(`rootfs:${digest}`, async () => {
      await mkdir(path.dirname(final), { recursive: true });
      await mkdir(this.tmpDir(), { recursive: true });
      const work = await mkdtemp(path.join(this.tmpDir(), "rootfs-"));
      try {
        const rootfs = path.join(work, "rootfs");
        await mkdir(rootfs, { mode: 0o755 });
        for (const [i, layer] of record.layers.entries()) {
          await applyLayer(rootfs, {
            blobPath: this.blobs.path(layer),
            digest: layer,
            compression: layerCompression(record.layerMediaTypes[i] ?? "", `layer ${layer}`),
            diffId: record.diffIds[i] ?? "",
          });
        }
        await writeFile(path.join(work, ".vhimg-complete"), `${digest}\n`);
        // mkdtemp made it 0700; sandboxes running as other users must be able to reach the rootfs.
        await chmod(work, 0o755);
        await rename(work, final).catch(async (error: NodeJS.ErrnoException) => {
          // Another process finished the same digest first; its copy is as good as ours.
          if (error.code !== "ENOTEMPTY" && error.code !== "EEXIST") throw error;
        });
        return path.join(final, "rootfs");
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  }

  async ext4(digest: string): Promise<string> {
    await this.requireRecord(digest);
    const final = path.join(this.root, "ext4", `${digestHex(digest)}.ext4`);
    if (
      await stat(final).then(
        () => true,
        () => false,
      )
    )
      return final;
    return this.once(`ext4:${digest}`, async () => {
      const rootfs = await this.rootfs(digest);
      await mkdir(path.dirname(final), { recursive: true });
      await mkdir(this.tmpDir(), { recursive: true });
      const work = await mkdtemp(path.join(this.tmpDir(), "ext4-"));
      try {
        const image = path.join(work, "rootfs.ext4");
        await buildExt4Image(rootfs, image);
        await rename(image, final);
        return final;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  }

  /**
   * An OCI layout tarball of a stored image, named `name` in its index (what `ctr images import`
   * reads), built once per digest and name.
   */
  async ociArchive(digest: string, name?: string): Promise<string> {
    const record = await this.requireRecord(digest);
    const imageName = name ?? record.references[0] ?? "";
    const tag = createHash("sha256").update(imageName).digest("hex").slice(0, 12);
    const final = path.join(this.root, "archives", `${digestHex(digest)}-${tag}.tar`);
    if (
      await stat(final).then(
        () => true,
        () => false,
      )
    )
      return final;
    return this.once(`archive:${digest}:${imageName}`, async () => {
      await mkdir(path.dirname(final), { recursive: true });
      await mkdir(this.tmpDir(), { recursive: true });
      const work = await mkdtemp(path.join(this.tmpDir(), "archive-"));
      try {
        const layout = path.join(work, "layout");
        await mkdir(path.join(layout, "blobs", "sha256"), { recursive: true });
        for (const blob of [record.digest, record.configDigest, ...record.layers]) {
          const target = path.join(layout, "blobs", "sha256", digestHex(blob));
          if (
            !(await stat(target).then(
              () => true,
              () => false,
            ))
          )
            await link(this.blobs.path(blob), target);
        }
        const manifestSize = (await stat(this.blobs.path(record.digest))).size;
        const annotations = imageName ? { "io.containerd.image.name": imageName, "org.opencontainers.image.ref.name": imageName } : undefined;
        await writeFile(path.join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
        await writeFile(
          path.join(layout, "index.json"),
          JSON.stringify({
            schemaVersion: 2,
            manifests: [{ mediaType: record.manifestMediaType, digest: record.digest, size: manifestSize, ...(annotations ? { annotations } : {}) }],
          }),
        );
        const archive = path.join(work, "image.tar");
        await runCommand("tar", ["--create", "--file", archive, "--directory", layout, "--sort=name", "--owner=0", "--group=0", "--numeric-owner", "."]);
        await rename(archive, final);
        return final;
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    });
  }

  /** Every stored image. */
  async list(): Promise<StoredImage[]> {
    const names = await readdir(path.join(this.root, "images")).catch(() => [] as string[]);
    const images: StoredImage[] = [];
    for (const name of names.filter((n) => n.endsWith(".json"))) {
      const record = await this.record(`sha256:${name.slice(0, -5)}`);
      if (record) images.push(this.publicView(record));
    }
    return images;
  }
}

/**
 * An OCI layout archive holds only files and directories; links or devices in one are refused
 * before anything is extracted (a link could redirect a later member outside the target).
 */
async function assertOnlyFilesAndDirectories(file: string): Promise<void> {
  const head = Buffer.alloc(4);
  const handle = await open(file, "r");
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const source = createReadStream(file);
  let stream: Readable = source;
  if (head[0] === 0x1f && head[1] === 0x8b) stream = source.pipe(createGunzip());
  else if (head.readUInt32LE(0) === 0xfd2fb528)
    throw new ImageError("INVALID_ARGUMENT", `image tarball ${file} is zstd-compressed; give it uncompressed or gzip-compressed`);
  try {
    for await (const entry of readTarEntries(stream)) {
      if (entry.type !== "file" && entry.type !== "directory") {
        throw new ImageError(
          "INVALID_ARGUMENT",
          `image tarball ${file} contains ${entry.type} "${entry.path}"; an OCI layout archive holds only files and directories`,
        );
      }
    }
  } catch (error) {
    const message = (error as Error).message;
    throw new ImageError("INVALID_ARGUMENT", message.startsWith("image tarball") ? message : `image tarball ${file} is not a readable tar archive: ${message}`);
  } finally {
    source.destroy();
  }
}

function documentKindOfMediaType(mediaType: string): "index" | "manifest" {
  return mediaType === "application/vnd.oci.image.index.v1+json" || mediaType === "application/vnd.docker.distribution.manifest.list.v2+json"
    ? "index"
    : "manifest";
}
