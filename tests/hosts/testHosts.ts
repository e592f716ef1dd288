// TypeScript side of testhosts.sh: what the integration tests, doctor's tests and the benchmark
// use to create SSH test hosts, break them in controlled ways, and remove them.
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const SCRIPT = fileURLToPath(new URL("./testhosts.sh", import.meta.url));
/** The apt-cacher-ng every test host reaches Debian packages through. */
export const APT_PROXY = "http://10.231.0.1:3242";
export const BRIDGE_ADDRESS = "10.231.0.1";

export interface TestHost {
  readonly index: number;
  readonly name: string;
  readonly address: string;
  readonly port: number;
  readonly user: string;
  readonly privateKeyPath: string;
  /** "ssh-ed25519 AAAA…": the host key generated for this host, to pin. */
  readonly hostKey: string;
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

function run(args: string[], timeoutMs = 600_000, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync("bash", [SCRIPT, ...args], { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"], env });
}

function parseHosts(stdout: string): TestHost[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as TestHost);
}

export function buildBase(): void {
  run(["base"], 900_000);
}

/**
 * Creates and boots hosts vht-<i> for each index; returns when all accept SSH.
 * `forceChroot` makes them chroot+sshd hosts, the fallback for machines where nspawn cannot run.
 */
export function upHosts(indexes: readonly number[], options: { forceChroot?: boolean } = {}): TestHost[] {
  const env = options.forceChroot ? { ...process.env, VHT_FORCE_CHROOT: "1" } : process.env;
  return parseHosts(run(["up", ...indexes.map(String)], 600_000, env));
}

export function downHosts(indexes: readonly number[]): void {
  run(["down", ...indexes.map(String)]);
}

export function stopHost(index: number): void {
  run(["stop", String(index)]);
}

export function startHost(index: number): TestHost {
  return parseHosts(run(["start", String(index)]))[0]!;
}

/** Gives the host a new host key; returns it with the new key. */
export function rekeyHost(index: number): TestHost {
  return parseHosts(run(["rekey", String(index)]))[0]!;
}

export function setSudoPassword(index: number, required: boolean): void {
  run(["sudo-password", String(index), required ? "on" : "off"]);
}

/** Runs a command inside a host as root without SSH; returns stdout. */
export function hostExec(index: number, command: string): string {
  return run(["exec", String(index), "bash", "-c", command]);
}

/** Runs a command of this machine inside a host's network namespace (e.g. iptables). */
export function hostNetExec(index: number, command: string): string {
  return run(["netexec", String(index), "bash", "-c", command]);
}

export function privateKey(host: TestHost): string {
  return readFileSync(host.privateKeyPath, "utf8");
}
