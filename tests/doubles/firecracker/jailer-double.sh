#!/bin/bash
# TEST DOUBLE: stands in for Firecracker's `jailer` where none exists. It does the jailer's work that
# the driver depends on: creates <chroot-base-dir>/<exec file name>/<id>/root, copies the exec file
# into it, enters the --netns namespace, drops to --uid/--gid and execs the copied binary (same pid)
# with the arguments after `--` plus --id. What it cannot do without a real chroot for a Node
# program: chroot(2). It passes `--chroot-root <root>` instead, and the Firecracker double then
# resolves absolute paths below that root and relative ones from it, as they resolve in a chroot.
set -euo pipefail
id="" exec_file="" uid="" gid="" base="/srv/jailer" netns=""
while [ $# -gt 0 ]; do
  case "$1" in
    --id) id="$2"; shift 2 ;;
    --exec-file) exec_file="$2"; shift 2 ;;
    --uid) uid="$2"; shift 2 ;;
    --gid) gid="$2"; shift 2 ;;
    --chroot-base-dir) base="$2"; shift 2 ;;
    --netns) netns="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "jailer-double: unsupported argument $1" >&2; exit 2 ;;
  esac
done
for v in id exec_file uid gid; do
  [ -n "${!v}" ] || { echo "jailer-double: --${v//_/-} is required" >&2; exit 2; }
done
name="$(basename "$exec_file")"
root="$base/$name/$id/root"
mkdir -p "$root"
cp "$exec_file" "$root/$name"
chown "$uid:$gid" "$root/$name"
cd "$root"
run=(setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$root/$name" "$@" --id "$id" --chroot-root "$root")
if [ -n "$netns" ]; then
  # `ip netns exec` also remounts /sys, so the double sees the namespace's devices.
  exec ip netns exec "$(basename "$netns")" "${run[@]}"
fi
exec "${run[@]}"
