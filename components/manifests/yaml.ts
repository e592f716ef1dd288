import { parseAllDocuments } from "yaml";
import type { K8sObject } from "./types.js";

/**
 * Splits a multi-document YAML manifest into objects, dropping empty documents and
 * unwrapping `List` kinds. Throws on a YAML error or on a document that is not a
 * Kubernetes object, naming the document's index and `source` (a URL or file name).
 */
export function parseManifest(text: string, source: string): K8sObject[] {
  const objects: K8sObject[] = [];
  parseAllDocuments(text).forEach((doc, index) => {
    if (doc.errors.length > 0) {
      throw new Error(`${source}: YAML document ${index}: ${doc.errors[0]?.message}`);
    }
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) return;
    const items = isList(value) ? value.items : [value];
    for (const item of items) {
      if (!isK8sObject(item)) {
        throw new Error(`${source}: YAML document ${index} is not a Kubernetes object (apiVersion, kind, metadata.name)`);
      }
      objects.push(item);
    }
  });
  return objects;
}

function isList(value: unknown): value is { items: unknown[] } {
  const v = value as { kind?: unknown; items?: unknown };
  return typeof v === "object" && typeof v.kind === "string" && v.kind.endsWith("List") && Array.isArray(v.items);
}

export function isK8sObject(value: unknown): value is K8sObject {
  const v = value as Partial<K8sObject>;
  return (
    typeof v === "object" &&
    v !== null &&
    typeof v.apiVersion === "string" &&
    typeof v.kind === "string" &&
    typeof v.metadata === "object" &&
    v.metadata !== null &&
    typeof v.metadata.name === "string"
  );
}
