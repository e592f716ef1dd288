// The scheduling priority of the calling thread (a sender thread): a nice value, or a real-time
// class. Linux applies both per thread when given the thread's id.
import { spawnSync } from "node:child_process";
import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";

/** What a sender thread asks for: a nice value (-20..19), or SCHED_FIFO at a priority (1..99). */
export type PriorityRequest = { nice: number } | { realtime: number };

/** What became of it: the request as applied, or why not. */
export type PriorityOutcome = PriorityRequest | { error: string };

/** This thread's kernel id (setpriority and sched_setscheduler on it change this thread only). */
function threadId(): number {
  return Number(readlinkSync("/proc/thread-self").split("/").pop());
}

export function applyThreadPriority(req: PriorityRequest): PriorityOutcome {
  try {
    const tid = threadId();
    if ("nice" in req) {
      setPriority(tid, req.nice);
      return req;
    }
    // Node has no sched_setscheduler: util-linux's chrt sets the policy of a thread by its id.
    const r = spawnSync("chrt", ["--fifo", "--pid", String(req.realtime), String(tid)], { encoding: "utf8" });
    if (r.error) return { error: `chrt: ${r.error.message}` };
    if (r.status !== 0) return { error: `chrt --fifo ${req.realtime}: ${(r.stderr || `exit ${r.status}`).trim()}` };
    return req;
  } catch (err) {
    return { error: (err as Error).message };
  }
}
