// Files without a checksum are never downloaded: a step that needs one stops with a message naming
// the setting. `pulumi up` resolves them before declaring steps (components/program/host-checksums.ts),
// so these messages show in a preview, once each, as warnings saying what `pulumi up` will do.
import * as pulumi from "@pulumi/pulumi";
import type { Step } from "../scripts/step.js";

const MISSING = /^missing_checksum '(.*)'$/gm;

export function missingChecksumMessages(steps: readonly Step[]): string[] {
  const found = new Set<string>();
  for (const step of steps) for (const match of step.create.matchAll(MISSING)) found.add(match[1]!.replace(/'\\''/g, "'"));
  return [...found].sort();
}

export function warnMissingChecksums(steps: readonly Step[], resource: pulumi.Resource): void {
  for (const message of missingChecksumMessages(steps)) pulumi.log.warn(message, resource);
}
