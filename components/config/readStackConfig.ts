// Reads the raw stack configuration out of Pulumi's flat config map (`vhive:hosts` → `hosts`).
// Pulumi stores objects and lists as JSON text and scalars as plain text, so each value is
// decoded as JSON when it is JSON and kept as text otherwise.

export interface RawStackConfig {
  readonly values: Record<string, unknown>;
  /** Every key of the project's namespace, for checking references to secret keys. */
  readonly keys: ReadonlySet<string>;
}

function decode(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Settings that are only ever read through a reference (`{ secret: key }`) are not part of the
 * schema, so they are left out of `values`: `secretKeys` names them.
 */
export function readStackConfig(
  all: Record<string, string>,
  project: string,
  secretKeys: ReadonlySet<string> = new Set(),
): RawStackConfig {
  const values: Record<string, unknown> = {};
  const keys = new Set<string>();
  const prefix = `${project}:`;
  for (const [fullKey, text] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    keys.add(key);
    if (!secretKeys.has(key)) values[key] = decode(text);
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
