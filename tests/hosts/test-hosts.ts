// TypeScript side of the playground hosts script (components/playground/hosts.sh): what the integration tests, doctor's tests and the benchmark
// use to create SSH test hosts, break them in controlled ways, and remove them.
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { HostLine } from "#components/playground/playground-hosts.js";

const execFileAsync = promisify(execFile);

export const SCRIPT = fileURLToPath(new URL("../../components/playground/hosts.sh", import.meta.url));
/** The apt-cacher-ng every test host reaches Debian packages through. */
export const APT_PROXY = "http://10.231.0.1:3242";
export const BRIDGE_ADDRESS = "10.231.0.1";

/** A host as hosts.sh reports it (the playground reads the same lines). */
export interface TestHost extends HostLine {
  readonly index: number;
  /** "nspawn" (systemd as PID 1) or "chroot" (sshd only, fallback). */
  readonly mode: "nspawn" | "chroot";
  /** The host's root directory as seen from this machine. */
  readonly root: string;
}

/** Why the test hosts cannot exist here, or undefined when they can. */
export function unavailableReason(): string | undefined {
  if (process.getuid?.() !== 0) return "test hosts need root (network namespaces, mounts, systemd-nspawn)";
  for (const tool of ["debootstrap", "systemd-nspawn", "apt-cacher-ng", "ssh-keygen", "ip"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return undefined;
}

// Boots, builds and teardowns take up to minutes: they run without blocking the test worker's
// event loop (vitest's worker answers its runner over RPC and times out if blocked for 60 s).
async function run(args: string[], timeoutMs = 600_000, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  try {
    const { stdout } = await execFileAsync("bash", [SCRIPT, ...args], { encoding: "utf8", timeout: timeoutMs, env, maxBuffer: 16 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`testhosts.sh ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** For quick commands (a file, a rule), where tests read the answer inline. */
function runQuick(args: string[]): string {
  return execFileSync("bash", [SCRIPT, ...args], { encoding: "utf8", timeout: 120_000, stdio: ["ignore", "pipe", "pipe"] });
}

function parseHosts(stdout: string): TestHost[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as TestHost);
}

export async function buildBase(): Promise<void> {
  await run(["base"], 900_000);
}

/**
 * Creates and boots hosts vht-<i> for each index; returns when all accept SSH.
 * `forceChroot` makes them chroot+sshd hosts, the fallback for machines where nspawn cannot run.
 */
export async function upHosts(indexes: readonly number[], options: { forceChroot?: boolean } = {}): Promise<TestHost[]> {
  const env = options.forceChroot ? { ...process.env, VHT_FORCE_CHROOT: "1" } : process.env;
  return parseHosts(await run(["up", ...indexes.map(String)], 900_000, env));
}

export async function downHosts(indexes: readonly number[]): Promise<void> {
  await run(["down", ...indexes.map(String)]);
}

export async function stopHost(index: number): Promise<void> {
  await run(["stop", String(index)]);
}

export async function startHost(index: number): Promise<TestHost> {
  return parseHosts(await run(["start", String(index)]))[0]!;
}

/** Gives the host a new host key; returns it with the new key. */
export async function rekeyHost(index: number): Promise<TestHost> {
  return parseHosts(await run(["rekey", String(index)]))[0]!;
}

export function setSudoPassword(index: number, required: boolean): void {
  runQuick(["sudo-password", String(index), required ? "on" : "off"]);
}

/** Runs a command inside a host as root without SSH; returns stdout. */
export function hostExec(index: number, command: string): string {
  return runQuick(["exec", String(index), "bash", "-c", command]);
}

/** Runs a command of this machine inside a host's network namespace (e.g. iptables). */
export function hostNetExec(index: number, command: string): string {
  return runQuick(["netexec", String(index), "bash", "-c", command]);
}

export function privateKey(host: TestHost): string {
  return readFileSync(host.privateKeyPath, "utf8");
}
