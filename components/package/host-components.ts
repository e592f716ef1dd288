// Serves the components to the Pulumi engine (construct, schema) as the provider of the package
// named in package.json; plugin.cjs calls it when the engine starts the package.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { componentProviderHost } from "@pulumi/pulumi/provider/experimental/index.js";
import { readFileSync } from "node:fs";
import { NodeRuntimeHosts, VhiveCluster } from "./index.js";

export const PACKAGE_DIR = dirname(fileURLToPath(import.meta.url));

/** The package's name as consumers see it: the prefix of its resource types and of the generated SDKs. */
export const PACKAGE_NAME = (JSON.parse(readFileSync(`${PACKAGE_DIR}/package.json`, "utf8")) as { name: string }).name;

export function hostComponents(): Promise<void> {
  return componentProviderHost({ name: PACKAGE_NAME, dirname: PACKAGE_DIR, components: [VhiveCluster, NodeRuntimeHosts] });
}
