// The bootstrap token kubeadm init registers must expire: a copy of it on a host or in a log
// is a key to join the cluster.
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { BOOTSTRAP_TOKEN_TTL, kubeadmInitConfig } from "./kubeadm.js";

describe("kubeadm bootstrap token", () => {
  it("has a bounded lifetime of a day", () => {
    const config = kubeadmInitConfig({
      nodeName: "cp",
      nodeIp: "192.0.2.10",
      certSans: [],
      kubernetesVersion: "1.35.3",
      podCidr: "10.168.0.0/16",
      serviceCidr: "10.96.0.0/12",
      criSocket: "unix:///run/containerd/containerd.sock",
      token: "abcdef.0123456789abcdef",
      singleNode: false,
      failSwapOn: true,
    });
    const init = parseAllDocuments(config)[0]!.toJSON() as { bootstrapTokens: { ttl: string }[] };
    expect(init.bootstrapTokens[0]!.ttl).toBe("24h0m0s");
    expect(BOOTSTRAP_TOKEN_TTL).not.toMatch(/^0/);
  });
});
