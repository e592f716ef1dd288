import type { FunctionBackend, FunctionHealth, StartedFunction, StartFunctionRequest } from "../../../node-runtime/api/cri/functionBackend.js";

/**
 * Stands in for the node runtime's orchestrator behind the CRI proxy, where a test is about the
 * proxy's CRI handling (what it forwards, injects and reports) rather than about sandboxes. It
 * records every call; tests set the health an instance reports and make starts fail on demand.
 * End-to-end tests use the real orchestrator instead.
 */
export class RecordingFunctionBackend implements FunctionBackend {
  readonly started: (StartFunctionRequest & { instanceId: string })[] = [];
  readonly stopped: string[] = [];
  readonly healthOf = new Map<string, FunctionHealth>();
  failNextStart: Error | undefined;
  private next = 0;

  async start(req: StartFunctionRequest): Promise<StartedFunction> {
    if (this.failNextStart) {
      const e = this.failNextStart;
      this.failNextStart = undefined;
      throw e;
    }
    const instanceId = `double-${++this.next}`;
    this.started.push({ ...req, instanceId });
    this.healthOf.set(instanceId, { state: "running" });
    return { instanceId, host: "127.0.0.1", port: 40000 + this.next };
  }

  async stop(instanceId: string): Promise<void> {
    this.stopped.push(instanceId);
    this.healthOf.delete(instanceId);
  }

  health(instanceId: string): FunctionHealth {
    return this.healthOf.get(instanceId) ?? { state: "unknown", message: `no instance ${instanceId}` };
  }
}
