import { describe, expect, it } from "vitest";
import { gvisorRuntimeClass } from "#components/manifests/runtime-class.js";
import { metallbAddressPool, metallbL2Advertisement } from "#components/manifests/metallb.js";
import { registryObjects } from "#components/manifests/registry.js";
import { knativeService } from "#components/manifests/knative-service.js";
import { namespace } from "#components/manifests/namespace.js";
import {
  minioCredentialsSecret,
  minioDeployment,
  minioEndpoint,
  minioPersistentVolume,
  minioPersistentVolumeClaim,
  minioService,
  minioStorageClass,
  DEFAULT_MINIO_IMAGE,
  type MinioLayout,
} from "#components/manifests/minio.js";
import { nodePool, nodePoolMembership, yurthubStaticPod } from "#components/manifests/openyurt.js";
import { vswarmEndpoints, vswarmEndpointsJson } from "#components/manifests/endpoints.js";
import type { SandboxKind } from "#components/manifests/types.js";
import { validateObject } from "./validate-object.js";

const layout: MinioLayout = {
  namespace: "default",
  nodeName: "worker-1",
  hostPath: "/var/lib/vhive/minio",
  storageSize: "20Gi",
  image: DEFAULT_MINIO_IMAGE,
  port: 9000,
};

const sandboxes: SandboxKind[] = ["firecracker", "gvisor", "containerd"];

function helloworld(sandbox: SandboxKind) {
  return knativeService({
    name: "helloworld-0",
    namespace: "default",
    image: "ghcr.io/ease-lab/helloworld:var_workload",
    port: 50051,
    protocol: "h2c",
    sandbox,
  });
}

describe("every generated object validates against its schema", () => {
  const all = {
    runtimeClass: [gvisorRuntimeClass()],
    metallb: [metallbAddressPool("vhive-pool", ["192.0.2.240-192.0.2.250", "198.51.100.0/28"]), metallbL2Advertisement("vhive-pool-l2", "vhive-pool")],
    registry: registryObjects(),
    namespace: [namespace("istio-system")],
    knative: sandboxes.map(helloworld),
    minio: [
      minioStorageClass(),
      minioPersistentVolume(layout),
      minioPersistentVolumeClaim(layout),
      minioCredentialsSecret("default", "minio", "minio-secret-key"),
      minioDeployment(layout),
      minioService(layout),
    ],
    openyurt: [
      nodePool("cloud", "cloud"),
      nodePool("edge", "edge"),
      yurthubStaticPod({ image: "openyurt/yurthub:v1.7.0", serverAddr: "https://192.0.2.10:6443", poolName: "edge", kind: "edge" }),
      { apiVersion: "v1", kind: "Node", metadata: { name: "edge-1", ...nodePoolMembership("edge", "edge") } },
    ],
  };
  for (const [group, objs] of Object.entries(all)) {
    it(`${group}: valid and unchanged (snapshot)`, () => {
      for (const o of objs) expect(() => validateObject(o)).not.toThrow();
      expect(objs).toMatchSnapshot();
    });
  }
});

describe("the validators catch what they claim to", () => {
  it("rejects a Deployment with a non-string container name (kubernetes-models)", () => {
    const bad = structuredClone(minioDeployment(layout)) as unknown as { spec: { template: { spec: { containers: { name: unknown }[] } } } };
    bad.spec.template.spec.containers[0]!.name = 7;
    expect(() => validateObject(bad as never)).toThrow(/name must be string/);
  });
  it("rejects a NodePool of an unknown type and an IPAddressPool without addresses", () => {
    const pool = nodePool("edge", "edge") as unknown as { spec: { type: string } };
    pool.spec.type = "Fog";
    expect(() => validateObject(pool as never)).toThrow(/type/);
    const ip = metallbAddressPool("p", ["192.0.2.1-192.0.2.9"]) as unknown as { spec: Record<string, unknown> };
    delete ip.spec.addresses;
    expect(() => validateObject(ip as never)).toThrow(/addresses/);
  });
  it("refuses kinds it has no schema for", () => {
    expect(() => validateObject({ apiVersion: "example.dev/v1", kind: "Widget" })).toThrow(/no schema/);
  });
});

describe("Knative Service per sandbox", () => {
  it("firecracker: stub image in user-container, workload in GUEST_IMAGE/GUEST_PORT", () => {
    const c = (helloworld("firecracker").spec as any).template.spec.containers[0];
    expect(c.name).toBe("user-container");
    expect(c.image).toBe("ghcr.io/vhive-serverless/crccheck-hello-world:latest");
    expect(c.env).toEqual([
      { name: "GUEST_PORT", value: "50051" },
      { name: "GUEST_IMAGE", value: "ghcr.io/ease-lab/helloworld:var_workload" },
    ]);
    expect(c.ports).toEqual([{ name: "h2c", containerPort: 50051 }]);
  });
  it("gvisor: the workload image with runtimeClassName gvisor", () => {
    const spec = (helloworld("gvisor").spec as any).template.spec;
    expect(spec.runtimeClassName).toBe("gvisor");
    expect(spec.containers[0].image).toBe("ghcr.io/ease-lab/helloworld:var_workload");
    expect(spec.containers[0].env).toBeUndefined();
  });
  it("containerd: the workload image as is, no runtime class", () => {
    const spec = (helloworld("containerd").spec as any).template.spec;
    expect(spec.runtimeClassName).toBeUndefined();
    expect(spec.containers[0].image).toBe("ghcr.io/ease-lab/helloworld:var_workload");
  });
  it("bad names and ports are refused naming the function", () => {
    const base = { namespace: "default", image: "x", port: 80, protocol: "http1" as const, sandbox: "containerd" as const };
    expect(() => knativeService({ ...base, name: "Hello_World" })).toThrow("functions[Hello_World].name: must be a DNS label");
    expect(() => knativeService({ ...base, name: "hello", port: 70000 })).toThrow("functions[hello].port: 70000 is not a TCP port");
  });
});

describe("MinIO", () => {
  it("pins the volume to the chosen node and path, without a fixed cluster IP", () => {
    const pv = minioPersistentVolume(layout) as any;
    // The minio-data step makes the directory (root-only); the kubelet must not make another.
    expect(pv.spec.hostPath).toEqual({ path: "/var/lib/vhive/minio", type: "Directory" });
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual(["worker-1"]);
    expect((minioService(layout) as any).spec.clusterIP).toBeUndefined();
    expect(minioEndpoint(layout)).toBe("http://minio-service.default.svc.cluster.local:9000");
  });
  it("takes credentials from the Secret, never inline", () => {
    const env = (minioDeployment(layout) as any).spec.template.spec.containers[0].env;
    for (const e of env) {
      expect(e.value).toBeUndefined();
      expect(e.valueFrom.secretKeyRef.name).toBe("minio-credentials");
    }
  });
  it("refuses a relative host path and a bad size", () => {
    expect(() => minioPersistentVolume({ ...layout, hostPath: "data/minio" })).toThrow('minio.hostPath: "data/minio" must be an absolute path');
    expect(() => minioPersistentVolume({ ...layout, storageSize: "lots" })).toThrow(/minio.storageSize/);
  });
});

describe("OpenYurt objects", () => {
  it("edge nodes are labelled into their pool and autonomous; cloud nodes are not autonomous", () => {
    expect(nodePoolMembership("edge-a", "edge")).toEqual({
      labels: { "apps.openyurt.io/nodepool": "edge-a", "openyurt.io/is-edge-worker": "true" },
      annotations: { "node.openyurt.io/autonomy-duration": "0" },
    });
    expect(nodePoolMembership("cloud", "cloud").annotations).toEqual({});
  });
  it("refuses a pool name that is not a DNS name, and an API URL without https", () => {
    expect(() => nodePool("Edge Pool", "edge")).toThrow('openyurt.poolNames.edge: "Edge Pool" must be a lowercase DNS name');
    expect(() => yurthubStaticPod({ image: "i", serverAddr: "http://x:6443", poolName: "p", kind: "edge" })).toThrow(/openyurt.apiServerUrl/);
  });
});

describe("endpoints.json", () => {
  it("is vSwarm's format: hostname <svc>.<ns>.<domain>, eventing flag, matchers", () => {
    const fns = [
      { serviceName: "helloworld-0", namespace: "default" },
      { serviceName: "pipeline-0", namespace: "bench", eventing: { matchers: { type: "greeting" } } },
    ];
    expect(vswarmEndpoints(fns, "192.0.2.240.sslip.io")).toEqual([
      { hostname: "helloworld-0.default.192.0.2.240.sslip.io", eventing: false, matchers: null },
      { hostname: "pipeline-0.bench.192.0.2.240.sslip.io", eventing: true, matchers: { type: "greeting" } },
    ]);
    expect(JSON.parse(vswarmEndpointsJson(fns, "d.example"))).toHaveLength(2);
    expect(() => vswarmEndpoints(fns, " ")).toThrow(/domain/);
  });
});

describe("registry", () => {
  it("refuses a NodePort outside the NodePort range", () => {
    expect(() => registryObjects({ nodePort: 5000 })).toThrow("registry.nodePort: 5000 is outside the NodePort range 30000-32767");
  });
});
