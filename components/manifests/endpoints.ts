/** One entry of vSwarm's endpoints.json (what its invoker reads). */
export interface VswarmEndpoint {
  /** `<service>.<namespace>.<domain>`: the Knative route's host, without scheme or port. */
  hostname: string;
  /** True when the function is reached through Knative Eventing (latency measured via TimeseriesDB). */
  eventing: boolean;
  /** CloudEvent attribute values expected in completion events; null when not eventing. */
  matchers: Record<string, string> | null;
}

export interface DeployedFunction {
  serviceName: string;
  namespace: string;
  eventing?: { matchers: Record<string, string> };
}

/** The endpoints list for the deployed functions under Knative's `domain`. */
export function vswarmEndpoints(functions: DeployedFunction[], domain: string): VswarmEndpoint[] {
  if (domain.trim() === "") throw new Error("domain: must not be empty (Knative's default domain)");
  return functions.map((f) => ({
    hostname: `${f.serviceName}.${f.namespace}.${domain}`,
    eventing: f.eventing !== undefined,
    matchers: f.eventing ? { ...f.eventing.matchers } : null,
  }));
}

/** endpoints.json text, as vSwarm's deployer writes it (tab-indented JSON array). */
export function vswarmEndpointsJson(functions: DeployedFunction[], domain: string): string {
  return JSON.stringify(vswarmEndpoints(functions, domain), null, "\t");
}
