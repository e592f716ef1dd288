import { access } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config/runtime-config.js";
import type { ImageStore } from "../images/types.js";
import type { NetworkPool } from "../network/types.js";
import type { SandboxDriver, SandboxKind } from "../sandbox/driver.js";

export interface SandboxResources {
  images: ImageStore;
  config: RuntimeConfig;
  logger: Logger;
}

export interface BuiltDriver {
  driver: SandboxDriver;
  needsNetwork: boolean;
  /** The network pool the driver's instances take slots from (Firecracker). */
  network?: NetworkPool;
  dispose?: () => Promise<void>;
}

/**
 * Builds the real driver for a sandbox kind from the runtime config. Modules are imported on demand
 * so a node that does not enable, say, containerd never loads its driver.
 */
export async function createSandboxDriver(kind: SandboxKind, res: SandboxResources): Promise<BuiltDriver> {
  const { config } = res;
  switch (kind) {
    case "gvisor": {
      const { GvisorDriver } = await import("../sandbox/gvisor/driver.js");
      return {
        driver: new GvisorDriver(res.images, {
          baseDir: config.gvisorBaseDir,
          // Under the runtime's data, which the provisioner removes with the node runtime.
          relayCacheDir: path.join(config.dataDir, "gvisor-relay"),
          // The driver waits for the function's socket itself; give it the runtime's budget.
          bootTimeoutMs: config.readyTimeoutMs,
          restoreTimeoutMs: config.readyTimeoutMs,
        }),
        needsNetwork: false,
      };
    }
    case "containerd": {
      const { ContainerdDriver } = await import("../sandbox/containerd/driver.js");
      const { LocalImageStore } = await import("../images/image-store.js");
      if (!(res.images instanceof LocalImageStore)) throw new Error("the containerd driver needs the node's LocalImageStore (it imports images from its OCI archives)");
      const driver = new ContainerdDriver({
        address: config.containerdAddress,
        namespace: config.containerdNamespace,
        images: res.images,
        stateDir: path.join(config.dataDir, "containerd"),
      });
      return { driver, needsNetwork: false, dispose: async () => driver.close() };
    }
    case "firecracker": {
      // Defaults: where the provisioner's host steps install them.
      const bin = config.firecrackerBin ?? process.env.FIRECRACKER_BIN ?? "/usr/local/bin/firecracker";
      const kernel = config.firecrackerKernel ?? process.env.FIRECRACKER_KERNEL ?? "/var/lib/vhive/firecracker/vmlinux";
      for (const [what, file] of [["firecrackerBin", bin], ["firecrackerKernel", kernel]] as const) {
        await access(file).catch(() => {
          throw new Error(`sandbox firecracker: ${what} ${file} does not exist (set it in the config, or FIRECRACKER_BIN / FIRECRACKER_KERNEL)`);
        });
      }
      const { FirecrackerDriver } = await import("../sandbox/firecracker/driver.js");
      const { ReapUffdLauncher } = await import("../sandbox/firecracker/reap-uffd-launcher.js");
      const { buildGuestInit } = await import("../sandbox/firecracker/guest-init/build.js");
      const { NamespaceNetworkPool } = await import("../network/namespace-pool.js");
      const network = await NamespaceNetworkPool.create({ namePrefix: config.networkPrefix, size: config.networkPoolSize, reclaimStale: true });
      try {
        const driver = new FirecrackerDriver({
          firecrackerBin: bin,
          kernelPath: kernel,
          images: res.images,
          guestInitBinary: await buildGuestInit(path.join(config.dataDir, "firecracker", "init")),
          runDir: path.join(config.dataDir, "firecracker", "vms"),
          uffd: new ReapUffdLauncher(),
        });
        return { driver, needsNetwork: true, network, dispose: () => network.destroy() };
      } catch (err) {
        await network.destroy();
        throw err;
      }
    }
  }
}
