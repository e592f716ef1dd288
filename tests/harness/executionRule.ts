// The one rule that decides whether the harness executes a resource on the test hosts, and why
// not when it does not. Nothing is ever imitated: a resource we cannot run is listed with its
// reason, and everything that depends on it is listed too.

export type Decision = { run: "remote-command" | "copy-to-remote" | "local-command" } | { run: false; reason: string };

/**
 * Calls in a generated script that mean it fetches pinned upstream release files (a call has
 * arguments; the helper library's definitions, `fetch_verified() {`, do not count).
 */
const UPSTREAM_DOWNLOAD = /^[ \t]*(fetch_verified|missing_checksum)[ \t]+\S/m;

export interface RuleOptions {
  /** Execute command:local:Command resources on this machine (the Pulumi machine). */
  readonly runLocal?: boolean;
}

export function decide(type: string, inputs: Record<string, unknown>, options: RuleOptions = {}): Decision {
  if (type === "command:remote:Command") {
    const create = typeof inputs.create === "string" ? inputs.create : "";
    if (UPSTREAM_DOWNLOAD.test(create))
      return { run: false, reason: "downloads pinned upstream release files (this workplace reaches only the Debian archive)" };
    return { run: "remote-command" };
  }
  if (type === "command:remote:CopyToRemote") return { run: "copy-to-remote" };
  if (type === "command:local:Command")
    return options.runLocal ? { run: "local-command" } : { run: false, reason: "runs on the Pulumi machine, not on a host" };
  if (type.startsWith("kubernetes:") || type === "pulumi:providers:kubernetes")
    return { run: false, reason: "needs a Kubernetes cluster" };
  return { run: false, reason: `no provider for ${type} in the harness` };
}
