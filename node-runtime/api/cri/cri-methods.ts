// The CRI v1 surface (runtime.v1, as of cri-api v0.35.0): every method kubelet may call, so the
// proxy can forward each one without knowing its messages. Only GetContainerEvents streams.
export const CRI_PACKAGE = "runtime.v1";

export interface CriMethod {
  service: "RuntimeService" | "ImageService";
  name: string;
  serverStreaming: boolean;
}

const runtimeMethods = [
  "Version",
  "RunPodSandbox",
  "StopPodSandbox",
  "RemovePodSandbox",
  "PodSandboxStatus",
  "ListPodSandbox",
  "CreateContainer",
  "StartContainer",
  "StopContainer",
  "RemoveContainer",
  "ListContainers",
  "ContainerStatus",
  "UpdateContainerResources",
  "ReopenContainerLog",
  "ExecSync",
  "Exec",
  "Attach",
  "PortForward",
  "ContainerStats",
  "ListContainerStats",
  "PodSandboxStats",
  "ListPodSandboxStats",
  "UpdateRuntimeConfig",
  "Status",
  "CheckpointContainer",
  "GetContainerEvents",
  "ListMetricDescriptors",
  "ListPodSandboxMetrics",
  "RuntimeConfig",
  "UpdatePodSandboxResources",
] as const;

const imageMethods = ["ListImages", "ImageStatus", "PullImage", "RemoveImage", "ImageFsInfo"] as const;

export type RuntimeMethodName = (typeof runtimeMethods)[number];

export const CRI_METHODS: readonly CriMethod[] = [
  ...runtimeMethods.map((name) => ({
    service: "RuntimeService" as const,
    name,
    serverStreaming: name === "GetContainerEvents",
  })),
  ...imageMethods.map((name) => ({ service: "ImageService" as const, name, serverStreaming: false })),
];

export function methodPath(m: Pick<CriMethod, "service" | "name">): string {
  return `/${CRI_PACKAGE}.${m.service}/${m.name}`;
}
