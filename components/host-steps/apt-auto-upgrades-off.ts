// apt's periodic updates and unattended upgrades off: they take dpkg's lock in the middle of a
// bring-up and can restart containerd or kubelet under a running cluster.
import { lines, writeFile } from "../scripts/shell.js";
import { hostStep } from "./host-step.js";

const FILE = "/etc/apt/apt.conf.d/99vhive-no-auto-upgrades";
const TIMERS = "apt-daily.timer apt-daily-upgrade.timer unattended-upgrades.service";

export const aptAutoUpgradesOffStep = hostStep({
  name: "apt-auto-upgrades-off",
  after: ["limits"],
  when: () => true,
  build: () => ({
    create: lines(
      writeFile(FILE, "0644", 'APT::Periodic::Update-Package-Lists "0";\nAPT::Periodic::Unattended-Upgrade "0";'),
      `# Timers we disable are recorded so the delete script re-enables exactly those.`,
      `for unit in ${TIMERS}; do`,
      `  if has_systemd && systemctl is-enabled --quiet "$unit" 2>/dev/null; then`,
      `    as_root systemctl disable --now --quiet "$unit"`,
      `    as_root install -d "$state_dir"`,
      `    echo "$unit" | as_root tee -a "$state_dir/disabled-units" >/dev/null`,
      `    changed=1`,
      `  fi`,
      `done`,
    ),
    delete: lines(
      `remove_path ${FILE}`,
      `if as_root test -f "$state_dir/disabled-units"; then`,
      `  while IFS= read -r unit; do`,
      `    [ -n "$unit" ] && as_root systemctl enable --now --quiet "$unit"`,
      `  done < <(as_root cat "$state_dir/disabled-units")`,
      `  as_root rm -f "$state_dir/disabled-units"`,
      `  changed=1`,
      `fi`,
    ),
  }),
});
