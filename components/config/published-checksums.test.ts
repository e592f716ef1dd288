import { describe, expect, it } from "vitest";
import { publishedChecksum, readPublishedChecksum } from "./published-checksums.js";

const a = "a".repeat(64);
const b = "b".repeat(64);

describe("upstream checksum files", () => {
  const listing = { kind: "listing", url: "https://example.org/v1/SHA256SUMS", algorithm: "sha256", fileName: "tool-linux-amd64.tar.gz" } as const;

  it("reads the bare hex of a one-file checksum (dl.k8s.io's .sha256)", () => {
    expect(readPublishedChecksum(listing, `${a}\n`)).toBe(`sha256:${a}`);
  });

  it("reads the line naming the file in a sha256sum listing (binary-mode '*' and directories allowed)", () => {
    expect(readPublishedChecksum(listing, `${b}  other.tar.gz\n${a.toUpperCase()} *dist/tool-linux-amd64.tar.gz\n`)).toBe(`sha256:${a}`);
  });

  it("refuses a listing without the file, or a hex of the wrong length, naming the file", () => {
    expect(() => readPublishedChecksum(listing, `${b}  other.tar.gz\n`)).toThrow(
      "https://example.org/v1/SHA256SUMS: no sha256 listed for tool-linux-amd64.tar.gz",
    );
    expect(() => readPublishedChecksum({ ...listing, algorithm: "sha512" }, `${a}  tool-linux-amd64.tar.gz\n`)).toThrow("no sha512 listed");
  });

  it("reads a chart version's digest from a Helm repository index", () => {
    const spec = { kind: "helm-index", url: "https://charts.example.org/index.yaml", chart: "istiod", version: "1.29.2" } as const;
    const index = `apiVersion: v1\nentries:\n  istiod:\n    - version: 1.29.1\n      digest: ${b}\n    - version: 1.29.2\n      digest: ${a}\n`;
    expect(readPublishedChecksum(spec, index)).toBe(`sha256:${a}`);
    expect(() => readPublishedChecksum({ ...spec, version: "1.30.0" }, index)).toThrow(
      "https://charts.example.org/index.yaml: no sha256 digest for chart istiod 1.30.0",
    );
  });

  it("names upstream's checksum file beside each host artifact, none for Firecracker's CI kernel", () => {
    const at = (name: Parameters<typeof publishedChecksum>[0], version: string) => publishedChecksum(name, version)?.url;
    expect(at("kubelet", "1.35.3")).toBe("https://dl.k8s.io/release/v1.35.3/bin/linux/amd64/kubelet.sha256");
    expect(at("runc", "1.3.5")).toBe("https://github.com/opencontainers/runc/releases/download/v1.3.5/runc.sha256sum");
    expect(at("runscShim", "20260420.0")).toBe("https://storage.googleapis.com/gvisor/releases/release/20260420.0/x86_64/containerd-shim-runsc-v1.sha512");
    expect(at("node", "20.20.2")).toBe("https://nodejs.org/dist/v20.20.2/SHASUMS256.txt");
    expect(at("firecracker", "1.13.1")).toBe(
      "https://github.com/firecracker-microvm/firecracker/releases/download/v1.13.1/firecracker-v1.13.1-x86_64.tgz.sha256.txt",
    );
    expect(at("guestKernel", "6.1.141")).toBeUndefined();
  });
});
