import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import type { ImageStore } from "#node-runtime/images/types.js";
import { NamespaceNetworkPool, type NamespaceNetworkPoolOptions } from "#node-runtime/network/namespace-pool.js";
import type { SandboxSetup } from "../driver.js";
import { FirecrackerDriver, type FirecrackerDriverOptions } from "./driver.js";
import { buildGuestInit } from "./guest-init/build.js";
import { ReapUffdLauncher } from "./reap-uffd-launcher.js";
import type { UffdHandlerLauncher } from "./uffd-seam.js";

export interface FirecrackerSandboxOptions {
  images: Pick<ImageStore, "ext4">;
  /** The runtime's data dir; everything goes under `<dataDir>/firecracker/`. */
  dataDir: string;
  firecrackerBin: string;
  kernelPath: string;
  /** Every VM under the jailer (uid/gid ≥ 1: a jail must not run as root). */
  jailer?: FirecrackerDriverOptions["jailer"];
  bootArgs?: string;
  snapshotType?: FirecrackerDriverOptions["snapshotType"];
  /** Network slots: the served runtime passes its config's prefix and size; tests their own block. */
  network: Partial<NamespaceNetworkPoolOptions> & Pick<NamespaceNetworkPoolOptions, "namePrefix" | "size">;
  /** REAP restores through node-runtime/memory's userfaultfd handler. Default on, with its default threshold. */
  reap?: false | { rerecordThreshold?: number };
  /**
   * The page-fault handler REAP restores use instead of `new ReapUffdLauncher(reap)` (an embedder's
   * own, or one a test wraps to end it mid-restore). Ignored when `reap` is false.
   */
  uffd?: UffdHandlerLauncher;
  apiStartTimeoutMs?: number;
}

export interface FirecrackerSandbox extends SandboxSetup {
  readonly driver: FirecrackerDriver;
  readonly pool: NamespaceNetworkPool;
}

/**
 * Builds Firecracker as the served runtime runs it (orchestrator/sandbox-factories.ts calls this
 * with the runtime config; the tests call it too): checks the binaries and kernel, builds the
 * guest init, the driver (jailer, snapshot type and REAP handler as configured), reclaims the VMs a
 * predecessor left, then builds the network pool.
 *
 * VMs do not outlive the runtime that started them: the pool rebuilds every slot at start, so a
 * VM found running would have lost its network. reclaimStale() kills them and deletes their files;
 * the orchestrator then reports those instances as exited.
 */
export async function createFirecrackerSandbox(opts: FirecrackerSandboxOptions): Promise<FirecrackerSandbox> {
  const files: [string, string, number][] = [
    ["firecrackerBin", opts.firecrackerBin, constants.X_OK],
    ["firecrackerKernel", opts.kernelPath, constants.R_OK],
    ...(opts.jailer ? [["jailer.bin", opts.jailer.jailerBin, constants.X_OK] as [string, string, number]] : []),
  ];
  for (const [field, file, mode] of files) {
    await access(file, mode).catch(() => {
      throw new Error(`sandbox firecracker: ${field} ${file} does not exist or is not ${mode === constants.X_OK ? "executable" : "readable"}`);
    });
  }
  if (opts.jailer && (opts.jailer.uid < 1 || opts.jailer.gid < 1)) {
    throw new Error(
      `sandbox firecracker: jailer.uid and jailer.gid must be ≥ 1 (got ${opts.jailer.uid}:${opts.jailer.gid}); a jail running as root protects nothing`,
    );
  }
  const home = join(opts.dataDir, "firecracker");
  const driver = new FirecrackerDriver({
    firecrackerBin: opts.firecrackerBin,
    kernelPath: opts.kernelPath,
    images: opts.images,
    guestInitBinary: await buildGuestInit(join(home, "guest-init")),
    runDir: join(home, "vms"),
    ...(opts.jailer !== undefined ? { jailer: opts.jailer } : {}),
    ...(opts.bootArgs !== undefined ? { bootArgs: opts.bootArgs } : {}),
    ...(opts.snapshotType !== undefined ? { snapshotType: opts.snapshotType } : {}),
    ...(opts.apiStartTimeoutMs !== undefined ? { apiStartTimeoutMs: opts.apiStartTimeoutMs } : {}),
    ...(opts.reap === false ? {} : { uffd: opts.uffd ?? new ReapUffdLauncher(opts.reap ?? {}) }),
  });
  // This runtime owns its directories and name prefix: whatever a predecessor left goes.
  await driver.reclaimStale();
  const pool = await NamespaceNetworkPool.create({ reclaimStale: true, ...opts.network });
  return { driver, pool, dispose: () => pool.destroy() };
}
