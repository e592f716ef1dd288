import { open, readFile, unlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `work` while holding an exclusive lock file shared by every process on this host.
 * The file holds the owner's PID; a lock left by a process that died is taken over.
 */
export async function withFileLock<T>(lockPath: string, work: () => Promise<T>, options: { timeoutMs?: number; pollMs?: number } = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30 * 60_000);
  const pollMs = options.pollMs ?? 200;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx", 0o644);
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number.parseInt(await readFile(lockPath, "utf8").catch(() => ""), 10);
    // An empty file means the owner is between creating and writing it; only a dead PID is stale.
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !processAlive(owner)) {
      await unlink(lockPath).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${lockPath} (held by PID ${owner})`);
    await sleep(pollMs);
  }
  try {
    return await work();
  } finally {
    await unlink(lockPath).catch(() => undefined);
  }
}
