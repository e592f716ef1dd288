// A step run on a host over SSH: its create and delete bodies wrapped into complete scripts
// (the helper library, root access, the closing `vhive-step <name>: changed|unchanged` line).
import { stepScript } from "../scripts/helpers.js";
import type { Step } from "../scripts/step.js";

export function hostScriptStep(name: string, create: string, del: string): Step {
  return { name, create: stepScript(name, create), delete: stepScript(name, del, "host", "delete") };
}
