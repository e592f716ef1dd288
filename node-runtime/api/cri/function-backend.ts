import type { FunctionEndpoint } from "#node-runtime/sandbox/driver.js";

// What the CRI front end needs from the node runtime: start, stop and watch function instances.
// The orchestrator provides it (see orchestrator-backend.ts); the CRI layer knows nothing else.

export interface StartFunctionRequest {
  revision: string;
  image: string;
  port: number;
  env: Record<string, string>;
}

export interface StartedFunction {
  instanceId: string;
  /** Where the function answers on this node; the pod's relay forwards the queue-proxy there. */
  endpoint: FunctionEndpoint;
}

export type FunctionHealth =
  | { state: "running" }
  | { state: "exited"; exitCode: number; reason: string; message: string; finishedAt: Date }
  | { state: "unknown"; message: string };

export interface FunctionBackend {
  start(req: StartFunctionRequest): Promise<StartedFunction>;
  /** Stops the instance; resolves when its resources are released. Unknown ids resolve quietly. */
  stop(instanceId: string): Promise<void>;
  health(instanceId: string): FunctionHealth;
  /** Where a running instance answers (after a restart of the node runtime too); undefined when it is gone. */
  endpoint(instanceId: string): FunctionEndpoint | undefined;
}
