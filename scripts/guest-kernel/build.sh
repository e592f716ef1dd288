#!/usr/bin/env bash
# Builds the Firecracker guest kernel (an uncompressed vmlinux) from Debian's linux-source package
# with the project's own minimal configuration (microvm-x86_64.config), cached by source version and
# configuration hash outside the repository. For tests, for the nested-KVM machine, and for users who
# would rather build a kernel from their distribution's source than download an unverified binary.
#
# Usage:
#   build.sh            make sure the kernel is in the cache (a second run takes a second)
#   build.sh --path     the same, then print the vmlinux path on stdout
# Environment:
#   VHIVE_TOOLS_DIR       the cache (default: $XDG_CACHE_HOME/vhive-tools, else ~/.cache/vhive-tools)
#   LINUX_SOURCE_PACKAGE  the Debian package holding the source (default linux-source-6.1)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly TOOLS_DIR="${VHIVE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vhive-tools}"
readonly PACKAGE="${LINUX_SOURCE_PACKAGE:-linux-source-6.1}"
readonly FRAGMENT="$HERE/microvm-x86_64.config"

log() { printf '[guest-kernel] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The options the fragment asks for, as NAME=VALUE lines (comments and blanks left out).
wanted_options() { sed -e 's/[[:space:]]*#.*$//' -e '/^$/d' "$FRAGMENT"; }

# Every option the fragment sets must come out of olddefconfig as asked: a dependency the
# fragment forgot would otherwise silently drop a driver the guest cannot boot without.
check_config() {
  local config=$1 line name value got missing=()
  while IFS= read -r line; do
    name=${line%%=*}
    value=${line#*=}
    if [ "$value" = n ]; then
      grep -q "^$name=" "$config" && missing+=("$name should be off")
      continue
    fi
    got=$(sed -n "s/^$name=//p" "$config")
    [ "$got" = "$value" ] || missing+=("$name=$value (got '${got:-unset}')")
  done < <(wanted_options)
  [ "${#missing[@]}" -eq 0 ] || die "the kernel configuration lost options the guest needs: ${missing[*]}"
}

main() {
  local want_path=0
  case "${1:-}" in
    --path) want_path=1 ;;
    "") ;;
    *) die "unknown argument '$1' (usage: build.sh [--path])" ;;
  esac
  [[ $PACKAGE =~ ^linux-source-[0-9.]+$ ]] || die "LINUX_SOURCE_PACKAGE must look like linux-source-6.1, got '$PACKAGE'"
  local version tarball
  version=$(dpkg-query -W -f='${Version}' "$PACKAGE" 2>/dev/null) ||
    die "Debian's $PACKAGE is not installed (apt-get install $PACKAGE bc flex bison libelf-dev libssl-dev)"
  tarball=/usr/src/$PACKAGE.tar.xz
  [ -f "$tarball" ] || die "$PACKAGE $version is installed but $tarball is missing"
  local tool
  for tool in make gcc bc flex bison; do
    command -v "$tool" >/dev/null 2>&1 || die "building a kernel needs '$tool' (apt-get install build-essential bc flex bison libelf-dev libssl-dev)"
  done

  local digest out
  digest=$(cat "$FRAGMENT" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)
  out=$TOOLS_DIR/guest-kernel-$version-$digest
  if [ ! -f "$out/vmlinux" ]; then
    local work
    mkdir -p "$TOOLS_DIR"
    work=$(mktemp -d "$TOOLS_DIR/guest-kernel-build.XXXXXX")
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    trap "rm -rf '$work'" EXIT
    log "building the guest kernel from $PACKAGE $version (several minutes; log: $work/build.log)"
    tar -xf "$tarball" -C "$work"
    local src=$work/$PACKAGE
    [ -d "$src" ] || die "$tarball did not unpack to $PACKAGE/"
    wanted_options >"$work/fragment.config"
    if ! make -C "$src" KCONFIG_ALLCONFIG="$work/fragment.config" allnoconfig >"$work/build.log" 2>&1 ||
      ! make -C "$src" olddefconfig >>"$work/build.log" 2>&1; then
      tail -n 20 "$work/build.log" >&2
      die "configuring the kernel failed"
    fi
    check_config "$src/.config"
    if ! make -C "$src" -j"$(nproc)" vmlinux >>"$work/build.log" 2>&1; then
      tail -n 30 "$work/build.log" >&2
      die "building the kernel failed"
    fi
    mkdir -p "$work/out"
    cp "$src/vmlinux" "$work/out/vmlinux"
    cp "$src/.config" "$work/out/config"
    printf '{"package":"%s","version":"%s","config":"%s"}\n' "$PACKAGE" "$version" "$digest" >"$work/out/kernel.json"
    rm -rf "$out"
    mv "$work/out" "$out"
    log "guest kernel ready at $out/vmlinux"
  fi
  if [ "$want_path" = 1 ]; then printf '%s\n' "$out/vmlinux"; fi
}

main "$@"
