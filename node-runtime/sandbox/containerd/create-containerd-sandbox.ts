import type { ImageStore } from "#node-runtime/images/types.js";
import { LocalImageStore } from "#node-runtime/images/image-store.js";
import type { SandboxSetup } from "../driver.js";
import { ContainerdDriver, type ContainerdDriverOptions } from "./driver.js";

export interface ContainerdSandbox extends SandboxSetup {
  readonly driver: ContainerdDriver;
}

/**
 * Builds containerd as the served runtime runs it (orchestrator/sandbox-factories.ts calls this
 * with the runtime config). The driver imports images from the node's own store's OCI archives, so
 * only a LocalImageStore will do.
 */
export async function createContainerdSandbox(images: ImageStore, options: Omit<ContainerdDriverOptions, "images">): Promise<ContainerdSandbox> {
  if (!(images instanceof LocalImageStore)) throw new Error("the containerd driver needs the node's LocalImageStore (it imports images from its OCI archives)");
  const driver = new ContainerdDriver({ ...options, images });
  return { driver, dispose: async () => driver.close() };
}
