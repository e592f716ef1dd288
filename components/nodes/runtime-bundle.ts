// The node runtime bundle: the runtime workspace (node-runtime/) compiled to JavaScript, with its
// production dependencies installed from its own cut of the lock file, packed once on the Pulumi
// machine and named by a digest of exactly what it ships.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { q } from "../scripts/shell.js";
import { RUNTIME_WORKSPACE, runtimeLock } from "./runtime-lock.js";

/** Bumped when the bundle's layout changes (what is compiled, how), so cached bundles are rebuilt. */
const BUNDLE_FORMAT = "js-2";

/** The runtime's package.json and lock as the bundle installs them (scripts and all else dropped). */
function bundleManifests(repoRoot: string): { packageJson: string; lock: string } {
  const { packageJson, lock } = runtimeLock(repoRoot);
  return {
    packageJson: JSON.stringify({
      name: packageJson.name,
      version: packageJson.version,
      private: true,
      type: "module",
      dependencies: packageJson.dependencies,
    }),
    lock: JSON.stringify(lock),
  };
}

/**
 * sha256 over the runtime's sources (tests excluded), its cut of the lock and the bundle format,
 * so the bundle is rebuilt exactly when what it ships changes.
 */
export function sourceDigest(repoRoot: string): string {
  const hash = createHash("sha256").update(`${BUNDLE_FORMAT}\0`);
  const visit = (path: string): void => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (entry !== "node_modules" && entry !== "build") visit(join(path, entry));
    } else if (!path.endsWith(".test.ts")) {
      hash.update(relative(repoRoot, path)).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  visit(join(repoRoot, RUNTIME_WORKSPACE));
  const manifests = bundleManifests(repoRoot);
  return hash.update(manifests.packageJson).update("\0").update(manifests.lock).digest("hex");
}

/** The esbuild executable of the provisioner's own dependencies, which compiles the runtime. */
export function esbuildExecutable(): string {
  return createRequire(import.meta.url).resolve("esbuild/bin/esbuild");
}

/** The stack a bundle belongs to, so two stacks on one machine never share (or delete) one file. */
export function bundleOwner(): string {
  return `${pulumi.getProject()}-${pulumi.getStack()}`.replace(/[^A-Za-z0-9._-]/g, "_");
}

/** Where the bundle is cached on the Pulumi machine. */
function bundlePath(digest: string, owner: string): string {
  return `\${XDG_CACHE_HOME:-$HOME/.cache}/vhive/node-runtime-${owner}-${digest.slice(0, 16)}.tgz`;
}

/** Undo of the bundle: the stack's cached tarball is removed with the stack. */
export function bundleDeleteScript(digest: string, owner: string): string {
  return `rm -f "${bundlePath(digest, owner)}"\n`;
}

/**
 * The local script that packs the bundle and prints its path and sha256. The runtime is compiled
 * here, file by file, each .js beside the files it reads by relative path (protos, C sources):
 * workers run plain node, with no compiler and none of this machine's platform binaries.
 */
export function bundleScript(repoRoot: string, digest: string, owner: string, esbuild: string = esbuildExecutable()): string {
  const out = bundlePath(digest, owner);
  const manifests = bundleManifests(repoRoot);
  return [
    "set -euo pipefail",
    `out="${out}"`,
    `if [ ! -f "$out" ]; then`,
    `  stage="$(mktemp -d)"`,
    `  trap 'rm -rf "$stage"' EXIT`,
    `  tar -C ${q(repoRoot)} --exclude=node_modules --exclude=build --exclude='*.test.ts' -cf - ${RUNTIME_WORKSPACE} | tar -C "$stage" -xf -`,
    `  # The runtime's own dependencies, exactly as the repository's lock pins them.`,
    `  printf '%s\\n' ${q(manifests.packageJson)} >"$stage/package.json"`,
    `  printf '%s\\n' ${q(manifests.lock)} >"$stage/package-lock.json"`,
    `  (cd "$stage" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)`,
    `  # Debian bookworm's nodejs (18) is the oldest node a worker may run it with.`,
    `  find "$stage/${RUNTIME_WORKSPACE}" -name '*.ts' -print0 |`,
    `    xargs -0 ${q(esbuild)} --log-level=warning --platform=node --format=esm --target=node18 --outbase="$stage" --outdir="$stage"`,
    `  find "$stage/${RUNTIME_WORKSPACE}" -name '*.ts' -delete`,
    `  mkdir -p "$(dirname "$out")"`,
    `  tmp="$(mktemp "$out.XXXXXX")"`,
    `  tar -C "$stage" -czf "$tmp" . && mv "$tmp" "$out"`,
    `fi`,
    `echo "$out $(sha256sum "$out" | cut -d' ' -f1)"`,
    "",
  ].join("\n");
}
