import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";
import { extendEmbeddedField } from "./protobufWire.js";

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
const ListContainersResponse = type("ListContainersResponse");

export const CONTAINER_STATE = { created: 0, running: 1, exited: 2, unknown: 3 } as const;

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
  return (
    (CreateContainerResponse.toObject(CreateContainerResponse.decode(bytes)) as { containerId?: string })
      .containerId ?? ""
  );
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

export function decodeListContainerIds(bytes: Buffer): string[] {
  const m = ListContainersResponse.toObject(ListContainersResponse.decode(bytes), { defaults: true }) as {
    containers?: { id?: string }[];
  };
  return (m.containers ?? []).map((c) => c.id ?? "");
}
