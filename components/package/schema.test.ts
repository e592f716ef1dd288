// The schema componentProviderHost serves for this package, made by its analyser from the
// components' TypeScript types exactly as when the engine starts the package: it must analyse
// (no unions, callbacks or classes in the args) and describe both components, secrets included.
import { describe, expect, it } from "vitest";
import { ComponentProvider } from "@pulumi/pulumi/provider/experimental/index.js";
import { PACKAGE_DIR, PACKAGE_NAME } from "./host-components.js";
import { NodeRuntimeHosts, VhiveCluster } from "./index.js";

interface PropertySpec {
  type?: string;
  $ref?: string;
  secret?: boolean;
}
interface Schema {
  name: string;
  resources: Record<string, { isComponent: boolean; inputProperties: Record<string, PropertySpec>; properties: Record<string, PropertySpec> }>;
  types: Record<string, { type: string; enum?: { value: string }[] }>;
}

describe("the cross-language package's schema", async () => {
  const provider = new ComponentProvider({ name: PACKAGE_NAME, dirname: PACKAGE_DIR, components: [VhiveCluster, NodeRuntimeHosts] });
  const schema = JSON.parse(await provider.getSchema()) as Schema;

  it("is named after package.json and holds both components", () => {
    expect(schema.name).toBe("vhive-cluster");
    expect(Object.keys(schema.resources).sort()).toEqual([`${PACKAGE_NAME}:index:NodeRuntimeHosts`, `${PACKAGE_NAME}:index:VhiveCluster`]);
    for (const resource of Object.values(schema.resources)) expect(resource.isComponent).toBe(true);
  });

  it("gives VhiveCluster's kubeconfig and node names as outputs, and its target as an enum", () => {
    const cluster = schema.resources[`${PACKAGE_NAME}:index:VhiveCluster`]!;
    expect(Object.keys(cluster.properties)).toEqual(expect.arrayContaining(["kubeconfig", "nodeNames", "apiServerUrl"]));
    const target = cluster.inputProperties.target!.$ref!.replace("#/types/", "");
    expect(schema.types[target]?.enum?.map((e) => e.value).sort()).toEqual(["hosts", "kind"]);
  });

  it("gives NodeRuntimeHosts' node runtime API endpoints as an output", () => {
    const hosts = schema.resources[`${PACKAGE_NAME}:index:NodeRuntimeHosts`]!;
    expect(Object.keys(hosts.properties)).toEqual(expect.arrayContaining(["nodeNames", "nodeRuntimeEndpoints"]));
  });
});
