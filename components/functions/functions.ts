import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { knativeService } from "../manifests/knative-service.js";
import { vswarmEndpointsJson, type DeployedFunction } from "../manifests/endpoints.js";
import type { FunctionsArgs } from "./args.js";
import { instanceNames, resolveFunction } from "./catalog.js";
import { withOuterDependsOn } from "../addons/depends-on.js";

/**
 * Knative Services in vHive's workload shape for the chosen sandbox, plus the endpoints.json
 * vSwarm's invoker reads. Pass the ClusterAddons (or its `knativeReady`) in `dependsOn`:
 * Knative's CRDs and webhooks must be serving before a Service can be created.
 */
export class Functions extends pulumi.ComponentResource {
  /** endpoints.json content: `[{hostname, eventing, matchers}]`. */
  readonly endpointsJson: pulumi.Output<string>;
  /** Knative Service names, in deployment order. */
  readonly serviceNames: string[];
  /** Route URLs Knative reports once each Service is Ready. */
  readonly urls: pulumi.Output<string[]>;

  constructor(name: string, args: FunctionsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:functions:Functions", name, {}, opts);
    const namespace = args.namespace ?? "default";
    const specs = args.functions.map(resolveFunction);
    const deployed: DeployedFunction[] = [];
    const services: k8s.apiextensions.CustomResource[] = [];
    const seen = new Set<string>();
    for (const spec of specs) {
      for (const serviceName of instanceNames(spec, args.nameSuffix)) {
        if (seen.has(serviceName)) throw new Error(`functions: two functions are both named "${serviceName}"`);
        seen.add(serviceName);
        const obj = knativeService({
          name: serviceName,
          namespace,
          image: spec.image,
          port: spec.port,
          protocol: spec.protocol ?? "h2c",
          sandbox: args.sandbox,
          stubImage: args.stubImage,
          env: spec.env,
          minScale: spec.minScale,
          maxScale: spec.maxScale,
          nodeSelector: args.nodeSelector,
        });
        // Explicit wait on Knative's Ready condition: a function is only up when its route serves.
        const withWait = {
          ...obj,
          metadata: { ...obj.metadata, annotations: { ...(obj.metadata.annotations ?? {}), "pulumi.com/waitFor": "condition=Ready" } },
        };
        services.push(
          new k8s.apiextensions.CustomResource(`${name}-${serviceName}`, withWait as k8s.apiextensions.CustomResourceArgs, {
            parent: this,
            provider: args.provider,
            dependsOn: withOuterDependsOn(opts?.dependsOn, []),
          }),
        );
        deployed.push({ serviceName, namespace, ...(spec.eventing ? { eventing: spec.eventing } : {}) });
      }
    }
    this.serviceNames = deployed.map((d) => d.serviceName);
    this.endpointsJson = pulumi.output(args.domain).apply((domain) => vswarmEndpointsJson(deployed, domain));
    this.urls = pulumi
      .all(services.map((s) => s.urn))
      .apply(() => pulumi.output(args.domain).apply((d) => deployed.map((f) => `http://${f.serviceName}.${f.namespace}.${d}`)));
    this.registerOutputs({ endpointsJson: this.endpointsJson, urls: this.urls });
  }
}
