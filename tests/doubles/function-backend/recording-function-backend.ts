import { createServer, type Server } from "node:net";
import type { FunctionBackend, FunctionHealth, StartedFunction, StartFunctionRequest } from "#node-runtime/api/cri/function-backend.js";
import type { FunctionEndpoint } from "#node-runtime/sandbox/driver.js";

/**
 * Stands in for the node runtime's orchestrator behind the CRI proxy, where a test is about the
 * proxy's CRI handling (what it forwards, injects, relays and reports) rather than about
 * sandboxes. Each started instance is a TCP listener on 127.0.0.1 that answers every connection
 * with `instance <id>: <what it received>`, so tests can tell which instance a relay reached. It
 * records every call; tests set the health an instance reports and make starts fail on demand.
 * End-to-end tests use the real orchestrator instead.
 */
export class RecordingFunctionBackend implements FunctionBackend {
  readonly started: (StartFunctionRequest & { instanceId: string })[] = [];
  readonly stopped: string[] = [];
  readonly healthOf = new Map<string, FunctionHealth>();
  failNextStart: Error | undefined;
  private readonly listeners = new Map<string, { server: Server; endpoint: FunctionEndpoint }>();
  private next = 0;

  async start(req: StartFunctionRequest): Promise<StartedFunction> {
    if (this.failNextStart) {
      const e = this.failNextStart;
      this.failNextStart = undefined;
      throw e;
    }
    const instanceId = `double-${++this.next}`;
    const server = createServer({ allowHalfOpen: true }, (c) => {
      let got = "";
      c.on("data", (d: Buffer) => (got += d.toString()));
      c.on("end", () => c.end(`instance ${instanceId}: ${got}`));
      c.on("error", () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("test double: no TCP address");
    const endpoint: FunctionEndpoint = { kind: "tcp", host: "127.0.0.1", port: address.port };
    this.listeners.set(instanceId, { server, endpoint });
    this.started.push({ ...req, instanceId });
    this.healthOf.set(instanceId, { state: "running" });
    return { instanceId, endpoint };
  }

  async stop(instanceId: string): Promise<void> {
    this.stopped.push(instanceId);
    this.healthOf.delete(instanceId);
    const l = this.listeners.get(instanceId);
    this.listeners.delete(instanceId);
    if (l) await new Promise((resolve) => l.server.close(resolve));
  }

  /** What a crashed sandbox looks like to the proxy: its listener is gone and its health says how it ended. */
  async crash(instanceId: string, health: Extract<FunctionHealth, { state: "exited" }>): Promise<void> {
    const l = this.listeners.get(instanceId);
    this.listeners.delete(instanceId);
    if (l) await new Promise((resolve) => l.server.close(resolve));
    this.healthOf.set(instanceId, health);
  }

  health(instanceId: string): FunctionHealth {
    return this.healthOf.get(instanceId) ?? { state: "unknown", message: `no instance ${instanceId}` };
  }

  endpoint(instanceId: string): FunctionEndpoint | undefined {
    return this.healthOf.get(instanceId)?.state === "running" ? this.listeners.get(instanceId)?.endpoint : undefined;
  }
}
