// ControlPlane: `kubeadm init` from a v1beta4 config on the control-plane host, once its
// bootstrap is done. Outputs the admin kubeconfig (secret), the bootstrap token (secret), the
// CA public key hash workers pin, and the API server URL.
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs, HostCommand } from "../provider/index.js";
import { kubeadmInitStep, stepOutput, CA_HASH_PREFIX, KUBECONFIG_PREFIX, API_SERVER_PORT, type ControlPlaneInput } from "../host-steps/index.js";
import { remoteStep } from "../nodes/step-commands.js";
import { bootstrapToken } from "./bootstrap-token.js";

export interface ControlPlaneArgs {
  readonly init: Omit<ControlPlaneInput, "token">;
  /** SSH address of the control plane (also put in the API server certificate). */
  readonly address: string;
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** The host's last bootstrap step. */
  readonly after: pulumi.Input<pulumi.Resource>[];
}

/** Parses the kubeconfig a kubeadm-init step printed (base64). */
export function kubeconfigFrom(stdout: string): string {
  const encoded = stepOutput(stdout, KUBECONFIG_PREFIX);
  if (!encoded) throw new Error("kubeadm-init printed no kubeconfig");
  return Buffer.from(encoded, "base64").toString("utf8");
}

export function caCertHashFrom(stdout: string): string {
  const hash = stepOutput(stdout, CA_HASH_PREFIX);
  if (!hash) throw new Error("kubeadm-init printed no CA certificate hash");
  return hash;
}

export class ControlPlane extends pulumi.ComponentResource {
  readonly kubeconfig: pulumi.Output<string>;
  readonly token: pulumi.Output<string>;
  readonly caCertHash: pulumi.Output<string>;
  readonly apiServerUrl: pulumi.Output<string>;
  readonly nodeName: string;
  readonly init: HostCommand;

  constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
    super("vhive:cluster:ControlPlane", name, {}, opts);
    this.token = bootstrapToken(name, this);
    this.nodeName = args.init.nodeName;
    const step = this.token.apply((token) => kubeadmInitStep({ ...args.init, token }));
    this.init = remoteStep(args.init.nodeName, step, { connection: args.connection, parent: this, dependsOn: args.after, secretStdout: true }, "kubeadm-init");
    this.kubeconfig = pulumi.secret(this.init.stdout.apply(kubeconfigFrom));
    this.caCertHash = this.init.stdout.apply(caCertHashFrom);
    this.apiServerUrl = pulumi.output(`https://${args.init.nodeIp}:${API_SERVER_PORT}`);
    this.registerOutputs({ kubeconfig: this.kubeconfig, token: this.token, caCertHash: this.caCertHash, apiServerUrl: this.apiServerUrl });
  }
}
