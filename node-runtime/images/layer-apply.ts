// Applies one OCI layer onto a directory: whiteouts and type changes first (they remove what lower
// layers left), then GNU tar writes the members with owners, modes, xattrs, links and devices.
import { ImageError } from "./errors.js";
import { spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink, rm } from "node:fs/promises";
import path from "node:path";
import { Transform, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { DigestCounter } from "./digest.js";
import type { LayerCompression } from "./oci.js";
import { normaliseMemberPath, readTarEntries, type TarEntryType } from "./tar-entries.js";
import { runCommand } from "./run-command.js";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_WHITEOUT = ".wh..wh..opq";

export interface LayerToApply {
  blobPath: string;
  /** Layer digest, for messages. */
  digest: string;
  compression: LayerCompression;
  /** Digest of the uncompressed tar (the config's rootfs.diff_ids entry). */
  diffId: string;
}

interface LayerPlan {
  opaqueDirs: string[];
  whiteouts: string[];
  members: Map<string, TarEntryType>;
}

function decompressed(layer: LayerToApply): Readable {
  if (layer.compression === "zstd") {
    const child = spawn("zstd", ["-dc", layer.blobPath], { stdio: ["ignore", "pipe", "inherit"] });
    child.on("error", (error) => child.stdout.destroy(new Error(`cannot run zstd for layer ${layer.digest}: ${error.message}`)));
    return child.stdout;
  }
  const file = createReadStream(layer.blobPath);
  if (layer.compression === "none") return file;
  const gunzip = createGunzip();
  file.on("error", (error) => gunzip.destroy(error));
  return file.pipe(gunzip);
}

/** Reads the layer once: verifies its diff_id and records whiteouts and members in order. */
async function planLayer(layer: LayerToApply, root: string): Promise<LayerPlan> {
  const counter = new DigestCounter();
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      counter.update(chunk);
      done(null, chunk);
    },
  });
  const source = decompressed(layer);
  const piped = pipeline(source, hashing).catch((error: Error) => {
    throw new Error(`cannot read layer ${layer.digest}: ${error.message}`);
  });
  const plan: LayerPlan = { opaqueDirs: [], whiteouts: [], members: new Map() };
  try {
    for await (const entry of readTarEntries(hashing)) {
      if (entry.path === "") continue;
      const base = path.posix.basename(entry.path);
      const dir = path.posix.dirname(entry.path);
      await assertInsideRoot(root, dir === "." ? "" : dir, plan.members, layer, entry.path);
      if (base === OPAQUE_WHITEOUT) plan.opaqueDirs.push(dir === "." ? "" : dir);
      else if (base.startsWith(WHITEOUT_PREFIX)) {
        plan.whiteouts.push(path.posix.join(dir, base.slice(WHITEOUT_PREFIX.length)));
      } else {
        if (entry.type === "hardlink") {
          // Hard link targets are paths inside the image too: no "..", no detour through links.
          const target = normaliseMemberPath(entry.linkTarget);
          await assertInsideRoot(root, path.posix.dirname(target), plan.members, layer, entry.path);
        }
        plan.members.set(entry.path, entry.type);
      }
    }
  } catch (error) {
    hashing.destroy();
    source.destroy();
    await piped.catch(() => undefined);
    throw new Error(`layer ${layer.digest}: ${(error as Error).message}`);
  }
  await piped;
  const diffId = counter.digest();
  if (diffId !== layer.diffId) {
    throw new ImageError("DATA_LOSS", `layer ${layer.digest} uncompressed digest is ${diffId}, but the image config's diff_id says ${layer.diffId}`);
  }
  return plan;
}

/**
 * GNU tar follows symlinks already on disk when it writes below them, so a member beneath an
 * absolute or escaping symlink would land outside the image root. Relative links that stay
 * inside are followed the same way the container will see them, and are allowed.
 */
async function assertInsideRoot(root: string, relDir: string, members: Map<string, TarEntryType>, layer: LayerToApply, member: string): Promise<void> {
  let parts = relDir === "" || relDir === "." ? [] : relDir.split("/");
  let resolved: string[] = [];
  for (let hops = 0; parts.length > 0; ) {
    const part = parts.shift()!;
    const rel = [...resolved, part].join("/");
    const fromLayer = members.get(rel);
    let link: string | undefined;
    if (fromLayer === "symlink") link = "";
    else if (fromLayer === undefined) {
      const info = await lstat(path.join(root, rel)).catch(() => undefined);
      if (!info) {
        resolved.push(part, ...parts);
        return;
      }
      if (info.isSymbolicLink()) link = await readlink(path.join(root, rel));
    }
    if (link === undefined) {
      resolved.push(part);
      continue;
    }
    if (link === "" || path.posix.isAbsolute(link)) {
      throw new Error(
        `member ${member} of layer ${layer.digest} is written through symlink /${rel}, which is absolute or defined by the same layer; refusing to follow it outside the image root`,
      );
    }
    const joined = path.posix.normalize(path.posix.join(resolved.join("/") || ".", link));
    if (joined === ".." || joined.startsWith("../")) {
      throw new Error(`member ${member} of layer ${layer.digest} is written through symlink /${rel} -> ${link}, which leaves the image root`);
    }
    if (++hops > 40) throw new Error(`too many symlinks resolving /${relDir} for layer ${layer.digest}`);
    parts = [...(joined === "." ? [] : joined.split("/")), ...parts];
    resolved = [];
  }
}

async function removeChildren(dir: string): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return;
  for (const name of await readdir(dir)) await rm(path.join(dir, name), { recursive: true, force: true });
}

function tarFlags(compression: LayerCompression): string[] {
  if (compression === "gzip") return ["--gzip"];
  if (compression === "zstd") return ["--zstd"];
  return [];
}

/** Applies `layer` on top of `root` (which holds the layers below it). */
export async function applyLayer(root: string, layer: LayerToApply): Promise<void> {
  const plan = await planLayer(layer, root);
  for (const dir of plan.opaqueDirs) await removeChildren(path.join(root, dir));
  for (const gone of plan.whiteouts) await rm(path.join(root, gone), { recursive: true, force: true });
  // A member whose type differs from what is on disk replaces it whole (dir <-> non-dir).
  for (const [member, type] of plan.members) {
    const existing = await lstat(path.join(root, member)).catch(() => undefined);
    if (!existing) continue;
    if (type === "directory" ? !existing.isDirectory() : existing.isDirectory()) {
      await rm(path.join(root, member), { recursive: true, force: true });
    }
  }
  await runCommand("tar", [
    "--extract",
    "--file",
    layer.blobPath,
    "--directory",
    root,
    ...tarFlags(layer.compression),
    "--numeric-owner",
    "--same-owner",
    "--same-permissions",
    "--xattrs",
    "--xattrs-include=*",
    `--exclude=${WHITEOUT_PREFIX}*`,
  ]).catch((error: Error) => {
    throw new Error(`cannot apply layer ${layer.digest}: ${error.message}`);
  });
}
