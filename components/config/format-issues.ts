// Turns zod issues into one line each, `hosts[2].address: must be …`, so a user sees every
// problem of a stack file at once and can find it by its path.
import type { z } from "zod";
import { closest, didYouMean } from "./suggest.js";

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

/** Settings that hold or name secrets: their values are never repeated in a message. */
const SECRET_FIELDS: ReadonlySet<PropertyKey> = new Set(["sshKey", "accessKey", "secretKey"]);

function isSecretPath(path: ConfigPath): boolean {
  return path.some((part) => SECRET_FIELDS.has(part));
}

function describe(value: unknown, path: ConfigPath): string {
  if (value === null) return "null";
  if (isSecretPath(path)) return typeof value === "string" ? "a string, not shown" : `${Array.isArray(value) ? "a list" : typeof value}, not shown`;
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

/** The settings known at a path of the config (for "did you mean"). */
export type KnownKeys = (path: ConfigPath) => readonly string[];

function unknownKeyLine(path: ConfigPath, key: string, project: string, knownKeys: KnownKeys | undefined): string {
  const colon = key.indexOf(":");
  if (path.length === 0 && colon >= 0) {
    // A key under another namespace (readStackConfig keeps it under its full name).
    const namespace = key.slice(0, colon);
    const setting = key.slice(colon + 1);
    const known = knownKeys?.([]) ?? [];
    const meant = closest(setting, known) ?? setting;
    return `${key}: unknown namespace "${namespace}" (settings of this project are ${project}:<setting>; did you mean ${project}:${meant}?)`;
  }
  return `${formatPath([...path, key])}: unknown setting${didYouMean(key, knownKeys?.(path) ?? [])}`;
}

export interface FormatOptions {
  readonly knownKeys?: KnownKeys;
  /** The project's config namespace, for messages about keys under another one. */
  readonly project?: string;
}

/** One line per issue; unknown keys give one line per key. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], options: FormatOptions = {}): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case "invalid_type":
        lines.push(
          input === undefined
            ? `${formatPath(issue.path)}: is required`
            : `${formatPath(issue.path)}: must be ${EXPECTED_NAMES[issue.expected] ?? issue.expected} (got ${describe(input, issue.path)})`,
        );
        break;
      case "unrecognized_keys":
        for (const key of issue.keys) lines.push(unknownKeyLine(issue.path, key, options.project ?? "vhive", options.knownKeys));
        break;
      case "invalid_value":
        lines.push(
          `${formatPath(issue.path)}: must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}` +
            (input === undefined ? "" : ` (got ${describe(input, issue.path)})`),
        );
        break;
      default:
        lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}
