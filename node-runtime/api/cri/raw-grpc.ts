import * as grpc from "@grpc/grpc-js";
import { FORWARDED_METHODS } from "./forwarded-services.js";

// gRPC plumbing that moves CRI messages as opaque bytes: nothing is decoded on the way through.

const identity = (b: Buffer): Buffer => b;

/**
 * kubelet, crictl and containerd all allow 16 MiB messages both ways (grpc-js would refuse
 * anything over 4 MiB it receives): large ExecSync outputs and List* replies on busy nodes need it.
 */
export const CRI_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export const CRI_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.max_receive_message_length": CRI_MAX_MESSAGE_BYTES,
  "grpc.max_send_message_length": CRI_MAX_MESSAGE_BYTES,
};

export type RawUnaryHandler = grpc.handleUnaryCall<Buffer, Buffer>;
export type RawStreamHandler = grpc.handleServerStreamingCall<Buffer, Buffer>;

/** The definition of one forwarded service (e.g. runtime.v1.RuntimeService), every method raw. */
export function rawServiceDefinition(service: string): grpc.ServiceDefinition {
  const def: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  for (const m of FORWARDED_METHODS.filter((x) => x.service === service)) {
    def[m.name] = {
      path: m.path,
      requestStream: false,
      responseStream: m.serverStreaming,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: m.name,
    };
  }
  return def;
}

function callOptions(call: grpc.ServerUnaryCall<Buffer, Buffer> | grpc.ServerWritableStream<Buffer, Buffer>): grpc.CallOptions {
  const deadline = call.getDeadline();
  return deadline === Infinity ? {} : { deadline };
}

/** A client for the upstream runtime (containerd's CRI socket) that speaks raw bytes. */
export class RawCriClient {
  private readonly client: grpc.Client;

  constructor(readonly endpoint: string) {
    this.client = new grpc.Client(endpoint, grpc.credentials.createInsecure(), CRI_CHANNEL_OPTIONS);
  }

  unary(path: string, request: Buffer, metadata = new grpc.Metadata(), options: grpc.CallOptions = {}): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, identity, identity, request, metadata, options, (err, res) => {
        if (err) reject(err);
        else resolve(res ?? Buffer.alloc(0));
      });
    });
  }

  /** Forwards one unary call as it came, keeping metadata and deadline. */
  forwardUnary(path: string): RawUnaryHandler {
    return (call, callback) => {
      const upstream = this.client.makeUnaryRequest(path, identity, identity, call.request, call.metadata, callOptions(call), (err, res) =>
        err ? callback(err) : callback(null, res),
      );
      call.on("cancelled", () => upstream.cancel());
    };
  }

  /** Forwards a server-streaming call message by message, ending or failing with upstream. */
  forwardStream(path: string): RawStreamHandler {
    return (call) => {
      const upstream = this.client.makeServerStreamRequest(path, identity, identity, call.request, call.metadata, callOptions(call));
      upstream.on("data", (chunk: Buffer) => call.write(chunk));
      upstream.on("error", (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED && call.cancelled) return;
        call.emit("error", err);
      });
      upstream.on("end", () => call.end());
      call.on("cancelled", () => upstream.cancel());
    };
  }

  close(): void {
    this.client.close();
  }
}

export function grpcError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(details), { code, details, metadata: new grpc.Metadata() });
}

export function isGrpcError(e: unknown): e is grpc.ServiceError {
  return typeof e === "object" && e !== null && "code" in e && typeof (e as { code: unknown }).code === "number";
}
