import type { K8sObject, SandboxKind } from "./types.js";
import { GVISOR_RUNTIME_CLASS } from "./runtime-class.js";

/** vHive's stub container: kubelet runs it, the node runtime boots the real image in a microVM. */
export const DEFAULT_FIRECRACKER_STUB_IMAGE = "ghcr.io/vhive-serverless/crccheck-hello-world:latest";

export interface KnativeServiceInput {
  name: string;
  namespace: string;
  image: string;
  port: number;
  protocol: "h2c" | "http1";
  sandbox: SandboxKind;
  /** Stub image used for firecracker (the workload image goes into GUEST_IMAGE). */
  stubImage?: string;
  env?: Record<string, string>;
  minScale?: number;
  maxScale?: number;
  nodeSelector?: Record<string, string>;
  labels?: Record<string, string>;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * A Knative Service in vHive's workload shape. The user container is named `user-container`
 * (Knative's default, which the node runtime looks for). Per sandbox:
 * - firecracker: the stub image, with GUEST_IMAGE / GUEST_PORT telling the node runtime what to boot;
 * - gvisor: the workload image with `runtimeClassName: gvisor`;
 * - containerd: the workload image as is.
 */
export function knativeService(input: KnativeServiceInput): K8sObject {
  if (!DNS_LABEL.test(input.name)) {
    throw new Error(`functions[${input.name}].name: must be a DNS label (lowercase letters, digits, '-'; at most 63)`);
  }
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new Error(`functions[${input.name}].port: ${input.port} is not a TCP port`);
  }
  if (input.image.trim() === "") throw new Error(`functions[${input.name}].image: must not be empty`);
  const env = Object.entries(input.env ?? {}).map(([name, value]) => ({ name, value }));
  const container: Record<string, unknown> = {
    name: "user-container",
    ports: [{ name: input.protocol, containerPort: input.port }],
  };
  const podSpec: Record<string, unknown> = { containers: [container] };
  switch (input.sandbox) {
    case "firecracker":
      container.image = input.stubImage ?? DEFAULT_FIRECRACKER_STUB_IMAGE;
      env.push({ name: "GUEST_PORT", value: String(input.port) }, { name: "GUEST_IMAGE", value: input.image });
      break;
    case "gvisor":
      container.image = input.image;
      podSpec.runtimeClassName = GVISOR_RUNTIME_CLASS;
      break;
    case "containerd":
      container.image = input.image;
      break;
  }
  if (env.length > 0) container.env = env;
  if (input.nodeSelector && Object.keys(input.nodeSelector).length > 0) podSpec.nodeSelector = { ...input.nodeSelector };
  const annotations: Record<string, string> = {};
  if (input.minScale !== undefined) annotations["autoscaling.knative.dev/min-scale"] = String(input.minScale);
  if (input.maxScale !== undefined) annotations["autoscaling.knative.dev/max-scale"] = String(input.maxScale);
  const template: Record<string, unknown> = { spec: podSpec };
  if (Object.keys(annotations).length > 0) template.metadata = { annotations };
  return {
    apiVersion: "serving.knative.dev/v1",
    kind: "Service",
    metadata: {
      name: input.name,
      namespace: input.namespace,
      ...(input.labels ? { labels: { ...input.labels } } : {}),
    },
    spec: { template },
  };
}
