import type { FunctionEndpoint, SandboxExit, SandboxHandle, SandboxKind } from "../sandbox/driver.js";

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * A handle for a sandbox found alive after a runtime restart. The driver that started it kept its
 * state in memory, so all that is known is the pid and endpoint; exit is detected by polling the pid.
 */
export function adoptedHandle(kind: SandboxKind, instanceId: string, endpoint: FunctionEndpoint, pid: number | undefined): SandboxHandle {
  const exited = new Promise<SandboxExit>((resolve) => {
    if (pid === undefined || !pidAlive(pid)) return resolve({ code: null, signal: null });
    const timer = setInterval(() => {
      if (!pidAlive(pid)) {
        clearInterval(timer);
        resolve({ code: null, signal: null });
      }
    }, 500);
    timer.unref();
  });
  return { kind, instanceId, endpoint, pid, exited };
}
