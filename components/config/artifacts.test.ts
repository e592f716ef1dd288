// The artifact table is the one place a download is defined: the checksum settings the stack
// accepts, the URLs (upstream and mirrored), the cache names and the known checksums all come from it.
import { describe, expect, it } from "vitest";
import { DEFAULT_OPENYURT_VERSION } from "../openyurt/openyurt.js";
import {
  ADDON_ARTIFACTS,
  ARTIFACTS,
  DEFAULT_VERSIONS,
  HOST_ARTIFACTS,
  VERSION_PLACEHOLDER,
  artifactCacheName,
  artifactOrMissing,
  knownChecksum,
  mirroredUrl,
  upstreamUrl,
  type ArtifactName,
} from "./artifacts.js";
import { publishedChecksum } from "./published-checksums.js";
import { ChecksumsSchema } from "./schema.js";

const NAMES = Object.keys(ARTIFACTS) as ArtifactName[];
const defaultVersion = (name: ArtifactName): string => {
  const key = ARTIFACTS[name].versionKey;
  return key === "openyurt" ? DEFAULT_OPENYURT_VERSION : DEFAULT_VERSIONS[key];
};

describe("artifact table", () => {
  it("gives the stack one checksum setting per file, and no other", () => {
    expect(Object.keys(ChecksumsSchema.shape).sort()).toEqual([...NAMES].sort());
    expect([...HOST_ARTIFACTS, ...ADDON_ARTIFACTS].sort()).toEqual([...NAMES].sort());
    expect(HOST_ARTIFACTS).toContain("runscShim");
    expect(ADDON_ARTIFACTS).toContain("yurthub");
    // Host files may be pinned by sha512 (gVisor's); release files applied in the cluster by sha256 only.
    const sha512 = `sha512:${"a".repeat(128)}`;
    expect(ChecksumsSchema.safeParse({ runsc: sha512 }).success).toBe(true);
    expect(ChecksumsSchema.safeParse({ calico: sha512 }).success).toBe(false);
    expect(ChecksumsSchema.safeParse({ calico: `sha256:${"a".repeat(64)}` }).data).toEqual({ calico: "a".repeat(64) });
    expect(ChecksumsSchema.safeParse({ kubelett: `sha256:${"a".repeat(64)}` }).success).toBe(false);
  });

  it("renders every URL template at its default version and at another", () => {
    for (const name of NAMES) {
      const template = ARTIFACTS[name].urlTemplate;
      expect(template, name).toContain(VERSION_PLACEHOLDER);
      for (const version of [defaultVersion(name), "9.8.7"]) {
        const url = upstreamUrl(name, version);
        expect(url, name).not.toMatch(/[{}]/);
        expect(url, name).toContain(version);
        expect(new URL(url).protocol, name).toBe("https:");
      }
    }
    expect(upstreamUrl("cniPlugins", "1.7.1")).toBe(
      "https://github.com/containernetworking/plugins/releases/download/v1.7.1/cni-plugins-linux-amd64-v1.7.1.tgz",
    );
    expect(upstreamUrl("kubelet", "1.35.3")).toBe("https://dl.k8s.io/release/v1.35.3/bin/linux/amd64/kubelet");
    expect(upstreamUrl("runscShim", "20260420.0")).toBe("https://storage.googleapis.com/gvisor/releases/release/20260420.0/x86_64/containerd-shim-runsc-v1");
    expect(upstreamUrl("yurt-manager", "1.7.0")).toBe(
      "https://github.com/openyurtio/openyurt-helm/releases/download/yurt-manager-1.7.0/yurt-manager-1.7.0.tgz",
    );
  });

  it("moves a URL under the mirror with its upstream host as the first path segment", () => {
    const url = upstreamUrl("runc", "1.3.5");
    expect(mirroredUrl(url, undefined)).toBe(url);
    expect(mirroredUrl(url, "https://mirror.example.org/files/")).toBe(
      "https://mirror.example.org/files/github.com/opencontainers/runc/releases/download/v1.3.5/runc.amd64",
    );
    const resolved = artifactOrMissing("runc", DEFAULT_VERSIONS, {}, "https://mirror.example.org/files");
    expect(resolved).toMatchObject({ url: "https://mirror.example.org/files/github.com/opencontainers/runc/releases/download/v1.3.5/runc.amd64" });
  });

  it("names a host's cache file by the artifact and the version that pins it", () => {
    expect(artifactCacheName("runscShim", DEFAULT_VERSIONS)).toBe("runscShim-20260420.0");
    expect(artifactCacheName("kubectl", { ...DEFAULT_VERSIONS, kubernetes: "1.34.0" })).toBe("kubectl-1.34.0");
    expect(artifactCacheName("cniPlugins", DEFAULT_VERSIONS)).toBe(`cniPlugins-${DEFAULT_VERSIONS.cni}`);
  });

  it("knows checksums only for the default version they were found for, and never for another", () => {
    for (const name of NAMES) {
      for (const known of ARTIFACTS[name].knownChecksums) {
        expect(`${name}@${known.version}`).toBe(`${name}@${defaultVersion(name)}`);
        expect(known.checksum, name).toMatch(/^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/);
      }
      expect(knownChecksum(name, "9.8.7"), name).toBeUndefined();
    }
    expect(knownChecksum("containerd", "2.2.3")).toBe("sha256:ca26ef5138f17b847bbeeec36d4bf5e002b54d25858197a870c125d57f44d32f");
    expect(artifactOrMissing("containerd", { ...DEFAULT_VERSIONS, containerd: "2.2.2" }, {}, undefined)).toBeInstanceOf(Error);
  });

  it("renders every checksum file: upstream's, naming the file it lists; none only where upstream publishes none", () => {
    const unpublished: string[] = [];
    for (const name of NAMES) {
      const version = defaultVersion(name);
      const published = publishedChecksum(name, version);
      if (!published) {
        unpublished.push(name);
        continue;
      }
      expect(published.url, name).not.toMatch(/[{}]/);
      expect(new URL(published.url).protocol, name).toBe("https:");
      if (published.kind === "listing") expect(upstreamUrl(name, version).endsWith(`/${published.fileName}`), name).toBe(true);
      else expect(published.version, name).toBe(version);
    }
    expect(unpublished.sort()).toEqual(["calico", "guestKernel", "metallb"]);
    expect(publishedChecksum("knative-eventing-core", "1.21.2")).toEqual({
      kind: "listing",
      url: "https://github.com/knative/eventing/releases/download/knative-v1.21.2/checksums.txt",
      algorithm: "sha256",
      fileName: "eventing-core.yaml",
    });
  });
});
