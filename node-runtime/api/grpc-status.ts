import * as grpc from "@grpc/grpc-js";
import { RuntimeError, type RuntimeErrorCode } from "../orchestrator/errors.js";
import { errorMessage } from "../system/error-message.js";

const CODES: Record<RuntimeErrorCode, grpc.status> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_FOUND: grpc.status.NOT_FOUND,
  ALREADY_EXISTS: grpc.status.ALREADY_EXISTS,
  FAILED_PRECONDITION: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  INTERNAL: grpc.status.INTERNAL,
};

/** A gRPC error for anything a handler threw: RuntimeErrors keep their category, the rest is INTERNAL. */
export function toGrpcError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof RuntimeError) return { code: CODES[err.code], details: err.message, message: err.message };
  const message = errorMessage(err);
  return { code: grpc.status.INTERNAL, details: message, message };
}

/** Adapts an async function to a unary handler that answers with a proper status on failure. */
export function unary<Req, Res>(fn: (req: Req) => Promise<Res>, onError?: (err: unknown) => void): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (err) => {
        onError?.(err);
        callback(toGrpcError(err));
      },
    );
  };
}
