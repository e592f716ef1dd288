#!/usr/bin/env bash
# `npm run up`: brings up the default stack on a fresh machine. Installs what it needs (Debian
# packages for the playground when root, the npm dependencies, the pinned Pulumi engine and
# providers through scripts/tools/build.sh), keeps state in a local file backend (no account),
# runs `pulumi up` through the Automation API (cli/pulumi.ts) and, on the playground, its first
# experiment: helloworld booted, snapshotted, restored, with its cold-start stages.
# Environment: VHIVE_STACK (default playground), PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE(_FILE)
# (default: a generated passphrase in ~/.config/vhive/passphrases/, apart from the state).
# Extra arguments go to `npm run pulumi -- up` (e.g. --parallel 8).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack="${VHIVE_STACK:-playground}"

die() {
  printf 'npm run up: %s\n' "$1" >&2
  exit 1
}

command -v node >/dev/null 2>&1 || die "Node.js 20 or later is required, and node is not on the PATH."
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || die "Node.js 20 or later is required, and this is Node.js $(node --version)."
cd "$repo"

if [ "$stack" = playground ]; then
  [ "$(id -u)" -eq 0 ] || die "the playground creates local hosts (systemd-nspawn, network namespaces): run as root, or pick another stack with VHIVE_STACK."
  missing=()
  mapfile -t wanted < <(sed 's/#.*//' scripts/ci-deps/testhosts.txt scripts/ci-deps/images.txt | tr -s ' ' '\n' | sed '/^$/d' | sort -u)
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "Installing Debian packages for the playground: ${missing[*]}" >&2
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
      die "installing ${missing[*]} failed; install them by hand and run npm run up again."
    fi
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "Installing npm dependencies..." >&2
  # Native addons build against this Node's own headers, never downloaded ones.
  npm_config_nodedir="$(node -p 'require("path").resolve(process.execPath, "../..")')"
  export npm_config_nodedir
  npm install --no-audit --no-fund >/dev/null || die "npm install failed; run npm install by hand to see why."
fi

# The pinned engine and providers: upstream's release where it can be downloaded and verified,
# else built from the Go module proxy (about 10 minutes on 2 cores the first time, then cached).
bash scripts/tools/build.sh pulumi pulumi-resource-kubernetes || die "the Pulumi engine could not be obtained (see the messages above)."

npx tsx cli/pulumi.ts up --stack "$stack" "$@"
if [ "$stack" = playground ]; then
  npx tsx cli/pulumi.ts demo --stack "$stack"
  echo "Remove everything with: npx tsx cli/pulumi.ts destroy --stack $stack" >&2
fi
