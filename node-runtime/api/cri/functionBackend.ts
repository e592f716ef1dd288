// What the CRI front end needs from the node runtime: start, stop and watch function instances.
// The orchestrator provides it (see orchestratorBackend.ts); the CRI layer knows nothing else.

export interface StartFunctionRequest {
  revision: string;
  image: string;
  port: number;
  env: Record<string, string>;
}

export interface StartedFunction {
  instanceId: string;
  /** TCP address the queue-proxy is given as GUEST_ADDR / GUEST_PORT. */
  host: string;
  port: number;
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
}
