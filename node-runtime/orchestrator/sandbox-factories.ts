import path from "node:path";
import type { Logger } from "pino";
import type { RuntimeConfig } from "../config/runtime-config.js";
import type { ImageStore } from "../images/types.js";
import type { SandboxKind, SandboxSetup } from "../sandbox/driver.js";

export interface SandboxResources {
  images: ImageStore;
  config: RuntimeConfig;
  logger: Logger;
}

/** Where the provisioner's host steps install Firecracker; used when neither config nor environment names a file. */
export const FIRECRACKER_INSTALL_PATHS = {
  firecracker: "/usr/local/bin/firecracker",
  jailer: "/usr/local/bin/jailer",
  kernel: "/var/lib/vhive/firecracker/vmlinux",
} as const;

/**
 * The served runtime's sandbox of a kind, built by that kind's own factory (sandbox/<kind>/
 * create-<kind>-sandbox.ts, which the tests use too) from the runtime config. Modules are imported
 * on demand so a node that does not enable, say, containerd never loads its driver.
 */
export async function createSandboxDriver(kind: SandboxKind, res: SandboxResources): Promise<SandboxSetup> {
  const { config } = res;
  switch (kind) {
    case "gvisor": {
      const { createGvisorSandbox } = await import("../sandbox/gvisor/create-gvisor-sandbox.js");
      return createGvisorSandbox(res.images, {
        baseDir: config.gvisorBaseDir,
        network: config.gvisorNetwork,
        networkSubnet: config.gvisorNetworkSubnet,
        networkPrefix: config.gvisorNetworkPrefix,
        // Under the runtime's data, which the provisioner removes with the node runtime.
        relayCacheDir: path.join(config.dataDir, "gvisor-relay"),
        // The driver waits for the function's socket itself; give it the runtime's budget.
        bootTimeoutMs: config.readyTimeoutMs,
        restoreTimeoutMs: config.readyTimeoutMs,
      });
    }
    case "containerd": {
      const { createContainerdSandbox } = await import("../sandbox/containerd/create-containerd-sandbox.js");
      return createContainerdSandbox(res.images, {
        address: config.containerdAddress,
        namespace: config.containerdNamespace,
        stateDir: path.join(config.dataDir, "containerd"),
      });
    }
    case "firecracker": {
      const { createFirecrackerSandbox } = await import("../sandbox/firecracker/create-firecracker-sandbox.js");
      const jailer = config.firecrackerJailer;
      return createFirecrackerSandbox({
        images: res.images,
        dataDir: config.dataDir,
        firecrackerBin: config.firecrackerBin ?? process.env.FIRECRACKER_BIN ?? FIRECRACKER_INSTALL_PATHS.firecracker,
        kernelPath: config.firecrackerKernel ?? process.env.FIRECRACKER_KERNEL ?? FIRECRACKER_INSTALL_PATHS.kernel,
        ...(jailer
          ? {
              jailer: {
                jailerBin: jailer.bin ?? process.env.JAILER_BIN ?? FIRECRACKER_INSTALL_PATHS.jailer,
                uid: jailer.uid,
                gid: jailer.gid,
                chrootBaseDir: jailer.chrootBaseDir,
              },
            }
          : {}),
        snapshotType: config.firecrackerSnapshotType,
        network: {
          namePrefix: config.networkPrefix,
          size: config.networkPoolSize,
          ...(config.networkCloneCidr !== undefined ? { cloneCidr: config.networkCloneCidr } : {}),
          ...(config.networkTransitCidr !== undefined ? { transitCidr: config.networkTransitCidr } : {}),
        },
        reap: { rerecordThreshold: config.reapRerecordThreshold },
      });
    }
  }
}
