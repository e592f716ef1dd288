import { errorMessage } from "../system/error-message.js";
/**
 * What a sandbox driver throws: one class per kind of failure, each carrying the gRPC status code
 * the node runtime's API answers with. The orchestrator maps by class, never by message text.
 */
export type SandboxErrorCode = "INVALID_ARGUMENT" | "NOT_FOUND" | "FAILED_PRECONDITION" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "INTERNAL";

export abstract class SandboxError extends Error {
  abstract readonly code: SandboxErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /**
   * The same kind of failure with `context` in front of its message (drivers add which instance and
   * which step). Anything that is not a SandboxError becomes a SandboxHostError: an unexpected
   * failure on the host is an internal one.
   */
  static withContext(err: unknown, context: string): SandboxError {
    const message = `${context}: ${errorMessage(err)}`;
    if (err instanceof SandboxError) {
      const Kind = err.constructor as new (message: string, options?: { cause?: unknown }) => SandboxError;
      return new Kind(message, { cause: err });
    }
    return new SandboxHostError(message, { cause: err });
  }
}

/** A request field the driver cannot use (bad instance id, vCPU count, missing network slot). */
export class SandboxRequestError extends SandboxError {
  readonly code = "INVALID_ARGUMENT";
}

/** The instance the call names is not (or no longer) a sandbox of this driver. */
export class SandboxNotFoundError extends SandboxError {
  readonly code = "NOT_FOUND";
}

/**
 * The call cannot run in the sandbox's or node's present state: the id is already running, the
 * sandbox ended with its checkpoint, the host lacks something the driver needs (a runsc feature, a
 * driver option), or a snapshot cannot be loaded here (files missing, other guest address).
 */
export class SandboxStateError extends SandboxError {
  readonly code = "FAILED_PRECONDITION";
}

/** The sandbox or the function in it exited (or was killed) before it could serve. */
export class SandboxExitedError extends SandboxError {
  readonly code = "UNAVAILABLE";
}

/** The sandbox or its function did not become ready (API socket, function port) within its time. */
export class SandboxTimeoutError extends SandboxError {
  readonly code = "DEADLINE_EXCEEDED";
}

/** A host-side step failed unexpectedly (a command, a file operation, the VMM refusing a call). */
export class SandboxHostError extends SandboxError {
  readonly code = "INTERNAL";
}
