// Reads the raw stack configuration out of Pulumi's flat config map (`vhive:hosts` → `hosts`).
// Pulumi stores objects and lists as JSON text and scalars as plain text, so each value is
// decoded as JSON when it is JSON and kept as text otherwise.

/**
 * Namespaces besides the project's that a stack may set: Pulumi's own and the providers the
 * program uses. Any other namespace is a typo (`vhve:`, `Vhive:`, `vhive-pulumi:`) whose
 * settings would otherwise be ignored silently.
 */
export const PROVIDER_NAMESPACES: ReadonlySet<string> = new Set(["pulumi", "kubernetes"]);

/** The config keys of a stack, with the length of each value (checked without reading it). */
export class ConfigKeys extends Set<string> {
  readonly #lengths = new Map<string, number>();

  record(key: string, valueLength: number | undefined): void {
    this.add(key);
    if (valueLength !== undefined) this.#lengths.set(key, valueLength);
  }

  /** Length of the key's value; undefined when it is not known (e.g. still encrypted). */
  valueLength(key: string): number | undefined {
    return this.#lengths.get(key);
  }
}

export interface RawStackConfig {
  readonly values: Record<string, unknown>;
  /** Every key of the project's namespace, for checking references to secret keys. */
  readonly keys: ConfigKeys;
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface ReadOptions {
  /** Keys whose values are present but cannot be read here (encrypted `secure:` values). */
  readonly encryptedKeys?: ReadonlySet<string>;
}

/**
 * Settings that are only ever read through a reference (`{ secret: key }`) are not part of the
 * schema, so they are left out of `values`: `secretKeys` names them. A key under a namespace
 * that is neither the project's nor a provider's is kept in `values` under its full name, so
 * the schema reports it as unknown (with the setting it was probably meant to be).
 */
export function readStackConfig(
  all: Record<string, string>,
  project: string,
  secretKeys: ReadonlySet<string> = new Set(),
  options: ReadOptions = {},
): RawStackConfig {
  const values: Record<string, unknown> = {};
  const keys = new ConfigKeys();
  const prefix = `${project}:`;
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) {
      const colon = fullKey.indexOf(":");
      const namespace = colon < 0 ? "" : fullKey.slice(0, colon);
      if (!PROVIDER_NAMESPACES.has(namespace)) values[fullKey] = "(not read)";
      continue;
    }
    const key = fullKey.slice(prefix.length);
    const encrypted = options.encryptedKeys?.has(key) ?? false;
    keys.record(key, encrypted ? undefined : text.length);
    if (!secretKeys.has(key) && !encrypted) values[key] = decode(text);
  }
  return { values, keys };
}

/** Config keys that settings reference as secrets (`{ secret: key }` anywhere in the values). */
export function referencedSecretKeys(all: Record<string, string>, project: string): Set<string> {
  const found = new Set<string>();
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      if (typeof record.secret === "string" && Object.keys(record).length === 1) found.add(record.secret);
      Object.values(record).forEach(visit);
    }
  };
  for (const [fullKey, text] of Object.entries(all)) if (fullKey.startsWith(`${project}:`)) visit(decode(text));
  return found;
}
