import { SandboxError } from "../sandbox/errors.js";
import { errorMessage } from "../system/error-message.js";

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
  const message = errorMessage(err);
  return new RuntimeError(fallback, context ? `${context}: ${message}` : message, { cause: err });
}

/**
 * Category of a sandbox driver's failure: the code its SandboxError class carries (the function
 * never listened in time → DEADLINE_EXCEEDED; the sandbox or function exited → UNAVAILABLE; …).
 * Anything else a driver let through is an INTERNAL error.
 */
export function classifyDriverError(err: unknown, context: string): RuntimeError {
  if (err instanceof RuntimeError) return err;
  const code: RuntimeErrorCode = err instanceof SandboxError ? err.code : "INTERNAL";
  return new RuntimeError(code, `${context}: ${errorMessage(err)}`, { cause: err });
}
