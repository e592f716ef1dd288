import { describe, expect, it } from "vitest";
import { addonArtifacts, resolveArtifacts } from "#components/addons/releases.js";
import { fetchVerified, sha256Hex } from "#components/addons/fetch.js";
import { knownChecksum, mirroredUrl } from "#components/config/artifacts.js";
import { FixtureFetcher, sha256 } from "../doubles/addons/release-fixtures.js";

const defaults = { calico: "3.31.5", metallb: "0.15.3", istio: "1.29.2", knative: "1.21.2" };
const hex = (c: string) => c.repeat(64);

describe("release file table", () => {
  it("maps each artifact and version to the upstream URL", () => {
    const keys = addonArtifacts(defaults, { ingress: "istio", eventing: true });
    const all = Object.fromEntries(keys.map((k) => [k.key, hex("a")]));
    const r = resolveArtifacts(keys, all);
    expect(Object.fromEntries(Object.entries(r).map(([k, a]) => [k, a.url]))).toEqual({
      calico: "https://raw.githubusercontent.com/projectcalico/calico/v3.31.5/manifests/calico.yaml",
      metallb: "https://raw.githubusercontent.com/metallb/metallb/v0.15.3/config/manifests/metallb-native.yaml",
      "knative-serving-crds": "https://github.com/knative/serving/releases/download/knative-v1.21.2/serving-crds.yaml",
      "knative-serving-core": "https://github.com/knative/serving/releases/download/knative-v1.21.2/serving-core.yaml",
      "istio-base": "https://istio-release.storage.googleapis.com/charts/base-1.29.2.tgz",
      istiod: "https://istio-release.storage.googleapis.com/charts/istiod-1.29.2.tgz",
      "istio-gateway": "https://istio-release.storage.googleapis.com/charts/gateway-1.29.2.tgz",
      "net-istio": "https://github.com/knative-extensions/net-istio/releases/download/knative-v1.21.2/net-istio.yaml",
      "knative-eventing-crds": "https://github.com/knative/eventing/releases/download/knative-v1.21.2/eventing-crds.yaml",
      "knative-eventing-core": "https://github.com/knative/eventing/releases/download/knative-v1.21.2/eventing-core.yaml",
      "knative-in-memory-channel": "https://github.com/knative/eventing/releases/download/knative-v1.21.2/in-memory-channel.yaml",
      "knative-mt-channel-broker": "https://github.com/knative/eventing/releases/download/knative-v1.21.2/mt-channel-broker.yaml",
    });
  });

  it("kourier replaces the Istio charts and net-istio", () => {
    const keys = addonArtifacts(defaults, { ingress: "kourier", eventing: false }).map((k) => k.key);
    expect(keys).toEqual(["calico", "metallb", "knative-serving-crds", "knative-serving-core", "net-kourier"]);
  });

  it("uses the known checksum only for the exact version it was found for; otherwise upstream's checksum file, or none", () => {
    expect(`sha256:${resolveArtifacts([{ key: "metallb", version: "0.15.3" }]).metallb?.sha256}`).toBe(knownChecksum("metallb", "0.15.3"));
    // MetalLB publishes no checksum: at another version the first download is recorded in the lock.
    expect(resolveArtifacts([{ key: "metallb", version: "0.15.2" }]).metallb).toEqual({
      key: "metallb",
      version: "0.15.2",
      url: "https://raw.githubusercontent.com/metallb/metallb/v0.15.2/config/manifests/metallb-native.yaml",
      upstreamUrl: "https://raw.githubusercontent.com/metallb/metallb/v0.15.2/config/manifests/metallb-native.yaml",
    });
    const r = resolveArtifacts([
      { key: "knative-serving-core", version: "1.21.2" },
      { key: "istiod", version: "1.29.2" },
      { key: "yurthub", version: "1.7.0" },
    ]);
    expect(r["knative-serving-core"]?.published).toEqual({
      kind: "listing",
      url: "https://github.com/knative/serving/releases/download/knative-v1.21.2/checksums.txt",
      algorithm: "sha256",
      fileName: "serving-core.yaml",
    });
    expect(r.istiod?.published).toEqual({
      kind: "helm-index",
      url: "https://istio-release.storage.googleapis.com/charts/index.yaml",
      chart: "istiod",
      version: "1.29.2",
    });
    expect(r.yurthub?.published).toEqual({
      kind: "helm-index",
      url: "https://openyurtio.github.io/openyurt-helm/index.yaml",
      chart: "yurthub",
      version: "1.7.0",
    });
  });

  it("takes the stack's checksum, with or without the sha256: prefix, over the table", () => {
    const r = resolveArtifacts(
      [
        { key: "metallb", version: "0.15.3" },
        { key: "calico", version: "3.31.5" },
      ],
      {
        metallb: `sha256:${hex("B")}`,
        calico: hex("c"),
      },
    );
    expect(r.metallb?.sha256).toBe(hex("b"));
    expect(r.calico?.sha256).toBe(hex("c"));
  });

  it("reports every problem at once, each naming its field", () => {
    let message = "";
    try {
      resolveArtifacts(
        [
          { key: "calico", version: "v3.31.5" },
          { key: "knative-serving-core", version: "1.21.2" },
          { key: "metallb", version: "0.15.3" },
        ],
        { metallb: "md5:abc", kourier: hex("a") },
      );
    } catch (e) {
      message = (e as Error).message;
    }
    expect(
      message
        .split("\n")
        .slice(1)
        .map((l) => l.trim()),
    ).toEqual([
      "checksums.kourier: unknown artifact (known: calico, metallb, istio-base, istiod, istio-gateway, knative-serving-crds, knative-serving-core, net-istio, net-kourier, knative-eventing-crds, knative-eventing-core, knative-in-memory-channel, knative-mt-channel-broker, yurt-manager, yurthub)",
      'versions of calico: "v3.31.5" is not a plain x.y.z version (no leading "v")',
      'checksums.metallb: "md5:abc" is not a sha256 ("sha256:" and 64 hex digits)',
    ]);
  });

  it("moves downloads under the artifact mirror, host kept as the first path segment", () => {
    expect(mirroredUrl("https://github.com/knative/serving/releases/download/knative-v1.21.2/serving-core.yaml", "http://mirror.internal:8080/files/")).toBe(
      "http://mirror.internal:8080/files/github.com/knative/serving/releases/download/knative-v1.21.2/serving-core.yaml",
    );
    expect(resolveArtifacts([{ key: "metallb", version: "0.15.3" }], {}, "http://m.internal").metallb?.url).toBe(
      "http://m.internal/raw.githubusercontent.com/metallb/metallb/v0.15.3/config/manifests/metallb-native.yaml",
    );
  });
});

describe("verified download", () => {
  it("returns the bytes when the sha256 matches and refuses them otherwise", async () => {
    const fetcher = new FixtureFetcher(() => "kind: ConfigMap\n");
    const good = sha256("kind: ConfigMap\n");
    expect(sha256Hex(await fetchVerified(fetcher, "https://x/a.yaml", good, "calico"))).toBe(good);
    await expect(fetchVerified(fetcher, "https://x/a.yaml", hex("0"), "calico")).rejects.toThrow(
      `checksums.calico: https://x/a.yaml has sha256 ${good}, expected ${hex("0")}; refusing to apply it`,
    );
  });
});
