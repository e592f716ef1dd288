// MinIO on the kind dev environment under mocks: its data directory (a hostPath volume of type
// Directory, which the kubelet will not create) is made by the minio-data step inside the dev
// container before MinIO's objects.
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, stackConfigMap, PROJECT, type StackRun } from "./mocked-program.js";

describe("MinIO on kind under mocks", () => {
  let run: StackRun;
  beforeAll(async () => {
    const config = stackConfigMap("dev");
    config[`${PROJECT}:minio`] = JSON.stringify({ enabled: true, accessKey: { secret: "minioAccessKey" }, secretKey: { secret: "minioSecretKey" } });
    run = await runStack("dev", config);
  }, 120_000);

  it("makes the data directory in the dev container, root-only, before MinIO", async () => {
    const step = run.resources.find((r) => r.name === "vhive-dev-minio-data");
    expect(step?.type).toBe("vhive:index:LocalCommand");
    const create = await new Promise<string>((resolve) => (step!.inputs.create as { apply: (f: (v: string) => void) => void }).apply(resolve));
    expect(create).toContain('docker exec "$name" bash -c');
    expect(create).toContain("as_root install -d -m 0700 '/var/lib/vhive-minio'");
    expect(run.dependsOn("minio").has("vhive-dev-minio-data")).toBe(true);
  });
});
