import { join } from "node:path";
import type { ImageStore } from "../../images/types.js";
import { NamespaceNetworkPool, type NamespaceNetworkPoolOptions } from "../../network/namespace-pool.js";
import { FirecrackerDriver, type FirecrackerDriverOptions } from "./driver.js";
import { buildGuestInit } from "./guest-init/build.js";
import { ReapUffdLauncher } from "./reap-uffd-launcher.js";

export interface FirecrackerSandboxOptions {
  images: Pick<ImageStore, "ext4">;
  /** The runtime's data dir; everything goes under `<dataDir>/firecracker/`. */
  dataDir: string;
  firecrackerBin: string;
  kernelPath: string;
  jailer?: FirecrackerDriverOptions["jailer"];
  bootArgs?: string;
  snapshotType?: FirecrackerDriverOptions["snapshotType"];
  /** Network slots; vHive's netPoolSize default is 10, its names here default to prefix `vhnet`. */
  network?: Partial<NamespaceNetworkPoolOptions>;
  /** REAP restores through node-runtime/memory's userfaultfd handler. Default true. */
  reap?: boolean;
}

export interface FirecrackerSandbox {
  driver: FirecrackerDriver;
  pool: NamespaceNetworkPool;
  /** Destroys the network pool; stop the VMs first. */
  dispose(): Promise<void>;
}

/** Builds what the orchestrator needs for Firecracker: the guest init, the network pool, the driver. */
export async function createFirecrackerSandbox(opts: FirecrackerSandboxOptions): Promise<FirecrackerSandbox> {
  const home = join(opts.dataDir, "firecracker");
  const guestInitBinary = await buildGuestInit(join(home, "guest-init"));
  const driver = new FirecrackerDriver({
    firecrackerBin: opts.firecrackerBin,
    kernelPath: opts.kernelPath,
    images: opts.images,
    guestInitBinary,
    runDir: join(home, "vms"),
    ...(opts.jailer !== undefined ? { jailer: opts.jailer } : {}),
    ...(opts.bootArgs !== undefined ? { bootArgs: opts.bootArgs } : {}),
    ...(opts.snapshotType !== undefined ? { snapshotType: opts.snapshotType } : {}),
    ...(opts.reap === false ? {} : { uffd: new ReapUffdLauncher() }),
  });
  // This runtime owns its directories and name prefix: whatever a crashed predecessor left goes.
  await driver.reclaimStale();
  const pool = await NamespaceNetworkPool.create({ namePrefix: "vhnet", size: 10, reclaimStale: true, ...opts.network });
  return { driver, pool, dispose: () => pool.destroy() };
}
