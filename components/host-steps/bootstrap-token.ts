// The bootstrap token made valid again, on the control plane, just before a worker joins: kubeadm
// init gives the token a TTL (kubeadm.ts), so a worker added to the stack after it expired could
// not join with the token kept in the stack's state. The step (one per worker, run when that
// worker is new) writes the token's Secret with an expiry an hour ahead; the token reaches the
// host inside the script (on stdin, never in a command line) and goes to kubectl on its stdin.
import { hostScriptStep } from "./script-step.js";
import { lines } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";

const TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const NODE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** How long the token stays valid after the step: long enough for the join it precedes. */
export const REFRESHED_TOKEN_TTL = "+1 hour";

export function bootstrapTokenStep(token: string, workerName: string): Step {
  const parts = TOKEN.exec(token);
  if (!parts) throw new Error("bootstrap token: not of kubeadm's form [a-z0-9]{6}.[a-z0-9]{16} (value not shown)");
  if (!NODE_NAME.test(workerName)) throw new Error(`bootstrap token: worker name ${JSON.stringify(workerName)} is not a DNS label`);
  const [, id, secret] = parts;
  return hostScriptStep(
    "bootstrap-token",
    lines(
      `expires="$(date -u -d ${JSON.stringify(REFRESHED_TOKEN_TTL)} '+%Y-%m-%dT%H:%M:%SZ')"`,
      `as_root kubectl --kubeconfig /etc/kubernetes/admin.conf apply -f - >/dev/null <<VHIVE_BOOTSTRAP_TOKEN`,
      `apiVersion: v1`,
      `kind: Secret`,
      `metadata:`,
      `  name: bootstrap-token-${id}`,
      `  namespace: kube-system`,
      `type: bootstrap.kubernetes.io/token`,
      `stringData:`,
      `  description: "vhive: lets ${workerName} join"`,
      `  token-id: ${id}`,
      `  token-secret: ${secret}`,
      `  expiration: "$expires"`,
      `  usage-bootstrap-authentication: "true"`,
      `  usage-bootstrap-signing: "true"`,
      `  auth-extra-groups: system:bootstrappers:kubeadm:default-node-token`,
      `VHIVE_BOOTSTRAP_TOKEN`,
      `changed=1`,
    ),
    // Nothing to undo: the token expires by itself.
    `:`,
  );
}
