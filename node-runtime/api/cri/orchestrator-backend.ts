import { constants } from "node:os";
import type { ServiceError } from "@grpc/grpc-js";
import { Metadata } from "@grpc/grpc-js";
import type { Orchestrator } from "#node-runtime/orchestrator/orchestrator.js";
import type { SnapshotMode } from "#node-runtime/orchestrator/instance.js";
import { RuntimeError } from "#node-runtime/orchestrator/errors.js";
import type { FunctionEndpoint, SandboxKind } from "#node-runtime/sandbox/driver.js";
import { toGrpcError } from "../grpc-status.js";
import type { FunctionBackend, FunctionHealth, StartedFunction, StartFunctionRequest } from "./function-backend.js";
import { errorMessage } from "#node-runtime/system/error-message.js";

export interface OrchestratorBackendOptions {
  /** Sandbox and snapshot mode for CRI-started functions; the orchestrator's defaults when absent. */
  sandbox?: SandboxKind;
  snapshotMode?: SnapshotMode;
}

/** The CRI front end's view of the orchestrator: start, stop and watch function instances. */
export class OrchestratorFunctionBackend implements FunctionBackend {
  /** When an instance was first seen dead, so repeated status calls report one finish time. */
  private readonly deathSeen = new Map<string, Date>();
  private readonly stopping = new Map<string, Promise<void>>();

  constructor(
    private readonly orchestrator: Orchestrator,
    private readonly opts: OrchestratorBackendOptions = {},
  ) {}

  async start(req: StartFunctionRequest): Promise<StartedFunction> {
    let info;
    try {
      info = await this.orchestrator.start({
        revision: req.revision,
        image: req.image,
        port: req.port,
        env: req.env,
        sandbox: this.opts.sandbox,
        snapshotMode: this.opts.snapshotMode,
      });
    } catch (e) {
      throw asServiceError(e);
    }
    if (info.endpoint === undefined) {
      await this.orchestrator.stop(info.instanceId).catch(() => undefined);
      throw new Error(`instance ${info.instanceId} has no endpoint`);
    }
    return { instanceId: info.instanceId, endpoint: info.endpoint };
  }

  /**
   * Stops share one orchestrator stop per instance: kubelet's StopContainer, StopPodSandbox and
   * the proxy's release of a dead instance may come at once, and the orchestrator refuses a second
   * stop of an instance it is stopping.
   */
  stop(instanceId: string): Promise<void> {
    let stopping = this.stopping.get(instanceId);
    if (!stopping) {
      stopping = this.stopOnce(instanceId).finally(() => this.stopping.delete(instanceId));
      this.stopping.set(instanceId, stopping);
    }
    return stopping;
  }

  private async stopOnce(instanceId: string): Promise<void> {
    this.deathSeen.delete(instanceId);
    try {
      await this.orchestrator.stop(instanceId);
    } catch (e) {
      if (!(e instanceof RuntimeError && e.code === "NOT_FOUND")) throw asServiceError(e);
    }
  }

  endpoint(instanceId: string): FunctionEndpoint | undefined {
    try {
      const info = this.orchestrator.status(instanceId);
      return info.state === "running" ? info.endpoint : undefined;
    } catch {
      return undefined;
    }
  }

  health(instanceId: string): FunctionHealth {
    let info;
    try {
      info = this.orchestrator.status(instanceId);
    } catch (e) {
      return { state: "unknown", message: errorMessage(e) };
    }
    if (info.state !== "exited") return { state: "running" };
    const finishedAt = this.deathSeen.get(instanceId) ?? (info.exitedAt ? new Date(info.exitedAt) : new Date());
    this.deathSeen.set(instanceId, finishedAt);
    const { code, signal } = info.exit ?? { code: null, signal: null };
    const signalNumber = signal ? (constants.signals as Record<string, number>)[signal] : undefined;
    return {
      state: "exited",
      // Shell convention for a death by signal, so kubelet's exit code says which.
      exitCode: code ?? (signalNumber !== undefined ? 128 + signalNumber : 255),
      reason: signal ? "Signaled" : "SandboxExited",
      message: `${info.sandbox} sandbox of ${info.revision} exited by itself (${code !== null ? `code ${code}` : `signal ${signal ?? "unknown"}`})`,
      finishedAt,
    };
  }
}

function asServiceError(e: unknown): ServiceError {
  const g = toGrpcError(e);
  return Object.assign(new Error(g.details ?? "unknown error"), { code: g.code ?? 2, details: g.details ?? "", metadata: new Metadata() });
}
