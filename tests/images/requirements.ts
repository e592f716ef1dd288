import { execFileSync } from "node:child_process";

const TOOLS = ["debootstrap", "umoci", "mkfs.ext4", "debugfs", "e2fsck", "tar", "zstd", "setfattr", "getfattr", "chroot"];

function missingTools(): string[] {
  return TOOLS.filter((tool) => {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore", env: { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" } });
      return false;
    } catch {
      return true;
    }
  });
}

/** Why the image tests cannot run here (they build a Debian root, chown and mknod), or undefined. */
export function imageTestsSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (debootstrap, chroot, chown, device nodes)";
  const missing = missingTools();
  if (missing.length > 0) return `missing tools: ${missing.join(", ")} (see scripts/ci-deps/images.txt)`;
  return undefined;
}
