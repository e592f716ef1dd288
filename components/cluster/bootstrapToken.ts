// The kubeadm bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`), generated once by @pulumi/random and
// kept in the stack state, so it is stable across runs and held as a Pulumi secret.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";

export function bootstrapToken(name: string, parent: pulumi.Resource): pulumi.Output<string> {
  const common = { upper: false, special: false, lower: true, numeric: true };
  const id = new random.RandomString(`${name}-token-id`, { length: 6, ...common }, { parent });
  const secret = new random.RandomPassword(`${name}-token-secret`, { length: 16, ...common }, { parent });
  return pulumi.secret(pulumi.interpolate`${id.result}.${secret.result}`);
}
