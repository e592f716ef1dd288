import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { CRI_PACKAGE, methodPath } from "./cri-methods.js";
import {
  appendContainerEnvs,
  appendContainerStatus,
  CONTAINER_STATE,
  decodeContainerId,
  decodeContainerState,
  decodeCreateContainer,
  decodeCreateContainerResponse,
  decodeListContainersStateFilter,
  decodePodSandboxId,
  decodePodSandboxStatus,
  encodeContainerIdRequest,
  encodePodSandboxStatusRequest,
  markContainersExited,
} from "./cri-messages.js";
import { FORWARDED_METHODS, FORWARDED_SERVICES } from "./forwarded-services.js";
import { FunctionContainerStore, type FunctionContainerRecord } from "./function-container-store.js";
import { FunctionSpecError, functionSpecOf, QUEUE_PROXY_CONTAINER } from "./function-containers.js";
import type { FunctionBackend, FunctionHealth } from "./function-backend.js";
import { relayBindingFor } from "./pod-relay-address.js";
import { PodRelays } from "./pod-relays.js";
import { CRI_CHANNEL_OPTIONS, grpcError, isGrpcError, RawCriClient, rawServiceDefinition, type RawUnaryHandler } from "./raw-grpc.js";
import { errorMessage } from "#node-runtime/system/error-message.js";

/** Where kubelet finds the node runtime, as in vHive. */
export const DEFAULT_CRI_SOCKET = "/etc/vhive-cri/vhive-cri.sock";
/** containerd's own socket, where its CRI plugin listens. */
export const DEFAULT_CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
export const DEFAULT_CRI_STATE_FILE = "/var/lib/vhive-node/cri/function-containers.json";
/** How often function instances are checked for deaths kubelet must hear about. */
const DEFAULT_HEALTH_INTERVAL_MS = 500;
/** How long stop() lets calls in flight finish (a GetContainerEvents stream never does). */
const SHUTDOWN_GRACE_MS = 2_000;

export interface CriProxyOptions {
  /** Unix socket kubelet connects to. */
  socketPath?: string;
  /** containerd's socket (path or unix:// URL). */
  upstream?: string;
  stateFile?: string;
  backend: FunctionBackend;
  logger?: Logger;
  /** Where the function relays of hostNetwork pods listen (they share the node's loopback). Default 127.0.0.1. */
  hostNetworkRelayHost?: string;
  healthCheckIntervalMs?: number;
}

const path = (name: string) => methodPath({ service: "RuntimeService", name });

type UnaryCall = grpc.ServerUnaryCall<Buffer, Buffer>;

/**
 * A CRI v1 server that forwards every call to containerd unchanged, except the calls about
 * function containers and their pods: those start, watch and stop function instances in our
 * sandboxes, and keep each function pod's relay (the queue-proxy's GUEST_ADDR:GUEST_PORT).
 */
export class CriProxy {
  readonly socketPath: string;
  private readonly upstream: RawCriClient;
  private readonly server = new grpc.Server(CRI_CHANNEL_OPTIONS);
  private store!: FunctionContainerStore;
  private relays!: PodRelays;
  private healthTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: CriProxyOptions) {
    this.socketPath = opts.socketPath ?? DEFAULT_CRI_SOCKET;
    const up = opts.upstream ?? DEFAULT_CONTAINERD_SOCKET;
    this.upstream = new RawCriClient(up.startsWith("unix:") ? up : `unix://${up}`);
  }

  async start(): Promise<void> {
    this.store = await FunctionContainerStore.open(this.opts.stateFile ?? DEFAULT_CRI_STATE_FILE);
    this.relays = new PodRelays(this.store, this.opts.logger);
    await this.reconcile();
    for (const service of FORWARDED_SERVICES) {
      this.server.addService(rawServiceDefinition(service), this.handlers(service));
    }
    await mkdir(dirname(this.socketPath), { recursive: true });
    await rm(this.socketPath, { force: true });
    await new Promise<void>((resolve, reject) =>
      this.server.bindAsync(`unix://${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.healthTimer = setInterval(() => void this.checkInstances(), this.opts.healthCheckIntervalMs ?? DEFAULT_HEALTH_INTERVAL_MS);
    this.healthTimer.unref();
    this.opts.logger?.info({ socket: this.socketPath }, "CRI proxy listening");
  }

  /** Stops serving and closes the relays; function instances and the persisted state stay. */
  async stop(): Promise<void> {
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.healthTimer = undefined;
    await this.relays?.closeAll();
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
    this.upstream.close();
    await rm(this.socketPath, { force: true });
  }

  /**
   * Brings the persisted state in line with containerd after a restart: function pods and
   * containers containerd no longer has are stopped and forgotten; relays of live pods are
   * re-opened at the addresses their queue-proxies were given, pointing at their instances.
   */
  private async reconcile(): Promise<void> {
    const pods = new Set([...this.store.all().map((r) => r.podSandboxId), ...this.store.relays().map((r) => r.podSandboxId)]);
    for (const pod of pods) {
      let ready: boolean;
      try {
        ready = decodePodSandboxStatus(await this.upstream.unary(path("PodSandboxStatus"), encodePodSandboxStatusRequest(pod))).ready;
      } catch (e) {
        if (isGrpcError(e) && e.code === grpc.status.NOT_FOUND) {
          this.opts.logger?.info({ pod }, "function pod gone; stopping its function instances");
          await this.stopInstances(this.store.ofPod(pod));
          await this.store.deletePod(pod);
        } else {
          // containerd not answering yet: keep the records, status calls will sort them out.
          this.opts.logger?.warn({ pod, err: String(e) }, "could not reconcile function pod");
        }
        continue;
      }
      for (const r of this.store.ofPod(pod)) {
        try {
          await this.upstream.unary(path("ContainerStatus"), encodeContainerIdRequest(r.containerId));
        } catch (e) {
          if (!(isGrpcError(e) && e.code === grpc.status.NOT_FOUND)) continue;
          this.opts.logger?.info({ container: r.containerId, instance: r.instanceId }, "stub container gone; stopping its function instance");
          await this.opts.backend.stop(r.instanceId);
          await this.store.delete(r.containerId);
        }
      }
      if (!ready) {
        await this.stopInstances(this.store.ofPod(pod));
        continue;
      }
      for (const relayRecord of this.store.relaysOf(pod)) {
        const relay = await this.relays.reopen(relayRecord);
        const current = this.store
          .ofPod(pod)
          .filter((r) => r.containerName === relayRecord.containerName && r.exit === undefined && !r.stopped)
          .at(-1);
        const endpoint = current && this.opts.backend.endpoint(current.instanceId);
        if (relay && current && endpoint) relay.retarget(current.instanceId, endpoint);
      }
    }
  }

  private handlers(service: string): grpc.UntypedServiceImplementation {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const m of FORWARDED_METHODS.filter((x) => x.service === service)) {
      impl[m.name] = m.serverStreaming ? this.upstream.forwardStream(m.path) : this.upstream.forwardUnary(m.path);
    }
    if (service === `${CRI_PACKAGE}.RuntimeService`) {
      impl.CreateContainer = this.guard(this.createContainer);
      impl.StopContainer = this.guard(this.stopContainer);
      impl.RemoveContainer = this.guard(this.removeContainer);
      impl.ContainerStatus = this.guard(this.containerStatus);
      impl.ListContainers = this.guard(this.listContainers);
      impl.StopPodSandbox = this.guard(this.stopPodSandbox);
      impl.RemovePodSandbox = this.guard(this.removePodSandbox);
    }
    return impl;
  }

  /** Runs an async handler and turns any failure into a gRPC status kubelet can show. */
  private guard(fn: (call: UnaryCall) => Promise<Buffer>): RawUnaryHandler {
    return (call, callback) => {
      fn.call(this, call).then(
        (res) => callback(null, res),
        (e: unknown) => {
          if (isGrpcError(e)) callback(e);
          else if (e instanceof FunctionSpecError) callback(grpcError(grpc.status.INVALID_ARGUMENT, e.message));
          else callback(grpcError(grpc.status.UNKNOWN, errorMessage(e)));
        },
      );
    };
  }

  private forward(name: string, call: UnaryCall, request = call.request): Promise<Buffer> {
    const deadline = call.getDeadline();
    return this.upstream.unary(path(name), request, call.metadata, deadline === Infinity ? {} : { deadline });
  }

  private async createContainer(call: UnaryCall): Promise<Buffer> {
    const info = decodeCreateContainer(call.request);
    const spec = functionSpecOf(info);
    if (spec === undefined) {
      const relay = info.containerName === QUEUE_PROXY_CONTAINER ? this.relays.addressOf(info.podSandboxId) : undefined;
      const request =
        relay === undefined
          ? call.request
          : appendContainerEnvs(call.request, [
              { key: "GUEST_ADDR", value: relay.host },
              { key: "GUEST_PORT", value: String(relay.port) },
            ]);
      return this.forward("CreateContainer", call, request);
    }

    const pod = info.podSandboxId;
    const relay = await this.relays.ensure(pod, info.containerName, async () => {
      const status = await this.forward("PodSandboxStatus", call, encodePodSandboxStatusRequest(pod));
      return relayBindingFor(pod, decodePodSandboxStatus(status), this.opts.hostNetworkRelayHost ?? "127.0.0.1");
    });
    let started;
    try {
      started = await this.opts.backend.start({ revision: spec.revision, image: spec.image, port: spec.port, env: spec.env });
    } catch (e) {
      const why = errorMessage(e);
      const code = isGrpcError(e) ? e.code : grpc.status.UNKNOWN;
      throw grpcError(code, `function ${spec.revision} (image ${spec.image}) did not start: ${why}`);
    }
    try {
      const response = await this.forward("CreateContainer", call);
      const containerId = decodeCreateContainerResponse(response);
      await this.store.put({
        containerId,
        podSandboxId: pod,
        containerName: info.containerName,
        instanceId: started.instanceId,
        revision: spec.revision,
        image: spec.image,
      });
      relay.retarget(started.instanceId, started.endpoint);
      this.opts.logger?.info(
        { container: containerId, instance: started.instanceId, revision: spec.revision, relay: relay.address },
        "function container created",
      );
      return response;
    } catch (e) {
      await this.opts.backend.stop(started.instanceId);
      throw e;
    }
  }

  private async stopContainer(call: UnaryCall): Promise<Buffer> {
    const record = this.store.get(decodeContainerId(call.request));
    if (record !== undefined) await this.stopInstances([record]);
    return this.forward("StopContainer", call);
  }

  private async removeContainer(call: UnaryCall): Promise<Buffer> {
    const id = decodeContainerId(call.request);
    const record = this.store.get(id);
    if (record === undefined) return this.forward("RemoveContainer", call);
    await this.stopInstances([record]);
    try {
      return await this.forward("RemoveContainer", call);
    } finally {
      await this.store.delete(id);
    }
  }

  /**
   * containerd stops a pod's containers itself, without a StopContainer per container (crictl
   * rmp -f, kubelet killing a pod): the pod's function instances are stopped here, and its relays
   * closed, as its network goes.
   */
  private async stopPodSandbox(call: UnaryCall): Promise<Buffer> {
    const pod = decodePodSandboxId(call.request);
    await this.stopInstances(this.store.ofPod(pod));
    await this.relays.closePod(pod);
    return this.forward("StopPodSandbox", call);
  }

  private async removePodSandbox(call: UnaryCall): Promise<Buffer> {
    const pod = decodePodSandboxId(call.request);
    await this.stopInstances(this.store.ofPod(pod));
    await this.relays.closePod(pod);
    const response = await this.forward("RemovePodSandbox", call);
    await this.store.deletePod(pod);
    return response;
  }

  /** The stub's status, corrected by the function instance's: a dead instance is an exited container. */
  private async containerStatus(call: UnaryCall): Promise<Buffer> {
    const response = await this.forward("ContainerStatus", call);
    const record = this.store.get(decodeContainerId(call.request));
    if (record === undefined || record.stopped) return response;
    if (record.exit === undefined) {
      if (decodeContainerState(response) !== CONTAINER_STATE.running) return response;
      const health = this.opts.backend.health(record.instanceId);
      if (health.state === "running") return response;
      await this.functionDied(record, health);
    }
    const exit = record.exit!;
    return appendContainerStatus(response, {
      state: CONTAINER_STATE.exited,
      exitCode: exit.exitCode,
      finishedAtNs: BigInt(exit.finishedAtNs),
      reason: exit.reason,
      message: exit.message,
    });
  }

  /**
   * kubelet's PLEG notices exits through ListContainers: a function whose instance died is listed
   * as exited even before its stub is stopped (and left out of lists filtered on another state).
   */
  private async listContainers(call: UnaryCall): Promise<Buffer> {
    const response = await this.forward("ListContainers", call);
    const dead = new Set<string>();
    for (const record of this.store.all()) {
      if (record.stopped) continue;
      if (record.exit === undefined) {
        const health = this.opts.backend.health(record.instanceId);
        if (health.state === "running") continue;
        await this.functionDied(record, health);
      }
      dead.add(record.containerId);
    }
    return markContainersExited(response, dead, decodeListContainersStateFilter(call.request));
  }

  /** Notices deaths between kubelet's calls, so stubs and instances are cleaned up promptly. */
  private async checkInstances(): Promise<void> {
    for (const record of this.store.all()) {
      if (record.stopped || record.exit !== undefined) continue;
      const health = this.opts.backend.health(record.instanceId);
      if (health.state !== "running") await this.functionDied(record, health).catch(() => undefined);
    }
  }

  /**
   * Records how the instance ended (kubelet is told this from now on, across restarts too), and
   * ends what is left of it: its sandbox's resources, and the stub, so that containerd's own view
   * (ListContainers, events, removal of the dead container) agrees.
   */
  private async functionDied(record: FunctionContainerRecord, health: Exclude<FunctionHealth, { state: "running" }>): Promise<void> {
    if (record.exit !== undefined) return;
    const exit = health.state === "exited" ? health : { exitCode: 255, reason: "FunctionInstanceLost", message: health.message, finishedAt: new Date() };
    record.exit = {
      exitCode: exit.exitCode,
      reason: exit.reason,
      message: exit.message,
      finishedAtNs: (BigInt(exit.finishedAt.getTime()) * 1_000_000n).toString(),
    };
    this.relays.untarget(record.podSandboxId, record.containerName, record.instanceId);
    this.opts.logger?.warn({ container: record.containerId, instance: record.instanceId, ...record.exit }, "function instance died");
    await this.store.put(record);
    void this.opts.backend
      .stop(record.instanceId)
      .catch((e: unknown) => this.opts.logger?.warn({ instance: record.instanceId, err: String(e) }, "releasing a dead function instance failed"));
    void this.upstream
      .unary(path("StopContainer"), encodeContainerIdRequest(record.containerId))
      .catch((e: unknown) => this.opts.logger?.warn({ container: record.containerId, err: String(e) }, "stopping the stub of a dead function failed"));
  }

  /** Stops instances kubelet (or crictl) stops; containerd's own status of their stubs holds from then on. */
  private async stopInstances(records: FunctionContainerRecord[]): Promise<void> {
    await Promise.all(
      records.map(async (r) => {
        this.relays.untarget(r.podSandboxId, r.containerName, r.instanceId);
        await this.opts.backend.stop(r.instanceId);
        if (!r.stopped && r.exit === undefined) {
          r.stopped = true;
          await this.store.put(r);
        }
      }),
    );
  }
}
