import type { Logger } from "pino";
import type { ImageStore } from "../images/types.js";
import type { SandboxDriver, SandboxKind } from "../sandbox/driver.js";

export interface SandboxResources {
  images: ImageStore;
  /** The runtime's data dir; each driver keeps its state in a subdirectory named after its kind. */
  dataDir: string;
  logger: Logger;
}

export interface BuiltDriver {
  driver: SandboxDriver;
  needsNetwork: boolean;
  dispose?: () => Promise<void>;
}

/**
 * Builds the real driver for a sandbox kind. Modules are imported on demand so a node without,
 * say, Firecracker never loads its driver.
 */
export async function createSandboxDriver(kind: SandboxKind, res: SandboxResources): Promise<BuiltDriver> {
  switch (kind) {
    default:
      throw new Error(`sandbox ${kind}: no driver is wired into the runtime yet`);
  }
}
