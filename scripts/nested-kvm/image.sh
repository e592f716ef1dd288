#!/usr/bin/env bash
# The nested-KVM machine's disk: Debian bookworm with Debian's stock kernel (its kvm_amd runs
# KVM guests inside QEMU's software-emulated AMD CPU), this machine's Node.js, and the tools the
# node runtime calls (ip, iptables, debugfs, mkfs.ext4, a C compiler for the guest init). The generic
# kernel, not the cloud one: only it has the 9p modules the host directories are mounted with.
# Cached by the hash of this script, the init and Node's version, outside the repository.
#
# Usage:
#   image.sh          make sure the image is in the cache
#   image.sh --dir    the same, then print the cache directory (rootfs.img, vmlinuz, initrd.img)
# Environment:
#   VHIVE_TOOLS_DIR   the cache (default: $XDG_CACHE_HOME/vhive-tools, else ~/.cache/vhive-tools)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly HERE
readonly TOOLS_DIR="${VHIVE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vhive-tools}"
readonly SUITE=bookworm
readonly PACKAGES=linux-image-amd64,initramfs-tools,kmod,iproute2,iptables,procps,e2fsprogs,util-linux,gcc,libc6-dev,libstdc++6,ca-certificates,python3
readonly DISK_SIZE=6G

log() { printf '[nested-kvm] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# The Debian archive this machine's apt uses (the image sees the same packages).
debian_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    while read -r uri; do
      case $uri in */debian | */debian/) printf '%s\n' "${uri%/}"; return 0 ;; esac
    done < <(sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f" | tr ' ' '\n')
  done
  return 1
}

main() {
  local want_dir=0
  case "${1:-}" in
    --dir) want_dir=1 ;;
    "") ;;
    *) die "unknown argument '$1' (usage: image.sh [--dir])" ;;
  esac
  local tool
  for tool in debootstrap mkfs.ext4 node; do
    command -v "$tool" >/dev/null 2>&1 || die "building the nested-KVM image needs '$tool' (apt-get install debootstrap e2fsprogs)"
  done
  local node_bin node_version digest out
  node_bin=$(command -v node)
  node_version=$(node --version)
  digest=$( (cat "${BASH_SOURCE[0]}" "$HERE/guest-init.sh"; printf '%s\n' "$node_version") | sha256sum | cut -c1-12)
  out=$TOOLS_DIR/nested-kvm-$digest
  if [ ! -f "$out/rootfs.img" ]; then
    local mirror work root
    mirror=$(debian_mirror) || die "no Debian archive found in this machine's apt sources"
    mkdir -p "$TOOLS_DIR"
    work=$(mktemp -d "$TOOLS_DIR/nested-kvm-build.XXXXXX")
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    trap "rm -rf '$work'" EXIT
    root=$work/root
    log "building the nested-KVM image (debootstrap $SUITE with Debian's kernel; a few minutes; log: $work/debootstrap.log)"
    if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
      tail -n 20 "$work/debootstrap.log" >&2
      die "debootstrap failed"
    fi
    local vmlinuz initrd
    vmlinuz=$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | tail -n 1)
    initrd=$(find "$root/boot" -maxdepth 1 -name 'initrd.img-*' | sort | tail -n 1)
    if [ -z "$vmlinuz" ] || [ -z "$initrd" ]; then
      die "the image has no kernel or initramfs under /boot (see $work/debootstrap.log)"
    fi
    install -m 0755 "$HERE/guest-init.sh" "$root/sbin/vhive-nested-init"
    install -m 0755 "$node_bin" "$root/usr/local/bin/node"
    printf 'nested-kvm\n' >"$root/etc/hostname"
    mkdir -p "$work/out"
    cp "$vmlinuz" "$work/out/vmlinuz"
    cp "$initrd" "$work/out/initrd.img"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    mkfs.ext4 -q -F -L nested-kvm -d "$root" "$work/out/rootfs.img" "$DISK_SIZE" >"$work/mkfs.log" 2>&1 ||
      { cat "$work/mkfs.log" >&2; die "mkfs.ext4 failed"; }
    printf '{"suite":"%s","kernel":"%s","node":"%s"}\n' "$SUITE" "$(basename "$vmlinuz")" "$node_version" >"$work/out/image.json"
    rm -rf "$out"
    mv "$work/out" "$out"
    log "nested-KVM image ready at $out"
  fi
  if [ "$want_dir" = 1 ]; then printf '%s\n' "$out"; fi
}

main "$@"
