import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type { FunctionEndpoint } from "../sandbox/driver.js";
import { RuntimeError } from "./errors.js";

/** vHive's helloworld function contract (proto owned by the image store's author). */
export const HELLOWORLD_PROTO = fileURLToPath(new URL("../api/protos/helloworld.proto", import.meta.url));

type GreeterClient = grpc.Client & {
  SayHello(
    req: { name: string },
    meta: grpc.Metadata,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { message: string }) => void,
  ): grpc.ClientUnaryCall;
};

let greeterCtor: (new (address: string, creds: grpc.ChannelCredentials, opts?: grpc.ChannelOptions) => GreeterClient) | undefined;

function loadGreeter() {
  if (!greeterCtor) {
    const def = protoLoader.loadSync(HELLOWORLD_PROTO, { keepCase: true, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { helloworld: { Greeter: typeof greeterCtor } };
    greeterCtor = pkg.helloworld.Greeter;
    if (!greeterCtor) throw new Error(`${HELLOWORLD_PROTO} defines no helloworld.Greeter service`);
  }
  return greeterCtor;
}

export function grpcAddress(endpoint: FunctionEndpoint): string {
  return endpoint.kind === "unix" ? `unix:${endpoint.path}` : `${endpoint.host}:${endpoint.port}`;
}

// A function that is still starting refuses connections; grpc-js's default first retry is 1 s
// later, which would dwarf a snapshot restore, so retry within milliseconds instead.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 5,
  "grpc.min_reconnect_backoff_ms": 5,
  "grpc.max_reconnect_backoff_ms": 50,
  "grpc.enable_retries": 0,
};

/** A client of one function instance's `helloworld.Greeter` service. */
export class FunctionClient {
  private readonly client: GreeterClient;

  constructor(readonly endpoint: FunctionEndpoint) {
    const Ctor = loadGreeter();
    this.client = new Ctor(grpcAddress(endpoint), grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  }

  /** Resolves once the channel to the function is connected; rejects at the deadline. */
  waitForReady(deadline: Date): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(deadline, (err) => (err ? reject(err) : resolve()));
    });
  }

  sayHello(name: string, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.client.SayHello(
        { name },
        // Wait for a connection rather than fail fast while the channel is (re)connecting.
        new grpc.Metadata({ waitForReady: true }),
        { deadline: new Date(Date.now() + timeoutMs) },
        (err, res) => {
          if (err) {
            const code = err.code === grpc.status.DEADLINE_EXCEEDED ? "DEADLINE_EXCEEDED" : "UNAVAILABLE";
            reject(new RuntimeError(code, `SayHello at ${grpcAddress(this.endpoint)} failed: ${err.details || err.message}`, { cause: err }));
          } else resolve(res?.message ?? "");
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}
