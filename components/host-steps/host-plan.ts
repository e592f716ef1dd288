// What a host is used for, which decides the bootstrap steps it gets.
import type { HostConfig } from "../config/schema.js";

export interface HostPlan {
  readonly name: string;
  /** Runs the sandbox (workers; the single kind node). */
  readonly runsSandbox: boolean;
}

/**
 * Plan for a configured host: workers run the sandbox; the control plane only system pods,
 * unless it is the only host (then it is the worker too).
 */
export function planForHost(host: HostConfig, hostCount = 2): HostPlan {
  return { name: host.name, runsSandbox: host.role === "worker" || hostCount === 1 };
}
