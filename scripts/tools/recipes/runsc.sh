# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# gVisor's runsc and containerd-shim-runsc-v1 for the stacks' default release 20260420.0
# (components/config/artifacts.ts), from gVisor's `go` branch, the tree upstream generates for Go
# module builds (the master branch builds only with Bazel).
# The `go` branch has no commit for the release itself: its merges went from master's ec13dd243
# (go commit 3278e925778d, 2026-04-16) to release-20260420.0 plus 10 commits (go commit 69ef7f8,
# 2026-04-22). This takes 3278e925778d: release-20260420.0 (master 03f43620b) less 4 commits, of
# which two touch code (netstack's NAT code moved to a file of its own, a shim extension argument)
# and two only docs and tests. The proxy refuses the branch name (`@go`); it serves this
# pseudo-version.
tool_version=20260420.0
tool_modules=("gvisor.dev/gvisor@v0.0.0-20260416192914-3278e925778d=gvisor")
tool_build_dir=gvisor
tool_packages=(
  "runsc=./runsc"
  "containerd-shim-runsc-v1=./shim"
)
tool_ldflags="-X gvisor.dev/gvisor/runsc/version.version=release-${tool_version}-go.3278e925778d"
tool_expected_minutes=3
tool_release_files=(
  "https://storage.googleapis.com/gvisor/releases/release/${tool_version}/x86_64/runsc https://storage.googleapis.com/gvisor/releases/release/${tool_version}/x86_64/runsc.sha512"
  "https://storage.googleapis.com/gvisor/releases/release/${tool_version}/x86_64/containerd-shim-runsc-v1 https://storage.googleapis.com/gvisor/releases/release/${tool_version}/x86_64/containerd-shim-runsc-v1.sha512"
)
