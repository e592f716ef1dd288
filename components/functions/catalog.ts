import type { FunctionSpec } from "./args.js";

/**
 * vHive's stock workloads (configs/knative_workloads): gRPC servers on port 50051. Images are the
 * tags vHive deploys; give a spec with a digest to pin harder.
 */
export const FUNCTION_CATALOG: Readonly<Record<string, FunctionSpec>> = {
  helloworld: { name: "helloworld", image: "ghcr.io/ease-lab/helloworld:var_workload", port: 50051, protocol: "h2c" },
  pyaes: { name: "pyaes", image: "ghcr.io/ease-lab/pyaes:var_workload", port: 50051, protocol: "h2c" },
  "rnn-serving": { name: "rnn-serving", image: "vhiveease/rnn_serving:var_workload", port: 50051, protocol: "h2c" },
};

/** A catalog name or a full spec → a full spec; unknown names fail naming the entry. */
export function resolveFunction(entry: string | FunctionSpec, index: number): FunctionSpec {
  if (typeof entry !== "string") return entry;
  // Own entries only: "constructor" or "toString" are not functions of the catalog.
  const spec = Object.hasOwn(FUNCTION_CATALOG, entry) ? FUNCTION_CATALOG[entry] : undefined;
  if (!spec) {
    throw new Error(`functions[${index}]: unknown function "${entry}" (catalog: ${Object.keys(FUNCTION_CATALOG).join(", ")}; or give {name, image, port})`);
  }
  return spec;
}

/** Knative Service names for a spec: "<name>-0" … "<name>-<count-1>", as vSwarm's deployer names them. */
export function instanceNames(spec: FunctionSpec, suffix = ""): string[] {
  const count = spec.count ?? 1;
  if (!Number.isInteger(count) || count < 1) throw new Error(`functions[${spec.name}].count: ${count} must be a positive integer`);
  return Array.from({ length: count }, (_, i) => `${spec.name}-${i}${suffix}`);
}
