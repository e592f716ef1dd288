// Kernel settings Kubernetes networking and many watched files need, applied now and persisted;
// the values the host had before are recorded and put back on delete. After the kernel modules:
// the bridge sysctls exist once br_netfilter is loaded.
import { lines, q, writeFile } from "../scripts/shell.js";
import { hostStep } from "./host-step.js";

export const SYSCTLS: readonly (readonly [string, string])[] = [
  ["net.ipv4.ip_forward", "1"],
  ["net.bridge.bridge-nf-call-iptables", "1"],
  ["net.bridge.bridge-nf-call-ip6tables", "1"],
  ["fs.inotify.max_user_watches", "524288"],
  ["fs.inotify.max_user_instances", "512"],
];

const FILE = "/etc/sysctl.d/90-vhive.conf";

export const sysctlStep = hostStep({
  name: "sysctl",
  after: ["kernel-modules"],
  when: () => true,
  build: () => {
    const apply = SYSCTLS.map(([key, value]) =>
      lines(
        `current="$(sysctl -n ${key} 2>/dev/null || echo unset)"`,
        `if [ "$current" != ${q(value)} ]; then`,
        `  if ! as_root grep -q '^${key}=' "$state_dir/sysctl.previous" 2>/dev/null; then`,
        `    as_root install -d "$state_dir"`,
        `    echo "${key}=$current" | as_root tee -a "$state_dir/sysctl.previous" >/dev/null`,
        `  fi`,
        `  as_root sysctl -q -w ${key}=${value} >/dev/null || fail "cannot set ${key} on $(hostname) (read-only /proc/sys?)"`,
        `  changed=1`,
        `fi`,
      ),
    );
    return {
      create: lines(writeFile(FILE, "0644", SYSCTLS.map(([k, v]) => `${k} = ${v}`).join("\n")), ...apply),
      delete: lines(
        `remove_path ${FILE}`,
        `# Put back the values the host had before we changed them.`,
        `if as_root test -f "$state_dir/sysctl.previous"; then`,
        `  while IFS='=' read -r key value; do`,
        `    if [ -n "$key" ] && [ "$value" != unset ]; then as_root sysctl -q -w "$key=$value" >/dev/null || true; fi`,
        `  done < <(as_root cat "$state_dir/sysctl.previous")`,
        `  as_root rm -f "$state_dir/sysctl.previous"`,
        `  changed=1`,
        `fi`,
      ),
    };
  },
});
