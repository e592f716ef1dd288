// How a step's script reaches a host: on the SSH channel's stdin, into a file only the SSH user
// (and root) can read, run from there and removed. The command line the host sees is this fixed
// wrapper, so nothing of a script (a bootstrap token, a key) shows in any process list or in
// sudo's log, and a command in the script that reads stdin cannot swallow the rest of the script.
import { q } from "../scripts/shell.js";

/** Exit code of the wrapper when a non-root user lacks passwordless sudo. */
export const NEEDS_SUDO_EXIT = 96;

export const REMOTE_RUNNER = [
  "set -u",
  "umask 077",
  'script=$(mktemp "${TMPDIR:-/tmp}/vhive-step.XXXXXXXX") || exit 1',
  "trap 'rm -f \"$script\"' EXIT",
  'cat >"$script" || exit 1',
  'if [ "$(id -u)" -eq 0 ]; then',
  '  bash "$script" </dev/null',
  "elif sudo -n true 2>/dev/null; then",
  '  sudo -n -- bash "$script" </dev/null',
  "else",
  '  echo "vhive: user $(id -un) on $(hostname) needs passwordless sudo" >&2',
  `  exit ${NEEDS_SUDO_EXIT}`,
  "fi",
  "",
].join("\n");

/** The command sent in the SSH exec request: bash whatever the user's login shell is. */
export function remoteRunnerCommand(): string {
  return `bash -c ${q(REMOTE_RUNNER)}`;
}
