# shellcheck shell=bash disable=SC2034,SC2154 # a recipe sets what build.sh reads and uses its $work and $out
# runc at the stacks' default (components/config/artifacts.ts). cgo with libseccomp, as upstream's
# Makefile builds it (Debian's libseccomp-dev: scripts/ci-deps/upstream-runtimes.txt); the version
# comes from the module's VERSION file, embedded by runc itself.
tool_version=1.3.5
tool_modules=("github.com/opencontainers/runc@v${tool_version}=runc")
tool_build_dir=runc
tool_packages=("runc=.")
tool_cgo=1
tool_tags="seccomp urfave_cli_no_docs"
tool_expected_minutes=1
tool_release_files=(
  "https://github.com/opencontainers/runc/releases/download/v${tool_version}/runc.amd64 https://github.com/opencontainers/runc/releases/download/v${tool_version}/runc.sha256sum runc"
)
