// Files without a checksum are never downloaded: the steps that need them stop with a message
// naming the setting. This surfaces those messages at preview time, once each, as warnings.
import * as pulumi from "@pulumi/pulumi";
import type { Step } from "../scripts/step.js";

const MISSING = /^missing_checksum '(.*)'$/gm;

export function missingChecksumMessages(steps: readonly Step[]): string[] {
  const found = new Set<string>();
  for (const step of steps) for (const match of step.create.matchAll(MISSING)) found.add(match[1]!.replace(/'\\''/g, "'"));
  return [...found].sort();
}

export function warnMissingChecksums(steps: readonly Step[], resource: pulumi.Resource): void {
  for (const message of missingChecksumMessages(steps)) pulumi.log.warn(`${message} (the step that downloads it will stop until then)`, resource);
}
