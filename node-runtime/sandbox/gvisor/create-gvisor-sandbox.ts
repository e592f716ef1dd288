import type { ImageStore } from "#node-runtime/images/types.js";
import type { SandboxSetup } from "../driver.js";
import { GvisorDriver, type GvisorDriverOptions } from "./driver.js";

export interface GvisorSandbox extends SandboxSetup {
  readonly driver: GvisorDriver;
}

/**
 * Builds gVisor as the served runtime runs it (orchestrator/sandbox-factories.ts calls this with
 * the runtime config). Sandboxes outlive a runtime restart: the orchestrator adopts them, and the
 * driver's reclaim() removes an adopted one's leftovers when it stops.
 */
export async function createGvisorSandbox(images: ImageStore, options: GvisorDriverOptions): Promise<GvisorSandbox> {
  const driver = new GvisorDriver(images, options);
  return { driver, dispose: async () => undefined };
}
