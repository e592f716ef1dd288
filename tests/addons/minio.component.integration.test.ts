import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import { containsSecret, installMockCluster, settle, outputValue, type MockCluster } from "../doubles/addons/mock-cluster.js";

let cluster: MockCluster;
let Minio: typeof import("#components/minio/index.js").Minio;

beforeAll(async () => {
  cluster = await installMockCluster();
  ({ Minio } = await import("#components/minio/index.js"));
});

describe("Minio component", () => {
  it("registers the seed's shape, pins the PV to the node, keeps credentials secret", async () => {
    const provider = new k8s.Provider("k8s", { kubeconfig: pulumi.secret("apiVersion: v1\nkind: Config\n") });
    const minio = new Minio("minio", {
      provider,
      nodeName: "worker-1",
      hostPath: "/var/lib/vhive/minio",
      accessKey: pulumi.secret("minio-user"),
      secretKey: pulumi.secret("minio-password-123"),
    });
    expect(await outputValue(minio.endpoint)).toBe("http://minio-service.default.svc.cluster.local:9000");
    expect(await pulumi.isSecret(minio.accessKey)).toBe(true);
    expect(await pulumi.isSecret(minio.secretKey)).toBe(true);
    expect(await pulumi.isSecret(minio.endpoint)).toBe(false);
    await settle();

    const kinds = cluster.registrations.filter((r) => r.parent.endsWith("::minio")).map((r) => r.type);
    expect(kinds.sort()).toEqual([
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:PersistentVolume",
      "kubernetes:core/v1:PersistentVolumeClaim",
      "kubernetes:core/v1:Secret",
      "kubernetes:core/v1:Service",
      "kubernetes:storage.k8s.io/v1:StorageClass",
    ]);
    const pv = cluster.byName("minio-pv").inputs as any;
    expect(pv.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values).toEqual(["worker-1"]);

    const secret = cluster.byName("minio-credentials");
    expect(containsSecret(secret.rawInputs.stringData)).toBe(true);
    expect(secret.additionalSecretOutputs).toEqual(expect.arrayContaining(["stringData", "data"]));
    expect((secret.inputs as any).stringData).toEqual({ MINIO_ROOT_USER: "minio-user", MINIO_ROOT_PASSWORD: "minio-password-123" });
    // The password appears nowhere outside the Secret's (secret) stringData.
    for (const r of cluster.registrations.filter((x) => x.name !== "minio-credentials")) {
      expect(JSON.stringify(r.rawInputs)).not.toContain("minio-password-123");
    }
    expect(cluster.dependencyNames("minio-deployment")).toEqual(expect.arrayContaining(["minio-pvc", "minio-credentials"]));
    expect(cluster.dependencyNames("minio-pv")).toContain("minio-storageclass");
  });

  it("refuses a relative host path before registering anything, naming the field", () => {
    const provider = new k8s.Provider("k8s2", {});
    const before = cluster.registrations.length;
    expect(() => new Minio("bad", { provider, nodeName: "n", hostPath: "minio", accessKey: "a", secretKey: pulumi.secret("longenough") })).toThrow(
      'minio.hostPath: "minio" must be an absolute path',
    );
    expect(cluster.registrations.slice(before).filter((r) => r.parent.endsWith("::bad"))).toEqual([]);
  });
});
