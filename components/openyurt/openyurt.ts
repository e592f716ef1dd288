import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { HttpManifestFetcher } from "../addons/fetch.js";
import { ReleaseFiles } from "../addons/release-files.js";
import { resolveArtifacts } from "../addons/releases.js";
import { Functions } from "../functions/functions.js";
import { FUNCTION_CATALOG } from "../functions/catalog.js";
import { NODEPOOL_LABEL, nodePool, nodePoolMembership } from "../manifests/openyurt.js";
import type { PoolKind } from "../manifests/types.js";
import type { OpenYurtArgs } from "./args.js";
import { yurthubJoinScript, yurthubLeaveScript } from "../host-steps/index.js";
import { withOuterDependsOn } from "../addons/depends-on.js";

/** Current OpenYurt release (charts yurt-manager and yurthub at the same version). */
export const DEFAULT_OPENYURT_VERSION = "1.7.0";

/**
 * Merges endpoints.json lists (vHive's format: a JSON array of endpoints) into one, in order,
 * dropping exact duplicates, so the stack's functions and OpenYurt's demo functions share one
 * output.
 */
export function mergeEndpointsJson(lists: readonly string[]): string {
  const seen = new Set<string>();
  const merged: unknown[] = [];
  for (const text of lists) {
    const list: unknown = JSON.parse(text);
    if (!Array.isArray(list)) throw new Error("endpointsJson: expected a JSON array of endpoints");
    for (const entry of list) {
      const key = JSON.stringify(entry);
      if (!seen.has(key)) {
        seen.add(key);
        merged.push(entry);
      }
    }
  }
  return JSON.stringify(merged, null, "\t");
}

/** Host-side step for one node: run `create` over SSH after it joined, `delete` on destroy. */
export interface YurthubHostStep {
  node: string;
  pool: PoolKind;
  create: string;
  delete: string;
}

/**
 * Knative atop OpenYurt: yurt-manager and yurthub (charts), cloud and edge NodePools, every node
 * labelled into its pool, edge nodes autonomous, and the demo functions once per pool, pinned
 * there by node selector. Put this after the worker joins and after ClusterAddons (`dependsOn`).
 * The yurthub static pod is a host-side step: run `hostSteps` (secret: they carry the
 * bootstrap token) on each node once this component is up.
 */
export class OpenYurt extends pulumi.ComponentResource {
  readonly poolNames: { cloud: string; edge: string };
  /** Per node, the scripts that install / remove yurthub there (Pulumi secret). */
  readonly hostSteps: pulumi.Output<YurthubHostStep[]>;
  /** endpoints.json of the stack's functions (`functionsEndpointsJson`) and the demo functions of both pools. */
  readonly endpointsJson: pulumi.Output<string>;

  constructor(name: string, args: OpenYurtArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:openyurt:OpenYurt", name, {}, opts);
    const version = args.version ?? DEFAULT_OPENYURT_VERSION;
    const pools = { cloud: args.poolNames?.cloud ?? "cloud", edge: args.poolNames?.edge ?? "edge" };
    this.poolNames = pools;
    if (!args.nodes.some((n) => n.pool === "cloud")) throw new Error("openyurt.nodes: at least one node must be in the cloud pool");
    const artifacts = resolveArtifacts(
      [
        { key: "yurt-manager", version },
        { key: "yurthub", version },
      ],
      args.checksums,
      args.artifactMirror,
    );
    const files = new ReleaseFiles(artifacts, {
      fetcher: args.fetcher ?? new HttpManifestFetcher(),
      ...(args.checksumLock ? { lock: args.checksumLock } : {}),
      ...(args.artifactMirror ? { artifactMirror: args.artifactMirror } : {}),
    });
    const base: pulumi.CustomResourceOptions = { parent: this, provider: args.provider, dependsOn: withOuterDependsOn(opts?.dependsOn, []) };
    const after = (deps: pulumi.Resource[]) => withOuterDependsOn(opts?.dependsOn, deps);

    const yurtManager = new k8s.helm.v4.Chart(
      `${name}-yurt-manager`,
      { chart: files.chartPath("yurt-manager"), namespace: "kube-system", values: { image: { tag: `v${version}` } } },
      base,
    );
    const yurthub = new k8s.helm.v4.Chart(
      `${name}-yurthub`,
      {
        chart: files.chartPath("yurthub"),
        namespace: "kube-system",
        values: { kubernetesServerAddr: args.apiServerUrl, image: { tag: `v${version}` } },
      },
      { ...base, dependsOn: after([yurtManager]) },
    );

    const nodePools = new k8s.yaml.v2.ConfigGroup(
      `${name}-nodepools`,
      { objs: [nodePool(pools.cloud, "cloud"), nodePool(pools.edge, "edge")] },
      { ...base, dependsOn: after([yurtManager]) },
    );
    const memberships = args.nodes.map((n, i) => {
      const m = nodePoolMembership(pools[n.pool], n.pool);
      return new k8s.core.v1.NodePatch(
        `${name}-node-${i}`,
        { metadata: { name: n.name, labels: m.labels, annotations: { ...m.annotations, "pulumi.com/patchForce": "true" } } },
        { ...base, dependsOn: after([nodePools]) },
      );
    });

    const demo = args.demoFunctions ?? [FUNCTION_CATALOG.helloworld!];
    const perPool = (["cloud", "edge"] as const).map(
      (kind) =>
        new Functions(
          `${name}-demo-${kind}`,
          {
            provider: args.provider,
            sandbox: args.sandbox,
            functions: demo,
            domain: args.domain,
            nodeSelector: { [NODEPOOL_LABEL]: pools[kind] },
            nameSuffix: `-${kind}`,
          },
          { parent: this, dependsOn: after([...memberships, yurthub]) },
        ),
    );
    const own = args.functionsEndpointsJson !== undefined ? [pulumi.output(args.functionsEndpointsJson)] : [];
    this.endpointsJson = pulumi.all([...own, ...perPool.map((f) => f.endpointsJson)]).apply((lists) => mergeEndpointsJson(lists));

    const yurthubImage = `openyurt/yurthub:v${version}`;
    this.hostSteps = pulumi.secret(
      pulumi.all([pulumi.all(args.nodes.map((n) => n.name)), args.apiServerUrl, args.bootstrapToken]).apply(([names, serverAddr, token]) =>
        args.nodes.map((n, i) => ({
          node: names[i]!,
          pool: n.pool,
          create: yurthubJoinScript({ image: yurthubImage, serverAddr, poolName: pools[n.pool], kind: n.pool, bootstrapToken: token }),
          delete: yurthubLeaveScript(),
        })),
      ),
    );
    this.registerOutputs({ hostSteps: this.hostSteps, endpointsJson: this.endpointsJson });
  }
}
