// Validates a raw stack configuration: the zod schema and the cross-field rules run together,
// and every problem is reported in one error, one line per problem, before anything is created.
import { StackConfigSchema, type StackConfig } from "./schema.js";
import { crossCheck, type CrossCheckContext } from "./cross-checks.js";
import { formatIssues, type ConfigPath } from "./format-issues.js";
import type { z } from "zod";

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type AnySchema = z.core.$ZodType;

/** Strips defaults, optionals and pipes down to the schema that holds the structure. */
function unwrap(schema: AnySchema): AnySchema {
  let current = schema;
  for (;;) {
    const def = current._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if (def.innerType !== undefined) current = def.innerType;
    else if (def.type === "pipe" && def.in !== undefined) current = def.in;
    else return current;
  }
}

/** The settings the schema knows at a path (`["hosts", 0]` → a host's fields). */
export function knownKeysAt(path: ConfigPath): string[] {
  let schema: AnySchema | undefined = StackConfigSchema;
  for (const part of path) {
    if (schema === undefined) return [];
    const def = unwrap(schema)._zod.def as { type: string; shape?: Record<string, AnySchema>; element?: AnySchema };
    schema = typeof part === "number" ? def.element : def.shape?.[String(part)];
  }
  if (schema === undefined) return [];
  const def = unwrap(schema)._zod.def as { shape?: Record<string, AnySchema> };
  return def.shape ? Object.keys(def.shape) : [];
}

export type ValidationResult = { ok: true; config: StackConfig } | { ok: false; problems: string[] };

export function validateStackConfig(raw: unknown, context: CrossCheckContext = {}): ValidationResult {
  const parsed = StackConfigSchema.safeParse(raw, { reportInput: true });
  const lines = parsed.success ? [] : formatIssues(parsed.error.issues, { knownKeys: knownKeysAt });
  const record = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  for (const problem of crossCheck(record, context)) {
    const line = `${problem.path}: ${problem.message}`;
    if (!lines.includes(line)) lines.push(line);
  }
  if (lines.length > 0 || !parsed.success) return { ok: false, problems: lines };
  return { ok: true, config: parsed.data };
}

/** Validates or throws a ConfigError listing every problem. */
export function parseStackConfig(raw: unknown, context: CrossCheckContext = {}): StackConfig {
  const result = validateStackConfig(raw, context);
  if (!result.ok) throw new ConfigError(result.problems);
  return result.config;
}
