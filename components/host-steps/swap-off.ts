// Swap off, now and at boot (kubelet refuses to start with swap on); runs alongside the rest.
import { lines, q } from "../scripts/shell.js";
import { hostStep } from "./host-step.js";

const SWAP_LINE = `^[^#[:space:]][^[:space:]]*[[:space:]]+[^[:space:]]+[[:space:]]+swap[[:space:]]`;

export const swapOffStep = hostStep({
  name: "swap-off",
  after: ["limits"],
  when: () => true,
  build: () => ({
    create: lines(
      `if [ -n "$(swapon --noheadings --show=NAME 2>/dev/null || true)" ]; then`,
      `  as_root swapoff -a`,
      `  changed=1`,
      `fi`,
      `# Comment swap entries out (marked, so delete can put them back) instead of deleting them.`,
      `if [ -f /etc/fstab ] && grep -Eq ${q(SWAP_LINE)} /etc/fstab; then`,
      `  as_root sed -i -E ${q(`s/(${SWAP_LINE}.*)$/#vhive-swap-off# \\1/`)} /etc/fstab`,
      `  changed=1`,
      `fi`,
    ),
    delete: lines(
      `if [ -f /etc/fstab ] && grep -q '^#vhive-swap-off# ' /etc/fstab; then`,
      `  as_root sed -i 's/^#vhive-swap-off# //' /etc/fstab`,
      `  as_root swapon -a || true`,
      `  changed=1`,
      `fi`,
    ),
  }),
});
