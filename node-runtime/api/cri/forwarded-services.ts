import { CRI_METHODS, CRI_PACKAGE, methodPath } from "./cri-methods.js";

// Every gRPC service the CRI socket serves, by full method path. The proxy forwards each one to
// containerd's socket, which serves the same services.

export interface ForwardedMethod {
  /** Fully qualified service name, e.g. runtime.v1.RuntimeService. */
  service: string;
  name: string;
  path: string;
  serverStreaming: boolean;
}

/**
 * grpc.health.v1: containerd answers it on its socket, and so must the proxy (health probes and
 * tools such as grpc_health_probe). Forwarded, so its answer covers containerd behind the proxy.
 */
export const HEALTH_SERVICE = "grpc.health.v1.Health";

const healthMethods: ForwardedMethod[] = [
  { service: HEALTH_SERVICE, name: "Check", path: `/${HEALTH_SERVICE}/Check`, serverStreaming: false },
  { service: HEALTH_SERVICE, name: "Watch", path: `/${HEALTH_SERVICE}/Watch`, serverStreaming: true },
];

export const FORWARDED_METHODS: readonly ForwardedMethod[] = [
  ...CRI_METHODS.map((m) => ({ service: `${CRI_PACKAGE}.${m.service}`, name: m.name, path: methodPath(m), serverStreaming: m.serverStreaming })),
  ...healthMethods,
];

export const FORWARDED_SERVICES: readonly string[] = [...new Set(FORWARDED_METHODS.map((m) => m.service))];
