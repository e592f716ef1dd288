#!/usr/bin/env bash
# `npm run up`: brings up the default stack (the single-node kind dev cluster, stacks/Pulumi.dev.yaml)
# on a fresh machine. Installs the npm dependencies, gets the Pulumi CLI through the `pulumi` npm
# package, keeps state in a local file backend under the repository (no account needed), selects
# or creates the stack and runs `pulumi up`. Extra arguments go to `pulumi up` (e.g. --yes).
# Environment: VHIVE_STACK (default dev), PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE
# (default: a generated passphrase kept in .pulumi-state/passphrase).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${VHIVE_STACK:-dev}"
state_dir="$repo/.pulumi-state"

die() {
  printf 'npm run up: %s\n' "$1" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || die "Node.js 20 or later is required, and node is not on the PATH."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js 20 or later is required, and this is Node.js $(node --version)."

cd "$repo"
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing npm dependencies..." >&2
  npm install --no-audit --no-fund >/dev/null || die "npm install failed; run npm install by hand to see why."
fi

# The `pulumi` npm package is a launcher: on first use it downloads the matching CLI into
# $PULUMI_HOME. A machine that cannot reach the download site gets one sentence, not a trace.
pulumi_cli="$repo/node_modules/.bin/pulumi"
[ -x "$pulumi_cli" ] || die "the pulumi npm package is missing from node_modules; run npm install."
if ! "$pulumi_cli" version >/dev/null 2>&1; then
  die "The Pulumi CLI could not be obtained: the pulumi npm package downloads it on first use and that download failed from this machine, so install the Pulumi CLI another way (or allow the download) and run npm run up again."
fi

mkdir -p "$state_dir"
export PULUMI_BACKEND_URL="file://$state_dir"
if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
  passphrase_file="$state_dir/passphrase"
  if [ ! -s "$passphrase_file" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$passphrase_file")
    echo "Generated a stack passphrase in $passphrase_file (keep it: it decrypts the stack's secrets)." >&2
  fi
  export PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase_file"
fi

"$pulumi_cli" stack select "$stack" --create --non-interactive >/dev/null
exec "$pulumi_cli" up --stack "$stack" "$@"
