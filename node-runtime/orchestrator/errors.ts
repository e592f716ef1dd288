/**
 * Errors the orchestrator raises, each carrying the category the API maps to a gRPC status code.
 * Categories follow gRPC's vocabulary so the mapping is one table, not guesswork per call site.
 */
export type RuntimeErrorCode =
  | "INVALID_ARGUMENT"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "FAILED_PRECONDITION"
  | "UNAVAILABLE"
  | "DEADLINE_EXCEEDED"
  | "RESOURCE_EXHAUSTED"
  | "INTERNAL";

export class RuntimeError extends Error {
  constructor(
    readonly code: RuntimeErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "RuntimeError";
  }
}

export const invalidArgument = (msg: string) => new RuntimeError("INVALID_ARGUMENT", msg);
export const notFound = (msg: string) => new RuntimeError("NOT_FOUND", msg);

/** Wraps anything thrown into a RuntimeError, keeping an existing category. */
export function asRuntimeError(err: unknown, fallback: RuntimeErrorCode = "INTERNAL", context?: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new RuntimeError(fallback, context ? `${context}: ${message}` : message, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Category of a sandbox driver's failure to start a function. Drivers throw plain Errors (the
 * SandboxDriver contract has no codes), so the two outcomes callers act on differently are read from
 * the message: the function never listened in time → DEADLINE_EXCEEDED; the sandbox or function
 * exited → UNAVAILABLE; anything else → INTERNAL.
 */
export function classifyDriverError(err: unknown, context: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const message = errorMessage(err);
  const code: RuntimeErrorCode = /did not listen|timed out|time(d)? ?out|within \d+ ?ms|deadline/i.test(message)
    ? "DEADLINE_EXCEEDED"
    : /exited|crashed|died|killed|exit code|terminated/i.test(message)
      ? "UNAVAILABLE"
      : "INTERNAL";
  return new RuntimeError(code, `${context}: ${message}`, { cause: err });
}
