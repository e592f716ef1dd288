// Turns a host's steps into the provider's command resources: one per step, named `<host>-<step>`,
// each depending on the steps it needs, with its delete script for `pulumi destroy` and its check
// script for `pulumi refresh`.
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { HostCommand, LocalCommand, type ConnectionArgs } from "../provider/index.js";
import { checkScript } from "../scripts/helpers.js";
import type { Step } from "../scripts/step.js";

export function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export interface RemoteStepOptions {
  readonly connection: pulumi.Input<ConnectionArgs>;
  /** The component the step belongs to; none for a step of the stack itself. */
  readonly parent?: pulumi.Resource;
  /** Where the step was before (a step that moved under a component keeps its state). */
  readonly aliases?: pulumi.Input<pulumi.Alias>[];
  readonly dependsOn: pulumi.Input<pulumi.Resource>[];
  /** Keep stdout secret (it carries credentials). */
  readonly secretStdout?: boolean;
}

/** A remote step whose scripts may depend on other resources' outputs (e.g. a secret token). */
export function remoteStep(host: string, step: pulumi.Output<Step> | Step, options: RemoteStepOptions, name: string): HostCommand {
  const s = pulumi.output(step);
  return new HostCommand(
    `${host}-${name}`,
    {
      connection: options.connection,
      hostName: host,
      create: s.apply((x) => x.create),
      delete: s.apply((x) => x.delete),
      check: s.apply((x) => checkScript(x.name)),
      ...(options.secretStdout ? { secretStdout: true } : {}),
    },
    { ...(options.parent ? { parent: options.parent } : {}), ...(options.aliases ? { aliases: options.aliases } : {}), dependsOn: options.dependsOn },
  );
}

/** The same for a step that runs on the machine running Pulumi (the kind dev environment). */
export function localStep(prefix: string, step: pulumi.Output<Step> | Step, options: Omit<RemoteStepOptions, "connection">, name: string): LocalCommand {
  const s = pulumi.output(step);
  return new LocalCommand(
    `${prefix}-${name}`,
    {
      create: s.apply((x) => x.create),
      delete: s.apply((x) => x.delete),
      ...(options.secretStdout ? { secretStdout: true } : {}),
    },
    { ...(options.parent ? { parent: options.parent } : {}), ...(options.aliases ? { aliases: options.aliases } : {}), dependsOn: options.dependsOn },
  );
}
