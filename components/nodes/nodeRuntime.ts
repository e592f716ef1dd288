// NodeRuntime: ships the node runtime built from this repository to every worker and runs it as
// a systemd service. The bundle (the runtime compiled to JavaScript, with its production
// dependencies) is packed once on the Pulumi machine, copied to each worker, and installed by a
// step that checks its sha256 and waits for the service's health endpoint.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { CopyToHost, HostCommand, LocalCommand, type ConnectionArgs } from "../provider/index.js";
import type { StackConfig } from "../config/schema.js";
import { nodeRuntimeStep } from "../hostSteps/index.js";
import { q } from "../scripts/shell.js";
import { remoteStep } from "./stepCommands.js";
import { warnMissingChecksums } from "./missingChecksums.js";

export interface NodeRuntimeWorker {
  readonly name: string;
  readonly connection: pulumi.Input<ConnectionArgs>;
  readonly criSocket: string;
  /** The worker's bootstrap steps after which sandboxes can run (containerd, kernel settings). */
  readonly after: readonly pulumi.Resource[];
}

export interface NodeRuntimeArgs {
  readonly config: StackConfig;
  readonly workers: readonly NodeRuntimeWorker[];
  /** Repository root (where package.json and node-runtime/ are). */
  readonly repoRoot: string;
  /** Serve each runtime's gRPC API on this TCP port (node-runtime-only hosts). */
  readonly apiPort?: number;
}

/** Files the bundle is built from. */
export const BUNDLE_SOURCES = ["package.json", "package-lock.json", "tsconfig.json", "node-runtime"];

/** Bumped when the bundle's layout changes (what is compiled, how), so cached bundles are rebuilt. */
const BUNDLE_FORMAT = "js-1";

/** sha256 over the bundle's source files and format, so the bundle is rebuilt exactly when they change. */
export function sourceDigest(repoRoot: string): string {
  const hash = createHash("sha256").update(`${BUNDLE_FORMAT}\0`);
  const visit = (path: string): void => {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return;
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (entry !== "node_modules" && entry !== "build") visit(join(path, entry));
    } else {
      hash.update(relative(repoRoot, path)).update("\0").update(readFileSync(path)).update("\0");
    }
  };
  for (const source of BUNDLE_SOURCES) visit(join(repoRoot, source));
  return hash.digest("hex");
}

/** The esbuild executable of the provisioner's own dependencies, which compiles the runtime. */
export function esbuildExecutable(): string {
  return createRequire(import.meta.url).resolve("esbuild/bin/esbuild");
}

const IMPORT = /(?:from|import)\s*\(?\s*"([^".][^"]*)"/g;

/** npm package name of a bare import specifier (`@scope/name/sub` → `@scope/name`). */
function packageOf(specifier: string): string {
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? parts.slice(0, 2).join("/") : parts[0]!;
}

/**
 * The dependencies the node runtime imports (its non-test sources): the bundle's package.json
 * keeps only these, so workers do not get the provisioner's own dependencies (Pulumi, Kubernetes
 * SDKs, the TypeScript tooling) or the benchmarks' plotting libraries.
 */
export function runtimeDependencies(repoRoot: string): Record<string, string> {
  const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { dependencies?: Record<string, string> };
  const declared = pkg.dependencies ?? {};
  const used = new Set<string>();
  const visit = (path: string): void => {
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== "node_modules" && entry !== "build") visit(join(path, entry));
    } else if (path.endsWith(".ts") && !path.endsWith(".test.ts")) {
      for (const match of readFileSync(path, "utf8").matchAll(IMPORT)) if (!match[1]!.startsWith("node:")) used.add(packageOf(match[1]!));
    }
  };
  visit(join(repoRoot, "node-runtime"));
  return Object.fromEntries([...used].filter((name) => name in declared).sort().map((name) => [name, declared[name]!]));
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
  const manifest = JSON.stringify({ name: "vhive-node-runtime", private: true, type: "module", dependencies: runtimeDependencies(repoRoot) });
  return [
    "set -euo pipefail",
    `out="${out}"`,
    `if [ ! -f "$out" ]; then`,
    `  stage="$(mktemp -d)"`,
    `  trap 'rm -rf "$stage"' EXIT`,
    `  tar -C ${q(repoRoot)} --exclude=node_modules --exclude=build --exclude='*.test.ts' -cf - ${BUNDLE_SOURCES.join(" ")} | tar -C "$stage" -xf -`,
    `  # Only the runtime's own dependencies, at the versions the repository's lockfile pins.`,
    `  printf '%s\\n' ${q(manifest)} >"$stage/package.json"`,
    `  (cd "$stage" && npm install --omit=dev --ignore-scripts --no-audit --no-fund >/dev/null)`,
    `  # Debian bookworm's nodejs (18) is the oldest node a worker may run it with.`,
    `  find "$stage/node-runtime" -name '*.ts' -print0 |`,
    `    xargs -0 ${q(esbuild)} --log-level=warning --platform=node --format=esm --target=node18 --outbase="$stage" --outdir="$stage"`,
    `  find "$stage/node-runtime" -name '*.ts' -delete`,
    `  rm -f "$stage/tsconfig.json"`,
    `  mkdir -p "$(dirname "$out")"`,
    `  tmp="$(mktemp "$out.XXXXXX")"`,
    `  tar -C "$stage" -czf "$tmp" . && mv "$tmp" "$out"`,
    `fi`,
    `echo "$out $(sha256sum "$out" | cut -d' ' -f1)"`,
    "",
  ].join("\n");
}

export class NodeRuntime extends pulumi.ComponentResource {
  /** The install step per worker; kubelet on a firecracker worker must wait for it. */
  readonly ready: Readonly<Record<string, HostCommand>>;
  readonly bundleSha256: pulumi.Output<string>;

  constructor(name: string, args: NodeRuntimeArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:nodes:NodeRuntime", name, {}, opts);
    const digest = sourceDigest(args.repoRoot);
    if (args.workers.length > 0)
      warnMissingChecksums([nodeRuntimeStep(args.config, { bundlePath: "", bundleSha256: "", criSocket: args.workers[0]!.criSocket })], this);
    const bundle = new LocalCommand(
      `${name}-bundle`,
      { create: bundleScript(args.repoRoot, digest, bundleOwner()), delete: bundleDeleteScript(digest, bundleOwner()), triggers: [digest] },
      { parent: this },
    );
    const parsed = bundle.stdout.apply((stdout) => {
      const [path = "", sha = ""] = stdout.trim().split(/\s+/);
      return { path, sha };
    });
    this.bundleSha256 = parsed.apply((b) => b.sha);
    const remotePath = `/tmp/vhive-node-runtime-${digest.slice(0, 16)}.tgz`;
    const ready: Record<string, HostCommand> = {};
    for (const worker of args.workers) {
      const copy = new CopyToHost(
        `${worker.name}-node-runtime-copy`,
        {
          connection: worker.connection,
          hostName: worker.name,
          source: parsed.apply((b) => b.path),
          remotePath,
          triggers: [parsed.apply((b) => b.sha)],
        },
        // A file into /tmp needs nothing set up on the host: it travels while the host is bootstrapped.
        { parent: this },
      );
      const step = parsed.apply((b) =>
        nodeRuntimeStep(args.config, {
          bundlePath: remotePath,
          bundleSha256: b.sha,
          criSocket: worker.criSocket,
          ...(args.apiPort ? { apiPort: args.apiPort } : {}),
        }),
      );
      ready[worker.name] = remoteStep(worker.name, step, { connection: worker.connection, parent: this, dependsOn: [copy, ...worker.after] }, "node-runtime");
    }
    this.ready = ready;
    this.registerOutputs({ bundleSha256: this.bundleSha256 });
  }
}
