import * as grpc from "@grpc/grpc-js";
import { errorMessage } from "../system/error-message.js";

/** A user-facing failure: printed as one line, exit status 1 (2 for usage errors). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export function describeError(err: unknown): string {
  const e = err as Partial<grpc.ServiceError>;
  if (typeof e?.code === "number" && typeof e.details === "string") {
    if (e.code === grpc.status.UNAVAILABLE && /connect|No connection established|ENOENT|ECONNREFUSED/i.test(e.details)) {
      return `UNAVAILABLE: cannot reach the node runtime API (${e.details}); is \`node-runtime serve\` running on that socket?`;
    }
    return `${grpc.status[e.code]}: ${e.details}`;
  }
  return errorMessage(err);
}
