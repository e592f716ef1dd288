import type { K8sObject } from "./types.js";

export function namespace(name: string, labels?: Record<string, string>): K8sObject {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, ...(labels ? { labels } : {}) } };
}
