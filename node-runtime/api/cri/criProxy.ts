import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CRI_METHODS, methodPath, type CriMethod } from "./criMethods.js";
import {
  appendContainerEnvs,
  appendContainerStatus,
  CONTAINER_STATE,
  decodeContainerId,
  decodeContainerState,
  decodeCreateContainer,
  decodeCreateContainerResponse,
  encodeContainerIdRequest,
} from "./criMessages.js";
import { FunctionContainerStore } from "./functionContainerStore.js";
import { FunctionSpecError, functionSpecOf, QUEUE_PROXY_CONTAINER } from "./functionContainers.js";
import type { FunctionBackend } from "./functionBackend.js";
import { grpcError, isGrpcError, RawCriClient, rawServiceDefinition, type RawUnaryHandler } from "./rawGrpc.js";

/** Where kubelet finds the node runtime, as in vHive. */
export const DEFAULT_CRI_SOCKET = "/etc/vhive-cri/vhive-cri.sock";
/** containerd's own socket, where its CRI plugin listens. */
export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
export const DEFAULT_CRI_STATE_FILE = "/var/lib/vhive-node/cri/function-containers.json";

export interface CriProxyOptions {
  /** Unix socket kubelet connects to. */
  socketPath?: string;
  /** containerd's socket (path or unix:// URL). */
  upstream?: string;
  stateFile?: string;
  backend: FunctionBackend;
  logger?: Logger;
}

const path = (name: string) => methodPath({ service: "RuntimeService", name });

/**
 * A CRI v1 server that forwards every call to containerd unchanged, except the container calls
 * of function containers: those start, watch and stop function instances in our sandboxes.
 */
export class CriProxy {
  readonly socketPath: string;
  private readonly upstream: RawCriClient;
  private readonly server = new grpc.Server();
  private store!: FunctionContainerStore;

  constructor(private readonly opts: CriProxyOptions) {
    this.socketPath = opts.socketPath ?? DEFAULT_CRI_SOCKET;
    const up = opts.upstream ?? DEFAULT_CONTAINERD_SOCKET;
    this.upstream = new RawCriClient(up.startsWith("unix:") ? up : `unix://${up}`);
  }

  async start(): Promise<void> {
    this.store = await FunctionContainerStore.open(this.opts.stateFile ?? DEFAULT_CRI_STATE_FILE);
    await this.reconcile();
    for (const service of ["RuntimeService", "ImageService"] as const) {
      this.server.addService(rawServiceDefinition(service), this.handlers(service));
    }
    await mkdir(dirname(this.socketPath), { recursive: true });
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    this.opts.logger?.info({ socket: this.socketPath }, "CRI proxy listening");
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    this.upstream.close();
    await rm(this.socketPath, { force: true });
  }

  /** Function containers whose stub containerd no longer has are stopped and forgotten. */
  private async reconcile(): Promise<void> {
    for (const r of this.store.all()) {
      try {
        await this.upstream.unary(path("ContainerStatus"), encodeContainerIdRequest(r.containerId));
      } catch (e) {
        if (isGrpcError(e) && e.code === grpc.status.NOT_FOUND) {
          this.opts.logger?.info({ container: r.containerId, instance: r.instanceId }, "stub container gone; stopping its function instance");
          await this.opts.backend.stop(r.instanceId);
          await this.store.delete(r.containerId);
        } else {
          // containerd not answering yet: keep the record, status calls will sort it out.
          this.opts.logger?.warn({ container: r.containerId, err: String(e) }, "could not reconcile function container");
        }
      }
    }
  }

  private handlers(service: CriMethod["service"]): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const m of CRI_METHODS.filter((x) => x.service === service)) {
      const p = methodPath(m);
      impl[m.name] = m.serverStreaming ? this.upstream.forwardStream(p) : this.upstream.forwardUnary(p);
    }
    if (service === "RuntimeService") {
      impl.CreateContainer = this.guard(this.createContainer);
      impl.StopContainer = this.guard(this.stopContainer);
      impl.RemoveContainer = this.guard(this.removeContainer);
      impl.ContainerStatus = this.guard(this.containerStatus);
    }
    return impl;
  }

  /** Runs an async handler and turns any failure into a gRPC status kubelet can show. */
  private guard(fn: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => Promise<Buffer>): RawUnaryHandler {
    return (call, callback) => {
      fn.call(this, call).then(
        (res) => callback(null, res),
        (e: unknown) => {
          if (isGrpcError(e)) callback(e);
          else if (e instanceof FunctionSpecError) callback(grpcError(grpc.status.INVALID_ARGUMENT, e.message));
          else callback(grpcError(grpc.status.UNKNOWN, e instanceof Error ? e.message : String(e)));
        },
      );
    };
  }

  private forward(name: string, call: grpc.ServerUnaryCall<Buffer, Buffer>, request = call.request): Promise<Buffer> {
    const deadline = call.getDeadline();
    return this.upstream.unary(path(name), request, call.metadata, deadline === Infinity ? {} : { deadline });
  }

  private async createContainer(call: grpc.ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const info = decodeCreateContainer(call.request);
    const spec = functionSpecOf(info);
    if (spec === undefined) {
      const fn = info.containerName === QUEUE_PROXY_CONTAINER ? this.store.byPod(info.podSandboxId) : undefined;
      const request =
        fn === undefined
          ? call.request
          : appendContainerEnvs(call.request, [
              { key: "GUEST_ADDR", value: fn.host },
              { key: "GUEST_PORT", value: String(fn.port) },
            ]);
      return this.forward("CreateContainer", call, request);
    }

    let started;
    try {
      started = await this.opts.backend.start({ revision: spec.revision, image: spec.image, port: spec.port, env: spec.env });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      const code = isGrpcError(e) ? e.code : grpc.status.UNKNOWN;
      throw grpcError(code, `function ${spec.revision} (image ${spec.image}) did not start: ${why}`);
    }
    try {
      const response = await this.forward("CreateContainer", call);
      const containerId = decodeCreateContainerResponse(response);
      await this.store.put({
        containerId,
        podSandboxId: info.podSandboxId,
        instanceId: started.instanceId,
        revision: spec.revision,
        image: spec.image,
        host: started.host,
        port: started.port,
      });
      this.opts.logger?.info({ container: containerId, instance: started.instanceId, revision: spec.revision }, "function container created");
      return response;
    } catch (e) {
      await this.opts.backend.stop(started.instanceId);
      throw e;
    }
  }

  private async stopContainer(call: grpc.ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const record = this.store.get(decodeContainerId(call.request));
    if (record !== undefined) await this.opts.backend.stop(record.instanceId);
    return this.forward("StopContainer", call);
  }

  private async removeContainer(call: grpc.ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const id = decodeContainerId(call.request);
    const record = this.store.get(id);
    if (record === undefined) return this.forward("RemoveContainer", call);
    await this.opts.backend.stop(record.instanceId);
    try {
      return await this.forward("RemoveContainer", call);
    } finally {
      await this.store.delete(id);
    }
  }

  /** The stub's status, corrected by the function instance's health: a dead instance is an exited container. */
  private async containerStatus(call: grpc.ServerUnaryCall<Buffer, Buffer>): Promise<Buffer> {
    const response = await this.forward("ContainerStatus", call);
    const record = this.store.get(decodeContainerId(call.request));
    if (record === undefined || decodeContainerState(response) !== CONTAINER_STATE.running) return response;
    const health = this.opts.backend.health(record.instanceId);
    if (health.state === "running") return response;
    const exited =
      health.state === "exited"
        ? health
        : { exitCode: 255, reason: "FunctionInstanceLost", message: health.message, finishedAt: new Date() };
    return appendContainerStatus(response, {
      state: CONTAINER_STATE.exited,
      exitCode: exited.exitCode,
      finishedAtNs: BigInt(exited.finishedAt.getTime()) * 1_000_000n,
      reason: exited.reason,
      message: exited.message,
    });
  }
}
