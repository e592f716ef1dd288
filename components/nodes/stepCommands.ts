// Turns a host's steps into Pulumi command resources: one per step, named `<host>-<step>`,
// each depending on the step before it, with its delete script for `pulumi destroy`.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { bashCommand } from "../scripts/shell.js";
import type { Step } from "../scripts/step.js";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export interface RemoteStepOptions {
  readonly connection: pulumi.Input<command.types.input.remote.ConnectionArgs>;
  readonly parent: pulumi.Resource;
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  /** Keep stdout secret (it carries credentials) and out of the logs. */
  readonly secretStdout?: boolean;
}

/** A remote step whose scripts may depend on other resources' outputs (e.g. a secret token). */
export function remoteStep(host: string, step: pulumi.Output<Step> | Step, options: RemoteStepOptions, name: string): command.remote.Command {
  const s = pulumi.output(step);
  const create = s.apply((x) => bashCommand(x.create));
  return new command.remote.Command(
    `${host}-${name}`,
    {
      connection: options.connection,
      create,
      // Steps are idempotent, so a changed step converges in place instead of being replaced.
      update: create,
      delete: s.apply((x) => bashCommand(x.delete)),
      triggers: [s.apply((x) => sha256(x.create))],
      ...(options.secretStdout ? { logging: command.types.enums.remote.Logging.None } : {}),
    },
    {
      parent: options.parent,
      dependsOn: options.dependsOn,
      ...(options.secretStdout ? { additionalSecretOutputs: ["stdout"] } : {}),
    },
  );
}

/** The same for a step that runs on the machine running Pulumi (the kind dev environment). */
export function localStep(
  prefix: string,
  step: pulumi.Output<Step> | Step,
  options: Omit<RemoteStepOptions, "connection">,
  name: string,
): command.local.Command {
  const s = pulumi.output(step);
  const create = s.apply((x) => x.create);
  return new command.local.Command(
    `${prefix}-${name}`,
    {
      create,
      update: create,
      delete: s.apply((x) => x.delete),
      interpreter: ["/bin/bash", "-c"],
      triggers: [s.apply((x) => sha256(x.create))],
      ...(options.secretStdout ? { logging: command.types.enums.local.Logging.None } : {}),
    },
    {
      parent: options.parent,
      dependsOn: options.dependsOn,
      ...(options.secretStdout ? { additionalSecretOutputs: ["stdout"] } : {}),
    },
  );
}
