import type { SandboxKind } from "../sandbox/driver.js";
import type { StageDurations } from "./stages.js";

/** One cold start as the orchestrator saw it: how it started and the µs spent in each stage. */
export interface ColdStartRecord {
  instanceId: string;
  revision: string;
  sandbox: SandboxKind;
  /** "boot" from the image, or "restore" from the revision's snapshot. */
  startKind: "boot" | "restore";
  snapshotMode: "off" | "vanilla" | "reap";
  stages: StageDurations;
  /** RSS of the sandbox's process tree once the function answered, when the driver could tell. */
  rssBytes?: number;
  at: string;
}
