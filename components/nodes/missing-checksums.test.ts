import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../config/validate.js";
import { hostBootstrapSteps } from "../host-steps/index.js";
import { missingChecksumMessages } from "./missing-checksums.js";

describe("missing checksum warnings", () => {
  it("lists each file the steps cannot download yet, once, and none once checksums are given", () => {
    const config = parseStackConfig({ sandbox: "containerd" });
    const steps = hostBootstrapSteps(config, { name: "n", runsSandbox: true });
    expect(missingChecksumMessages([...steps, ...steps]).map((m) => m.split(":")[0])).toEqual([
      "checksums.crictl",
      "checksums.kubeadm",
      "checksums.kubectl",
      "checksums.kubelet",
    ]);
    const hex = "sha256:" + "ab".repeat(32);
    const pinned = parseStackConfig({ sandbox: "containerd", checksums: { crictl: hex, kubeadm: hex, kubectl: hex, kubelet: hex } });
    expect(missingChecksumMessages(hostBootstrapSteps(pinned, { name: "n", runsSandbox: true }))).toEqual([]);
  });
});
