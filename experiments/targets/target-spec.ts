// A target as plain data, so the invoker's sender thread can make its own copy of each target
// (connections belong to the thread that uses them).
import type { GrpcTargetOptions } from "./grpc-target.js";
import type { HttpTargetOptions } from "./http-target.js";
import type { Target } from "./target.js";

export type TargetSpec =
  | { kind: "grpc"; options: GrpcTargetOptions }
  | { kind: "http"; options: HttpTargetOptions }
  | { kind: "node-runtime"; api: string; instanceId: string };

/** A target that can be made again from data. */
export interface SpecifiedTarget extends Target {
  readonly spec: TargetSpec;
}

export const hasSpec = (t: Target): t is SpecifiedTarget => (t as Partial<SpecifiedTarget>).spec !== undefined;

export async function targetFromSpec(spec: TargetSpec): Promise<Target> {
  switch (spec.kind) {
    case "grpc":
      return new (await import("./grpc-target.js")).GrpcTarget(spec.options);
    case "http":
      return new (await import("./http-target.js")).HttpTarget(spec.options);
    case "node-runtime":
      return new (await import("./node-runtime-target.js")).NodeRuntimeTarget(spec.api, spec.instanceId);
  }
}
