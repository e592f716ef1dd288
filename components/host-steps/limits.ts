// Open-file limits for every session (pam_limits). First on, last off: sudo and sshd read limits.d
// at every session and fail one whose file vanishes under them, so its delete must have the host
// to itself, which it has when every other step needs it.
import { writeFile } from "../scripts/shell.js";
import { hostStep } from "./host-step.js";

const FILE = "/etc/security/limits.d/90-vhive.conf";

export const limitsStep = hostStep({
  name: "limits",
  after: [],
  when: () => true,
  build: () => {
    const limits = ["*", "root"].flatMap((who) => [`${who} soft nofile 1048576`, `${who} hard nofile 1048576`]);
    return { create: writeFile(FILE, "0644", limits.join("\n")), delete: `remove_path ${FILE}` };
  },
});
