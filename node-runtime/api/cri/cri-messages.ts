import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { editEmbeddedFields, extendEmbeddedField } from "./protobuf-wire.js";

// Decoding and byte-preserving extension of the CRI messages the proxy looks into. Extensions are
// written into the embedded message they belong to, after the fields already there, so the
// original bytes (with fields unknown to us) reach the other side untouched.

const root = protobuf.loadSync(fileURLToPath(new URL("./cri-function-messages.proto", import.meta.url)));
const type = (name: string) => root.lookupType(`runtime.v1.${name}`);

const CreateContainerRequest = type("CreateContainerRequest");
const ContainerConfig = type("ContainerConfig");
const ContainerStatus = type("ContainerStatus");
const CreateContainerResponse = type("CreateContainerResponse");
const ContainerIdRequest = type("ContainerIdRequest");
const ContainerStatusResponse = type("ContainerStatusResponse");
const ListContainersRequest = type("ListContainersRequest");
const Container = type("Container");
const PodSandboxIdRequest = type("PodSandboxIdRequest");
const PodSandboxStatusResponse = type("PodSandboxStatusResponse");

export const CONTAINER_STATE = { created: 0, running: 1, exited: 2, unknown: 3 } as const;
/** NamespaceMode of the CRI: NODE is the host's namespace (hostNetwork pods). */
const NAMESPACE_MODE_NODE = 2;
const SANDBOX_READY = 0;

export interface KeyValue {
  key: string;
  value: string;
}

export interface CreateContainerInfo {
  podSandboxId: string;
  containerName: string;
  attempt: number;
  image: string;
  envs: KeyValue[];
  containerAnnotations: Record<string, string>;
  podName: string;
  podNamespace: string;
  podUid: string;
  podAnnotations: Record<string, string>;
  podLabels: Record<string, string>;
}

interface DecodedCreate {
  podSandboxId?: string;
  config?: {
    metadata?: { name?: string; attempt?: number };
    image?: { image?: string };
    envs?: { key?: string; value?: string }[];
    annotations?: Record<string, string>;
  };
  sandboxConfig?: {
    metadata?: { name?: string; uid?: string; namespace?: string };
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

export function decodeCreateContainer(bytes: Buffer): CreateContainerInfo {
  const m = CreateContainerRequest.toObject(CreateContainerRequest.decode(bytes), {
    defaults: true,
  }) as DecodedCreate;
  return {
    podSandboxId: m.podSandboxId ?? "",
    containerName: m.config?.metadata?.name ?? "",
    attempt: m.config?.metadata?.attempt ?? 0,
    image: m.config?.image?.image ?? "",
    envs: (m.config?.envs ?? []).map((e) => ({ key: e.key ?? "", value: e.value ?? "" })),
    containerAnnotations: m.config?.annotations ?? {},
    podName: m.sandboxConfig?.metadata?.name ?? "",
    podNamespace: m.sandboxConfig?.metadata?.namespace ?? "",
    podUid: m.sandboxConfig?.metadata?.uid ?? "",
    podAnnotations: m.sandboxConfig?.annotations ?? {},
    podLabels: m.sandboxConfig?.labels ?? {},
  };
}

/** Returns the request with `envs` added to its container config; the original bytes are kept. */
export function appendContainerEnvs(request: Buffer, envs: KeyValue[]): Buffer {
  const extra = ContainerConfig.encode(ContainerConfig.create({ envs })).finish();
  return extendEmbeddedField(request, 2, extra); // CreateContainerRequest.config
}

export function decodeContainerId(bytes: Buffer): string {
  return (ContainerIdRequest.toObject(ContainerIdRequest.decode(bytes)) as { containerId?: string }).containerId ?? "";
}

export function encodeContainerIdRequest(containerId: string): Buffer {
  return Buffer.from(ContainerIdRequest.encode(ContainerIdRequest.create({ containerId })).finish());
}

export function decodeCreateContainerResponse(bytes: Buffer): string {
  return (CreateContainerResponse.toObject(CreateContainerResponse.decode(bytes)) as { containerId?: string }).containerId ?? "";
}

export interface ContainerStatusOverride {
  state: (typeof CONTAINER_STATE)[keyof typeof CONTAINER_STATE];
  exitCode: number;
  finishedAtNs: bigint;
  reason: string;
  message: string;
}

export function decodeContainerState(bytes: Buffer): number {
  const m = ContainerStatusResponse.toObject(ContainerStatusResponse.decode(bytes), { defaults: true }) as {
    status?: { state?: number };
  };
  return m.status?.state ?? CONTAINER_STATE.unknown;
}

/** Overrides the status fields that describe the function instance; all other fields stay as containerd sent them. */
export function appendContainerStatus(response: Buffer, o: ContainerStatusOverride): Buffer {
  const extra = ContainerStatus.encode(
    // fromObject takes int64 as a decimal string, so nanosecond timestamps stay exact.
    ContainerStatus.fromObject({
      state: o.state,
      exitCode: o.exitCode,
      finishedAt: o.finishedAtNs.toString(),
      reason: o.reason,
      message: o.message,
    }),
  ).finish();
  return extendEmbeddedField(response, 1, extra); // ContainerStatusResponse.status
}

/** The pod sandbox id of StopPodSandbox, RemovePodSandbox and PodSandboxStatus requests. */
export function decodePodSandboxId(bytes: Buffer): string {
  return (PodSandboxIdRequest.toObject(PodSandboxIdRequest.decode(bytes)) as { podSandboxId?: string }).podSandboxId ?? "";
}

export function encodePodSandboxStatusRequest(podSandboxId: string): Buffer {
  return Buffer.from(PodSandboxIdRequest.encode(PodSandboxIdRequest.create({ podSandboxId })).finish());
}

export interface PodSandboxInfo {
  /** SANDBOX_READY: not stopped yet. */
  ready: boolean;
  /** The pod shares the node's network namespace (hostNetwork). */
  hostNetwork: boolean;
  /** The pod's IPs as its CNI plugin assigned them (empty for hostNetwork pods). */
  ips: string[];
}

export type PodNetwork = Pick<PodSandboxInfo, "hostNetwork" | "ips">;

export function decodePodSandboxStatus(bytes: Buffer): PodSandboxInfo {
  const m = PodSandboxStatusResponse.toObject(PodSandboxStatusResponse.decode(bytes), { defaults: true }) as {
    status?: {
      state?: number;
      network?: { ip?: string; additionalIps?: { ip?: string }[] };
      linux?: { namespaces?: { options?: { network?: number } } };
    };
  };
  const network = m.status?.network;
  const ips = [network?.ip ?? "", ...(network?.additionalIps ?? []).map((x) => x.ip ?? "")].filter((ip) => ip !== "");
  return {
    ready: m.status?.state === SANDBOX_READY,
    hostNetwork: m.status?.linux?.namespaces?.options?.network === NAMESPACE_MODE_NODE,
    ips,
  };
}

/** The state a ListContainers request filters on, or undefined when it lists every state. */
export function decodeListContainersStateFilter(bytes: Buffer): number | undefined {
  const m = ListContainersRequest.toObject(ListContainersRequest.decode(bytes)) as { filter?: { state?: { state?: number } } };
  const state = m.filter?.state;
  return state === undefined ? undefined : (state.state ?? CONTAINER_STATE.created);
}

/**
 * Shows the listed containers in `exitedIds` as exited (those containerd still has running),
 * dropping them when the request filtered on another state. Every other byte stays containerd's.
 */
export function markContainersExited(response: Buffer, exitedIds: ReadonlySet<string>, stateFilter: number | undefined): Buffer {
  if (exitedIds.size === 0) return response;
  const exitedState = Buffer.from(Container.encode(Container.create({ state: CONTAINER_STATE.exited })).finish());
  return editEmbeddedFields(response, 1, (payload) => {
    const c = Container.toObject(Container.decode(payload), { defaults: true }) as { id: string; state: number };
    if (!exitedIds.has(c.id) || c.state === CONTAINER_STATE.exited) return payload;
    if (stateFilter !== undefined && stateFilter !== CONTAINER_STATE.exited) return undefined;
    return Buffer.concat([payload, exitedState]);
  });
}
