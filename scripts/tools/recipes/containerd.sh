# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# containerd, its runc shim and ctr, at the stacks' default (components/config/artifacts.ts).
# One module, no relative replaces. Built without cgo (upstream's shim is too; the btrfs snapshotter,
# the one cgo part of the daemon, is left out); the version strings as upstream's Makefile sets them.
tool_version=2.2.3
tool_modules=("github.com/containerd/containerd/v2@v${tool_version}=containerd")
tool_build_dir=containerd
tool_packages=(
  "containerd=./cmd/containerd"
  "containerd-shim-runc-v2=./cmd/containerd-shim-runc-v2"
  "ctr=./cmd/ctr"
)
tool_tags="urfave_cli_no_docs"
tool_ldflags="-X github.com/containerd/containerd/v2/version.Version=v${tool_version} -X github.com/containerd/containerd/v2/version.Package=github.com/containerd/containerd"
tool_expected_minutes=3
# The release archive unpacks to bin/<binaries>; its checksum file sits beside it.
tool_release_url="https://github.com/containerd/containerd/releases/download/v${tool_version}/containerd-${tool_version}-linux-amd64.tar.gz"
tool_release_sums_url="${tool_release_url}.sha256sum"
tool_release_strip=1
