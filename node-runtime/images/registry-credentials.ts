import { readFile } from "node:fs/promises";
import type { RegistryCredentials, RegistryOptions } from "./registry-client.js";

/** The runtime config's registry settings (config/runtime-config.ts): secrets live in files. */
export interface RegistryCredentialSettings {
  /** A Docker-style config.json whose `auths` hold credentials per registry. */
  registryAuthFile?: string;
  /** Per registry host[:port]: a user name and a file holding the password or token. */
  registryCredentials?: Record<string, { username: string; passwordFile: string }>;
}

/**
 * Reads the configured secrets once, at start, so a missing or unreadable file fails `serve`
 * rather than the first pull. Errors name the setting and the file, never what the file holds
 * (JSON.parse's own message quotes the text it failed on, so it is not passed on).
 */
export async function registryOptionsFrom(settings: RegistryCredentialSettings): Promise<RegistryOptions> {
  const credentials: Record<string, RegistryCredentials> = {};
  for (const [registry, { username, passwordFile }] of Object.entries(settings.registryCredentials ?? {})) {
    const field = `registryCredentials.${registry}.passwordFile`;
    const text = await readFile(passwordFile, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new Error(`${field}: cannot read ${passwordFile} (${err.code ?? "unknown error"})`);
    });
    // Files written by `echo` or editors end with a newline that is not part of the secret.
    const password = text.replace(/\r?\n$/, "");
    if (password.length === 0) throw new Error(`${field}: ${passwordFile} is empty`);
    credentials[registry] = { username, password };
  }
  const options: RegistryOptions = { credentials };
  if (settings.registryAuthFile !== undefined) {
    const file = settings.registryAuthFile;
    const text = await readFile(file, "utf8").catch((err: NodeJS.ErrnoException) => {
      throw new Error(`registryAuthFile: cannot read ${file} (${err.code ?? "unknown error"})`);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`registryAuthFile: ${file} is not valid JSON`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`registryAuthFile: ${file} is not a JSON object`);
    options.dockerConfigPath = file;
  }
  return options;
}
