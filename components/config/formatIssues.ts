// Turns zod issues into one line each, `hosts[2].address: must be …`, so a user sees every
// problem of a stack file at once and can find it by its path.
import type { z } from "zod";

export type ConfigPath = readonly PropertyKey[];

/** `["hosts", 2, "address"]` → `hosts[2].address`; the root is called `config`. */
export function formatPath(path: ConfigPath): string {
  let out = "";
  for (const part of path) {
    if (typeof part === "number") out += `[${part}]`;
    else out += out === "" ? String(part) : `.${String(part)}`;
  }
  return out === "" ? "config" : out;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

const EXPECTED_NAMES: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "an object",
};

/** One line per issue; unknown keys give one line per key. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case "invalid_type":
        lines.push(
          input === undefined
            ? `${formatPath(issue.path)}: is required`
            : `${formatPath(issue.path)}: must be ${EXPECTED_NAMES[issue.expected] ?? issue.expected} (got ${describe(input)})`,
        );
        break;
      case "unrecognized_keys":
        for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown setting`);
        break;
      case "invalid_value":
        lines.push(
          `${formatPath(issue.path)}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` +
            (input === undefined ? "" : ` (got ${describe(input)})`),
        );
        break;
      default:
        lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}
