import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StandInResource, installMockCluster, settle, outputValue, type MockCluster } from "../doubles/addons/mock-cluster.js";
import { FixtureFetcher, calicoYaml, genericYaml, metallbYaml, servingCoreYaml, sha256 } from "../doubles/addons/release-fixtures.js";
import { stringify } from "yaml";
import { validateObject } from "./validate-object.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";

let cluster: MockCluster;
let mod: typeof import("#components/addons/index.js");
let functionsMod: typeof import("#components/functions/index.js");

// net-istio stand-in: a controller and its webhook registration.
const netIstioYaml = [
  { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "net-istio-webhook", namespace: "knative-serving" }, spec: {} },
  {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: "config.webhook.istio.networking.internal.knative.dev" },
    webhooks: [{ name: "x", clientConfig: { service: { name: "net-istio-webhook", namespace: "knative-serving" } } }],
  },
]
  .map((o) => stringify(o))
  .join("---\n");

const bodies: Record<string, string> = {
  calico: calicoYaml,
  metallb: metallbYaml,
  "knative-serving-crds": genericYaml("crds-stand-in"),
  "knative-serving-core": servingCoreYaml,
  "net-istio": netIstioYaml,
  "net-kourier": genericYaml("kourier-stand-in"),
  "istio-base": "base chart archive stand-in",
  istiod: "istiod chart archive stand-in",
  "istio-gateway": "gateway chart archive stand-in",
  "knative-eventing-crds": genericYaml("eventing-crds-stand-in"),
  "knative-eventing-core": genericYaml("eventing-core-stand-in"),
  "knative-in-memory-channel": genericYaml("imc-stand-in"),
  "knative-mt-channel-broker": genericYaml("broker-stand-in"),
};
const urlKey = (url: string) => {
  const file = url.split("/").pop()!;
  const map: Record<string, string> = {
    "calico.yaml": "calico",
    "metallb-native.yaml": "metallb",
    "serving-crds.yaml": "knative-serving-crds",
    "serving-core.yaml": "knative-serving-core",
    "net-istio.yaml": "net-istio",
    "kourier.yaml": "net-kourier",
    "base-1.29.2.tgz": "istio-base",
    "istiod-1.29.2.tgz": "istiod",
    "gateway-1.29.2.tgz": "istio-gateway",
    "eventing-crds.yaml": "knative-eventing-crds",
    "eventing-core.yaml": "knative-eventing-core",
    "in-memory-channel.yaml": "knative-in-memory-channel",
    "mt-channel-broker.yaml": "knative-mt-channel-broker",
  };
  return map[file]!;
};
const checksums = Object.fromEntries(Object.entries(bodies).map(([k, v]) => [k, `sha256:${sha256(v)}`]));
const versions = { calico: "3.31.5", metallb: "0.15.3", istio: "1.29.2", knative: "1.21.2" };

// Verified release files are kept in the cache under $XDG_CACHE_HOME; keep them in a directory of our own.
const originalCache = process.env.XDG_CACHE_HOME;
const chartTmp = mkdtempSync(join(tmpdir(), "h2-addons-"));
afterAll(async () => {
  // Chart archives are written when their inputs resolve: let those land before cleanup.
  await settle(200);
  if (originalCache === undefined) delete process.env.XDG_CACHE_HOME;
  else process.env.XDG_CACHE_HOME = originalCache;
  rmSync(chartTmp, { recursive: true, force: true });
});

beforeAll(async () => {
  process.env.XDG_CACHE_HOME = chartTmp;
  cluster = await installMockCluster((type, _name, inputs) =>
    // What the provider reports for the ingress gateway Service MetalLB gave an address.
    type === "kubernetes:core/v1:Service" && inputs.spec === undefined ? { status: { loadBalancer: { ingress: [{ ip: "192.0.2.240" }] } } } : {},
  );
  mod = await import("#components/addons/index.js");
  functionsMod = await import("#components/functions/index.js");
});

const provider = () => new k8s.Provider(`k8s-${Math.random().toString(36).slice(2, 8)}`, { kubeconfig: pulumi.secret("kubeconfig") });

describe("ClusterAddons under mocks", () => {
  it("firecracker + istio: stages in vHive's order, webhook registrations after their workloads", async () => {
    const fetcher = new FixtureFetcher((url) => bodies[urlKey(url)]!);
    // Stands in for the worker joins the program passes as dependsOn.
    const joined = new StandInResource("workers-joined");
    const addons = new mod.ClusterAddons(
      "fc",
      {
        provider: provider(),
        sandbox: "firecracker",
        versions,
        checksums,
        podCidr: "10.244.0.0/16",
        metallbPool: { addresses: ["192.0.2.240-192.0.2.250"] },
        nodeNames: ["cp-0", "worker-1"],
        registry: {},
        fetcher,
      },
      { dependsOn: [joined] },
    );
    expect(await outputValue(addons.domain)).toBe("192.0.2.240.sslip.io");
    expect(await outputValue(addons.registryEndpoint)).toBe("localhost:30500");
    await settle(50);

    const deps = (n: string) => cluster.dependencyNames(n);
    // Calico first; nodes Ready after Calico; CoreDNS after the nodes.
    expect(deps("fc-calico")).toEqual(["workers-joined"]);
    expect(deps("fc-node-ready-0")).toEqual(["workers-joined", "fc-calico"]);
    // Every resource of the component waits for the joins.
    for (const r of cluster.registrations.filter((x) => x.parent.endsWith("::fc") && x.name !== "fc-ingress-service")) {
      expect(deps(r.name)).toContain("workers-joined");
    }
    expect(deps("fc-coredns-available")).toEqual(expect.arrayContaining(["fc-calico", "fc-node-ready-0", "fc-node-ready-1"]));
    expect((cluster.byName("fc-node-ready-1").inputs as any).metadata).toMatchObject({
      name: "worker-1",
      annotations: { "pulumi.com/waitFor": "condition=Ready" },
    });
    // MetalLB after the cluster is up; its pool only after its webhook is registered.
    expect(deps("fc-metallb")).toEqual(expect.arrayContaining(["fc-coredns-available"]));
    expect(deps("fc-metallb-webhooks")).toEqual(["workers-joined", "fc-metallb"]);
    expect(deps("fc-metallb-pool")).toEqual(["workers-joined", "fc-metallb-webhooks"]);
    // Istio charts chained, gateway after the pool (it needs an address).
    expect(deps("fc-istiod")).toEqual(["workers-joined", "fc-istio-base"]);
    expect(deps("fc-istio-ingressgateway")).toEqual(expect.arrayContaining(["fc-istiod", "fc-metallb-pool"]));
    // Knative: webhook registrations only after the webhook's Deployment and Service are up.
    expect(deps("fc-knative-serving")).toEqual(expect.arrayContaining(["fc-knative-serving-crds", "fc-istio-ingressgateway"]));
    expect(deps("fc-knative-serving-webhooks")).toEqual(["workers-joined", "fc-knative-serving"]);
    expect(deps("fc-net-istio")).toEqual(expect.arrayContaining(["fc-knative-serving-webhooks"]));
    expect(deps("fc-config-domain")).toEqual(expect.arrayContaining(["fc-knative-serving-webhooks"]));

    const objs = (n: string) =>
      (cluster.byName(n).inputs as { objs: { apiVersion: string; kind: string; metadata: { name: string }; data?: any; spec?: any }[] }).objs;
    expect(objs("fc-knative-serving-webhooks").map((o) => o.kind)).toEqual(["ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"]);
    expect(objs("fc-knative-serving").find((o) => o.metadata.name === "config-deployment")!.data["queue-sidecar-image"]).toBe(
      mod.VHIVE_FIRECRACKER_QUEUE_PROXY,
    );
    expect(objs("fc-metallb-pool").map((o) => o.kind)).toEqual(["IPAddressPool", "L2Advertisement"]);
    // Objects we generate (not upstream's) validate against their schemas as registered.
    for (const o of [...objs("fc-metallb-pool"), ...objs("fc-registry")]) expect(() => validateObject(o)).not.toThrow();
    expect((cluster.byName("fc-config-domain").inputs as any).data).toEqual({ "192.0.2.240.sslip.io": "" });
    // Charts are handed to Helm as local files holding exactly the verified bytes.
    const chartPath = (cluster.byName("fc-istiod").inputs as { chart: string }).chart;
    expect(chartPath.startsWith(chartTmp)).toBe(true);
    expect(readFileSync(chartPath, "utf8")).toBe(bodies.istiod);
    // No RuntimeClass for firecracker; every release file was checked and fetched once.
    expect(() => cluster.byName("fc-runtimeclass")).toThrow();
    expect(new Set(fetcher.requested).size).toBe(fetcher.requested.length);
    expect(cluster.reads).toContainEqual({ type: "kubernetes:core/v1:Service", name: "fc-ingress-service", id: "istio-system/istio-ingressgateway" });
  });

  it("gvisor + kourier + eventing: RuntimeClass, flag, kourier ingress, eventing phased", async () => {
    const fetcher = new FixtureFetcher((url) => bodies[urlKey(url)]!);
    const addons = new mod.ClusterAddons("gv", {
      provider: provider(),
      sandbox: "gvisor",
      versions,
      checksums,
      podCidr: "10.244.0.0/16",
      metallbPool: { name: "lab", addresses: ["192.0.2.240/29"] },
      nodeNames: ["kind-control-plane"],
      ingress: "kourier",
      eventing: true,
      domain: "knative.example.test",
      fetcher,
    });
    expect(await outputValue(addons.domain)).toBe("knative.example.test");
    await settle(50);
    const objs = (n: string) => (cluster.byName(n).inputs as { objs: any[] }).objs;
    for (const o of objs("gv-runtimeclass")) expect(() => validateObject(o)).not.toThrow();
    expect(objs("gv-runtimeclass")).toEqual([{ apiVersion: "node.k8s.io/v1", kind: "RuntimeClass", metadata: { name: "gvisor" }, handler: "runsc" }]);
    const features = objs("gv-knative-serving").find((o) => o.metadata.name === "config-features").data;
    expect(features["kubernetes.podspec-runtimeclassname"]).toBe("enabled");
    expect(() => cluster.byName("gv-istiod")).toThrow();
    expect(cluster.dependencyNames("gv-net-kourier")).toEqual(expect.arrayContaining(["gv-knative-serving-webhooks"]));
    expect(cluster.dependencyNames("gv-knative-eventing-webhooks")).toEqual(["gv-knative-eventing"]);
    expect(cluster.dependencyNames("gv-knative-broker")).toEqual(["gv-knative-imc-webhooks"]);
    expect(fetcher.requested.some((u) => u.endsWith("/kourier.yaml"))).toBe(true);
  });

  it("functions created after Knative: dependsOn the addons reaches the webhook registrations", async () => {
    const fetcher = new FixtureFetcher((url) => bodies[urlKey(url)]!);
    const p = provider();
    const addons = new mod.ClusterAddons("ct", {
      provider: p,
      sandbox: "containerd",
      versions,
      checksums,
      podCidr: "10.244.0.0/16",
      metallbPool: { addresses: ["192.0.2.240-192.0.2.250"] },
      nodeNames: ["n0"],
      fetcher,
    });
    const fns = new functionsMod.Functions(
      "fns",
      { provider: p, sandbox: "containerd", functions: ["helloworld"], domain: addons.domain },
      { dependsOn: addons.knativeReady },
    );
    expect(JSON.parse(await outputValue(fns.endpointsJson))).toEqual([
      { hostname: "helloworld-0.default.192.0.2.240.sslip.io", eventing: false, matchers: null },
    ]);
    await settle(50);
    expect(cluster.dependencyNames("fns-helloworld-0")).toEqual(
      expect.arrayContaining(["ct-knative-serving-webhooks", "ct-net-istio-webhooks", "ct-config-domain"]),
    );
  });

  it("a release file with no pinned checksum is verified against upstream's checksums.txt, recorded in the lock", async () => {
    const lockDir = mkdtempSync(join(tmpdir(), "h2-lock-"));
    const lock = new ChecksumLock(join(lockDir, "checksums.lock.json"));
    // Stands in for Knative's published checksums.txt beside the release files (sha256sum lines).
    const listing = ["knative-serving-crds", "knative-serving-core", "net-istio"]
      .map((k) => `${sha256(bodies[k]!)}  ${k.replace("knative-", "")}.yaml`)
      .join("\n");
    const fetcher = new FixtureFetcher((url) => (url.endsWith("/checksums.txt") ? listing : bodies[urlKey(url)]!));
    const pinned = Object.fromEntries(Object.entries(checksums).filter(([k]) => !["knative-serving-crds", "knative-serving-core", "net-istio"].includes(k)));
    const addons = new mod.ClusterAddons("lk", {
      provider: provider(),
      sandbox: "containerd",
      versions,
      checksums: pinned,
      podCidr: "10.244.0.0/16",
      metallbPool: { addresses: ["192.0.2.240-192.0.2.250"] },
      nodeNames: ["n0"],
      fetcher,
      checksumLock: lock,
    });
    await outputValue(addons.domain);
    await settle(50);
    const objs = (n: string) => (cluster.byName(n).inputs as { objs: { metadata: { name: string } }[] }).objs;
    expect(objs("lk-knative-serving").some((o) => o.metadata.name === "config-deployment")).toBe(true);
    const url = "https://github.com/knative/serving/releases/download/knative-v1.21.2/serving-core.yaml";
    expect(new ChecksumLock(lock.path).get(url)).toEqual({
      checksum: `sha256:${sha256(bodies["knative-serving-core"]!)}`,
      source: "https://github.com/knative/serving/releases/download/knative-v1.21.2/checksums.txt",
    });
    rmSync(lockDir, { recursive: true, force: true });
  });
});
