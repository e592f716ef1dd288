import type { K8sObject } from "./types.js";

/** Name pods (and Knative Services) use in `runtimeClassName` to run under gVisor. */
export const GVISOR_RUNTIME_CLASS = "gvisor";

/** RuntimeClass mapping `gvisor` to containerd's `runsc` handler (configured by the host bootstrap). */
export function gvisorRuntimeClass(): K8sObject {
  return {
    apiVersion: "node.k8s.io/v1",
    kind: "RuntimeClass",
    metadata: { name: GVISOR_RUNTIME_CLASS },
    handler: "runsc",
  };
}
