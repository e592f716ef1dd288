// Runs every check on every host of a stack, hosts in parallel, and returns the rows. Whatever
// one host does (hangs, drops the connection, prints garbage), it ends as that host's rows:
// the other hosts' rows are kept.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { HostConfig, StackConfig } from "#components/config/schema.js";
import { hostChecks } from "./checks.js";
import { FACTS_SCRIPT, parseFacts } from "./facts.js";
import { probePorts } from "./ports.js";
import { openSession, RemoteError, type Credentials } from "./session.js";
import type { CheckResult } from "./types.js";

export interface DoctorOptions {
  /** Private key file for hosts whose sshKey is an encrypted Pulumi secret (doctor cannot decrypt it). */
  readonly keyFile?: string;
  /** Seconds for the SSH handshake. */
  readonly timeoutS?: number;
  /** Seconds one command on a host may take. */
  readonly execTimeoutS?: number;
  /** Secret config keys whose values are encrypted in the stack file. */
  readonly encrypted?: ReadonlySet<string>;
  /** Values of secret config keys stored in plain text. */
  readonly plainSecrets?: ReadonlyMap<string, string>;
}

function fail(host: HostConfig, check: string, detail: string, remedy: string): CheckResult {
  return { host: host.name, check, verdict: "fail", detail, remedy };
}

function credentialsFor(host: HostConfig, index: number, options: DoctorOptions): Credentials | CheckResult {
  const key = host.sshKey;
  const read = (path: string, what: string): Credentials | CheckResult => {
    const expanded = path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
    try {
      return { privateKey: readFileSync(expanded, "utf8") };
    } catch (error) {
      // The path is named, never the file's content.
      return fail(host, "ssh", `${what}: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`, "fix the path or the file's permissions");
    }
  };
  if (key === "agent") {
    if (!process.env.SSH_AUTH_SOCK) return fail(host, "ssh", "sshKey is the agent, but SSH_AUTH_SOCK is not set", "start ssh-agent and ssh-add the key");
    return { agent: process.env.SSH_AUTH_SOCK };
  }
  if ("file" in key) return read(key.file, `hosts[${index}].sshKey.file`);
  if (options.keyFile) return read(options.keyFile, "--key-file");
  const plain = options.plainSecrets?.get(key.secret);
  if (plain !== undefined && !options.encrypted?.has(key.secret)) return { privateKey: plain };
  return fail(
    host,
    "ssh",
    `hosts[${index}].sshKey is the secret config key "${key.secret}", encrypted in the stack file: doctor cannot decrypt it`,
    `pass the same private key with --key-file <path> (pulumi config get ${key.secret} prints it where the stack's passphrase is set)`,
  );
}

export async function checkHost(host: HostConfig, index: number, config: StackConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const credentials = credentialsFor(host, index, options);
  if ("verdict" in credentials) return [credentials];
  const session = await openSession(host, credentials, {
    connectTimeoutS: options.timeoutS ?? 10,
    ...(options.execTimeoutS !== undefined ? { execTimeoutS: options.execTimeoutS } : {}),
  });
  if ("verdict" in session) return [session];
  const results: CheckResult[] = [
    {
      host: host.name,
      check: "ssh",
      verdict: "pass",
      detail: `${host.user}@${host.address}:${host.port}, host key ${host.hostKey ? "matches the pinned key" : "not pinned (allowUnknownHostKey)"}`,
    },
  ];
  let stage = "facts";
  try {
    const before = Date.now() / 1000;
    const facts = await session.remote(FACTS_SCRIPT);
    const after = Date.now() / 1000;
    const parsed = parseFacts(facts.stdout);
    results.push(...hostChecks(host, parsed, config, { localMid: (before + after) / 2, halfRtt: (after - before) / 2 }));
    stage = "ports";
    results.push(...(await probePorts(host, session.remote, config.hosts)));
  } catch (error) {
    const reason = error instanceof RemoteError ? error.message : `unexpected error: ${(error as Error).message}`;
    results.push(
      fail(
        host,
        stage === "facts" ? "commands" : "port checks",
        `${host.user}@${host.address}:${host.port} accepted SSH, then: ${reason}`,
        "check the host's load, its sshd and its shell start-up files; raise --exec-timeout for a slow host",
      ),
    );
  } finally {
    session.close();
  }
  return results;
}

export async function runDoctor(config: StackConfig, options: DoctorOptions = {}): Promise<CheckResult[]> {
  if (config.target !== "hosts") return [{ host: "-", check: "target", verdict: "pass", detail: `target is ${config.target}: no remote hosts to check` }];
  const perHost = await Promise.all(
    config.hosts.map((host, i) =>
      checkHost(host, i, config, options).catch((error: unknown) => [
        fail(host, "doctor", `unexpected error: ${(error as Error).message}`, "report this with the host's details"),
      ]),
    ),
  );
  return perHost.flat();
}
