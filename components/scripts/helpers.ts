// The shell function library every step script starts with (helpers.sh, kept as a real shell
// file so shellcheck and editors see it as such), and the wrapper that turns a step body into a
// complete script ending with the one `vhive-step <name>: changed|unchanged` line.
import { readFileSync } from "node:fs";

export const STATE_DIR = "/var/lib/vhive/state";
export const CACHE_DIR = "/var/cache/vhive";

const LIBRARY = readFileSync(new URL("./helpers.sh", import.meta.url), "utf8");
/** The library without its file header (shellcheck directives that only make sense standalone). */
export const HELPERS = LIBRARY.slice(LIBRARY.indexOf("changed=0"));

/** Where a step runs: on a cluster host (root or passwordless sudo) or on the Pulumi machine. */
export type StepPlace = "host" | "local";

/** Wraps a step body into a complete script that ends with the `vhive-step` status line. */
export function stepScript(step: string, body: string, place: StepPlace = "host", kind: "create" | "delete" = "create"): string {
  return [
    "#!/usr/bin/env bash",
    `# vHive provisioner step "${step}": idempotent; prints one status line at the end.`,
    "set -euo pipefail",
    "# Non-root users' PATH lacks the sbin directories (sysctl, swapon, modprobe live there).",
    'export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"',
    `step=${step}`,
    HELPERS,
    place === "host"
      ? "require_root_access"
      : [
          "# On the Pulumi machine: the user's own state and cache directories, no sudo.",
          "vhive_local=1",
          'state_dir="${XDG_STATE_HOME:-$HOME/.local/state}/vhive"',
          "# shellcheck disable=SC2034 # not every step downloads",
          'cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vhive"',
        ].join("\n"),
    body.trimEnd(),
    ...(kind === "delete" ? ["forget_manifest", "tidy_state"] : ["save_manifest"]),
    "",
    'if [ "$changed" -eq 1 ]; then echo "vhive-step $step: changed"; else echo "vhive-step $step: unchanged"; fi',
    "",
  ].join("\n");
}

/**
 * A host step's drift check, run at `pulumi refresh`: exits 0 while every file the step's last
 * create wrote is in place with the same content. A step that writes no files has nothing to check.
 */
export function checkScript(step: string): string {
  return [
    "#!/usr/bin/env bash",
    `# vHive provisioner step "${step}": are the files it wrote still in place, unchanged?`,
    "set -euo pipefail",
    `manifest=${STATE_DIR}/steps/${step}.sha256`,
    '[ -f "$manifest" ] || exit 0',
    'sha256sum --check --quiet --status "$manifest"',
    "",
  ].join("\n");
}
