import type { SandboxDriver, SandboxKind } from "../sandbox/driver.js";
import { RuntimeError } from "./errors.js";

/** The sandbox drivers available on this node, by kind; the orchestrator sees nothing else of them. */
export class DriverRegistry {
  private readonly drivers = new Map<SandboxKind, SandboxDriver>();

  register(driver: SandboxDriver): this {
    this.drivers.set(driver.kind, driver);
    return this;
  }

  get(kind: string): SandboxDriver {
    const driver = this.drivers.get(kind as SandboxKind);
    if (!driver) {
      const known = ["firecracker", "gvisor", "containerd"];
      const why = known.includes(kind) ? "is not available on this node" : "is not a sandbox kind";
      throw new RuntimeError(
        known.includes(kind) ? "FAILED_PRECONDITION" : "INVALID_ARGUMENT",
        `sandbox ${JSON.stringify(kind)} ${why} (available: ${this.kinds().join(", ") || "none"})`,
      );
    }
    return driver;
  }

  kinds(): SandboxKind[] {
    return [...this.drivers.keys()];
  }
}
