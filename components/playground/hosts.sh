#!/usr/bin/env bash
# Local hosts for the playground stack and the provisioner's tests: N Debian machines on this one,
# each booted by systemd-nspawn
# (systemd as PID 1) in its own network namespace on the private bridge vhtbr0, with key-only sshd
# and a host key generated here and pinned by the caller. Debian packages are reachable only through
# an apt-cacher-ng bound to the bridge address (there is no route off the bridge).
#
# Usage (root):
#   hosts.sh base                 build the cached base root fs once (debootstrap minbase)
#   hosts.sh up <n>...            create and boot hosts vht-<n>; prints one JSON line per host
#   hosts.sh down <n>...          stop and remove those hosts (bridge and proxy go with the last)
#   hosts.sh down-all             remove every vht host, the bridge, the proxy and stray mounts
#   hosts.sh stop <n> | start <n> power a host off / boot it again with the same root and keys
#   hosts.sh rekey <n>            give a host a new host key (for the changed-host-key test)
#   hosts.sh sudo-password <n> on|off   make sudo want a password for the user, or not
#   hosts.sh exec <n> <cmd>...    run a command inside a host as root (nsenter, no ssh)
#   hosts.sh netexec <n> <cmd>... run a command of this machine in a host's network namespace
#   hosts.sh info <n>             print a host's JSON line again
set -euo pipefail

readonly BRIDGE=vhtbr0
readonly NET_PREFIX=10.231.0
readonly BRIDGE_ADDR=10.231.0.1
# Not apt-cacher-ng's usual 3142: a system instance installed by the CI's package step may hold it.
readonly ACNG_PORT=3242
readonly HOST_USER=vhive
readonly CACHE_DIR=${VHT_CACHE_DIR:-/var/cache/vhive-testhosts}
readonly STATE_DIR=${VHT_STATE_DIR:-/var/lib/vht}
readonly BASE_DIR=$CACHE_DIR/base-bookworm
readonly SUITE=bookworm
readonly BASE_PACKAGES=systemd,systemd-sysv,dbus,openssh-server,iproute2,apt,sudo,ca-certificates,libpam-systemd
# Bumped whenever the base's content changes, so a stale cache is rebuilt, not reused.
readonly BASE_REVISION=3

log() { printf '[testhosts] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

host_name() { printf 'vht-%d' "$1"; }
host_addr() { printf '%s.%d' "$NET_PREFIX" "$((100 + $1))"; }
host_dir() { printf '%s/%s' "$STATE_DIR" "$(host_name "$1")"; }

check_index() {
  if ! [[ $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 150)); then die "host index must be 1..150, got '$1'"; fi
}

# Serialises changes to shared pieces (base, bridge, proxy) between parallel callers.
with_lock() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock 9
}

# The Debian archive URIs this machine itself uses, read from its apt sources at run time
# (deb822 "URIs:" lines and one-line "deb" entries), so no mirror name is written into the repo.
machine_debian_uri() {
  local kind=$1 f uri
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    while read -r uri; do
      case $kind:$uri in
        main:*/debian | main:*/debian/) printf '%s\n' "${uri%/}"; return 0 ;;
        security:*/debian-security | security:*/debian-security/) printf '%s\n' "${uri%/}"; return 0 ;;
      esac
    done < <(sed -n -e 's/^URIs:[[:space:]]*//p' -e 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p' "$f" | tr ' ' '\n')
  done
  return 1
}

cmd_base() {
  with_lock
  if [ -f "$BASE_DIR/.vht-base-revision" ] && [ "$(cat "$BASE_DIR/.vht-base-revision")" = "$BASE_REVISION" ]; then
    log "base root fs cached at $BASE_DIR"
    return 0
  fi
  local mirror security tmp
  mirror=$(machine_debian_uri main) || die "no Debian archive found in this machine's apt sources"
  security=$(machine_debian_uri security || true)
  tmp=$CACHE_DIR/base-build.$$
  rm -rf "$tmp" "$BASE_DIR"
  mkdir -p "$tmp"
  log "building base root fs (debootstrap $SUITE minbase; about a minute)"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$tmp" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 ||
    { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; rm -rf "$tmp"; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }

  # apt inside a host sees the same archive as this machine; the provisioner's aptProxy option
  # is what makes it reachable (hosts have no route off the bridge).
  {
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\n' "$mirror" "$SUITE" "$SUITE"
    if [ -n "$security" ]; then
      printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\n' "$security" "$SUITE"
    fi
  } >"$tmp/etc/apt/sources.list.d/debian.sources"
  : >"$tmp/etc/apt/sources.list"
  rm -rf "$tmp"/var/lib/apt/lists/*
  # Package installs on hosts must start their services, as on a real machine.
  rm -f "$tmp/usr/sbin/policy-rc.d"

  # Per-host identity is added at boot: no host keys and no machine-id in the base.
  rm -f "$tmp"/etc/ssh/ssh_host_*
  : >"$tmp/etc/machine-id"
  mkdir -p "$tmp/etc/ssh/sshd_config.d"
  cat >"$tmp/etc/ssh/sshd_config.d/10-vht.conf" <<'EOF'
# Test host: key-only logins, one pinned ed25519 host key.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
EOF
  chroot "$tmp" systemctl enable systemd-networkd ssh >/dev/null 2>&1
  # Nothing in a container to wait for; these only slow boots down.
  chroot "$tmp" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer \
    e2scrub_all.timer fstrim.timer >/dev/null 2>&1 || true
  chroot "$tmp" useradd --create-home --shell /bin/bash "$HOST_USER"
  printf '%s\n' "$SUITE-$BASE_REVISION" >"$tmp/etc/vht-base"
  printf '%s\n' "$BASE_REVISION" >"$tmp/.vht-base-revision"
  mv "$tmp" "$BASE_DIR"
  log "base root fs ready at $BASE_DIR ($(du -sh "$BASE_DIR" | cut -f1))"
}

# apt-cacher-ng with its own config, cache and pid file, bound to the bridge address only.
start_apt_proxy() {
  local conf=$STATE_DIR/acng mirror security
  if [ -f "$conf/pid" ] && kill -0 "$(cat "$conf/pid")" 2>/dev/null; then return 0; fi
  mirror=$(machine_debian_uri main) || die "no Debian archive found in this machine's apt sources"
  security=$(machine_debian_uri security || true)
  mkdir -p "$conf" "$CACHE_DIR/acng-cache" "$CACHE_DIR/acng-log"
  {
    printf 'CacheDir: %s\nLogDir: %s\nSupportDir: /usr/lib/apt-cacher-ng\n' "$CACHE_DIR/acng-cache" "$CACHE_DIR/acng-log"
    printf 'BindAddress: %s\nPort: %s\nPidFile: %s\nForeGround: 0\nExThreshold: 4\n' "$BRIDGE_ADDR" "$ACNG_PORT" "$conf/pid"
    # The upstream is the archive this machine uses, whatever mirror a host names.
    printf 'Remap-debrep: file:deb_mirror*.gz /debian ; %s\n' "$mirror"
    [ -z "$security" ] || printf 'Remap-debsec: /debian-security ; %s\n' "$security"
    # Index files count as fresh for an hour (the archive does not change during a run): apt-cacher-ng
    # 3.7 can wedge a client's apt-get update for good when several hosts refresh the same InRelease
    # at once ("Failure to move file ... out of the way").
    printf 'FreshIndexMaxAge: 3600\n'
  } >"$conf/acng.conf"
  apt-cacher-ng -c "$conf" >"$conf/stdout.log" 2>&1 9>&- || die "apt-cacher-ng failed to start: $(cat "$conf/stdout.log")"
  for _ in $(seq 50); do
    if [ -f "$conf/pid" ]; then
      prefetch_release_files "$mirror" "$security"
      return 0
    fi
    sleep 0.1
  done
  die "apt-cacher-ng did not write its pid file"
}

# One fetch of each suite's InRelease through the proxy, before any host asks: hosts refreshing at
# once then all get the cached copy (see FreshIndexMaxAge above).
prefetch_release_files() {
  local mirror=$1 security=$2 url
  command -v curl >/dev/null 2>&1 || return 0
  for url in "$mirror/dists/$SUITE/InRelease" "$mirror/dists/$SUITE-updates/InRelease" ${security:+"$security/dists/$SUITE-security/InRelease"}; do
    curl -fsS -o /dev/null --max-time 30 -x "http://$BRIDGE_ADDR:$ACNG_PORT" "$url" 9>&- || log "could not prefetch $url through the apt proxy"
  done
}

stop_apt_proxy() {
  local pidf=$STATE_DIR/acng/pid
  if [ -f "$pidf" ]; then
    kill "$(cat "$pidf")" 2>/dev/null || true
    rm -f "$pidf"
  fi
}

# Host-wide sysctls a host may change (they are not per network namespace): saved when the
# first host comes up, put back when the last goes, whatever the provisioner under test did.
readonly SHARED_SYSCTLS="fs.inotify.max_user_watches fs.inotify.max_user_instances"

net_up() {
  if [ ! -f "$STATE_DIR/sysctl.saved" ]; then
    local key
    for key in $SHARED_SYSCTLS; do printf '%s=%s\n' "$key" "$(sysctl -n "$key")"; done >"$STATE_DIR/sysctl.saved"
  fi
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    # A fixed address: a bridge otherwise takes its lowest port's, which changes as hosts come and
    # go and leaves hosts with a stale neighbour entry for the bridge address.
    ip link add "$BRIDGE" address 02:76:68:74:00:01 type bridge
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
  fi
  ip link set "$BRIDGE" up
  start_apt_proxy
}

net_down() {
  stop_apt_proxy
  if [ -f "$STATE_DIR/sysctl.saved" ]; then
    sysctl -q -p "$STATE_DIR/sysctl.saved" >/dev/null || log "could not restore $STATE_DIR/sysctl.saved"
    rm -f "$STATE_DIR/sysctl.saved"
  fi
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link del "$BRIDGE"; fi
}

ensure_client_key() {
  [ -f "$STATE_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C vht-client -f "$STATE_DIR/id_ed25519"
}

host_json() {
  local n=$1 dir mode
  dir=$(host_dir "$n")
  mode=$(cat "$dir/mode" 2>/dev/null || echo unknown)
  printf '{"index":%d,"name":"%s","address":"%s","port":22,"user":"%s","privateKeyPath":"%s","hostKey":"%s","mode":"%s","root":"%s"}\n' \
    "$n" "$(host_name "$n")" "$(host_addr "$n")" "$HOST_USER" "$STATE_DIR/id_ed25519" \
    "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" "$mode" "$dir/root"
}

write_host_identity() {
  local n=$1 dir root
  dir=$(host_dir "$n")
  root=$dir/root
  printf '%s\n' "$(host_name "$n")" >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n%s %s\n' "$(host_addr "$n")" "$(host_name "$n")" >"$root/etc/hosts"
  mkdir -p "$root/etc/systemd/network"
  # "10-" sorts before the container's built-in 80-container-host0.network, so this one wins.
  printf '[Match]\nName=host0\n\n[Network]\nAddress=%s/24\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n' \
    "$(host_addr "$n")" >"$root/etc/systemd/network/10-vht.network"
  install -m 600 "$dir/ssh_host_ed25519_key" "$root/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$dir/ssh_host_ed25519_key.pub" "$root/etc/ssh/ssh_host_ed25519_key.pub"
  local home=$root/home/$HOST_USER
  install -d -m 700 "$home/.ssh" "$root/root/.ssh"
  install -m 600 "$STATE_DIR/id_ed25519.pub" "$home/.ssh/authorized_keys"
  install -m 600 "$STATE_DIR/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  chroot "$root" chown -R "$HOST_USER:$HOST_USER" "/home/$HOST_USER/.ssh"
  printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$HOST_USER" >"$root/etc/sudoers.d/10-vht-user"
  chmod 440 "$root/etc/sudoers.d/10-vht-user"
}

# True when systemd-nspawn can boot a container here; otherwise hosts are chroots running sshd.
nspawn_usable() {
  [ "${VHT_FORCE_CHROOT:-}" != 1 ] && command -v systemd-nspawn >/dev/null 2>&1
}

boot_host() {
  local n=$1 dir name
  dir=$(host_dir "$n")
  name=$(host_name "$n")
  if nspawn_usable; then
    echo nspawn >"$dir/mode"
    # All capabilities: the provisioner runs containerd and runsc inside, as on a real machine;
    # the keyring calls too (runc gives each container a session keyring).
    # /sys stays read-only (networkd takes a writable /sys to mean udev runs, and would then wait
    # for it forever); /proc/sys/net is writable because the network namespace is private.
    setsid systemd-nspawn --quiet --boot --register=no --keep-unit \
      --machine="$name" --hostname="$name" --directory="$dir/root" --network-bridge="$BRIDGE" \
      --capability=all --console=passive --resolv-conf=off --timezone=off --link-journal=no \
      --system-call-filter=@keyring \
      </dev/null >"$dir/console.log" 2>&1 &
    echo $! >"$dir/pid"
  else
    echo chroot >"$dir/mode"
    boot_chroot_host "$n"
  fi
}

# Fallback when nspawn cannot run: a network namespace with a veth on the bridge, a chroot, sshd.
boot_chroot_host() {
  local n=$1 dir name ns
  dir=$(host_dir "$n")
  name=$(host_name "$n")
  ns=$name
  ip netns add "$ns" 2>/dev/null || true
  ip link add "vb-$name" type veth peer name host0 netns "$ns" 2>/dev/null || true
  ip link set "vb-$name" master "$BRIDGE" up
  ip -n "$ns" addr replace "$(host_addr "$n")/24" dev host0
  ip -n "$ns" link set host0 up
  ip -n "$ns" link set lo up
  for m in proc sys dev; do
    mountpoint -q "$dir/root/$m" || mount --rbind "/$m" "$dir/root/$m"
  done
  mkdir -p "$dir/root/run/sshd"
  ip netns exec "$ns" setsid chroot "$dir/root" /usr/sbin/sshd -D -e </dev/null >"$dir/console.log" 2>&1 &
  echo $! >"$dir/pid"
}

# nspawn mounts /proc/sys read-only (only /proc/sys/net is writable). A real host lets root set
# any sysctl, and the provisioner does, so open it up once the host has booted. Values outside the
# network namespace (fs.inotify.*) are the machine's own: the provisioner's delete restores them.
open_proc_sys() {
  local n=$1
  [ "$(cat "$(host_dir "$n")/mode")" = nspawn ] || return 0
  cmd_exec "$n" mount -o remount,bind,rw /proc/sys
}

# runc and runsc make a cgroup per sandbox. On a machine with cgroup v1 controllers, nspawn mounts
# them read-only in the container: they are made writable (a test host shares this machine's
# controller hierarchies; systemd's own hierarchy stays as nspawn set it).
open_cgroups() {
  local n=$1
  [ "$(cat "$(host_dir "$n")/mode")" = nspawn ] || return 0
  # shellcheck disable=SC2016 # expanded inside the host
  cmd_exec "$n" bash -c 'findmnt -rn -t cgroup -o TARGET | while read -r m; do case $m in */systemd) ;; *) mount -o remount,bind,rw "$m" ;; esac; done'
}

# SSH answers before boot has finished; wait for the rest (enabled services included), as anyone
# would before working on a machine that just came up. "degraded" still counts as booted.
wait_booted() {
  local n=$1
  [ "$(cat "$(host_dir "$n")/mode")" = nspawn ] || return 0
  timeout 60 "$0" exec "$n" systemctl is-system-running --wait >/dev/null 2>&1 || true
}

# What a host that did not come up was doing: its console, its pending boot jobs, its address.
describe_stuck_host() {
  local n=$1 dir
  dir=$(host_dir "$n")
  log "$(host_name "$n") console (last 30 lines):"
  tail -n 30 "$dir/console.log" >&2 || true
  [ "$(cat "$dir/mode")" = nspawn ] || return 0
  log "$(host_name "$n") state: $(timeout 10 "$0" exec "$n" systemctl is-system-running 2>&1 || true)"
  log "$(host_name "$n") pending jobs:"
  timeout 10 "$0" exec "$n" systemctl list-jobs --no-pager >&2 2>&1 || true
  log "$(host_name "$n") failed units:"
  timeout 10 "$0" exec "$n" systemctl --failed --no-legend --no-pager >&2 2>&1 || true
  log "$(host_name "$n") journal (last 40 lines):"
  timeout 10 "$0" exec "$n" journalctl --no-pager -n 40 -o short-monotonic >&2 2>&1 || true
  log "$(host_name "$n") ssh.service: $(timeout 10 "$0" exec "$n" systemctl is-active ssh 2>&1 || true)"
  log "$(host_name "$n") listening: $(timeout 10 "$0" netexec "$n" ss -Htln 2>&1 | tr '\n' ';' || true)"
  log "$(host_name "$n") addresses: $(timeout 10 "$0" netexec "$n" ip -br addr 2>&1 | tr '\n' ';' || true)"
  log "bridge ports: $(ip -br link show master "$BRIDGE" 2>&1 | tr '\n' ';')"
  log "ping from here: $(ping -c 1 -W 1 "$(host_addr "$n")" 2>&1 | grep -E 'packets|Unreachable' | tr '\n' ';')"
  log "last ssh attempt: $(tr '\n' ';' <"$dir/ssh-wait.log" 2>/dev/null)"
  log "load: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# How long one boot may take to answer SSH (about 2 s on an idle machine; far more on two busy cores).
readonly SSH_WAIT_S=${VHT_SSH_WAIT_S:-90}

# True once the host accepts our key over SSH within SSH_WAIT_S seconds; its init exiting fails at once.
ssh_reachable() {
  local n=$1 dir deadline
  dir=$(host_dir "$n")
  deadline=$((SECONDS + SSH_WAIT_S))
  while ((SECONDS < deadline)); do
    if ssh -i "$STATE_DIR/id_ed25519" -o BatchMode=yes -o ConnectTimeout=1 -o StrictHostKeyChecking=yes -o LogLevel=error \
      -o UserKnownHostsFile="$dir/known_hosts" "$HOST_USER@$(host_addr "$n")" true </dev/null 2>"$dir/ssh-wait.log"; then
      return 0
    fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || { tail -n 20 "$dir/console.log" >&2; die "$(host_name "$n") exited while booting"; }
    sleep 0.2
  done
  return 1
}

wait_ssh() {
  local n=$1 dir
  dir=$(host_dir "$n")
  printf '%s %s\n' "$(host_addr "$n")" "$(cut -d' ' -f1,2 "$dir/ssh_host_ed25519_key.pub")" >"$dir/known_hosts"
  ssh_reachable "$n" && return 0
  # Seen rarely, in CI and here: a booted host whose sshd runs yet does not answer. Say what it
  # looked like, then power it off and boot it once more, as one would a real machine.
  describe_stuck_host "$n"
  log "$(host_name "$n") not reachable over ssh after $SSH_WAIT_S s; booting it again"
  stop_host "$n"
  boot_host "$n"
  ssh_reachable "$n" && return 0
  describe_stuck_host "$n"
  die "$(host_name "$n") not reachable over ssh after two boots of $SSH_WAIT_S s each"
}

# A booted host made ready for use: answering SSH, /proc/sys writable, its boot finished.
await_host() {
  wait_ssh "$1"
  open_proc_sys "$1"
  open_cgroups "$1"
  wait_booted "$1"
}

cmd_up() {
  [ $# -ge 1 ] || die "up needs host indexes"
  local n dir
  for n in "$@"; do check_index "$n"; done
  # In a subshell: cmd_base holds the lock on its own descriptor until it returns.
  [ -f "$BASE_DIR/.vht-base-revision" ] || (cmd_base)
  for n in "$@"; do
    # A host left by an interrupted run is replaced: each caller owns its indexes.
    if [ -e "$(host_dir "$n")" ]; then log "replacing leftover $(host_name "$n")"; remove_host "$n"; fi
  done
  (
    with_lock
    net_up
    ensure_client_key
    # Claimed under the lock, so a concurrent `down` of other hosts sees these and keeps the
    # bridge, the proxy and the saved sysctls.
    for n in "$@"; do mkdir -p "$(host_dir "$n")/root"; done
  )
  for n in "$@"; do
    dir=$(host_dir "$n")
    ssh-keygen -q -t ed25519 -N '' -C "$(host_name "$n")" -f "$dir/ssh_host_ed25519_key"
    # A copy of the base, not an overlay over it: containerd and the node runtime mount overlays
    # inside a host, and an overlay's upper directory cannot live on overlayfs (under a second
    # on this disk).
    cp -a "$BASE_DIR/." "$dir/root/"
    write_host_identity "$n"
    boot_host "$n"
  done
  for n in "$@"; do await_host "$n"; done
  for n in "$@"; do host_json "$n"; done
}

stop_host() {
  local n=$1 dir pid
  dir=$(host_dir "$n")
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    if kill -0 "$pid" 2>/dev/null; then
      # nspawn turns SIGTERM into a clean poweroff of the container's systemd.
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/pid"
  fi
  local name
  name=$(host_name "$n")
  if ip netns list | grep -qw "$name"; then
    ip netns pids "$name" | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$name"
  fi
  ip link del "vb-$name" 2>/dev/null || true
  # Unmount everything below the host's root, deepest first.
  local m
  for m in $(findmnt -rn -o TARGET | { grep -F "$dir/root" || true; } | sort -r); do umount -l "$m" 2>/dev/null || true; done
}

remove_host() {
  local n=$1
  stop_host "$n"
  # --one-file-system: never reach through a mount that failed to go away into anything else.
  rm -rf --one-file-system "$(host_dir "$n")"
}

hosts_left() {
  find "$STATE_DIR" -maxdepth 1 -name 'vht-*' -type d 2>/dev/null | grep -q .
}

cmd_down() {
  local n
  for n in "$@"; do check_index "$n"; remove_host "$n"; done
  with_lock
  hosts_left || net_down
}

cmd_down_all() {
  local d
  for d in "$STATE_DIR"/vht-*; do
    [ -d "$d" ] || continue
    remove_host "${d##*/vht-}"
  done
  with_lock
  net_down
}

leader_pid() {
  local n=$1 dir
  dir=$(host_dir "$n")
  [ -f "$dir/pid" ] || die "$(host_name "$n") is not running"
  if [ "$(cat "$dir/mode")" = chroot ]; then cat "$dir/pid"; return 0; fi
  pgrep -P "$(cat "$dir/pid")" | head -n 1
}

# enter_host N NSENTER-FLAGS -- CMD...: runs CMD in the namespaces of the host's init.
enter_host() {
  local n=$1 flags=$2
  shift 2
  check_index "$n"
  local pid
  pid=$(leader_pid "$n")
  [ -n "$pid" ] || die "$(host_name "$n") has no running init"
  nsenter -t "$pid" "$flags" "$@"
}

cmd_exec() { local n=$1; shift; enter_host "$n" -a -- "$@"; }

# Runs a command of this machine inside a host's network namespace only (e.g. iptables rules
# that make the host drop a port, which the host's own minimal root fs has no tools for).
cmd_netexec() { local n=$1; shift; enter_host "$n" -n -- "$@"; }

cmd_rekey() {
  local n=$1 dir
  check_index "$n"
  dir=$(host_dir "$n")
  rm -f "$dir/ssh_host_ed25519_key" "$dir/ssh_host_ed25519_key.pub"
  ssh-keygen -q -t ed25519 -N '' -C "$(host_name "$n")" -f "$dir/ssh_host_ed25519_key"
  install -m 600 "$dir/ssh_host_ed25519_key" "$dir/root/etc/ssh/ssh_host_ed25519_key"
  install -m 644 "$dir/ssh_host_ed25519_key.pub" "$dir/root/etc/ssh/ssh_host_ed25519_key.pub"
  if [ "$(cat "$dir/mode")" = chroot ]; then
    stop_host "$n"; boot_host "$n"
  else
    cmd_exec "$n" systemctl restart ssh
  fi
  host_json "$n"
}

cmd_sudo_password() {
  local n=$1 state=$2 f
  check_index "$n"
  f=$(host_dir "$n")/root/etc/sudoers.d/10-vht-user
  case $state in
    on) printf '%s ALL=(ALL) ALL\n' "$HOST_USER" >"$f" ;;
    off) printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$HOST_USER" >"$f" ;;
    *) die "sudo-password takes on|off" ;;
  esac
  chmod 440 "$f"
}

main() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  local cmd=${1:-}
  shift || true
  case $cmd in
    base) cmd_base ;;
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    down-all) cmd_down_all ;;
    stop) check_index "$1"; stop_host "$1" ;;
    start) check_index "$1"; boot_host "$1"; await_host "$1"; host_json "$1" ;;
    rekey) cmd_rekey "$1" ;;
    sudo-password) cmd_sudo_password "$1" "$2" ;;
    exec) cmd_exec "$@" ;;
    netexec) cmd_netexec "$@" ;;
    info) check_index "$1"; host_json "$1" ;;
    *) die "unknown command '$cmd' (base|up|down|down-all|stop|start|rekey|sudo-password|exec|netexec|info)" ;;
  esac
}

main "$@"
