// What the loader sends to the trace function (experiments/trace-func/trace_func.py) as the
// Greeter's `name`, and what it answers.

export interface TraceRequest {
  durationMs: number;
  memoryMiB: number;
}

export interface TraceReply {
  /** Wall time of the work (allocation, page writes, busy loop), µs. */
  durationUs: number;
  /** CPU time the serving thread used for it, µs. */
  cpuUs: number;
  memoryMiB: number;
  pages: number;
  /** First request this function process served. */
  coldStart: boolean;
  pid: number;
}

export const encodeTraceRequest = (r: TraceRequest) => JSON.stringify({ durationMs: r.durationMs, memoryMiB: r.memoryMiB });

/** The reply, or undefined when the function is not the trace function (e.g. helloworld's "Hello, …!"). */
export function parseTraceReply(message: string): TraceReply | undefined {
  if (!message.startsWith("{")) return undefined;
  try {
    const r = JSON.parse(message) as Partial<TraceReply>;
    if (typeof r.durationUs !== "number" || typeof r.memoryMiB !== "number") return undefined;
    return { durationUs: r.durationUs, cpuUs: r.cpuUs ?? 0, memoryMiB: r.memoryMiB, pages: r.pages ?? 0, coldStart: r.coldStart === true, pid: r.pid ?? 0 };
  } catch {
    return undefined;
  }
}
