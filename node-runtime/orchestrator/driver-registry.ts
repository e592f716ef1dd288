import type { SandboxDriver, SandboxKind } from "../sandbox/driver.js";
import { RuntimeError } from "./errors.js";

export interface RegisteredDriver {
  driver: SandboxDriver;
  /** True when the sandbox takes a network slot from the pool (Firecracker's tap in a namespace). */
  needsNetwork: boolean;
}

/** The sandbox drivers available on this node, by kind; the orchestrator sees nothing else of them. */
export class DriverRegistry {
  private readonly drivers = new Map<SandboxKind, RegisteredDriver>();

  register(driver: SandboxDriver, opts: { needsNetwork?: boolean } = {}): this {
    this.drivers.set(driver.kind, { driver, needsNetwork: opts.needsNetwork ?? false });
    return this;
  }

  get(kind: string): RegisteredDriver {
    const entry = this.drivers.get(kind as SandboxKind);
    if (!entry) {
      const known = ["firecracker", "gvisor", "containerd"];
      const why = known.includes(kind) ? "is not available on this node" : "is not a sandbox kind";
      throw new RuntimeError(
        known.includes(kind) ? "FAILED_PRECONDITION" : "INVALID_ARGUMENT",
        `sandbox ${JSON.stringify(kind)} ${why} (available: ${this.kinds().join(", ") || "none"})`,
      );
    }
    return entry;
  }

  kinds(): SandboxKind[] {
    return [...this.drivers.keys()];
  }
}
