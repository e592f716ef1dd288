// Runs every check on every host of a stack, hosts in parallel, and returns the rows.
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import type { HostConfig, StackConfig } from "../../components/config/schema.js";
import { hostChecks } from "./checks.js";
import { FACTS_SCRIPT, parseFacts } from "./facts.js";
import { probePorts } from "./ports.js";
import { openSession, type Credentials } from "./session.js";
import type { CheckResult } from "./types.js";

export interface DoctorOptions {
  /** Private key file to use for hosts whose sshKey is a Pulumi secret (doctor cannot decrypt it). */
  readonly keyFile?: string;
  readonly timeoutS?: number;
}

function credentialsFor(host: HostConfig, index: number, options: DoctorOptions): Credentials | CheckResult {
  const key = host.sshKey;
  const read = (path: string): Credentials | CheckResult => {
    const expanded = path === "~" || path.startsWith("~/") ? `${homedir()}${path.slice(1)}` : path;
    try {
      return { privateKey: readFileSync(expanded, "utf8") };
    } catch (error) {
      return { host: host.name, check: "ssh", verdict: "fail", detail: `hosts[${index}].sshKey: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`, remedy: "fix the path or the file's permissions" };
    }
  };
  if (options.keyFile) return read(options.keyFile);
  if (key === "agent") {
    if (!process.env.SSH_AUTH_SOCK) return { host: host.name, check: "ssh", verdict: "fail", detail: "sshKey is the agent, but SSH_AUTH_SOCK is not set", remedy: "start ssh-agent and ssh-add the key, or pass --key-file" };
    return { agent: process.env.SSH_AUTH_SOCK };
  }
  if ("file" in key) return read(key.file);
  return { host: host.name, check: "ssh", verdict: "fail", detail: `sshKey is the Pulumi secret ${key.secret}, which doctor cannot decrypt`, remedy: "pass the same key with --key-file <path>" };
}

export async function checkHost(host: HostConfig, index: number, config: StackConfig, options: DoctorOptions): Promise<CheckResult[]> {
  const credentials = credentialsFor(host, index, options);
  if ("verdict" in credentials) return [credentials];
  const session = await openSession(host, credentials, options.timeoutS ?? 10);
  if ("verdict" in session) return [session];
  try {
    const results: CheckResult[] = [{ host: host.name, check: "ssh", verdict: "pass", detail: `${host.user}@${host.address}:${host.port}, host key ${host.hostKey ? "matches the pinned key" : "not pinned (allowUnknownHostKey)"}` }];
    const before = Date.now() / 1000;
    const facts = await session.remote(FACTS_SCRIPT);
    const after = Date.now() / 1000;
    const parsed = parseFacts(facts.stdout);
    results.push(...hostChecks(host, parsed, config, { localMid: (before + after) / 2, halfRtt: (after - before) / 2 }));
    results.push(...(await probePorts(host, session.remote, config.hosts)));
    return results;
  } finally {
    session.close();
  }
}

export async function runDoctor(config: StackConfig, options: DoctorOptions = {}): Promise<CheckResult[]> {
  if (config.target !== "hosts")
    return [{ host: "-", check: "target", verdict: "pass", detail: `target is ${config.target}: no remote hosts to check` }];
  const perHost = await Promise.all(config.hosts.map((host, i) => checkHost(host, i, config, options)));
  return perHost.flat();
}
