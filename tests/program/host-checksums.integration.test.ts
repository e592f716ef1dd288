// Checksums of host downloads resolved at `pulumi up` (components/program/host-checksums.ts), against
// a local mirror serving real small files and checksum files made from them in upstream's formats.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upstreamUrl } from "#components/config/artifacts.js";
import { ChecksumLock } from "#components/config/checksum-lock.js";
import { HttpFileFetcher } from "#components/config/run-time-checksum.js";
import { parseStackConfig } from "#components/config/validate.js";
import type { StackConfig } from "#components/config/schema.js";
import { unpinnedHostArtifacts, withHostChecksums } from "#components/program/host-checksums.js";
import { hostBootstrapSteps } from "#components/host-steps/index.js";
import { LocalMirror } from "./local-mirror.js";
import { REPO } from "./mocked-program.js";

let mirror: LocalMirror;
const dir = mkdtempSync(join(tmpdir(), "vhive-host-checksums-"));
const fetcher = new HttpFileFetcher(10_000);
const sums: Record<string, string> = {};

/** The baremetal stack file's settings, its downloads through the local mirror. */
function baremetal(): StackConfig {
  const doc = parseYaml(readFileSync(join(REPO, "stacks", "Pulumi.baremetal.yaml"), "utf8")) as { config: Record<string, unknown> };
  const raw = Object.fromEntries(Object.entries(doc.config).map(([k, v]) => [k.replace(/^vhive:/, ""), v]));
  return parseStackConfig({ ...raw, artifactMirror: mirror.url });
}

beforeAll(async () => {
  mirror = await LocalMirror.start();
  // Small files standing in for each release file, and checksum files in each upstream's format.
  for (const bin of ["kubeadm", "kubelet", "kubectl"] as const) {
    const url = upstreamUrl(bin, "1.35.3");
    sums[bin] = mirror.serve(url, `stands in for ${bin} 1.35.3`);
    mirror.serve(`${url}.sha256`, sums[bin]!); // dl.k8s.io: the bare hex
  }
  const crictl = upstreamUrl("crictl", "1.35.0");
  sums.crictl = mirror.serve(crictl, "stands in for the crictl archive");
  mirror.serve(`${crictl}.sha256`, `${sums.crictl}  crictl-v1.35.0-linux-amd64.tar.gz\n`);
  const firecracker = upstreamUrl("firecracker", "1.13.1");
  sums.firecracker = mirror.serve(firecracker, "stands in for the firecracker archive");
  mirror.serve(`${firecracker}.sha256.txt`, `${sums.firecracker}  firecracker-v1.13.1-x86_64.tgz\n`);
  const stargz = upstreamUrl("stargz", "0.15.1");
  sums.stargz = mirror.serve(stargz, "stands in for the stargz archive");
  mirror.serve(`${stargz}.sha256sum`, `${sums.stargz}  stargz-snapshotter-v0.15.1-linux-amd64.tar.gz\n`);
  // Firecracker's CI kernel: no checksum published, so its first download is what gets recorded.
  sums.guestKernel = mirror.serve(upstreamUrl("guestKernel", "6.1.141"), "stands in for the guest kernel");
});

afterAll(async () => {
  await mirror.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("host download checksums at pulumi up", () => {
  it("finds the files a stack downloads that have no pinned checksum, from the steps' own scripts", () => {
    expect(unpinnedHostArtifacts(baremetal())).toEqual(["crictl", "firecracker", "guestKernel", "kubeadm", "kubectl", "kubelet", "stargz"]);
    // Debian packages and gVisor without Kubernetes: every download has a pinned checksum.
    const playground = parseStackConfig({ target: "playground", kubernetes: false, sandbox: "gvisor", packages: { source: "debian" } });
    expect(unpinnedHostArtifacts(playground)).toEqual([]);
  });

  it("a preview reads only the lock: nothing is downloaded and the steps keep their missing-checksum line", async () => {
    const lock = new ChecksumLock(join(dir, "preview.lock.json"));
    const config = await withHostChecksums(baremetal(), { lock, fetcher, dryRun: true });
    expect(config.checksums.kubeadm).toBeUndefined();
    expect(mirror.requests).toEqual([]);
    const kubernetes = hostBootstrapSteps(config, { name: "w", runsSandbox: true }).find((s) => s.name === "kubernetes")!;
    expect(kubernetes.create).toContain("missing_checksum 'checksums.kubeadm:");
  });

  it("up: upstream's checksum files where published, else the first download; recorded; a re-run downloads nothing", async () => {
    const path = join(dir, "up.lock.json");
    const config = await withHostChecksums(baremetal(), { lock: new ChecksumLock(path), fetcher, dryRun: false });
    for (const name of ["kubeadm", "kubelet", "kubectl", "crictl", "firecracker", "stargz", "guestKernel"] as const)
      expect(config.checksums[name]).toBe(`sha256:${sums[name]}`);
    // The binaries themselves were not downloaded, only their checksum files; the kernel was.
    expect(mirror.requested(upstreamUrl("kubeadm", "1.35.3"))).toBe(0);
    expect(mirror.requested(`${upstreamUrl("kubeadm", "1.35.3")}.sha256`)).toBe(1);
    expect(mirror.requested(upstreamUrl("guestKernel", "6.1.141"))).toBe(1);
    const lock = new ChecksumLock(path);
    expect(lock.get(upstreamUrl("kubeadm", "1.35.3"))).toEqual({
      checksum: `sha256:${sums.kubeadm}`,
      source: "https://dl.k8s.io/release/v1.35.3/bin/linux/amd64/kubeadm.sha256",
    });
    expect(lock.get(upstreamUrl("guestKernel", "6.1.141"))).toEqual({ checksum: `sha256:${sums.guestKernel}`, source: "first download" });
    // The hosts download through the mirror and verify against the resolved checksum.
    const kubernetes = hostBootstrapSteps(config, { name: "w", runsSandbox: true }).find((s) => s.name === "kubernetes")!;
    expect(kubernetes.create).toContain(`fetch_verified '${mirror.url}/dl.k8s.io/release/v1.35.3/bin/linux/amd64/kubeadm' 'sha256:${sums.kubeadm}'`);
    expect(kubernetes.create).not.toMatch(/^missing_checksum '/m);

    const before = mirror.requests.length;
    const again = await withHostChecksums(baremetal(), { lock: new ChecksumLock(path), fetcher, dryRun: false });
    expect(again.checksums).toEqual(config.checksums);
    expect(mirror.requests.length).toBe(before);
  });

  it("a checksum file that does not list the file stops the run, naming the setting to pin instead", async () => {
    const url = upstreamUrl("crictl", "1.35.0");
    mirror.serve(`${url}.sha256`, `${"0".repeat(64)}  some-other-file.tar.gz\n`);
    try {
      await expect(withHostChecksums(baremetal(), { lock: new ChecksumLock(join(dir, "bad.lock.json")), fetcher, dryRun: false })).rejects.toThrow(
        `checksums.crictl: cannot read upstream's checksum for ${url} from ${mirror.url}/github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz.sha256 ` +
          `(https://github.com/kubernetes-sigs/cri-tools/releases/download/v1.35.0/crictl-v1.35.0-linux-amd64.tar.gz.sha256: no sha256 listed for crictl-v1.35.0-linux-amd64.tar.gz); ` +
          "set checksums.crictl in the stack to the checksum upstream publishes",
      );
    } finally {
      mirror.serve(`${url}.sha256`, `${sums.crictl}  crictl-v1.35.0-linux-amd64.tar.gz\n`);
    }
  });

  it("the lock never replaces a recorded checksum", () => {
    const lock = new ChecksumLock(join(dir, "fixed.lock.json"));
    const url = upstreamUrl("guestKernel", "6.1.141");
    lock.record(url, `sha256:${"a".repeat(64)}`, "first download");
    expect(() => lock.record(url, `sha256:${"b".repeat(64)}`, "first download")).toThrow(
      `${url} is recorded as sha256:${"a".repeat(64)}, now sha256:${"b".repeat(64)}; refusing to replace it`,
    );
  });
});
