// SSH connection settings for a host, from the stack config: the private key is a Pulumi secret
// (read from a secret config key or a local file) or comes from the ssh-agent, and the host
// key is pinned unless the stack explicitly allows unknown host keys.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as pulumi from "@pulumi/pulumi";
import type { ConnectionArgs } from "../provider/index.js";
import type { HostConfig } from "../config/schema.js";

/** Looks up a secret config value by key; the program passes `pulumi.Config.requireSecret`. */
export type SecretLookup = (key: string) => pulumi.Output<string>;

export class HostKeyFileError extends Error {}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
}

export function sshConnection(host: HostConfig, index: number, secret: SecretLookup): ConnectionArgs {
  const key = host.sshKey;
  let auth: Partial<ConnectionArgs>;
  if (key === "agent") {
    auth = process.env.SSH_AUTH_SOCK ? { agentSocketPath: process.env.SSH_AUTH_SOCK } : {};
  } else if ("secret" in key) {
    auth = { privateKey: secret(key.secret) };
  } else {
    let text: string;
    try {
      text = readFileSync(expandHome(key.file), "utf8");
    } catch (error) {
      throw new HostKeyFileError(`hosts[${index}].sshKey.file: cannot read ${key.file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
    }
    auth = { privateKey: pulumi.secret(text) };
  }
  return {
    host: host.address,
    port: host.port,
    user: host.user,
    ...auth,
    ...(host.hostKey ? { hostKey: host.hostKey } : {}),
    // Hosts may still be booting: retry the dial for a while before failing the step.
    dialAttempts: 20,
    perDialTimeoutS: 15,
  };
}
