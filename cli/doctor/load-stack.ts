// Reads a stack file (stacks/Pulumi.<stack>.yaml) the way Pulumi hands config to the program,
// and validates it with the provisioner's own reader and parser, so doctor and `pulumi up`
// agree on it. Values set with `pulumi config set --secret` stay encrypted (`secure: …`):
// decrypting needs the Pulumi engine, so doctor only notes which keys they are.
import { readFileSync, statSync } from "node:fs";
import { parseDocument } from "yaml";
import { readStackConfig, referencedSecretKeys } from "#components/config/read-stack-config.js";
import { parseStackConfig } from "#components/config/validate.js";
import { didYouMean } from "#components/config/suggest.js";
import type { StackConfig } from "#components/config/schema.js";
import { sanitize } from "./sanitize.js";

export const PROJECT = "vhive";

/** A file that is not a readable stack file; the message is one line. */
export class StackFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StackFileError";
  }
}

/** Top-level keys Pulumi writes into a stack file. */
const STACK_FILE_KEYS = ["config", "secretsprovider", "encryptedkey", "encryptionsalt", "environment"];

export interface StackFile {
  /** Pulumi's flat config map: objects as JSON text, scalars as text. */
  readonly all: Record<string, string>;
  /** Keys (without the project prefix) whose values are encrypted. */
  readonly encrypted: ReadonlySet<string>;
}

function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function parseStackFile(text: string): StackFile {
  if (text.trim() === "") throw new StackFileError('is empty: a stack file has a top-level "config:" mapping');
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    const line = error.linePos?.[0]?.line;
    throw new StackFileError(
      `YAML syntax error${line ? ` at line ${line}` : ""}: ${sanitize(error.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""), 120)}`,
    );
  }
  let top: unknown;
  try {
    top = doc.toJS();
  } catch (error) {
    throw new StackFileError(`cannot be read as YAML: ${sanitize((error as Error).message.split("\n")[0]!, 120)}`);
  }
  if (!isMapping(top)) throw new StackFileError('is not a Pulumi stack file (expected a mapping with a top-level "config:" key)');
  const unknown = Object.keys(top).filter((key) => !STACK_FILE_KEYS.includes(key));
  if (unknown.length > 0) {
    const first = unknown[0]!;
    throw new StackFileError(
      `is not a Pulumi stack file: unknown top-level key${unknown.length === 1 ? "" : "s"} ${unknown
        .slice(0, 5)
        .map((k) => JSON.stringify(sanitize(k, 40)))
        .join(", ")}` + `${didYouMean(first, STACK_FILE_KEYS)} (a stack file has "config:" and Pulumi's encryption keys)`,
    );
  }
  if (top.config === undefined) throw new StackFileError('has no top-level "config:" mapping: nothing to check');
  if (!isMapping(top.config)) throw new StackFileError('"config:" must be a mapping of settings');
  const all: Record<string, string> = {};
  const encrypted = new Set<string>();
  for (const [key, value] of Object.entries(top.config)) {
    const fullKey = key.includes(":") ? key : `${PROJECT}:${key}`;
    if (isMapping(value) && Object.keys(value).length === 1 && typeof value.secure === "string") {
      if (fullKey.startsWith(`${PROJECT}:`)) encrypted.add(fullKey.slice(PROJECT.length + 1));
      all[fullKey] = "";
      continue;
    }
    all[fullKey] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return { all, encrypted };
}

export function readStackFile(path: string): StackFile {
  let text: string;
  try {
    if (statSync(path).isDirectory()) throw new StackFileError("is a directory, not a stack file");
    text = readFileSync(path, "utf8");
  } catch (error) {
    if (error instanceof StackFileError) throw error;
    throw new StackFileError(`cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return parseStackFile(text);
}

export interface LoadedStack {
  readonly config: StackConfig;
  /** Secret config keys doctor cannot read (encrypted): an SSH key among them needs --key-file. */
  readonly encrypted: ReadonlySet<string>;
  /** Values of secret-referenced keys that are stored in plain text (e.g. in a test stack). */
  readonly plainSecrets: ReadonlyMap<string, string>;
}

export function loadStack(file: StackFile): LoadedStack {
  const secrets = referencedSecretKeys(file.all, PROJECT);
  const unreadable = [...file.encrypted].filter((key) => !secrets.has(key));
  if (unreadable.length > 0)
    throw new StackFileError(
      `${unreadable.map((k) => `${PROJECT}:${k}`).join(", ")} ${unreadable.length === 1 ? "is" : "are"} encrypted but not a { secret: <key> } reference: ` +
        "only secrets (SSH keys, MinIO credentials) may be set with --secret",
    );
  const raw = readStackConfig(file.all, PROJECT, secrets, { encryptedKeys: file.encrypted });
  const config = parseStackConfig(raw.values, { configKeys: raw.keys });
  const plainSecrets = new Map<string, string>();
  for (const key of secrets) {
    const value = file.all[`${PROJECT}:${key}`];
    if (value !== undefined && !file.encrypted.has(key)) plainSecrets.set(key, value);
  }
  return { config, encrypted: file.encrypted, plainSecrets };
}

export function loadStackFile(path: string): LoadedStack {
  return loadStack(readStackFile(path));
}
