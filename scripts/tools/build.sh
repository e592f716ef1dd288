#!/usr/bin/env bash
# shellcheck disable=SC2154 # tool_* settings come from the recipe that load_recipe sources
# The project's pinned tools (the Pulumi CLI and providers; the upstream runtimes the tests and
# benches run: containerd, runc, runsc, the CNI plugins, cri-tools, kubelet/kubeadm/kubectl), one
# recipe each in recipes/<tool>.sh, cached by version outside the repository.
#
# For each tool: where upstream's release archive and its published checksum file are reachable,
# download both over HTTPS and verify; otherwise build the pinned version from the Go module proxy;
# for a module the proxy does not serve (Pulumi's language hosts), build the pinned tag of a local
# clone of upstream's repository, named by the recipe's setting.
# Modules whose go.mod replaces siblings by relative path (`replace … => ../sdk`) cannot be built
# with `go install mod@version`, so the recipe lists every module with the directory it takes in a
# writable work tree (or the clone's directories are exported there), and the build runs there.
#
# Usage:
#   build.sh <tool>...          make sure each tool is in the cache (a second run takes a second)
#   build.sh --bin-dir <tool>   the same, then print the tool's bin directory on stdout
#   build.sh --list             the tools and their pinned versions
# Environment:
#   VHIVE_TOOLS_DIR   the cache (default: $XDG_CACHE_HOME/vhive-tools, else ~/.cache/vhive-tools)
#   VHIVE_TOOLS_FROM  "auto" (default: release if reachable, else build), "build" (the module
#                     proxy, else a local clone), "release" or "clone" (a local clone only)
#   (a recipe's tool_git_repo_env, e.g. VHIVE_UPSTREAM_GIT_PULUMI: the local clone it may build from)
set -euo pipefail

RECIPES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/recipes"
readonly RECIPES_DIR
readonly TOOLS_DIR="${VHIVE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vhive-tools}"
readonly FROM="${VHIVE_TOOLS_FROM:-auto}"

log() { printf '[tools] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

recipe_file() {
  local tool=$1
  [[ $tool =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "not a tool name: '$tool'"
  [ -f "$RECIPES_DIR/$tool.sh" ] || die "no recipe for '$tool' (known: $(known_tools | tr '\n' ' '))"
  printf '%s/%s.sh' "$RECIPES_DIR" "$tool"
}

known_tools() {
  local f
  for f in "$RECIPES_DIR"/*.sh; do basename "$f" .sh; done
}

# A recipe sets tool_version, tool_modules, tool_build_dir, tool_packages and optionally
# tool_ldflags, tool_cgo, tool_tags, tool_expected_minutes, tool_release_files (or
# tool_release_url with tool_release_sums_url), tool_release_strip, tool_release_members (the
# archive's members to unpack, default all), the local-clone route (tool_git_repo_env: the setting
# naming the clone, tool_git_repo_default: used when that is unset and the directory exists,
# tool_git_tag and tool_git_commit: the tag and the commit it must point at, tool_git_paths: the
# directories to export, tool_git_skip: an ERE of paths the build does not read), and the hooks
# tool_before_build / tool_after_build (run in the build directory with Go's environment set;
# $work is the work tree, $out the cache entry being made).
load_recipe() {
  unset tool_version tool_modules tool_build_dir tool_packages tool_ldflags tool_cgo tool_tags \
    tool_expected_minutes tool_release_url tool_release_sums_url tool_release_strip tool_release_files \
    tool_release_members tool_git_repo_env tool_git_repo_default tool_git_tag tool_git_commit \
    tool_git_paths tool_git_skip
  tool_release_files=()
  tool_release_members=()
  tool_git_paths=()
  tool_packages=()
  tool_before_build() { :; }
  tool_after_build() { :; }
  # shellcheck source=/dev/null
  source "$1"
  [ -n "${tool_version:-}" ] || die "$1: tool_version is not set"
}

# The cache key: the version plus the recipe's code (comments left out), so editing how a tool is
# built rebuilds it, and rewording a comment does not.
cache_dir() {
  local tool=$1 file=$2 digest
  digest=$(sed -e 's/[[:space:]]*#.*$//' -e '/^$/d' "$file" | sha256sum | cut -c1-12)
  printf '%s/%s-%s-%s' "$TOOLS_DIR" "$tool" "$tool_version" "$digest"
}

# Upstream's release: each of tool_release_files is "<url> <checksum-file url> [<installed name>]"
# (tool_release_url with tool_release_sums_url is the one-archive shorthand). A checksum file
# either lists "<hash>  <file name>" lines or holds just the hash; sha256 or sha512, told by the
# hash's length. An archive (.tar.gz, .tgz) is unpacked into $out/bin less tool_release_strip
# leading directories (only tool_release_members when set); any other file is installed as
# bin/<installed name, default its own name>.
# Returns 1 (quietly) when anything is unreachable; a checksum that does not match is fatal.
# (These functions run on the left of ||, where bash ignores set -e: every failure is checked.)
from_release() {
  local tool=$1 tmp entry url sums installed name want got
  local -a files=("${tool_release_files[@]}")
  if [ ${#files[@]} -eq 0 ] && [ -n "${tool_release_url:-}" ] && [ -n "${tool_release_sums_url:-}" ]; then
    files=("$tool_release_url $tool_release_sums_url")
  fi
  [ ${#files[@]} -gt 0 ] || return 1
  tmp=$(mktemp -d)
  for entry in "${files[@]}"; do
    read -r url sums installed <<<"$entry"
    name=${url##*/}
    if ! curl --proto '=https' -fsSL --connect-timeout 10 --max-time 60 -o "$tmp/sums" "$sums" 2>/dev/null; then
      rm -rf "$tmp"
      log "$tool $tool_version: upstream's release is not reachable from here"
      return 1
    fi
    want=$(awk -v n="$name" 'NF == 1 && NR == 1 { only = $1 } $2 == n || $2 == "*" n { print $1; found = 1 } END { if (!found && only) print only }' "$tmp/sums" | head -n1)
    [[ $want =~ ^([0-9a-f]{64}|[0-9a-f]{128})$ ]] || { rm -rf "$tmp"; die "$tool $tool_version: $name is not listed in upstream's checksum file"; }
    log "$tool $tool_version: downloading upstream's $name"
    curl --proto '=https' -fsSL --connect-timeout 10 --max-time 900 -o "$tmp/$name" "$url" || { rm -rf "$tmp"; return 1; }
    if [ ${#want} -eq 64 ]; then got=$(sha256sum "$tmp/$name" | cut -d' ' -f1); else got=$(sha512sum "$tmp/$name" | cut -d' ' -f1); fi
    [ "$got" = "$want" ] || { rm -rf "$tmp"; die "$tool $tool_version: $name has checksum $got, upstream publishes $want"; }
    mkdir -p "$out/bin"
    case $name in
      *.tar.gz | *.tgz) tar -xzf "$tmp/$name" -C "$out/bin" --strip-components="${tool_release_strip:-0}" "${tool_release_members[@]}" ;;
      *) install -m 0755 "$tmp/$name" "$out/bin/${installed:-$name}" ;;
    esac || { rm -rf "$tmp"; die "$tool $tool_version: could not install $name"; }
    rm -f "$tmp/$name" "$tmp/sums"
  done
  rm -rf "$tmp"
}

# Lays out every module of the recipe in a writable work tree and builds the packages there.
# Returns 1 (saying which) when the module proxy does not serve one of them.
from_modules() {
  local tool=$1 spec module dir src
  needs_go "$tool"
  work=$(mktemp -d "${TMPDIR:-/tmp}/vhive-tool-$tool.XXXXXX")
  for spec in "${tool_modules[@]}"; do
    module=${spec%%=*}
    dir=${spec#*=}
    src=$(GOFLAGS=-mod=mod go mod download -json "$module" 2>/dev/null | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    if [ ! -d "$src" ]; then
      log "$tool $tool_version: the Go module proxy does not serve $module"
      rm -rf "$work"
      return 1
    fi
    if ! { mkdir -p "$work/$dir" && cp -R "$src/." "$work/$dir/" && chmod -R u+w "$work/$dir"; }; then
      rm -rf "$work"
      die "$tool $tool_version: could not lay out $module in $work/$dir"
    fi
  done
  build_in_work "$tool" "Go modules"
}

# Exports tool_git_paths at the pinned tag of a local clone of upstream (bare or not) into a
# writable work tree, so the relative replaces between its modules resolve, and builds there; the
# other modules come from the proxy, verified by the tree's go.sum. The tag must point at the
# pinned commit (a moved tag is fatal). Test data and tool_git_skip are left out: the build never
# reads them, and a partial clone may lack their (large) blobs. Returns 1 (saying which setting
# names a clone) when the recipe has this route and no clone is named.
from_clone() {
  local tool=$1 repo commit skip
  [ -n "${tool_git_tag:-}" ] && [ -n "${tool_git_commit:-}" ] && [ -n "${tool_git_repo_env:-}" ] || return 1
  repo=${!tool_git_repo_env:-}
  if [ -z "$repo" ] && [ -n "${tool_git_repo_default:-}" ] && [ -d "$tool_git_repo_default" ]; then
    repo=$tool_git_repo_default
  fi
  if [ -z "$repo" ]; then
    log "$tool $tool_version: no local clone of upstream is named (set $tool_git_repo_env)"
    return 1
  fi
  [ -d "$repo" ] || die "$tool $tool_version: $tool_git_repo_env=$repo is not a directory"
  commit=$(git -C "$repo" rev-parse --verify --quiet "refs/tags/$tool_git_tag^{commit}") ||
    die "$tool $tool_version: the clone at $repo has no tag $tool_git_tag"
  [ "$commit" = "$tool_git_commit" ] ||
    die "$tool $tool_version: tag $tool_git_tag in $repo points at $commit, the recipe pins $tool_git_commit"
  needs_go "$tool"
  work=$(mktemp -d "${TMPDIR:-/tmp}/vhive-tool-$tool.XXXXXX")
  log "$tool $tool_version: exporting ${tool_git_paths[*]} at $tool_git_tag ($commit) from $repo"
  skip=$'\t''(.*/)?testdata/'
  [ -n "${tool_git_skip:-}" ] && skip+="|"$'\t'"(${tool_git_skip#^})"
  # A throwaway index: the clone itself is only read.
  if ! git -C "$repo" ls-tree -r -z "$commit" -- "${tool_git_paths[@]}" | grep -zEv "$skip" |
    GIT_INDEX_FILE="$work/.index" git -C "$repo" --work-tree="$work" update-index -z --index-info ||
    ! GIT_INDEX_FILE="$work/.index" git -C "$repo" --work-tree="$work" checkout-index -a -f --prefix="$work/"; then
    rm -rf "$work"
    die "$tool $tool_version: could not export $tool_git_tag from $repo"
  fi
  rm -f "$work/.index"
  build_in_work "$tool" "$tool_git_tag of a local clone"
}

needs_go() {
  command -v go >/dev/null 2>&1 || die "$1 $tool_version: building it needs Go (1.25 or later) on the PATH, and there is none"
}

# Builds the recipe's packages in $work/$tool_build_dir into $out/bin, then removes $work.
build_in_work() {
  local tool=$1 source=$2 started
  local -a ldflags=(-s -w)
  started=$SECONDS
  log "building $tool $tool_version from $source (the first time takes about ${tool_expected_minutes:-5} minutes on 2 cores)"
  [ -n "${tool_ldflags:-}" ] && ldflags+=("$tool_ldflags")
  if ! (
    local pkg name
    cd "$work/$tool_build_dir" || exit 1
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED="${tool_cgo:-0}"
    tool_before_build || exit 1
    for pkg in "${tool_packages[@]}"; do
      name=${pkg%%=*}
      log "$tool $tool_version: go build ${pkg#*=}"
      go build -trimpath -tags "${tool_tags:-}" -ldflags "${ldflags[*]}" -o "$out/bin/$name" "${pkg#*=}" || exit 1
    done
    tool_after_build || exit 1
  ); then
    rm -rf "$work"
    die "$tool $tool_version: the build failed (see above)"
  fi
  rm -rf "$work"
  log "built $tool $tool_version in $((SECONDS - started)) s"
}

# Every route failed: say which were tried.
none_available() {
  local routes="the Go module proxy does not serve it"
  [ "$FROM" = auto ] && routes="upstream's release is not reachable, $routes"
  [ -n "${tool_git_repo_env:-}" ] && routes+=", and no local clone of upstream is named (set $tool_git_repo_env)"
  die "$1 $tool_version: none of the ways to obtain it is available here: $routes"
}

ensure_tool() {
  local tool=$1 file final
  file=$(recipe_file "$tool")
  load_recipe "$file"
  final=$(cache_dir "$tool" "$file")
  if [ -f "$final/.complete" ]; then
    printf '%s\n' "$final/bin"
    return 0
  fi
  mkdir -p "$TOOLS_DIR"
  # One builder per tool at a time; a second caller waits and then finds it built.
  exec 8>"$TOOLS_DIR/.$tool.lock"
  flock 8
  if [ ! -f "$final/.complete" ]; then
    out="$final.partial"
    rm -rf "$out"
    mkdir -p "$out/bin"
    case $FROM in
      release) from_release "$tool" || die "$tool $tool_version: no reachable release and VHIVE_TOOLS_FROM=release" ;;
      build) from_modules "$tool" || from_clone "$tool" || none_available "$tool" ;;
      clone) from_clone "$tool" || die "$tool $tool_version: VHIVE_TOOLS_FROM=clone and the recipe has no local-clone route or none is named" ;;
      auto) from_release "$tool" || from_modules "$tool" || from_clone "$tool" || none_available "$tool" ;;
      *) die "VHIVE_TOOLS_FROM must be auto, build, release or clone (got '$FROM')" ;;
    esac
    date -u +%Y-%m-%dT%H:%M:%SZ >"$out/.complete"
    rm -rf "$final"
    mv "$out" "$final"
  fi
  exec 8>&-
  printf '%s\n' "$final/bin"
}

main() {
  local print=0 tool dir
  case ${1:-} in
    "") die "usage: build.sh [--bin-dir] <tool>... | --list" ;;
    --list)
      for tool in $(known_tools); do
        load_recipe "$RECIPES_DIR/$tool.sh"
        printf '%s\t%s\n' "$tool" "$tool_version"
      done
      return 0
      ;;
    --bin-dir) print=1; shift ;;
  esac
  for tool in "$@"; do
    dir=$(ensure_tool "$tool")
    [ "$print" -eq 1 ] && printf '%s\n' "$dir"
  done
  return 0
}

main "$@"
