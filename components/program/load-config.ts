// From Pulumi's config map to a validated StackConfig, or one ConfigError listing every problem.
import { readStackConfig, referencedSecretKeys } from "../config/read-stack-config.js";
import { parseStackConfig } from "../config/validate.js";
import type { StackConfig } from "../config/schema.js";

export function loadStackConfig(all: Record<string, string>, project: string): StackConfig {
  const secrets = referencedSecretKeys(all, project);
  const raw = readStackConfig(all, project, secrets);
  return parseStackConfig(raw.values, { configKeys: raw.keys });
}
