// The node runtime's own lock file, cut from the repository's: the runtime is an npm workspace
// (node-runtime/package.json) whose packages sit hoisted in the root lock beside the provisioner's.
// The bundle installs from this cut with `npm ci`, so workers get exactly the versions the
// repository pins, and the bundle's digest covers only what it ships (bumping a provisioner or test
// dependency does not redeploy the runtime).
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The workspace folder of the node runtime, relative to the repository root. */
export const RUNTIME_WORKSPACE = "node-runtime";

interface LockEntry {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  optional?: boolean;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  link?: boolean;
  integrity?: string;
  [key: string]: unknown;
}

interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockEntry>;
}

export interface RuntimePackage {
  readonly name: string;
  readonly version: string;
  readonly dependencies: Record<string, string>;
}

export function readRuntimePackage(repoRoot: string): RuntimePackage {
  const path = join(repoRoot, RUNTIME_WORKSPACE, "package.json");
  const pkg = JSON.parse(readFileSync(path, "utf8")) as Partial<RuntimePackage>;
  if (typeof pkg.name !== "string" || typeof pkg.version !== "string") throw new Error(`${path}: needs a name and a version`);
  return { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies ?? {} };
}

/** Lock paths Node would look at for `name` required from the package at `from`, nearest first. */
function candidates(from: string, name: string): string[] {
  const paths: string[] = [];
  let base = from;
  for (;;) {
    paths.push(base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`);
    if (base === "") return paths;
    const cut = base.lastIndexOf("/node_modules/");
    // The workspace folder and top-level packages resolve next from the root.
    base = cut < 0 ? "" : base.slice(0, cut);
  }
}

/** Where an entry of the root lock goes in the runtime's own tree. */
function relocate(path: string): string {
  return path.startsWith(`${RUNTIME_WORKSPACE}/`) ? path.slice(RUNTIME_WORKSPACE.length + 1) : path;
}

/**
 * The runtime's lock (version 3): its package as the root, and every package its dependencies
 * reach in the repository's lock, with their integrity hashes, moved out of the workspace folder.
 * Throws naming the package when the repository's lock lacks one (run `npm install`).
 */
export function runtimeLock(repoRoot: string): { packageJson: RuntimePackage; lock: Lockfile } {
  const runtime = readRuntimePackage(repoRoot);
  const root = JSON.parse(readFileSync(join(repoRoot, "package-lock.json"), "utf8")) as Lockfile;
  if (root.lockfileVersion < 2) throw new Error("package-lock.json: lockfileVersion 2 or later is needed (run npm install with npm 7 or later)");
  const packages: Record<string, LockEntry> = {
    "": { name: runtime.name, version: runtime.version, dependencies: runtime.dependencies },
  };
  const origins = new Map<string, string>();
  const visit = (from: string, deps: Record<string, string>, optional: (name: string) => boolean): void => {
    for (const name of Object.keys(deps).sort()) {
      const found = candidates(from, name).find((path) => root.packages[path] && !root.packages[path]!.link);
      if (!found) {
        if (optional(name)) continue;
        throw new Error(`package-lock.json has no entry for ${name} (needed by ${from || "the root"}): run npm install`);
      }
      const target = relocate(found);
      const previous = origins.get(target);
      if (previous === found) continue;
      if (previous !== undefined) throw new Error(`node runtime lock: ${previous} and ${found} would both install at ${target}`);
      origins.set(target, found);
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...entry } = root.packages[found]!;
      packages[target] = entry;
      visit(found, { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies }, (dep) =>
        Boolean(entry.optionalDependencies?.[dep] !== undefined || entry.peerDependenciesMeta?.[dep]?.optional || entry.peerDependencies?.[dep] !== undefined),
      );
    }
  };
  visit(RUNTIME_WORKSPACE, runtime.dependencies, () => false);
  const sorted = Object.fromEntries(
    Object.keys(packages)
      .sort()
      .map((path) => [path, packages[path]!]),
  );
  return { packageJson: runtime, lock: { name: runtime.name, version: runtime.version, lockfileVersion: 3, requires: true, packages: sorted } as Lockfile };
}
