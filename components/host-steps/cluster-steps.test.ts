import { beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import { parseStackConfig } from "../config/validate.js";
import { checkShellBatch, type ShellCheckResult } from "../scripts/check-shell.js";
import { hostBootstrapSteps, NODE_RUNTIME_SOCKET, CONTAINERD_SOCKET } from "./index.js";
import { kubeadmInitConfig, kubeadmInitStep, kubeadmJoinConfig, kubeadmJoinStep, stepOutput, CA_HASH_PREFIX } from "./kubeadm.js";
import { devContainerStep, dockerCheckStep, inContainer, kindInstallStep } from "./kind.js";
import { nodeRuntimeStep } from "./node-runtime.js";
import type { Step } from "../scripts/step.js";

// A fixed example token (the bootstrap-token format); real tokens come from @pulumi/random.
const TOKEN = "abcdef.0123456789abcdef";
const init = {
  nodeName: "cp",
  nodeIp: "192.0.2.10",
  certSans: ["cp.example.org"],
  kubernetesVersion: "1.35.3",
  podCidr: "10.168.0.0/16",
  serviceCidr: "10.96.0.0/12",
  criSocket: CONTAINERD_SOCKET,
  token: TOKEN,
  singleNode: false,
  failSwapOn: true,
};
const join = {
  nodeName: "w1",
  nodeIp: "192.0.2.11",
  controlPlaneIp: "192.0.2.10",
  token: TOKEN,
  caCertHash: "sha256:" + "ab".repeat(32),
  criSocket: NODE_RUNTIME_SOCKET,
};

const dev = parseStackConfig({});
const gvisorDebian = parseStackConfig({ sandbox: "gvisor", packages: { source: "debian" } });

const steps: Record<string, Step> = {
  "kubeadm-init": kubeadmInitStep(init),
  "kubeadm-init single node": kubeadmInitStep({ ...init, singleNode: true, failSwapOn: false }),
  "kubeadm-join": kubeadmJoinStep(join),
  "node-runtime firecracker release": nodeRuntimeStep(dev, {
    bundlePath: "/tmp/vhive-node-runtime.tgz",
    bundleSha256: "cd".repeat(32),
    criSocket: NODE_RUNTIME_SOCKET,
  }),
  "node-runtime gvisor debian": nodeRuntimeStep(gvisorDebian, {
    bundlePath: "/tmp/vhive-node-runtime.tgz",
    bundleSha256: "cd".repeat(32),
    criSocket: CONTAINERD_SOCKET,
  }),
  "node-runtime gvisor release": nodeRuntimeStep(parseStackConfig({ sandbox: "gvisor" }), {
    bundlePath: "/tmp/vhive-node-runtime.tgz",
    bundleSha256: "cd".repeat(32),
    criSocket: CONTAINERD_SOCKET,
  }),
  "node-runtime firecracker reap debian": nodeRuntimeStep(parseStackConfig({ sandbox: "firecracker", snapshots: "reap", packages: { source: "debian" } }), {
    bundlePath: "/tmp/vhive-node-runtime.tgz",
    bundleSha256: "cd".repeat(32),
    criSocket: NODE_RUNTIME_SOCKET,
  }),
  "kind docker": dockerCheckStep(),
  "kind install": kindInstallStep(dev),
  "kind dev-container": devContainerStep(dev),
  "kind in-container sysctl": inContainer(dev, hostBootstrapSteps(dev, { name: "dev", runsSandbox: true }).find((s) => s.name === "sysctl")!),
};

describe("cluster steps", () => {
  let results = new Map<string, ShellCheckResult>();
  const names = Object.entries(steps).flatMap(
    ([n, s]) =>
      [
        [`${n} create`, s.create],
        [`${n} delete`, s.delete],
      ] as const,
  );
  beforeAll(() => {
    const checked = checkShellBatch(names.map(([, script]) => script));
    results = new Map(names.map(([n], i) => [n, checked[i]!]));
  });
  for (const [name, script] of names) {
    it(`${name}: bash -n and shellcheck clean, snapshot`, () => {
      expect(results.get(name)).toEqual({ syntax: "", shellcheck: "" });
      expect(script).toMatchSnapshot();
    });
  }

  it("writes a v1beta4 init config with the token, node IP, CIDRs and kubelet settings", () => {
    const docs = parseAllDocuments(kubeadmInitConfig(init)).map((d) => d.toJSON());
    expect(docs.map((d) => `${d.apiVersion}/${d.kind}`)).toEqual([
      "kubeadm.k8s.io/v1beta4/InitConfiguration",
      "kubeadm.k8s.io/v1beta4/ClusterConfiguration",
      "kubelet.config.k8s.io/v1beta1/KubeletConfiguration",
    ]);
    expect(docs[0].bootstrapTokens[0].token).toBe(TOKEN);
    expect(docs[0].nodeRegistration).toMatchObject({ name: "cp", criSocket: CONTAINERD_SOCKET, kubeletExtraArgs: [{ name: "node-ip", value: "192.0.2.10" }] });
    expect(docs[0].nodeRegistration.taints).toBeUndefined();
    expect(docs[1]).toMatchObject({ kubernetesVersion: "v1.35.3", networking: { podSubnet: "10.168.0.0/16", serviceSubnet: "10.96.0.0/12" } });
    expect(docs[1].apiServer.certSANs).toEqual(["192.0.2.10", "cp.example.org", "127.0.0.1", "localhost"]);
    expect(docs[2]).toMatchObject({ cgroupDriver: "systemd", failSwapOn: true });
    const single = parseAllDocuments(kubeadmInitConfig({ ...init, singleNode: true })).map((d) => d.toJSON());
    expect(single[0].nodeRegistration.taints).toEqual([]);
  });

  it("writes a join config that pins the CA hash and the worker's CRI socket", () => {
    expect(parseYaml(kubeadmJoinConfig(join))).toEqual({
      apiVersion: "kubeadm.k8s.io/v1beta4",
      kind: "JoinConfiguration",
      discovery: { bootstrapToken: { apiServerEndpoint: "192.0.2.10:6443", token: TOKEN, caCertHashes: [join.caCertHash] } },
      nodeRegistration: { name: "w1", criSocket: NODE_RUNTIME_SOCKET, kubeletExtraArgs: [{ name: "node-ip", value: "192.0.2.11" }] },
    });
  });

  it("reads vhive-output lines from a step's stdout", () => {
    const stdout = `${CA_HASH_PREFIX}sha256:00ff\nvhive-step kubeadm-init: changed\n`;
    expect(stepOutput(stdout, CA_HASH_PREFIX)).toBe("sha256:00ff");
    expect(stepOutput("vhive-step x: unchanged", CA_HASH_PREFIX)).toBeUndefined();
  });
});
