// Reads a stack file (stacks/Pulumi.<stack>.yaml) the way Pulumi hands config to the program,
// and validates it with the provisioner's own parser, so doctor and `pulumi up` agree on it.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { loadStackConfig } from "../../components/program/loadConfig.js";
import type { StackConfig } from "../../components/config/schema.js";

export const PROJECT = "vhive";

/** Pulumi's flat config map: objects as JSON text, scalars as text; encrypted values are left out. */
export function flatConfig(stackYaml: string): Record<string, string> {
  const doc = (parse(stackYaml) ?? {}) as { config?: Record<string, unknown> };
  const all: Record<string, string> = {};
  for (const [key, value] of Object.entries(doc.config ?? {})) {
    if (value && typeof value === "object" && "secure" in value) continue;
    all[key.includes(":") ? key : `${PROJECT}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return all;
}

export function loadStackFile(path: string): StackConfig {
  return loadStackConfig(flatConfig(readFileSync(path, "utf8")), PROJECT);
}
