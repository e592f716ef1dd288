// MinIO's data directory: made by a step, removed on destroy unless minio.retainData.
import { describe, expect, it } from "vitest";
import { checkShellBatch } from "../scripts/check-shell.js";
import { minioDataDirStep } from "./minio-data-dir.js";
import { minioPersistentVolume } from "../manifests/minio.js";

describe("MinIO data directory step", () => {
  const removed = minioDataDirStep("/var/lib/vhive-minio", false);
  const kept = minioDataDirStep("/var/lib/vhive-minio", true);

  it("creates the directory, root-only", () => {
    expect(removed.name).toBe("minio-data");
    expect(removed.create).toContain("as_root install -d -m 0700 '/var/lib/vhive-minio'");
  });

  it("removes it on destroy unless retainData is set", () => {
    expect(removed.delete).toContain("remove_path '/var/lib/vhive-minio'");
    expect(kept.delete).not.toContain("remove_path '/var/lib/vhive-minio'");
    expect(kept.delete).toContain("minio.retainData is true: the data directory /var/lib/vhive-minio is kept.");
  });

  it("is clean shell", () => {
    for (const result of checkShellBatch([removed.create, removed.delete, kept.delete])) expect(result).toEqual({ syntax: "", shellcheck: "" });
  });

  it("refuses system directories, here and in the PersistentVolume", () => {
    expect(() => minioDataDirStep("/etc", false)).toThrow("minio.path: /etc is a system directory");
    expect(() => minioDataDirStep("/etc/../var", true)).toThrow("minio.path: normalises to /var");
    const layout = { namespace: "default", nodeName: "w1", hostPath: "/", storageSize: "20Gi", image: "minio", port: 9000 };
    expect(() => minioPersistentVolume(layout)).toThrow("minio.hostPath: / is a system directory");
    expect(() => minioPersistentVolume({ ...layout, hostPath: "/srv/minio", storageSize: "0Gi" })).toThrow('minio.storageSize: "0Gi" must be above zero');
  });
});
