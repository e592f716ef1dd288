// Checksums of the files the hosts download, completed before the program declares anything: the
// stack's and the built-in table's first, then the lock's; at `pulumi up`, the rest from upstream's
// checksum files (or the first download, where upstream publishes none), recorded in the lock.
// A preview downloads nothing: a file still without a checksum keeps its step's "missing checksum"
// line, which that step would stop on, and a warning says `pulumi up` resolves it.
import * as pulumi from "@pulumi/pulumi";
import { artifactVersion, HOST_ARTIFACTS, upstreamUrl, type HostArtifactName } from "../config/artifacts.js";
import type { ChecksumLock } from "../config/checksum-lock.js";
import { publishedChecksum } from "../config/published-checksums.js";
import { lockedChecksum, resolveRunTimeChecksum, type FileFetcher } from "../config/run-time-checksum.js";
import type { StackConfig } from "../config/schema.js";
import { hostBootstrapSteps, kindInstallStep, nodeRuntimeStep } from "../host-steps/index.js";

const MISSING = /^missing_checksum 'checksums\.([A-Za-z]+):/gm;

/**
 * The host artifacts this stack downloads that have no checksum yet, found in the scripts the
 * stack's steps really run (a host that runs sandboxes has every step a control plane has).
 */
export function unpinnedHostArtifacts(config: StackConfig): HostArtifactName[] {
  const scripts = [
    ...hostBootstrapSteps(config, { name: "any", runsSandbox: true }),
    nodeRuntimeStep(config, { bundlePath: "", bundleSha256: "", criSocket: "" }),
    ...(config.target === "kind" ? [kindInstallStep(config)] : []),
  ].map((s) => s.create);
  const names = new Set<HostArtifactName>();
  for (const script of scripts)
    for (const match of script.matchAll(MISSING)) {
      const name = match[1] as HostArtifactName;
      if (!HOST_ARTIFACTS.includes(name)) throw new Error(`internal: a step names an unknown artifact ${name}`);
      names.add(name);
    }
  return [...names].sort();
}

export interface HostChecksumOptions {
  readonly lock: ChecksumLock;
  readonly fetcher: FileFetcher;
  /** A preview: only the lock is read. */
  readonly dryRun: boolean;
}

/** The stack config with every host download's checksum it can have now filled in `checksums`. */
export async function withHostChecksums(config: StackConfig, options: HostChecksumOptions): Promise<StackConfig> {
  const found: Partial<Record<HostArtifactName, string>> = {};
  for (const name of unpinnedHostArtifacts(config)) {
    const version = artifactVersion(name, config.versions);
    const url = upstreamUrl(name, version);
    const locked = lockedChecksum(options.lock, url);
    if (locked) found[name] = locked;
    else if (!options.dryRun) {
      const published = publishedChecksum(name, version);
      const resolved = await resolveRunTimeChecksum(
        { setting: `checksums.${name}`, url, ...(published ? { published } : {}), ...(config.artifactMirror ? { artifactMirror: config.artifactMirror } : {}) },
        options.lock,
        options.fetcher,
      );
      found[name] = resolved.checksum;
      if (resolved.bytes)
        pulumi.log.warn(
          `${name} ${version}: upstream publishes no checksum; recorded the first download's (${resolved.checksum}) in ${options.lock.path}: commit it`,
        );
    }
  }
  return Object.keys(found).length === 0 ? config : { ...config, checksums: { ...config.checksums, ...found } };
}
