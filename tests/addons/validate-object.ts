// Validates one generated Kubernetes object against the schema its kind is defined by:
// Kubernetes' own (kubernetes-models), Knative's (@kubernetes-models/knative), or the schemas in
// tests/schemas written from MetalLB's and OpenYurt's documented CRD fields.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv, type ValidateFunction } from "ajv";
import { Deployment } from "kubernetes-models/apps/v1";
import { Namespace, Node, PersistentVolume, PersistentVolumeClaim, Pod, Secret, Service } from "kubernetes-models/v1";
import { RuntimeClass } from "kubernetes-models/node.k8s.io/v1";
import { StorageClass } from "kubernetes-models/storage.k8s.io/v1";
import { Service as KnativeService } from "@kubernetes-models/knative/serving.knative.dev/v1";

const schemaDir = join(dirname(fileURLToPath(import.meta.url)), "..", "schemas");
const ajv = new Ajv({ allErrors: true, strict: true });

function schema(file: string): ValidateFunction {
  return ajv.compile(JSON.parse(readFileSync(join(schemaDir, file), "utf8")) as object);
}
const crdSchemas: Record<string, ValidateFunction> = {
  "metallb.io/v1beta1/IPAddressPool": schema("metallb-ipaddresspool.json"),
  "metallb.io/v1beta1/L2Advertisement": schema("metallb-l2advertisement.json"),
  "apps.openyurt.io/v1beta2/NodePool": schema("openyurt-nodepool.json"),
};

type Model = { validate(): void };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const models: Record<string, new (data: any) => Model> = {
  "v1/Namespace": Namespace,
  "v1/Node": Node,
  "v1/PersistentVolume": PersistentVolume,
  "v1/PersistentVolumeClaim": PersistentVolumeClaim,
  "v1/Pod": Pod,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "node.k8s.io/v1/RuntimeClass": RuntimeClass,
  "storage.k8s.io/v1/StorageClass": StorageClass,
  "serving.knative.dev/v1/Service": KnativeService,
};

/** Throws with the schema's messages when `obj` is invalid, or when no schema covers its kind. */
export function validateObject(obj: { apiVersion: string; kind: string }): void {
  const key = `${obj.apiVersion}/${obj.kind}`;
  const model = models[key];
  if (model) {
    new model(obj).validate();
    return;
  }
  const check = crdSchemas[key];
  if (!check) throw new Error(`no schema for ${key}: add one before generating this kind`);
  if (!check(obj)) throw new Error(`${key} ${JSON.stringify((obj as { metadata?: unknown }).metadata)}: ${ajv.errorsText(check.errors)}`);
}
