// KindDevEnv: the single-node development cluster in the vHive dev container. Checks Docker,
// installs the pinned kind, starts the dev image the way vHive's kind fork does, runs the same
// host steps as a real node inside it, then kubeadm init as a single node. The kubeconfig
// (secret) points at the API server published on loopback. Destroy deletes the cluster.
import * as pulumi from "@pulumi/pulumi";
import type { LocalCommand } from "../provider/index.js";
import type { StackConfig } from "../config/schema.js";
import type { Step } from "../scripts/step.js";
import {
  hostBootstrapSteps,
  criSocketFor,
  containerName,
  devContainerStep,
  dockerCheckStep,
  inContainer,
  kindInstallStep,
  NODE_IP_PLACEHOLDER,
  kubeadmInitStep,
  nodeRuntimeStep,
} from "../host-steps/index.js";
import { q } from "../scripts/shell.js";
import { bootstrapToken } from "../cluster/bootstrap-token.js";
import { kubeconfigFrom } from "../cluster/control-plane.js";
import { bundleDeleteScript, bundleOwner, bundleScript, sourceDigest } from "../nodes/runtime-bundle.js";
import { localStep } from "../nodes/step-commands.js";
import { warnMissingChecksums } from "../nodes/missing-checksums.js";

export interface KindDevEnvArgs {
  readonly config: StackConfig;
  /** Repository root, for the node runtime bundle (firecracker sandbox). */
  readonly repoRoot: string;
}

/** Points a kubeconfig at the API server port published on the Pulumi machine's loopback. */
export function loopbackKubeconfig(kubeconfig: string, port: number): string {
  return kubeconfig.replace(/^(\s*server:\s*)https:\/\/[^\s]+$/m, `$1https://127.0.0.1:${port}`);
}

export class KindDevEnv extends pulumi.ComponentResource {
  readonly kubeconfig: pulumi.Output<string>;
  readonly nodeName: string;
  /** The kubeadm init command: in-cluster work depends on it. */
  readonly ready: LocalCommand;
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: KindDevEnvArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:kind:KindDevEnv", name, {}, opts);
    const { config } = args;
    const prefix = config.kind.clusterName;
    if (!config.kind.devImage.includes("@sha256:"))
      pulumi.log.warn(
        `kind.devImage ${config.kind.devImage} is not pinned to a digest; upstream moves this tag, so set kind.devImage to <image>@sha256:<digest> for reproducible runs`,
        this,
      );
    const chain: LocalCommand[] = [];
    const add = (step: pulumi.Output<Step> | Step, stepName: string, secretStdout = false) => {
      const previous = chain.at(-1);
      const cmd = localStep(prefix, step, { parent: this, dependsOn: previous ? [previous] : [], secretStdout }, stepName);
      chain.push(cmd);
      return cmd;
    };
    add(dockerCheckStep(), "docker");
    add(kindInstallStep(config), "kind");
    add(devContainerStep(config), "dev-container");
    const plan = { name: containerName(config), runsSandbox: true };
    warnMissingChecksums([kindInstallStep(config), ...hostBootstrapSteps(config, plan)], this);
    for (const step of hostBootstrapSteps(config, plan)) add(inContainer(config, step), step.name);

    const criSocket = criSocketFor(config, plan);
    if (config.sandbox === "firecracker") {
      const digest = sourceDigest(args.repoRoot);
      const inside = "/tmp/vhive-node-runtime.tgz";
      // Pack (cached by digest) and copy into the container; prints the bundle's sha256.
      const copy = add(
        {
          name: "node-runtime-copy",
          create: [
            "set -euo pipefail",
            `read -r path sha < <(bash -c ${q(bundleScript(args.repoRoot, digest, bundleOwner()))})`,
            `docker cp "$path" ${q(`${containerName(config)}:${inside}`)} >/dev/null`,
            `echo "$sha"`,
            "",
          ].join("\n"),
          delete: bundleDeleteScript(digest, bundleOwner()),
        },
        "node-runtime-copy",
      );
      add(
        copy.stdout.apply((sha) => inContainer(config, nodeRuntimeStep(config, { bundlePath: inside, bundleSha256: (sha ?? "").trim(), criSocket }))),
        "node-runtime",
      );
    }

    this.token = bootstrapToken(name, this);
    this.nodeName = containerName(config);
    const init = this.token.apply((token) =>
      inContainer(
        config,
        kubeadmInitStep({
          nodeName: containerName(config),
          nodeIp: NODE_IP_PLACEHOLDER,
          certSans: [],
          kubernetesVersion: config.versions.kubernetes,
          podCidr: config.network.podCidr,
          serviceCidr: config.network.serviceCidr,
          criSocket,
          token,
          singleNode: true,
          failSwapOn: false,
        }),
      ),
    );
    this.ready = add(init, "kubeadm-init", true);
    this.kubeconfig = pulumi.secret(this.ready.stdout.apply((stdout) => loopbackKubeconfig(kubeconfigFrom(stdout), config.kind.apiServerPort)));
    this.registerOutputs({ kubeconfig: this.kubeconfig });
  }
}
