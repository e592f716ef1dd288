# shellcheck shell=bash
# Helper library prepended to every vHive provisioner step script (components/scripts/helpers.ts).
# Each helper is idempotent and sets changed=1 only when it altered the host. State the delete
# scripts need (packages we installed, files we replaced) lives under $state_dir.
# shellcheck disable=SC2034,SC2154 # cache_dir is used by step bodies; step is set by the script
changed=0
state_dir=/var/lib/vhive/state
# shellcheck disable=SC2034 # not every step downloads
cache_dir=/var/cache/vhive

# Runs a command as root: directly when we are root, else through sudo that must not ask.
# Scripts that run on the machine running Pulumi set vhive_local=1 and never use sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ] || [ "${vhive_local:-0}" = 1 ]; then "$@"; else sudo -n -- "$@"; fi
}

# require_root_access: the provider's runner starts host steps as root (through sudo for a
# non-root SSH user); run any other way, a non-root user must have passwordless sudo.
require_root_access() {
  if [ "$(id -u)" -ne 0 ] && [ "${vhive_local:-0}" != 1 ] && ! sudo -n true 2>/dev/null; then
    echo "vhive-step $step: user $(id -un) on $(hostname) needs passwordless sudo" >&2
    exit 1
  fi
}

fail() {
  echo "vhive-step $step: $*" >&2
  exit 1
}

# missing_checksum MESSAGE: a download the stack config has no checksum for; stops the step
# (set -e) with the message that names the setting to add.
missing_checksum() {
  echo "vhive-step $step: $*" >&2
  return 1
}

# The files a create run wrote or found in place (write_file, install_binary) with their sha256:
# saved at its end as the step's manifest, which the step's check script verifies at `pulumi
# refresh`, so a removed or edited file makes the next `pulumi up` run the step again.
step_manifest="$(mktemp)"

note_file() {
  as_root sha256sum -- "$1" >>"$step_manifest"
}

save_manifest() {
  local dest="$state_dir/steps/$step.sha256"
  if [ -s "$step_manifest" ]; then
    as_root install -D -m 0600 "$step_manifest" "$dest"
  elif as_root test -f "$dest"; then
    as_root rm -f -- "$dest"
  fi
  rm -f "$step_manifest"
}

forget_manifest() {
  as_root rm -f -- "$state_dir/steps/$step.sha256"
  rm -f "$step_manifest"
}

# write_file PATH MODE < content: replaces PATH only if the content differs.
write_file() {
  local path="$1" mode="$2" tmp
  tmp="$(mktemp)"
  cat >"$tmp"
  if as_root test -f "$path" && as_root cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    note_file "$path"
    return 0
  fi
  as_root install -D -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  note_file "$path"
  changed=1
}

remove_path() {
  local path
  for path in "$@"; do
    if as_root test -e "$path" || as_root test -L "$path"; then
      as_root rm -rf -- "$path"
      changed=1
    fi
  done
}

# Saves PATH once (before we first replace it) so the delete script can restore it.
backup_once() {
  local path="$1" saved
  saved="$state_dir/backup$path"
  if as_root test -e "$path" && ! as_root test -e "$saved"; then
    as_root install -d "$(dirname "$saved")"
    as_root cp -a -- "$path" "$saved"
  fi
}

restore_backup() {
  local path="$1" saved
  saved="$state_dir/backup$path"
  if as_root test -e "$saved"; then
    as_root mv -f -- "$saved" "$path"
    changed=1
  fi
}

package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# apt_update_if_stale: refreshes the package lists unless this run (or one in the last hour)
# already did and apt's configuration (sources, proxy) has not changed since.
apt_update_if_stale() {
  local stamp="$state_dir/apt-lists.updated"
  if as_root test -f "$stamp" && [ -z "$(as_root find "$stamp" -mmin +60)" ] &&
    [ -z "$(as_root find /etc/apt -newer "$stamp" -print -quit)" ]; then
    return 0
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root install -d "$state_dir"
  as_root touch "$stamp"
}

installed_packages() {
  dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 2>/dev/null | awk '$1 == "ii" { print $2 }' | LC_ALL=C sort
}

# apt_install LIST PKG...: installs missing packages and records in LIST every package that
# became installed (dependencies included), so the delete script removes exactly what we added.
apt_install() {
  local list="$state_dir/$1.packages" missing=() pkg before
  shift
  for pkg in "$@"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  before="$(mktemp)"
  installed_packages >"$before"
  apt_update_if_stale
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  as_root install -d "$state_dir"
  installed_packages | LC_ALL=C comm -13 "$before" - | as_root tee -a "$list" >/dev/null
  rm -f "$before"
  changed=1
}

# apt_remove_recorded LIST KEEP: purges the packages apt_install recorded, unless KEEP is 1.
apt_remove_recorded() {
  local list="$state_dir/$1.packages" keep="$2" pkgs=() pkg
  as_root test -f "$list" || return 0
  if [ "$keep" != 1 ]; then
    while IFS= read -r pkg; do
      if [ -n "$pkg" ] && package_installed "$pkg"; then pkgs+=("$pkg"); fi
    done < <(as_root cat "$list")
    if [ "${#pkgs[@]}" -gt 0 ]; then
      as_root env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${pkgs[@]}" >/dev/null
    fi
  fi
  as_root rm -f "$list"
  changed=1
}

# fetch_verified URL CHECKSUM DEST: downloads once into the cache and checks the checksum
# ("sha256:<hex>" or "sha512:<hex>") before anything uses the file.
fetch_verified() {
  local url="$1" checksum="$2" dest="$3" algo sum tmp
  algo="${checksum%%:*}"
  sum="${checksum#*:}"
  if as_root test -f "$dest" && [ "$(as_root "${algo}sum" "$dest" | cut -d' ' -f1)" = "$sum" ]; then
    return 0
  fi
  command -v curl >/dev/null || fail "curl is missing (the base-packages step installs it)"
  tmp="$(mktemp)"
  if ! curl -fsSL --retry 3 --retry-delay 2 -o "$tmp" "$url"; then
    rm -f "$tmp"
    fail "download failed: $url"
  fi
  if [ "$("${algo}sum" "$tmp" | cut -d' ' -f1)" != "$sum" ]; then
    rm -f "$tmp"
    fail "checksum mismatch for $url (expected $checksum)"
  fi
  as_root install -D -m 0644 "$tmp" "$dest"
  rm -f "$tmp"
  changed=1
}

# record_file PATH: notes a file this step created, for remove_recorded_files.
record_file() {
  local list="$state_dir/$step.files"
  as_root install -d "$state_dir"
  if ! as_root grep -qxF -- "$1" "$list" 2>/dev/null; then
    printf '%s\n' "$1" | as_root tee -a "$list" >/dev/null
  fi
}

# remove_recorded_files STEP: deletes every file record_file noted for STEP.
remove_recorded_files() {
  local list="$state_dir/$1.files" path
  as_root test -f "$list" || return 0
  while IFS= read -r path; do
    [ -n "$path" ] && remove_path "$path"
  done < <(as_root cat "$list")
  as_root rm -f "$list"
}

# install_binary SRC DEST: copies an executable if it differs, and records it.
install_binary() {
  local src="$1" dest="$2"
  record_file "$dest"
  if as_root test -f "$dest" && as_root cmp -s "$src" "$dest"; then
    note_file "$dest"
    return 0
  fi
  as_root install -D -m 0755 "$src" "$dest"
  note_file "$dest"
  changed=1
}

# build_uffd_addon DIR INCLUDE: compiles the node runtime's userfaultfd addon (REAP) from the C
# sources in DIR against node's headers in INCLUDE, for this host's node, once per bundle (a new
# bundle is a new DIR). Plain C on N-API: gcc is all it needs, no node-gyp.
build_uffd_addon() {
  local dir="$1" include="$2" out="$1/build/Release/vhuf_uffd.node"
  as_root test -f "$out" && return 0
  as_root test -f "$include/node_api.h" || fail "node's headers ($include/node_api.h) are missing on $(hostname): the REAP addon cannot be built"
  command -v gcc >/dev/null || fail "gcc is missing on $(hostname): the REAP addon cannot be built"
  as_root mkdir -p "$dir/build/Release"
  as_root gcc -shared -fPIC -std=gnu11 -O2 -pthread -DNAPI_VERSION=8 -I"$include" -o "$out.tmp" "$dir"/*.c
  as_root mv "$out.tmp" "$out"
  changed=1
}

# module_present NAME: the kernel has the module, loaded or built in. Built-in modules only show
# in /sys/module when they have parameters, and containers do not see /sys/module at all, so
# the feature each module provides is checked too.
module_present() {
  local module="$1" builtin
  [ -d "/sys/module/$module" ] && return 0
  builtin="/lib/modules/$(uname -r)/modules.builtin"
  if [ -f "$builtin" ] && grep -q "/$module\.ko" "$builtin"; then return 0; fi
  case "$module" in
    overlay) grep -qw overlay /proc/filesystems ;;
    br_netfilter) [ -d /proc/sys/net/bridge ] ;;
    tun) [ -c /dev/net/tun ] ;;
    vhost_vsock) [ -c /dev/vhost-vsock ] ;;
    *) return 1 ;;
  esac
}

# tidy_state: after a delete, removes the state, cache and config directories we created once
# nothing is left in them.
tidy_state() {
  local dir
  if as_root test -d "$state_dir"; then as_root find "$state_dir" -depth -type d -empty -delete; fi
  for dir in /var/lib/vhive "$cache_dir" /etc/vhive; do
    if as_root test -d "$dir" && [ -z "$(as_root ls -A "$dir")" ]; then as_root rmdir "$dir" 2>/dev/null || true; fi
  done
}

has_systemd() {
  [ -d /run/systemd/system ]
}

# enable_unit UNIT RESTART: enables and starts a unit; restarts it when RESTART is 1.
enable_unit() {
  local unit="$1" restart="$2"
  has_systemd || fail "systemd is not running on $(hostname); $unit needs it"
  as_root systemctl daemon-reload
  if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    as_root systemctl enable --quiet "$unit"
    changed=1
  fi
  if [ "$restart" = 1 ] && systemctl is-active --quiet "$unit"; then
    as_root systemctl restart "$unit"
  elif ! systemctl is-active --quiet "$unit"; then
    as_root systemctl start "$unit"
    changed=1
  fi
}

# enable_unit_only UNIT: enables a unit without starting it (kubeadm starts the kubelet).
enable_unit_only() {
  local unit="$1"
  has_systemd || fail "systemd is not running on $(hostname); $unit needs it"
  as_root systemctl daemon-reload
  if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    as_root systemctl enable --quiet "$unit"
    changed=1
  fi
}

# release_tree DIR...: before a runtime's state directories are removed, stops every process
# started from them (sandboxes are left running by design, so they outlive a runtime restart) and
# unmounts whatever is mounted below them, deepest first.
release_tree() {
  local dir pid mnt
  for dir in "$@"; do
    as_root test -d "$dir" || continue
    for pid in $(as_root pgrep -f -- "$dir" || true); do
      as_root kill -KILL "$pid" 2>/dev/null || true
      changed=1
    done
    while read -r mnt; do
      as_root umount -l -- "$mnt" 2>/dev/null || true
      changed=1
    done < <(findmnt -rn -o TARGET | grep -F -- "$dir" | sort -r)
  done
}

# record_netns_dir FILE: notes once whether /run/netns is a mount ("mounted"), a plain directory
# ("dir") or absent, before anything of ours makes network namespaces (`ip netns add` creates and
# mounts it), so that teardown can leave it as it was.
record_netns_dir() {
  local file=$1 state=absent
  as_root test -e "$file" && return 0
  if mountpoint -q /run/netns 2>/dev/null; then state=mounted; elif [ -d /run/netns ]; then state=dir; fi
  as_root install -d "$(dirname "$file")"
  printf '%s\n' "$state" | as_root tee "$file" >/dev/null
}

# release_netns_dir FILE: undoes what `ip netns` did to /run/netns since record_netns_dir, once no
# namespace is left in it (one still there belongs to someone else, and keeps it).
release_netns_dir() {
  local before
  before=$(as_root cat "$1" 2>/dev/null || true)
  [ -n "$before" ] || return 0
  [ -z "$(as_root ls -A /run/netns 2>/dev/null)" ] || return 0
  if [ "$before" != mounted ] && mountpoint -q /run/netns 2>/dev/null; then
    as_root umount /run/netns
    changed=1
  fi
  if [ "$before" = absent ] && [ -d /run/netns ]; then
    as_root rmdir /run/netns
    changed=1
  fi
}

# disable_unit UNIT: stops and disables a unit if it is known.
disable_unit() {
  local unit="$1"
  has_systemd || return 0
  if systemctl is-active --quiet "$unit" 2>/dev/null; then
    as_root systemctl stop "$unit"
    changed=1
  fi
  if systemctl is-enabled --quiet "$unit" 2>/dev/null; then
    as_root systemctl disable --quiet "$unit"
    changed=1
  fi
}

# wait_for TIMEOUT DESCRIPTION COMMAND...: polls until COMMAND succeeds.
wait_for() {
  local timeout="$1" what="$2" i
  shift 2
  for ((i = 0; i < timeout; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  fail "timed out after ${timeout}s waiting for $what"
}
