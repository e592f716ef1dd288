// Install and data directories from the stack config reach systemd units (WorkingDirectory=),
// shell scripts and `remove_path` at destroy, so they are held to a grammar that is safe in all
// three and must never name a directory the system or another component owns.
import { posix } from "node:path";

/** Characters a path may contain: no space, quote, newline, `$`, `%` (systemd specifier) or `\`. */
const PATH_CHARS = /^\/[A-Za-z0-9._/+-]*$/;

/**
 * Directories that must never be installed into or removed: the system's own and those other
 * steps of the stack own. An ancestor of one of these (e.g. `/var` for `/var/lib/kubelet`) is
 * refused as well, since removing it would remove them.
 */
export const PROTECTED_DIRS: readonly string[] = [
  "/bin",
  "/boot",
  "/dev",
  "/etc",
  "/home",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/lost+found",
  "/media",
  "/mnt",
  "/opt",
  "/proc",
  "/root",
  "/run",
  "/sbin",
  "/snap",
  "/srv",
  "/sys",
  "/tmp",
  "/usr",
  "/var",
  "/usr/bin",
  "/usr/lib",
  "/usr/lib64",
  "/usr/libexec",
  "/usr/sbin",
  "/usr/share",
  "/usr/include",
  "/usr/src",
  "/usr/local",
  "/usr/local/bin",
  "/usr/local/sbin",
  "/usr/local/lib",
  "/usr/local/share",
  "/usr/local/etc",
  "/var/lib",
  "/var/log",
  "/var/cache",
  "/var/tmp",
  "/var/spool",
  "/var/mail",
  "/var/run",
  "/var/lock",
  "/var/opt",
  "/var/backups",
  "/etc/systemd",
  "/etc/apt",
  "/etc/ssh",
  "/etc/default",
  "/etc/sudoers.d",
  // Owned by the stack's other steps.
  "/etc/kubernetes",
  "/etc/containerd",
  "/etc/cni",
  "/opt/cni",
  "/opt/cni/bin",
  "/var/lib/kubelet",
  "/var/lib/containerd",
  "/var/lib/etcd",
  "/var/lib/cni",
  "/var/lib/calico",
  "/var/lib/vhive",
  "/var/lib/vhive-node",
  "/run/vhive-node",
  "/etc/containerd-stargz-grpc",
  "/var/lib/containerd-stargz-grpc",
];

/** Kernel and runtime file systems: nothing of ours belongs inside them. */
const PSEUDO_FS = ["/proc", "/sys", "/dev", "/run"];

function isSameOrInside(path: string, dir: string): boolean {
  return path === dir || path.startsWith(`${dir}/`);
}

/**
 * Why `text` cannot be an install or data directory, or undefined when it can. The message
 * never repeats more of the value than its normal form, which contains only safe characters.
 */
export function installPathProblem(text: string): string | undefined {
  if (!text.startsWith("/")) return "must be an absolute path";
  if (!PATH_CHARS.test(text))
    return "may only contain letters, digits and . _ / + - (no spaces, quotes, newlines or other characters systemd or the shell would interpret)";
  const normal = posix.normalize(text);
  const protectedDir = PROTECTED_DIRS.find((dir) => normal === "/" || isSameOrInside(dir, normal));
  if (protectedDir !== undefined)
    return normal === text
      ? `${normal} is a system directory (or one the stack owns): use a directory of its own, e.g. /opt/vhive-<name>`
      : `normalises to ${normal}, a system directory (or one the stack owns): use a directory of its own, e.g. /opt/vhive-<name>`;
  const pseudo = PSEUDO_FS.find((dir) => isSameOrInside(normal, dir));
  if (pseudo !== undefined) return `must not be inside ${pseudo} (a kernel or runtime file system)`;
  if (text.split("/").some((segment) => segment === "." || segment === "..")) return `must not contain "." or ".." segments (write ${normal})`;
  if (normal !== text || text.endsWith("/")) return `must be written in normal form, without "//" or a trailing "/" (write ${normal.replace(/\/$/, "")})`;
  if (normal.split("/").length < 3) return "must be at least two levels deep (e.g. /opt/vhive-<name>), so it is a directory of its own";
  return undefined;
}
