// The kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`), made once by the vhive provider and
// kept in the stack state, so it is stable across runs and held as a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import { BootstrapToken } from "../provider/index.js";

export function bootstrapToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  return pulumi.secret(new BootstrapToken(`${name}-token`, { parent }).token);
}
