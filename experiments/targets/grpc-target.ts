import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { GrpcUnarySession, type UnaryCodec } from "./grpc-unary-session.js";
import { PreflightError, type Done, type Failure } from "./target.js";
import type { SpecifiedTarget, TargetSpec } from "./target-spec.js";

// The same service the node runtime calls (vHive's helloworld Greeter).
export const HELLOWORLD_PROTO = fileURLToPath(new URL("../../node-runtime/api/protos/helloworld.proto", import.meta.url));

type Unary = (
  req: { name: string },
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { message: string }) => void,
) => grpc.ClientUnaryCall;
type GreeterClient = grpc.Client & { SayHello: Unary };
type GreeterCtor = (new (
  address: string,
  creds: grpc.ChannelCredentials,
  opts?: grpc.ChannelOptions,
) => GreeterClient) & {
  service: grpc.ServiceDefinition;
};

let ctor: GreeterCtor | undefined;
export function greeterClientCtor(): GreeterCtor {
  if (!ctor) {
    const def = protoLoader.loadSync(HELLOWORLD_PROTO, { keepCase: true, defaults: true });
    ctor = (grpc.loadPackageDefinition(def) as unknown as { helloworld: { Greeter: GreeterCtor } }).helloworld.Greeter;
  }
  return ctor;
}

/** SayHello's path and message codec, from the service definition grpc-js built. */
function sayHelloCodec(): UnaryCodec<{ name: string }, { message: string }> {
  const m = greeterClientCtor().service.SayHello!;
  return { path: m.path, serialize: (r) => m.requestSerialize(r), deserialize: (b) => m.responseDeserialize(b) as { message: string } };
}

export function grpcFailure(err: grpc.ServiceError): Failure {
  return { code: grpc.status[err.code] ?? `GRPC_${err.code}`, message: err.details || err.message };
}

export interface GrpcTargetOptions {
  /** host:port as in endpoints.json and --port. */
  address: string;
  /** Dial this address instead, keeping `address` as the :authority (ingress without DNS). */
  connect?: string;
  /** A new channel and connection for every request (vSwarm's method; connecting is in the latency). */
  perRequestConnection?: boolean;
}

/** helloworld.Greeter/SayHello on one endpoint. */
export class GrpcTarget implements SpecifiedTarget {
  readonly label: string;
  readonly spec: TargetSpec;
  private shared: GrpcUnarySession<{ name: string }, { message: string }> | undefined;
  private request: { name: string } | undefined;
  private readonly channelOptions: grpc.ChannelOptions;

  constructor(private readonly opts: GrpcTargetOptions) {
    this.label = `grpc ${opts.address}${opts.connect ? ` via ${opts.connect}` : ""}`;
    this.spec = { kind: "grpc", options: { ...opts } };
    this.channelOptions = {
      ...(opts.connect ? { "grpc.default_authority": opts.address } : {}),
      "grpc.enable_retries": 0,
      // No per-call channelz bookkeeping: it allocates on every call, and the send loop feels every scavenge.
      "grpc.enable_channelz": 0,
      "grpc.max_reconnect_backoff_ms": 1000,
      // A connection of its own per client when asked for: grpc-js otherwise shares subchannels
      // between clients of the same target, which would quietly reuse connections.
      ...(opts.perRequestConnection ? { "grpc.use_local_subchannel_pool": 1 } : {}),
    };
  }

  private newClient(): GreeterClient {
    return new (greeterClientCtor())(this.opts.connect ?? this.opts.address, grpc.credentials.createInsecure(), this.channelOptions);
  }

  invoke(payload: string, deadlineMs: number, done: Done): void {
    if (this.opts.perRequestConnection !== true) {
      // One connection for every request, each call a stream on it (grpc-unary-session.ts).
      this.shared ??= new GrpcUnarySession(sayHelloCodec(), { authority: this.opts.address, ...(this.opts.connect ? { connect: this.opts.connect } : {}) });
      // The same request object while the payload is the same: its frame is encoded once.
      if (this.request?.name !== payload) this.request = { name: payload };
      this.shared.call(this.request, deadlineMs, (failure, res) => (failure ? done(failure, "") : done(null, res?.message ?? "")));
      return;
    }
    // vSwarm's method: dial and wait for the connection (its grpc.WithBlock), then call; the
    // connecting time is part of the latency and is also reported on its own.
    const deadline = Date.now() + deadlineMs;
    const client = this.newClient();
    const t0 = process.hrtime.bigint();
    client.waitForReady(deadline, (connectErr) => {
      const connectNs = Number(process.hrtime.bigint() - t0);
      if (connectErr) {
        client.close();
        done(
          { code: /deadline/i.test(connectErr.message) ? "DEADLINE_EXCEEDED" : "UNAVAILABLE", message: `could not connect: ${connectErr.message}` },
          "",
          connectNs,
        );
        return;
      }
      client.SayHello({ name: payload }, new grpc.Metadata(), { deadline }, (err, res) => {
        client.close();
        if (err) done(grpcFailure(err), "", connectNs);
        else done(null, res?.message ?? "", connectNs);
      });
    });
  }

  preflight(payload: string, deadlineMs: number): Promise<string> {
    // No waitForReady: a refused or unresolvable endpoint fails at once, with grpc-js's last
    // connection error in the message (ECONNREFUSED, name resolution), not a bare deadline.
    const client = this.newClient();
    return new Promise<string>((resolve, reject) =>
      client.SayHello({ name: payload }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, res) => {
        client.close();
        if (err) reject(new PreflightError(grpcFailure(err)));
        else resolve(res?.message ?? "");
      }),
    );
  }

  close(): void {
    this.shared?.close();
    this.shared = undefined;
  }
}
