// The OCI image-spec documents the store reads (and their Docker schema-2 equivalents), with
// validation that names the offending field.
import { isDigest } from "./digest.js";
import type { ImageConfig } from "./types.js";

export const MEDIA_TYPES = {
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
} as const;

export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];
export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest];

/** Layer encodings we can apply, by the media type's suffix. */
export type LayerCompression = "none" | "gzip" | "zstd";

export interface Platform {
  architecture: string;
  os: string;
  variant?: string;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: Platform;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  manifests: Descriptor[];
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface ImageConfigFile {
  architecture?: string;
  os?: string;
  config?: {
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    Env?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, object> | null;
  };
  rootfs: { type: string; diff_ids: string[] };
}

export const LINUX_AMD64: Platform = { os: "linux", architecture: "amd64" };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseJson(bytes: Buffer | string, what: string): unknown {
  try {
    return JSON.parse(bytes.toString());
  } catch (error) {
    throw new Error(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export function parseDescriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) throw new Error(`${where} is not a descriptor object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== "string" || mediaType === "") throw new Error(`${where}.mediaType is missing`);
  if (typeof digest !== "string" || !isDigest(digest)) throw new Error(`${where}.digest "${String(digest)}" is not a sha256 digest`);
  if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) throw new Error(`${where}.size is not a non-negative integer`);
  const descriptor: Descriptor = { mediaType, digest, size };
  if (isObject(value.annotations)) descriptor.annotations = value.annotations as Record<string, string>;
  if (isObject(value.platform)) {
    const { architecture, os, variant } = value.platform;
    if (typeof architecture === "string" && typeof os === "string") {
      descriptor.platform = { architecture, os, ...(typeof variant === "string" ? { variant } : {}) };
    }
  }
  return descriptor;
}

/** Returns "index" or "manifest" for a manifest document, from its mediaType or its shape. */
export function documentKind(value: unknown, where: string): "index" | "manifest" {
  if (!isObject(value)) throw new Error(`${where} is not a JSON object`);
  const mediaType = value.mediaType;
  if (typeof mediaType === "string" && INDEX_MEDIA_TYPES.includes(mediaType)) return "index";
  if (typeof mediaType === "string" && MANIFEST_MEDIA_TYPES.includes(mediaType)) return "manifest";
  if (typeof mediaType === "string" && mediaType !== "") throw new Error(`${where} has unsupported mediaType ${mediaType}`);
  if (Array.isArray(value.manifests)) return "index";
  if (Array.isArray(value.layers)) return "manifest";
  throw new Error(`${where} is neither an image index nor an image manifest`);
}

export function parseIndex(value: unknown, where: string): ImageIndex {
  if (!isObject(value) || value.schemaVersion !== 2) throw new Error(`${where}.schemaVersion must be 2`);
  if (!Array.isArray(value.manifests)) throw new Error(`${where}.manifests is missing`);
  return {
    schemaVersion: 2,
    ...(typeof value.mediaType === "string" ? { mediaType: value.mediaType } : {}),
    manifests: value.manifests.map((m, i) => parseDescriptor(m, `${where}.manifests[${i}]`)),
  };
}

export function parseManifest(value: unknown, where: string): ImageManifest {
  if (!isObject(value) || value.schemaVersion !== 2) throw new Error(`${where}.schemaVersion must be 2`);
  if (!Array.isArray(value.layers)) throw new Error(`${where}.layers is missing`);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    config: parseDescriptor(value.config, `${where}.config`),
    layers: value.layers.map((l, i) => parseDescriptor(l, `${where}.layers[${i}]`)),
  };
  if (typeof value.mediaType === "string") manifest.mediaType = value.mediaType;
  for (const [i, layer] of manifest.layers.entries()) layerCompression(layer.mediaType, `${where}.layers[${i}].mediaType`);
  return manifest;
}

export function parseConfigFile(value: unknown, where: string): ImageConfigFile {
  if (!isObject(value)) throw new Error(`${where} is not a JSON object`);
  const rootfs = value.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw new Error(`${where}.rootfs.diff_ids is missing`);
  for (const [i, id] of rootfs.diff_ids.entries()) {
    if (typeof id !== "string" || !isDigest(id)) throw new Error(`${where}.rootfs.diff_ids[${i}] is not a sha256 digest`);
  }
  return value as unknown as ImageConfigFile;
}

export function layerCompression(mediaType: string, where: string): LayerCompression {
  if (/\.tar$|rootfs\.diff\.tar$/.test(mediaType)) return "none";
  if (/tar\+gzip$|\.tar\.gzip$|rootfs\.diff\.tar\.gzip$/.test(mediaType)) return "gzip";
  if (/tar\+zstd$/.test(mediaType)) return "zstd";
  throw new Error(`${where} ${mediaType} is not a layer type we can apply (tar, tar+gzip, tar+zstd)`);
}

/** The start-up parts of an image config, with the OCI defaults filled in. */
export function imageConfigOf(file: ImageConfigFile): ImageConfig {
  const c = file.config ?? {};
  return {
    entrypoint: c.Entrypoint ?? [],
    cmd: c.Cmd ?? [],
    env: c.Env ?? [],
    workingDir: c.WorkingDir || "/",
    user: c.User ?? "",
    exposedPorts: Object.keys(c.ExposedPorts ?? {})
      .map((key) => Number.parseInt(key.split("/")[0] ?? "", 10))
      .filter((port) => Number.isInteger(port)),
  };
}

/** Picks the manifest for `platform` from an index; the error lists what the index offers. */
export function selectPlatform(index: ImageIndex, platform: Platform, where: string): Descriptor {
  const candidates = index.manifests.filter((m) => MANIFEST_MEDIA_TYPES.includes(m.mediaType) || INDEX_MEDIA_TYPES.includes(m.mediaType));
  const match = candidates.find(
    (m) =>
      m.platform?.os === platform.os &&
      m.platform.architecture === platform.architecture &&
      (platform.variant === undefined || m.platform.variant === platform.variant),
  );
  if (match) return match;
  // An index without platform fields (a plain OCI layout) with one manifest means that manifest.
  if (candidates.length === 1 && candidates[0] && !candidates[0].platform) return candidates[0];
  const offered = candidates.map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "unspecified")).join(", ");
  throw new Error(`${where} has no manifest for ${platform.os}/${platform.architecture} (offers: ${offered || "none"})`);
}
